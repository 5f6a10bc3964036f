// The nnkit demo page: one panel per task that `nnkit serve` has a model for, each talking to
// the JSON API (/v1/...). Plain DOM code, no framework, nothing fetched from outside the server.
"use strict";

// The panels in page order, and the function that wires each one up.
const PANELS = {
  digits: digitsPanel,
  xo: xoPanel,
  slots: slotsPanel,
  translate: translatePanel,
  caption: captionPanel,
  lm: lmPanel,
};

// The loaded models by task, and the one each panel's requests go to (see modelChoice).
const modelsByTask = {};
const chosenModel = {};

start();

async function start() {
  const status = byId("status");
  let models;
  try {
    models = (await api("GET", "/v1/models")).models;
  } catch (error) {
    status.textContent = `Could not list the models: ${error.message}`;
    status.classList.add("error");
    document.body.dataset.state = "error";
    return;
  }
  for (const model of models) {
    (modelsByTask[model.task] ||= []).push(model);
  }
  const missing = byId("missing-tasks");
  for (const [task, setUp] of Object.entries(PANELS)) {
    if (!modelsByTask[task]) {
      missing.append(element("li", { id: `${task}-missing` },
        element("strong", {}, task), ": no model loaded (train one with ",
        element("code", {}, `nnkit ${task} train`), " and restart the server)"));
      continue;
    }
    modelChoice(task);
    setUp();
    byId(`${task}-panel`).hidden = false;
  }
  missing.hidden = missing.children.length === 0;
  status.textContent = models.length
    ? `${models.length} model${models.length === 1 ? "" : "s"} loaded.`
    : "No models loaded: train one (e.g. nnkit digits train) and restart nnkit serve.";
  document.body.dataset.state = "ready";  // for scripts and tests: the panels are set up
}

// --- talking to the API -----------------------------------------------------------------

// Fetch and decode JSON; an API error ({"error": {"message"}}) or a failed request becomes
// an Error carrying a one-line message that a panel can show.
async function api(method, path, body) {
  const options = { method };
  if (body instanceof FormData) {
    options.body = body;  // the browser sets the multipart boundary itself
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers = { "Content-Type": "application/json" };
  }
  let response;
  try {
    response = await fetch(path, options);
  } catch (error) {
    throw new Error(`the server did not answer (${error.message})`);
  }
  let answer = null;
  try {
    answer = await response.json();
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!response.ok) {
    throw new Error(answer?.error?.message || `${response.status} ${response.statusText}`);
  }
  if (answer === null) {
    throw new Error("the server's answer was not JSON");
  }
  return answer;
}

// The endpoint of a task, naming the chosen model when several of that task are loaded.
function taskPath(task, action = "predict") {
  const model = chosenModel[task];
  return `/v1/${task}/${action}` + (model ? `?model=${encodeURIComponent(model)}` : "");
}

// Run `request` and put `render(answer)` (a list of nodes) or the error into `result`, which
// keeps its last answer meanwhile. Only the latest request of a panel may fill it: an older
// answer that arrives late is dropped. `data-state` (pending, done, error) says where it
// stands, for scripts and tests.
async function show(result, request, render) {
  const ticket = (result.ticket = (result.ticket || 0) + 1);
  result.dataset.state = "pending";
  result.setAttribute("aria-busy", "true");
  let nodes, state = "done";
  try {
    nodes = render(await request());
  } catch (error) {
    nodes = [element("p", { className: "error" }, `Error: ${error.message}`)];
    state = "error";
  }
  if (ticket !== result.ticket) {
    return;
  }
  result.replaceChildren(...nodes);
  result.dataset.state = state;
  result.removeAttribute("aria-busy");
}

// Empty a result and drop any answer still on its way to it; returns the new ticket.
function forget(result) {
  result.ticket = (result.ticket || 0) + 1;
  result.replaceChildren();
  delete result.dataset.state;
  result.removeAttribute("aria-busy");
  return result.ticket;
}

// A one-line complaint in the panel, for input the page itself refuses.
function complain(result, message) {
  forget(result);
  result.append(element("p", { className: "error" }, message));
  result.dataset.state = "error";
}

// --- models -----------------------------------------------------------------------------

// Describe the task's model under the panel title; with several models of the task, a menu
// picks the one to ask (by default the one named after the task, as the server does).
function modelChoice(task) {
  const models = modelsByTask[task];
  const info = byId(`${task}-info`);
  const describe = () => {
    const model = models.find((each) => each.name === chosenModel[task]) || models[0];
    return `(${model.architecture || "model"})${metricsSummary(model.metrics)}`;
  };
  if (models.length === 1) {
    info.textContent = `Model ${models[0].name} ${describe()}`;
    return;
  }
  const menu = element("select", { id: `${task}-model` },
    ...models.map((model) => element("option", { value: model.name }, model.name)));
  menu.value = (models.find((model) => model.name === task) || models[0]).name;
  const summary = element("span", {});
  const choose = () => {
    chosenModel[task] = menu.value;
    summary.textContent = ` ${describe()}`;
  };
  menu.addEventListener("change", choose);
  choose();
  info.append(element("label", { htmlFor: menu.id }, "Model "), menu, summary);
}

// The first few test scores, e.g. " · test accuracy: 0.981"; whole numbers above 1 are counts
// (examples, beam size) rather than scores and are left out. The server may pass the
// metadata's metrics whole ({"test": {...}}) or the test part alone.
function metricsSummary(metrics) {
  const test = metrics?.test && typeof metrics.test === "object" ? metrics.test : metrics || {};
  const scores = Object.entries(test)
    .filter(([, value]) => typeof value === "number" && !(Number.isInteger(value) && value > 1))
    .slice(0, 3)
    .map(([name, value]) => `${name.replaceAll("_", " ")}: ${value.toFixed(3)}`);
  return scores.length ? ` · test ${scores.join(" · ")}` : "";
}

