"""The demo page of `nnkit serve` in a real browser: Debian's Chromium driven by Playwright.
A real server (a subprocess) serves the tiny digits and slots models; the tests draw a digit
with the mouse and tag a sentence, and check that the page shows exactly what the API answers
for the same input, reports errors inside the panel, and asks nothing of any other host."""

import base64
import io
import json
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import echo_task
from conftest import ROOT, USER_ENVIRONMENT, data_dir, free_ports

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.is_file():
    pytest.skip(f"Chromium not found at {CHROMIUM} (Debian: apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api",
                               reason="Playwright for Python is not installed (pip install -e '.[test]')")
httpx = pytest.importorskip("httpx", reason="httpx is not installed (pip install -e '.[test]')")

# Headless, and nothing that would reach out to the internet on its own.
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SENTENCE = "i want to fly from boston to denver tomorrow"
# A "7" in one stroke, as fractions of the canvas: the bar, then the downstroke.
SEVEN = [(0.25, 0.22), (0.72, 0.22), (0.58, 0.5), (0.45, 0.8)]


@pytest.fixture(scope="module")
def server(tmp_path_factory, trained_digits, trained_slots):
    """`nnkit serve` in its own process on a free port, serving the shared tiny models; its URL."""
    models = tmp_path_factory.mktemp("served")
    (models / "digits").symlink_to(trained_digits, target_is_directory=True)
    (models / "slots").symlink_to(trained_slots, target_is_directory=True)
    (port,) = free_ports(1)
    log_path = models.parent / f"{models.name}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "nnkit.cli", "serve", "--models", str(models), "--port", str(port)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
            env={**USER_ENVIRONMENT, "NNKIT_DATA_DIR": str(data_dir())})
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, process, log_path)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_until_healthy(url, process, log_path, timeout=120):
    # Start-up imports TensorFlow and loads every model: seconds, more on a busy machine.
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"nnkit serve exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/health", timeout=2, trust_env=False).json().get("models") == 2:
                return
        except (httpx.HTTPError, ValueError):
            pass
        time.sleep(0.25)
    raise AssertionError(f"nnkit serve was not healthy after {timeout} s:\n{log_path.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def api(server):
    """An HTTP client for the server's API, to ask it directly what the page asked it
    (straight to localhost, whatever proxy the environment names)."""
    with httpx.Client(base_url=server, timeout=30, trust_env=False) as client:
        yield client


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=BROWSER_ARGS)
        yield launched
        launched.close()


class Visit:
    """A fresh browser page on the server's `/` that records every request it makes, every
    dialog box it opens and every script error."""

    def __init__(self, browser, url):
        self.url = url
        self.context = browser.new_context(viewport={"width": 1200, "height": 900})
        self.page = self.context.new_page()
        self.requests, self.dialogs, self.errors = [], [], []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", self.dismiss)
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(f"{url}/")
        self.page.wait_for_selector("body[data-state=ready]")

    def dismiss(self, dialog):
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def check_clean(self):
        """Only the server was asked (blob: URLs are the page's own previews), no alert box
        was opened and no script failed."""
        outside = [url for url in self.requests if not url.startswith((f"{self.url}/", "blob:", "data:"))]
        assert not outside, f"the page requested something outside the server: {outside}"
        assert not self.dialogs, f"the page opened dialog boxes: {self.dialogs}"
        assert not self.errors, f"script errors: {self.errors}"


@pytest.fixture
def visit(browser, server):
    opened = Visit(browser, server)
    yield opened
    opened.context.close()


def draw(page, canvas_id, stroke):
    """Draw one stroke with the mouse through points given as fractions of the canvas."""
    box = page.locator(f"#{canvas_id}").bounding_box()
    points = [(box["x"] + x * box["width"], box["y"] + y * box["height"]) for x, y in stroke]
    page.mouse.move(*points[0])
    page.mouse.down()
    for point in points[1:]:
        page.mouse.move(*point, steps=8)
    page.mouse.up()


def canvas_png(page, canvas_id):
    """The canvas as the PNG bytes the page uploads."""
    data_url = page.evaluate(f"document.getElementById('{canvas_id}').toDataURL('image/png')")
    return base64.b64decode(data_url.split(",", 1)[1])


def predict_png(api, png):
    return api.post("/v1/digits/predict", files={"images": ("drawing.png", png, "image/png")}, data={"top_k": "3"})


def shown_ranking(page, task):
    return [(item.get_attribute("data-label"), float(item.get_attribute("data-probability")))
            for item in page.locator(f"#{task}-ranking li").all()]


