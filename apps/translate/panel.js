// The translate panel of the `nnkit serve` page: a sentence, its translation and the
// attention table. It uses the page's shared helpers (nnkit/serving/web/app.js).
"use strict";

(() => {
  definePanel("translate", {
    title: "Translation",
    build(section) {
      section.append(textForm("translate", "Sentence", "Translate"), resultArea("translate"));
      textPanel("translate", "Type a sentence first.", translationView);
    },
  });

  function translationView(prediction) {
    const best = prediction.translations[0];
    const nodes = [element("p", { className: "answer-text", id: "translate-output" }, best.text)];
    if (prediction.longer_than_training) {
      nodes.push(element("p", { className: "note" }, "Longer than any training sentence: expect a rougher translation."));
    }
    if (best.attention.length) {
      // A row per output token and the end of the sentence, as many as there are attention rows.
      const rows = [...best.tokens, "<eos>"].slice(0, best.attention.length);
      nodes.push(attentionTable(prediction.source_tokens, rows, best.attention));
    }
    return nodes;
  }

  function attentionTable(columns, rows, weights) {
    const table = element("table", { className: "attention", id: "translate-attention" },
      element("caption", { className: "attention-caption" }, "Attention: how much each output word (row) looked at each source word (column)"));
    table.append(element("thead", {}, element("tr", {}, element("td", {}),
      ...columns.map((token) => element("th", { scope: "col" }, token)))));
    const body = element("tbody", {});
    rows.forEach((token, row) => {
      body.append(element("tr", {}, element("th", { scope: "row" }, token),
        ...weights[row].map((weight, column) => element("td", {
          title: `${token} ← ${columns[column]}: ${weight.toFixed(3)}`,
          className: weight > 0.5 ? "strong" : "",
          style: { "--weight": weight.toFixed(3) },
        }, weight.toFixed(2)))));
    });
    table.append(body);
    return table;
  }
})();
