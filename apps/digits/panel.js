// The digits panel of the `nnkit serve` page: draw a digit, see it classified. It uses the
// page's shared helpers (nnkit/serving/web/app.js): sketchArea, sketchPanel, resultArea.
"use strict";

definePanel("digits", {
  title: "Handwritten digit",
  build(section) {
    section.append(
      element("p", { className: "hint" },
        "Draw one digit, 0–9, white on black as in MNIST. It is recognised when you lift the pen."),
      sketchArea("digits", "Drawing area for a digit"),
      resultArea("digits"));
    // MNIST is white ink on black; the server centres and scales the ink as MNIST did.
    sketchPanel("digits", { ink: "#ffffff", paper: "#000000", width: 22 });
  },
});