def test_there_is_a_panel_per_loaded_task_and_a_notice_for_the_others(visit):
    page = visit.page
    assert page.inner_text("#status") == "2 models loaded."
    for task in ("digits", "slots"):
        assert page.is_visible(f"#{task}-panel")
        assert page.inner_text(f"#{task}-info").startswith(f"Model {task} (")
    for task in ("xo", "translate", "caption", "lm"):
        assert page.is_hidden(f"#{task}-panel")
        assert f"nnkit {task} train" in page.inner_text(f"#{task}-missing")
    visit.check_clean()


def test_a_drawn_digit_is_classified_as_the_api_classifies_the_same_png(visit, api):
    page = visit.page
    draw(page, "digits-canvas", SEVEN)  # lifting the pen predicts
    page.wait_for_selector("#digits-result[data-state=done]")
    png = canvas_png(page, "digits-canvas")
    drawing = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    assert drawing[0].max() == 0 and drawing.max() == 255, "MNIST's way round: white ink on black"
    answer = predict_png(api, png)
    assert answer.status_code == 200, answer.text
    expected = [(ranked["label"], ranked["probability"]) for ranked in answer.json()["predictions"][0]["top_k"]]
    shown = shown_ranking(page, "digits")
    assert [label for label, _ in shown] == [label for label, _ in expected] and len(shown) == 3
    assert [probability for _, probability in shown] == pytest.approx([p for _, p in expected], abs=1e-6)
    assert page.inner_text("#digits-label") == expected[0][0]
    assert page.inner_text("#digits-ranking li:first-child .bar-value") == f"{100 * expected[0][1]:.1f}%"

    # Clear empties the drawing and the result; a blank canvas is refused, inside the panel.
    page.click("#digits-clear")
    assert page.inner_text("#digits-result") == ""
    page.click("#digits-predict")
    page.wait_for_selector("#digits-result[data-state=error]")
    refusal = predict_png(api, canvas_png(page, "digits-canvas"))
    assert 400 <= refusal.status_code < 500
    assert refusal.json()["error"]["message"] in page.inner_text("#digits-result .error")
    visit.check_clean()


def test_slots_and_intent_are_shown_as_the_api_answers_for_the_same_text(visit, api):
    page = visit.page
    page.fill("#slots-input", SENTENCE)
    page.click("#slots-submit")
    page.wait_for_selector("#slots-result[data-state=done]")
    answer = api.post("/v1/slots/predict", json={"texts": [SENTENCE]})
    assert answer.status_code == 200, answer.text
    expected = answer.json()["predictions"][0]
    intent = page.locator("#slots-intent")
    assert intent.get_attribute("data-intent") == expected["intent"]
    assert float(intent.get_attribute("data-probability")) == pytest.approx(expected["intent_probability"], abs=1e-6)
    assert expected["intent"] in intent.inner_text()
    marks = page.locator("#slots-sentence mark.slot").all()
    assert [(mark.get_attribute("data-slot"), mark.locator(".slot-value").inner_text()) for mark in marks] == \
        [(slot["slot"], slot["value"]) for slot in expected["slots"]]
    assert shown_words(page) == expected["words"]
    visit.check_clean()


def test_each_slot_is_highlighted_with_its_name(visit, api):
    """The tiny test model tags few slots, if any: the API's own answer for a sentence, with
    its tags replaced by three slots (one of two words), checks how spans are drawn."""
    page = visit.page
    text = "from boston to san francisco on monday"
    answer = api.post("/v1/slots/predict", json={"texts": [text]}).json()
    prediction = answer["predictions"][0]
    assert prediction["words"] == text.split()
    slots = [("fromloc.city_name", 1, 2), ("toloc.city_name", 3, 5), ("depart_date.day_name", 6, 7)]
    prediction["slots"] = [{"slot": name, "value": " ".join(prediction["words"][start:end]), "start": start,
                            "end": end} for name, start, end in slots]
    page.route("**/v1/slots/predict", lambda route: route.fulfill(json=answer))
    page.fill("#slots-input", text)
    page.click("#slots-submit")
    page.wait_for_selector("#slots-result[data-state=done]")

    marks = page.locator("#slots-sentence mark.slot")
    assert [(marks.nth(i).locator(".slot-value").inner_text(), marks.nth(i).locator(".slot-name").inner_text())
            for i in range(marks.count())] == \
        [("boston", "fromloc.city_name"), ("san francisco", "toloc.city_name"), ("monday", "depart_date.day_name")]
    assert page.locator("#slots-sentence mark.slot:has-text('boston')").count() == 1
    colours = {marks.nth(i).evaluate("mark => getComputedStyle(mark).backgroundColor") for i in range(3)}
    assert len(colours) == 3, "a colour per slot name"
    assert shown_words(page) == text.split()
    visit.check_clean()


