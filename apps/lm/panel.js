// The lm panel of the `nnkit serve` page: continue a prompt (POST /v1/lm/generate). It uses
// the page's shared helpers (nnkit/serving/web/app.js).
"use strict";

(() => {
  definePanel("lm", {
    title: "Text generation",
    build(section) {
      section.append(
        element("form", { id: "lm-form" },
          element("label", { htmlFor: "lm-prompt" }, "Prompt"),
          element("input", { type: "text", id: "lm-prompt", autocomplete: "off" }),
          element("label", { htmlFor: "lm-length" }, "Words"),
          element("input", { type: "number", id: "lm-length", min: "1", max: "200", value: "30" }),
          element("label", { htmlFor: "lm-temperature" }, "Temperature"),
          element("input", { type: "number", id: "lm-temperature", min: "0", max: "5", step: "0.1", value: "0.8" }),
          element("button", { type: "submit", id: "lm-submit" }, "Generate")),
        resultArea("lm"));
      lmPanel();
    },
  });

  function lmPanel() {
    const prompt = byId("lm-prompt");
    const length = byId("lm-length");
    const temperature = byId("lm-temperature");
    const result = byId("lm-result");
    byId("lm-form").addEventListener("submit", (event) => {
      event.preventDefault();
      const request = { prompt: prompt.value, length: Number(length.value), temperature: Number(temperature.value) };
      show(result, () => api("POST", taskPath("lm", "generate"), request),
        (answer) => generationView(answer.generation));
    });
  }

  function generationView(generation) {
    // The prompt as the model read it, then the new words; every <eos> ends a line.
    const text = element("p", { className: "generated", id: "lm-output" });
    const append = (words, into) => words.forEach((word, index) => {
      if (word === "<eos>") {
        into.append(element("br", {}));
      } else {
        into.append(index && words[index - 1] !== "<eos>" ? ` ${word}` : word);
      }
    });
    const prompt = element("strong", { className: "prompt" });
    append(generation.prompt_words, prompt);
    text.append(prompt, " ");
    append(generation.words, text);
    const nodes = [text];
    if (generation.unknown_words.length) {
      nodes.push(element("p", { className: "note" },
        `Not in the vocabulary, read as <unk>: ${generation.unknown_words.join(", ")}`));
    }
    return nodes;
  }
})();
