// The xo panel of the `nnkit serve` page: draw a tic-tac-toe cell, see it classified. It uses
// the page's shared helpers (nnkit/serving/web/app.js): sketchArea, sketchPanel, resultArea.
"use strict";

definePanel("xo", {
  title: "X or O",
  build(section) {
    section.append(
      element("p", { className: "hint" },
        "Draw an X, an O, or leave the cell empty: pen on paper, as in a photo of a tic-tac-toe cell."),
      sketchArea("xo", "Drawing area for a tic-tac-toe cell"),
      resultArea("xo"));
    // The xo model was trained on cells of either polarity and normalises the contrast itself;
    // dark pen on white paper is what a photo of a real cell looks like.
    sketchPanel("xo", { ink: "#1a1a1a", paper: "#ffffff", width: 18 });
  },
});