def shown_words(page):
    """The sentence's words as shown, without the slot names under the highlighted spans."""
    return page.evaluate("""() => {
        const copy = document.getElementById('slots-sentence').cloneNode(true);
        copy.querySelectorAll('.slot-name').forEach((name) => name.remove());
        return copy.textContent.split(/\\s+/).filter(Boolean);
    }""")


@contextmanager
def served_in_process(models_dir, **options):
    """`create_app(models_dir, **options)` behind uvicorn on a thread of this process (for a task
    that is registered here only, or models already loaded by other tests); its URL."""
    import uvicorn

    from nnkit.serving.app import create_app

    (port,) = free_ports(1)
    server = uvicorn.Server(uvicorn.Config(create_app(models_dir, **options), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the in-process server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)


@pytest.fixture
def echo_server(tmp_path, monkeypatch):
    """A server of one model of the echo task: neither endpoints nor a web panel of its own."""
    echo_task.register(monkeypatch)
    with served_in_process(echo_task.save_echo_model(tmp_path / "echo")) as url:
        yield url


def test_a_task_without_a_panel_of_its_own_gets_the_generic_one(browser, echo_server):
    visit = Visit(browser, echo_server)
    try:
        page = visit.page
        assert page.is_visible("#echo-panel") and page.inner_text("#echo-title") == "echo"
        assert page.inner_text("#echo-info").startswith("Model echo (")
        assert "nnkit digits train" in page.inner_text("#digits-missing")  # the registry's other tasks
        page.click("#echo-submit")
        page.wait_for_selector("#echo-result[data-state=error]")
        page.fill("#echo-input", "ab\n\n  \ncde")  # one input per line, blank lines skipped
        page.click("#echo-submit")
        page.wait_for_selector("#echo-result[data-state=done]")
        with httpx.Client(base_url=echo_server, trust_env=False) as api:
            answer = api.post("/v1/echo/predict", json={"inputs": ["ab", "cde"]}).json()
        assert json.loads(page.inner_text("#echo-json")) == answer
        assert answer["predictions"] == [{"input": "ab", "length": 2}, {"input": "cde", "length": 3}]
        visit.check_clean()
    finally:
        visit.context.close()


def test_every_task_panel_answers_as_the_api_does(browser, tmp_path, trained_digits, trained_xo, trained_slots,
                                                  trained_translator, trained_lm, trained_captioner):
    """The panels that came from each task's folder (apps/<task>/panel.js), all on one page."""
    import tiny_models

    for task, model in (("digits", trained_digits), ("xo", trained_xo), ("slots", trained_slots),
                        ("translate", trained_translator), ("lm", trained_lm), ("caption", trained_captioner[0])):
        (tmp_path / task).symlink_to(model, target_is_directory=True)
    with served_in_process(tmp_path) as url, httpx.Client(base_url=url, timeout=30, trust_env=False) as api:
        visit = Visit(browser, url)
        page = visit.page
        try:
            assert page.inner_text("#status") == "6 models loaded."
            assert [page.inner_text(f"#{task}-title") for task in ("xo", "translate", "caption", "lm")] == \
                ["X or O", "Translation", "Photo caption", "Text generation"]

            draw(page, "xo-canvas", SEVEN)
            page.wait_for_selector("#xo-result[data-state=done]")
            assert page.inner_text("#xo-label") in ("x", "o", "none")

            source = tiny_models.PAIRS[0][0]
            page.fill("#translate-input", source)
            page.click("#translate-submit")
            page.wait_for_selector("#translate-result[data-state=done]")
            translated = api.post("/v1/translate/predict", json={"texts": [source]}).json()["predictions"][0]
            assert page.inner_text("#translate-output") == translated["translations"][0]["text"]

            jpeg = tiny_models.jpeg_bytes(tiny_models.photo("red"))
            page.set_input_files("#caption-file", files=[{"name": "red.jpg", "mimeType": "image/jpeg", "buffer": jpeg}])
            page.wait_for_selector("#caption-result[data-state=done]")
            captioned = api.post("/v1/caption/predict", files={"images": ("red.jpg", jpeg, "image/jpeg")}).json()
            assert page.inner_text("#caption-output") == captioned["predictions"][0]["caption"]

            page.fill("#lm-prompt", "the cat")
            page.fill("#lm-length", "4")
            page.fill("#lm-temperature", "0")  # greedy: the API answers the same words
            page.click("#lm-submit")
            page.wait_for_selector("#lm-result[data-state=done]")
            generated = api.post("/v1/lm/generate", json={"prompt": "the cat", "length": 4, "temperature": 0}).json()
            words = [word for word in generated["generation"]["words"] if word != "<eos>"]  # <eos>: a line break
            assert " ".join(page.inner_text("#lm-output").split()).endswith(" ".join(words))
            visit.check_clean()
        finally:
            visit.context.close()
