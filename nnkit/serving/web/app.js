// The nnkit demo page: one panel per task that `nnkit serve` has a model for, each talking to
// the JSON API (/v1/...). A task's own panel is a script of its app (apps/<task>/panel.js,
// served at /panels/<task>.js) that calls `definePanel`; a task without one gets the generic
// panel. This file names no task: it holds what the panels share. Plain DOM code, no
// framework, nothing fetched from outside the server.
"use strict";

// The panels the tasks' scripts define, by task: { title, build(section) }.
const PANELS = {};

// The loaded models by task, and the one each panel's requests go to (see modelChoice).
const modelsByTask = {};
const chosenModel = {};

// For a task's panel script: `build(section)` fills the task's <section> (its title and model
// line are there already) and wires it up.
function definePanel(task, definition) {
  PANELS[task] = definition;
}

start();

async function start() {
  const status = byId("status");
  let models, tasks;
  try {
    [models, tasks] = await Promise.all([api("GET", "/v1/models"), api("GET", "/v1/tasks")]);
    models = models.models;
    tasks = tasks.tasks;
  } catch (error) {
    status.textContent = `Could not list the models: ${error.message}`;
    status.classList.add("error");
    document.body.dataset.state = "error";
    return;
  }
  for (const model of models) {
    (modelsByTask[model.task] ||= []).push(model);
  }
  const loaded = tasks.filter((task) => modelsByTask[task.name]);
  // The panel scripts load side by side; a panel that fails to load falls back to the generic one.
  await Promise.all(loaded.filter((task) => task.panel).map((task) => loadScript(task.panel).catch(() => {})));
  const missing = byId("missing-tasks");
  for (const task of tasks) {
    if (!modelsByTask[task.name]) {
      missing.append(element("li", { id: `${task.name}-missing` },
        element("strong", {}, task.name), ": no model loaded (train one with ",
        element("code", {}, `nnkit ${task.name} train`), " and restart the server)"));
    }
  }
  for (const task of loaded) {
    const definition = PANELS[task.name] || genericPanel(task);
    const section = panelSection(task.name, definition.title);
    byId("panels").append(section);
    modelChoice(task.name);
    definition.build(section);
  }
  missing.hidden = missing.children.length === 0;
  status.textContent = models.length
    ? `${models.length} model${models.length === 1 ? "" : "s"} loaded.`
    : "No models loaded: train one (e.g. nnkit <task> train) and restart nnkit serve.";
  document.body.dataset.state = "ready";  // for scripts and tests: the panels are set up
}

function loadScript(source) {
  return new Promise((resolve, reject) => {
    const script = element("script", { src: source });
    script.addEventListener("load", resolve);
    script.addEventListener("error", () => reject(new Error(`could not load ${source}`)));
    document.head.append(script);
  });
}

// --- panels ---------------------------------------------------------------------------------

// A task's <section>: its title and the line that describes its model (see modelChoice).
function panelSection(task, title) {
  return element("section", { className: "panel", id: `${task}-panel`, dataset: { task } },
    element("h2", { id: `${task}-title` }, title),
    element("p", { className: "model-info", id: `${task}-info` }));
}

// Where a panel shows its answers (see `show`).
function resultArea(task) {
  return element("div", { className: "result", id: `${task}-result`, "aria-live": "polite" });
}

// A one-line text box and its button: #<task>-form, #<task>-input, #<task>-submit.
function textForm(task, label, button, value = "") {
  return element("form", { id: `${task}-form` },
    element("label", { htmlFor: `${task}-input` }, label),
    element("input", { type: "text", id: `${task}-input`, value, autocomplete: "off" }),
    element("button", { type: "submit", id: `${task}-submit` }, button));
}

// For a task without a panel of its own: one input per line, POST /v1/<task>/predict
// {"inputs": [...]}, the answer shown as JSON.
function genericPanel(task) {
  return {
    title: task.name,
    build(section) {
      const name = task.name;
      const input = element("textarea", { id: `${name}-input`, rows: 4 });
      const form = element("form", { id: `${name}-form`, className: "generic" },
        element("label", { htmlFor: input.id }, "Inputs, one per line"), input,
        element("button", { type: "submit", id: `${name}-submit` }, "Predict"));
      const result = resultArea(name);
      section.append(element("p", { className: "hint" }, task.description), form, result);
      form.addEventListener("submit", (event) => {
        event.preventDefault();
        const inputs = input.value.split("\n").filter((line) => line.trim());
        if (!inputs.length) {
          complain(result, "Type an input first.");
          return;
        }
        show(result, () => api("POST", taskPath(name), { inputs }),
          (answer) => [element("pre", { className: "json", id: `${name}-json` }, JSON.stringify(answer, null, 2))]);
      });
    },
  };
}

// --- talking to the API -----------------------------------------------------------------

// With API keys (`nnkit serve --api-key-file`) the API answers 401 until the page sends one:
// the page asks for it (requests refused together share one question) and keeps it for this tab.
// Functions, not constants: start() calls api() before the script's later lines have run.
function storedKey() {
  return sessionStorage.getItem("nnkit-api-key");
}

function askForKey(reason) {
  askForKey.question ??= Promise.resolve().then(() => {
    const key = window.prompt(`${reason}\n\nAPI key:`)?.trim();
    if (key) {
      sessionStorage.setItem("nnkit-api-key", key);
    }
    askForKey.question = null;
    return Boolean(key);
  });
  return askForKey.question;
}

// Fetch and decode JSON; an API error ({"error": {"message"}}) or a failed request becomes
// an Error carrying a one-line message that a panel can show.
async function api(method, path, body, retried = false) {
  const options = { method, headers: {} };
  if (body instanceof FormData) {
    options.body = body;  // the browser sets the multipart boundary itself
  } else if (body !== undefined) {
    options.body = JSON.stringify(body);
    options.headers["Content-Type"] = "application/json";
  }
  const key = storedKey();
  if (key) {
    options.headers.Authorization = `Bearer ${key}`;
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
  if (response.status === 401 && !retried) {
    // Another request may have been given a key meanwhile; else ask for one.
    if (storedKey() !== key || await askForKey(answer?.error?.message || "401")) {
      return api(method, path, body, true);
    }
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

// --- image classification: draw, then classify the drawing --------------------------------

// The drawing area of a sketch panel: #<task>-canvas, #<task>-clear, #<task>-predict.
function sketchArea(task, label) {
  return element("div", { className: "sketch" },
    element("canvas", { id: `${task}-canvas`, width: 280, height: 280, "aria-label": label }),
    element("div", { className: "buttons" },
      element("button", { type: "button", id: `${task}-clear` }, "Clear"),
      element("button", { type: "button", id: `${task}-predict` }, "Predict")));
}

// Classify what is drawn on #<task>-canvas (see sketchArea), with `pen`'s ink and paper.
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

// --- text: a sentence in, one prediction out ------------------------------------------------

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
    } else if (name.includes("-")) {
      node.setAttribute(name, String(value));  // aria-live, aria-label ...
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
