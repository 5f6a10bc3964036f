// The slots panel of the `nnkit serve` page: a flight request, its intent and its slots
// highlighted in the sentence. It uses the page's shared helpers (nnkit/serving/web/app.js).
"use strict";

(() => {
  definePanel("slots", {
    title: "Flight request: slots and intent",
    build(section) {
      section.append(textForm("slots", "Request", "Analyse", "i want to fly from boston to denver tomorrow"),
        resultArea("slots"));
      textPanel("slots", "Type a request first.", slotsView);
    },
  });

  function slotsView(prediction) {
    const { words, slots } = prediction;
    const unknown = new Set(prediction.unknown_words);
    const word = (text) => (unknown.has(text)
      ? element("span", { className: "unknown", title: "not in the training vocabulary" }, text) : text);
    // The sentence as the model read it (lowercased words), each slot's words in one span.
    const sentence = element("p", { className: "tagged", id: "slots-sentence" });
    const hues = slotHues(slots.map((slot) => slot.slot));
    const pieces = [];
    let position = 0;
    for (const slot of slots) {
      pieces.push(...words.slice(position, slot.start).map(word));
      const colour = { "--hue": hues.get(slot.slot) };
      pieces.push(element("mark", { className: "slot", dataset: { slot: slot.slot }, style: colour },
        element("span", { className: "slot-value" }, ...spaced(words.slice(slot.start, slot.end).map(word))),
        element("span", { className: "slot-name" }, slot.slot)));
      position = slot.end;
    }
    pieces.push(...words.slice(position).map(word));
    sentence.append(...spaced(pieces));
    const intent = element("p", { className: "intent", id: "slots-intent",
      dataset: { intent: prediction.intent, probability: prediction.intent_probability } },
    "Intent: ", element("strong", {}, prediction.intent), ` (${percent(prediction.intent_probability)})`);
    const nodes = [intent, sentence];
    if (!slots.length) {
      nodes.push(element("p", { className: "note" }, "No slots found."));
    }
    if (unknown.size) {
      nodes.push(element("p", { className: "note" }, `Not in the training vocabulary: ${[...unknown].join(", ")}`));
    }
    return nodes;
  }

  // Hues far apart on the colour wheel, one per slot name.
  const SLOT_HUES = [210, 30, 130, 280, 0, 170, 55, 250, 330, 95];

  // A colour per slot name: the same name gets the same hue from one sentence to the next (a hash
  // of the name), and two names in one sentence never share one while the palette lasts.
  function slotHues(names) {
    const hues = new Map();
    const taken = new Set();
    for (const name of names) {
      if (hues.has(name)) {
        continue;
      }
      let hash = 0;
      for (const character of name) {
        hash = (hash * 31 + character.codePointAt(0)) >>> 0;
      }
      let index = hash % SLOT_HUES.length;
      while (taken.has(index) && taken.size < SLOT_HUES.length) {
        index = (index + 1) % SLOT_HUES.length;
      }
      taken.add(index);
      hues.set(name, String(SLOT_HUES[index]));
    }
    return hues;
  }
})();