// --- digits and xo: draw, then classify the drawing ---------------------------------------

function digitsPanel() {
  // MNIST is white ink on black; the server centres and scales the ink as MNIST did.
  sketchPanel("digits", { ink: "#ffffff", paper: "#000000", width: 22 });
}

function xoPanel() {
  // The xo model was trained on cells of either polarity and normalises the contrast itself;
  // dark pen on white paper is what a photo of a real cell looks like.
  sketchPanel("xo", { ink: "#1a1a1a", paper: "#ffffff", width: 18 });
}

function sketchPanel(task, pen) {
  const canvas = byId(`${task}-canvas`);
  const result = byId(`${task}-result`);
  const predict = () => show(result, async () => {
    const form = new FormData();
    form.append("images", await canvasPng(canvas), "drawing.png");
    form.append("top_k", "3");
    return api("POST", taskPath(task), form);
  }, (answer) => classificationView(task, answer.predictions[0]));
  const pad = sketchPad(canvas, pen, predict);
  byId(`${task}-clear`).addEventListener("click", () => {
    pad.clear();
    forget(result);
  });
  byId(`${task}-predict`).addEventListener("click", predict);
}

// Drawing with a mouse, pen or finger (pointer events); `onStroke` runs when one is lifted.
function sketchPad(canvas, pen, onStroke) {
  const context = canvas.getContext("2d");
  let last = null;
  const at = (event) => {
    // The canvas may be shown smaller or larger than its pixel size.
    const box = canvas.getBoundingClientRect();
    return [(event.clientX - box.left) * canvas.width / box.width,
      (event.clientY - box.top) * canvas.height / box.height];
  };
  const clear = () => {
    context.fillStyle = pen.paper;
    context.fillRect(0, 0, canvas.width, canvas.height);
  };
  canvas.addEventListener("pointerdown", (event) => {
    event.preventDefault();
    canvas.setPointerCapture(event.pointerId);
    last = at(event);
    context.fillStyle = pen.ink;
    context.beginPath();
    context.arc(last[0], last[1], pen.width / 2, 0, 2 * Math.PI);
    context.fill();
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!last) {
      return;
    }
    const next = at(event);
    Object.assign(context, { strokeStyle: pen.ink, lineWidth: pen.width, lineCap: "round", lineJoin: "round" });
    context.beginPath();
    context.moveTo(...last);
    context.lineTo(...next);
    context.stroke();
    last = next;
  });
  const lift = () => {
    if (last) {
      last = null;
      onStroke();
    }
  };
  canvas.addEventListener("pointerup", lift);
  canvas.addEventListener("pointercancel", lift);
  clear();
  return { clear };
}

function canvasPng(canvas) {
  return new Promise((resolve, reject) => canvas.toBlob(
    (blob) => (blob ? resolve(blob) : reject(new Error("the drawing could not be encoded as PNG"))), "image/png"));
}

// The best label, large, then a probability bar per ranked class.
function classificationView(task, prediction) {
  const bars = element("ol", { className: "bars", id: `${task}-ranking` });
  for (const { label, probability } of prediction.top_k) {
    bars.append(element("li", { dataset: { label, probability } },
      element("span", { className: "bar-label" }, label),
      element("span", { className: "bar" }, element("span", { style: { width: percent(probability) } })),
      element("span", { className: "bar-value" }, percent(probability))));
  }
  return [element("p", { className: "answer", id: `${task}-label` }, prediction.label), bars];
}

// --- slots: intent and highlighted slots ---------------------------------------------------

function slotsPanel() {
  textPanel("slots", "Type a request first.", slotsView);
}

// A text box whose text goes to /v1/<task>/predict; `view` draws the one prediction.
function textPanel(task, emptyMessage, view) {
  const input = byId(`${task}-input`);
  const result = byId(`${task}-result`);
  byId(`${task}-form`).addEventListener("submit", (event) => {
    event.preventDefault();
    if (!input.value.trim()) {
      complain(result, emptyMessage);
      return;
    }
    show(result, () => api("POST", taskPath(task), { texts: [input.value] }),
      (answer) => view(answer.predictions[0]));
  });
}

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

// --- translate: the translation and its attention --------------------------------------------

function translatePanel() {
  textPanel("translate", "Type a sentence first.", translationView);
}

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
    element("caption", {}, "Attention: how much each output word (row) looked at each source word (column)"));
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

// --- caption: describe a photo ------------------------------------------------------------

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

// --- lm: continue a prompt -----------------------------------------------------------------

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

// --- small DOM helpers ----------------------------------------------------------------------

function byId(id) {
  return document.getElementById(id);
}

// Build an element. Children are nodes or strings; strings become text, never HTML, so model
// output and user input cannot inject markup.
function element(tag, properties, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(properties)) {
    if (name === "dataset") {
      for (const [key, item] of Object.entries(value)) {
        node.dataset[key] = String(item);
      }
    } else if (name === "style") {
      for (const [key, item] of Object.entries(value)) {
        node.style.setProperty(key, item);
      }
    } else {
      node[name] = value;
    }
  }
  node.append(...children);
  return node;
}

// The items with a space between each two (strings and nodes alike).
function spaced(items) {
  return items.flatMap((item, index) => (index ? [" ", item] : [item]));
}

function percent(probability) {
  return `${(100 * probability).toFixed(1)}%`;
}
