// The caption panel of the `nnkit serve` page: choose a photo, read its captions. It uses the
// page's shared helpers (nnkit/serving/web/app.js).
"use strict";

(() => {
  definePanel("caption", {
    title: "Photo caption",
    build(section) {
      section.append(
        element("form", { id: "caption-form" },
          element("label", { htmlFor: "caption-file" }, "Photo"),
          element("input", { type: "file", id: "caption-file", accept: "image/png,image/jpeg" }),
          element("label", { htmlFor: "caption-nbest" }, "Captions"),
          element("input", { type: "number", id: "caption-nbest", min: "1", max: "5", value: "1" }),
          element("button", { type: "submit", id: "caption-submit" }, "Describe")),
        element("img", { id: "caption-preview", className: "photo-preview", alt: "The chosen photo", hidden: true }),
        resultArea("caption"));
      captionPanel();
    },
  });

  function captionPanel() {
    const file = byId("caption-file");
    const nBest = byId("caption-nbest");
    const preview = byId("caption-preview");
    const result = byId("caption-result");
    const describe = () => {
      const photo = file.files[0];
      if (!photo) {
        complain(result, "Choose a photo first.");
        return;
      }
      const count = Number(nBest.value) || 1;
      const form = new FormData();
      form.append("images", photo, photo.name);
      if (count > 1) {
        // Beam search keeps at least as many candidates as captions asked for.
        const model = modelsByTask.caption.find((each) => each.name === chosenModel.caption) || modelsByTask.caption[0];
        form.append("n_best", String(count));
        form.append("beam_size", String(Math.max(count, model.metrics?.beam_size || 0)));
      }
      show(result, () => api("POST", taskPath("caption"), form), (answer) => captionView(answer.predictions[0]));
    };
    file.addEventListener("change", () => {
      if (preview.src) {
        URL.revokeObjectURL(preview.src);
      }
      preview.hidden = !file.files[0];
      if (file.files[0]) {
        preview.src = URL.createObjectURL(file.files[0]);
        describe();
      }
    });
    byId("caption-form").addEventListener("submit", (event) => {
      event.preventDefault();
      describe();
    });
  }

  function captionView(prediction) {
    const nodes = [element("p", { className: "answer-text", id: "caption-output" }, prediction.caption)];
    if (prediction.captions.length > 1) {
      nodes.push(element("ol", { className: "n-best", id: "caption-n-best" },
        ...prediction.captions.map((caption) => element("li", {}, caption.text,
          element("span", { className: "score" }, ` (score ${caption.score.toFixed(2)})`)))));
    }
    return nodes;
  }
})();
