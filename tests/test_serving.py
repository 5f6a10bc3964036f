"""`nnkit serve`: every task's endpoint in-process (FastAPI's TestClient) against its Python
predictor, batches against single requests, every kind of bad request, the batching worker,
model loading, and the real command in a subprocess."""

import io
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import pytest
from PIL import Image

import echo_task
import tiny_models
from conftest import USER_ENVIRONMENT, free_ports, run_in_process

# Starlette 1.x prefers the httpx2 fork for its TestClient; httpx (what the FastAPI range pinned
# here supports throughout) works the same.
pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

TRAINED = {"digits": "trained_digits", "xo": "trained_xo", "slots": "trained_slots", "lm": "trained_lm",
           "translate": "trained_translator", "caption": "trained_captioner"}


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory, request):
    """A models directory as `nnkit serve` reads it: the tiny model of every task whose data is here."""
    folder = tmp_path_factory.mktemp("served")
    for task, fixture in TRAINED.items():
        try:
            found = request.getfixturevalue(fixture)
        except pytest.skip.Exception:  # its dataset is absent: that task's tests skip
            continue
        (folder / task).symlink_to(found[0] if isinstance(found, tuple) else found, target_is_directory=True)
    return folder


@pytest.fixture(scope="module")
def client(models_dir):
    from fastapi.testclient import TestClient

    from nnkit.serving.app import create_app

    with TestClient(create_app(models_dir)) as client:
        yield client


def require(models_dir, *tasks):
    for task in tasks:
        if not (models_dir / task).exists():
            pytest.skip(f"no {task} model: its dataset is not under $NNKIT_DATA_DIR")


def python_predictor(models_dir, task):
    """The task's model loaded afresh through the Python API, to compare the server with."""
    require(models_dir, task)
    import nnkit

    return nnkit.load(models_dir / task)


def assert_close(served, expected, path="answer"):
    """Equal JSON, floats to 1e-5 (a batch of another size may round the last bits differently)."""
    if isinstance(expected, float):
        assert served == pytest.approx(expected, abs=1e-5), path
    elif isinstance(expected, dict):
        assert sorted(served) == sorted(expected), path
        for key in expected:
            assert_close(served[key], expected[key], f"{path}.{key}")
    elif isinstance(expected, (list, tuple)):
        assert len(served) == len(expected), path
        for index, (a, b) in enumerate(zip(served, expected)):
            assert_close(a, b, f"{path}[{index}]")
    else:
        assert served == expected, path


def without_input(results):
    return [{key: value for key, value in result.items() if key != "input"} for result in results]


def png_bytes(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def xo_cells():
    from nnkit.apps.xo.drawing import draw_cell, image_rng

    return [Image.fromarray(draw_cell(kind, image_rng(7, kind, 0))) for kind in ("x", "o", "none")]


def uploads(named_bytes):
    return [("images", (name, data, "image/png")) for name, data in named_bytes]


def predict(client, task, expected_status=200, **request):
    response = client.post(f"/v1/{task}/predict", **request)
    assert response.status_code == expected_status, response.text
    return response.json()


def check_batch(client, task, items, expected, **request):
    """One request with every item, and one request per item, both answer `expected`."""
    answer = predict(client, task, **{key: value(items) for key, value in request.items()})
    assert answer["task"] == task and answer["model"] == task
    assert_close(answer["predictions"], expected)
    singles = [predict(client, task, **{key: value([item]) for key, value in request.items()})["predictions"][0]
               for item in items]
    assert_close(singles, expected)


def test_health_and_models(client, models_dir):
    loaded = sorted(path.name for path in models_dir.iterdir())
    assert client.get("/health").json() == {"status": "ok", "models": len(loaded)}
    listed = client.get("/v1/models")
    assert sorted(model["name"] for model in listed.json()["models"]) == loaded
    for model in listed.json()["models"]:
        assert model["task"] == model["name"] and model["nnkit_version"] and model["created"]
        assert model["architecture"] and isinstance(model["metrics"], dict)
    assert str(models_dir) not in listed.text and "/tmp" not in listed.text  # no server paths


def test_digits_batch_equals_singles_and_the_python_predictor(client, models_dir, mnist_pngs):
    paths, labels = mnist_pngs
    paths = paths[:4]
    expected = without_input(python_predictor(models_dir, "digits").predict(paths, top_k=3))
    files = [(path.name, path.read_bytes()) for path in paths]
    check_batch(client, "digits", files, expected, files=uploads, data=lambda _: {"top_k": "3"})
    assert all(len(result["top_k"]) == 3 for result in expected)


def test_xo_batch_equals_singles_and_the_python_predictor(client, models_dir):
    cells = xo_cells()
    expected = without_input(python_predictor(models_dir, "xo").predict(cells, top_k=2))
    files = [(f"{kind}.png", png_bytes(cell)) for kind, cell in zip("xon", cells)]
    check_batch(client, "xo", files, expected, files=uploads, data=lambda _: {"top_k": "2"})


def test_slots_batch_equals_singles_and_the_python_predictor(client, models_dir):
    texts = ["i want to fly from boston to denver", "show me flights to dallas tomorrow", "what is fare code h"]
    expected = python_predictor(models_dir, "slots").predict(texts)
    check_batch(client, "slots", texts, expected, json=lambda items: {"texts": items})


def test_translate_batch_equals_singles_and_the_python_predictor(client, models_dir):
    texts = [source for source, _ in tiny_models.PAIRS[:3]]
    expected = python_predictor(models_dir, "translate").translate(texts, beam_size=2, n_best=2)
    check_batch(client, "translate", texts, expected, json=lambda items: {"texts": items, "beam_size": 2, "n_best": 2})
    assert all(len(result["translations"]) == 2 for result in expected)


def test_caption_batch_equals_singles_and_the_python_predictor(client, models_dir):
    photos = [tiny_models.jpeg_bytes(tiny_models.photo(colour)) for colour in ("red", "blue")]
    captioner = python_predictor(models_dir, "caption")
    expected = without_input(captioner.predict([Image.open(io.BytesIO(photo)) for photo in photos], beam_size=2, n_best=2))
    check_batch(client, "caption", [(f"{i}.jpg", photo) for i, photo in enumerate(photos)], expected,
                files=uploads, data=lambda _: {"beam_size": "2", "n_best": "2"})
    assert "red" in expected[0]["caption"] and "blue" in expected[1]["caption"]


def test_lm_next_words_and_generation_equal_the_python_predictor(client, models_dir):
    predictor = python_predictor(models_dir, "lm")
    texts = ["the cat sat on", "a dog"]
    answer = predict(client, "lm", json={"texts": texts, "count": 3})
    assert_close(answer["predictions"], predictor.predict(texts, count=3))
    generated = client.post("/v1/lm/generate", json={"prompt": "the dog", "length": 6, "seed": 3, "top_k": 5})
    assert generated.status_code == 200, generated.text
    assert generated.json()["generation"] == predictor.generate("the dog", 6, top_k=5, seed=3)


def test_concurrent_requests_answer_as_single_ones(client, models_dir):
    """16 clients at once: the worker merges their requests into batches, and each still gets its own answer."""
    require(models_dir, "xo")
    files = [(f"{i}.png", png_bytes(cell)) for i, cell in enumerate(xo_cells())]
    alone = [predict(client, "xo", files=uploads([item]))["predictions"] for item in files]

    def ask(index):
        return predict(client, "xo", files=uploads([files[index % 3]]))["predictions"]

    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(ask, range(48)))
    for index, answer in enumerate(answers):
        assert_close(answer, alone[index % 3])


def test_worker_merges_waiting_requests_and_isolates_a_failing_one():
    from nnkit.serving.batches import ModelWorker

    calls, release = [], threading.Event()

    def double(target, items, scale):
        calls.append(list(items))
        release.wait(5)
        if "bad" in items:
            raise ValueError("bad item")
        return [item * scale for item in items]

    worker = ModelWorker(target=None, name="test")
    try:
        first = worker.submit(double, [1], scale=2)
        time.sleep(0.2)  # the worker is now busy with `first`; the next ones queue up
        waiting = [worker.submit(double, [2, 3], scale=2), worker.submit(double, ["bad"], scale=2),
                   worker.submit(double, [4], scale=2), worker.submit(double, [5], scale=10)]
        release.set()
        assert first.result(5) == [2]
        assert waiting[0].result(5) == [4, 6] and waiting[2].result(5) == [8] and waiting[3].result(5) == [50]
        with pytest.raises(ValueError, match="bad item"):
            waiting[1].result(5)
    finally:
        worker.close()
    # One merged call for the scale-2 requests (which failed and was retried one by one), one for scale 10.
    assert calls[:2] == [[1], [2, 3, "bad", 4]] and [5] in calls and [2, 3] in calls and ["bad"] in calls


TRUNCATED_PNG = png_bytes(Image.new("L", (40, 40), 200))[:60]
# 36 megapixels of white in a few kilobytes of PNG: refused from its header, never decoded.
HUGE_PNG = png_bytes(Image.new("1", (6000, 6000), 1))
SURROGATE = {"content": b'{"texts": ["a \\ud800"]}', "headers": {"content-type": "application/json"}}
BAD_REQUESTS = {
    "an image over the pixel limit": ("xo", {"files": uploads([("huge.png", HUGE_PNG)])}, 413,
                                      "'huge.png' is 6000x6000 pixels, over the limit of 25 megapixels"),
    "a lone surrogate to slots": ("slots", SURROGATE, 422, "texts[0] is not valid Unicode text (a lone surrogate"),
    "a lone surrogate to translate": ("translate", SURROGATE, 422, "texts[0] is not valid Unicode text"),
    "a lone surrogate to lm": ("lm", SURROGATE, 422, "texts[0] is not valid Unicode text"),
    "too many words x beams": ("translate", {"json": {"texts": ["Ein Hund läuft. " * 1000], "beam_size": 4}}, 413,
                               "3,000 words x 4 beam(s); the server takes at most 8,000"),
    "too many words": ("slots", {"json": {"texts": ["flights to boston " * 3000]}}, 413, "9,000 words x 1 beam"),
    "json to an image endpoint": ("xo", {"json": {"images": []}}, 415, "multipart/form-data"),
    "form to a json endpoint": ("translate", {"data": {"texts": "Ein Hund."}}, 415, "JSON body"),
    "a text file as image": ("xo", {"files": uploads([("notes.txt", b"hello")])}, 422, "'notes.txt' is not an image"),
    "a truncated png": ("xo", {"files": uploads([("cut.png", TRUNCATED_PNG)])}, 422, "corrupt or truncated"),
    "no images field": ("xo", {"files": [("photo", ("a.png", b"x", "image/png"))]}, 422, "images: Field required"),
    "top_k 0": ("xo", {"files": uploads([("cell.png", b"x")]), "data": {"top_k": "0"}}, 422, "top_k"),
    "body over the limit": ("translate", {"content": b" " * (10 * 2**20 + 1),
                                          "headers": {"content-type": "application/json"}}, 413, "10 MB"),
    "chunked body over the limit": ("translate", {"content": iter([b" " * 2**20] * 11),
                                                  "headers": {"content-type": "application/json"}}, 413, "limit"),
    "no texts field": ("translate", {"json": {"text": ["Ein Hund."]}}, 422, "texts: Field required"),
    "an empty text": ("translate", {"json": {"texts": ["Ein Hund.", "  "]}}, 422, "texts[1] is empty"),
    "no texts": ("translate", {"json": {"texts": []}}, 422, "at least 1 item"),
    "invalid json": ("translate", {"content": b"{texts", "headers": {"content-type": "application/json"}}, 422,
                     "not valid JSON"),
    "a misspelt option": ("translate", {"json": {"texts": ["Ein Hund."], "beams": 3}}, 422, "beams: Extra inputs"),
    "more best than beams": ("translate", {"json": {"texts": ["Ein Hund."], "beam_size": 1, "n_best": 2}}, 422,
                             "n_best 2 needs at least as many beams"),
    "an unknown task": ("poetry", {"json": {"texts": ["a"]}}, 404, "unknown task 'poetry'"),
    "an unknown model": ("translate", {"json": {"texts": ["Ein Hund."]}, "params": {"model": "nope"}}, 404,
                         "no translate model named 'nope'"),
    "a model of another task": ("translate", {"json": {"texts": ["Ein Hund."]}, "params": {"model": "xo"}}, 404,
                                "no translate model named 'xo'"),
}


@pytest.mark.parametrize("case", BAD_REQUESTS, ids=list(BAD_REQUESTS))
def test_bad_requests_get_json_errors_and_the_next_request_works(client, models_dir, case):
    task, request, status, text = BAD_REQUESTS[case]
    require(models_dir, "xo", *[name for name in (task,) if name in TRAINED])
    answer = predict(client, task, expected_status=status, **request)
    assert answer["error"]["status"] == status and text in answer["error"]["message"], answer
    assert "\n" not in answer["error"]["message"]
    assert predict(client, "xo", files=uploads([("x.png", png_bytes(xo_cells()[0]))]))["predictions"]


def test_health_answers_head_and_generation_takes_any_temperature_but_no_negative_seed(client, models_dir):
    assert client.head("/health").status_code == 200
    require(models_dir, "lm")
    tiny = client.post("/v1/lm/generate", json={"prompt": "the cat", "length": 3, "temperature": 1e-320})
    greedy = client.post("/v1/lm/generate", json={"prompt": "the cat", "length": 3, "temperature": 0})
    assert tiny.status_code == 200 and tiny.json()["generation"]["words"] == greedy.json()["generation"]["words"]
    refused = client.post("/v1/lm/generate", json={"prompt": "the cat", "seed": -1})
    assert refused.status_code == 422 and "seed" in refused.json()["error"]["message"]


def test_a_request_past_the_time_limit_is_a_503_and_the_server_goes_on(client, models_dir, monkeypatch):
    require(models_dir, "slots")
    served = client.app.state.models["slots"]
    answer = served.predictor.predict

    def slow(texts, **options):
        time.sleep(0.5)
        return answer(texts, **options)

    monkeypatch.setattr(served.worker, "time_limit", 0.1)
    monkeypatch.setattr(served.predictor, "predict", slow)
    late = client.post("/v1/slots/predict", json={"texts": ["flights to boston"]})
    assert late.status_code == 503 and "no answer within 0.1 s" in late.json()["error"]["message"]
    monkeypatch.undo()
    time.sleep(0.5)  # the slow call ends on the worker thread
    assert predict(client, "slots", json={"texts": ["flights to boston"]})["predictions"]


def test_a_body_that_stops_arriving_is_a_408():
    import asyncio

    from nnkit.serving.inputs import BodyLimit

    sent = []

    async def half_sent():  # the first chunk, then nothing more, ever
        if not sent:
            sent.append("chunk")
            return {"type": "http.request", "body": b'{"texts": ', "more_body": True}
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        raise AssertionError("the app must not see a half-sent body")

    limit = BodyLimit(app, max_bytes=2**20, read_seconds=0.1)
    asyncio.run(limit({"type": "http", "headers": []}, half_sent, send))
    assert sent[1]["type"] == "http.response.start" and sent[1]["status"] == 408


def test_wrong_method_and_unexpected_errors_are_json_too(client, models_dir, monkeypatch):
    from fastapi.testclient import TestClient

    require(models_dir, "xo")
    assert client.get("/v1/xo/predict").json() == {"error": {"status": 405, "message": "Method Not Allowed"}}
    served = client.app.state.models["xo"]

    def broken(*args, **kwargs):
        raise RuntimeError("the model fell over")

    monkeypatch.setattr(served.predictor, "classify", broken)
    request = {"files": uploads([("x.png", png_bytes(xo_cells()[0]))])}
    failed = TestClient(client.app, raise_server_exceptions=False).post("/v1/xo/predict", **request)
    assert failed.status_code == 500
    assert failed.json()["error"]["message"] == "internal error: RuntimeError: the model fell over"
    monkeypatch.undo()
    assert predict(client, "xo", **request)["predictions"]


def test_loading_skips_models_that_fail_and_safe_mode_refuses_code(tmp_path, trained_xo, capfd):
    import keras

    from nnkit.errors import NnkitError
    from nnkit.saving import save_model
    from nnkit.serving.app import load_models

    (tmp_path / "xo").symlink_to(trained_xo, target_is_directory=True)
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "model.keras").write_bytes(b"not a zip")
    (tmp_path / "notes").mkdir()  # no model.keras: not a model, not mentioned
    inputs = keras.Input((28, 28, 1))
    save_model(keras.Model(inputs, keras.layers.Lambda(lambda x: x * 2)(inputs)), tmp_path / "code", {"task": "xo"})
    capfd.readouterr()
    models = load_models(tmp_path)
    assert list(models) == ["xo"]
    warnings = capfd.readouterr().err.strip().splitlines()
    assert len(warnings) == 2 and all(line.startswith("nnkit: warning: skipped ") for line in warnings), warnings
    assert "broken" in warnings[0] and "not a readable .keras" in warnings[0]
    assert "Lambda" in warnings[1] and "arbitrary code execution" in warnings[1] and "safe_mode" in warnings[1]
    alone = load_models(tmp_path / "xo")  # a saved model's own directory serves that one model
    assert list(alone) == ["xo"]
    for served in [*models.values(), *alone.values()]:
        served.worker.close()
    (tmp_path / "empty").mkdir()
    with pytest.raises(NnkitError, match="no model to serve in"):
        load_models(tmp_path / "empty")


def test_a_task_without_routes_of_its_own_gets_the_generic_endpoint(tmp_path, monkeypatch):
    from fastapi.testclient import TestClient

    from nnkit.serving.app import create_app

    echo_task.register(monkeypatch)
    echo_task.save_echo_model(tmp_path / "echo")
    with TestClient(create_app(tmp_path)) as client:
        answer = predict(client, "echo", json={"inputs": ["ab", "cde"], "options": {"scale": 2}})
        assert answer == {"task": "echo", "model": "echo", "predictions": [{"input": "ab", "length": 4},
                                                                             {"input": "cde", "length": 6}]}
        assert predict(client, "echo", json={"inputs": ["ab"]})["predictions"] == [{"input": "ab", "length": 2}]
        for request, status, text in (({"inputs": []}, 422, "at least 1 item"),
                                      ({"inputs": ["a"], "scale": 2}, 422, "scale: Extra inputs"),
                                      ({"inputs": ["a"], "options": {"beams": 2}}, 400, "unknown option beams"),
                                      ({"inputs": ["a"], "options": {"inputs": 2}}, 422,
                                       "options: multiple values for argument 'inputs'")):
            refused = predict(client, "echo", expected_status=status, json=request)["error"]["message"]
            assert text in refused and "\n" not in refused, refused
        [echo] = [task for task in client.get("/v1/tasks").json()["tasks"] if task["name"] == "echo"]
        assert echo == {"name": "echo", "description": echo_task.TASK.description, "loaded": True,
                        "actions": ["predict"], "panel": None}
        assert client.get("/panels/echo.js").status_code == 404
        # Actions come from the mounted routes, tasks from the registry, loaded or not.
        for path, text in (("/v1/echo/generate", "no endpoint /v1/echo/generate (echo has predict)"),
                           ("/v1/lm/generate", "no lm model is loaded (loaded: echo)"),
                           ("/v1/poetry/predict", "unknown task 'poetry'")):
            assert text in client.post(path, json={}).json()["error"]["message"]


def test_task_endpoints_and_panels_are_the_tasks_own(client, models_dir):
    """Every loaded task's routes are mounted and its panel served; /v1/tasks says which."""
    require(models_dir, "lm", "digits")
    tasks = {task["name"]: task for task in client.get("/v1/tasks").json()["tasks"]}
    assert tasks["lm"]["actions"] == ["predict", "generate"] and tasks["digits"]["actions"] == ["predict"]
    assert "lm has predict and generate" in client.post("/v1/lm/score", json={}).json()["error"]["message"]
    panel = client.get(tasks["digits"]["panel"])
    assert panel.status_code == 200 and 'definePanel("digits"' in panel.text
    assert "javascript" in panel.headers["content-type"]


TASK_NAMES = ("digits", "xo", "slots", "translate", "caption", "lm")
COMMENTS = {".py": r"#.*", ".js": r"//.*", ".css": r"/\*.*?\*/", ".html": r"<!--.*?-->"}


def test_the_server_and_its_page_name_no_task():
    """What a task serves and shows is in its own folder: the shared server code and page
    name none (as a word, or as the start of an id like #digits-panel), comments aside."""
    import re

    import nnkit.serving

    names = "|".join(TASK_NAMES)
    named = re.compile(rf"(?<![\w-])({names})(?![\w-])|[#.\"'`]({names})-")
    folder = Path(nnkit.serving.__file__).parent
    files = [*folder.glob("*.py"), *(folder / "web").glob("*.*")]
    assert len(files) >= 6
    for path in files:
        comments = re.compile(COMMENTS.get(path.suffix, "$^"), re.S if path.suffix in (".css", ".html") else 0)
        text = comments.sub("", path.read_text())
        found = [match.group(0) for match in named.finditer(text)]
        assert not found, f"{path.name} names {found}"


def test_default_model_and_model_query():
    from fastapi import HTTPException

    from nnkit.serving.app import pick_model

    models = {name: SimpleNamespace(name=name, task=task) for name, task in
              (("xo", "xo"), ("xo-big", "xo"), ("a", "slots"), ("b", "slots"))}
    assert pick_model(models, "xo", None).name == "xo"  # named after its task
    assert pick_model(models, "xo", "xo-big").name == "xo-big"
    for task, name, status, text in (("slots", None, 400, "2 slots models are loaded (a, b): choose one"),
                                     ("lm", None, 404, "no lm model is loaded"),
                                     ("slots", "xo", 404, "no slots model named 'xo'")):
        with pytest.raises(HTTPException) as refused:
            pick_model(models, task, name)
        assert refused.value.status_code == status and text in refused.value.detail
    del models["b"]
    assert pick_model(models, "slots", None).name == "a"  # the only one


def assert_one_line_error(done, code, text):
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], done.stderr


def test_serve_refuses_a_taken_port_and_an_empty_directory(tmp_path, capsys):
    import socket

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert_one_line_error(run_in_process(capsys, "serve", "--port", port), 2, f"cannot listen on 127.0.0.1:{port}")
    assert_one_line_error(run_in_process(capsys, "serve", "--models", tmp_path, "--port", free_ports(1)[0]), 1,
                          "no model to serve in")


def test_serve_command_answers_over_http(tmp_path, trained_xo):
    import httpx

    (tmp_path / "cells").symlink_to(trained_xo, target_is_directory=True)
    port = free_ports(1)[0]
    server = subprocess.Popen([sys.executable, "-m", "nnkit.cli", "serve", "--models", tmp_path, "--port", str(port)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENVIRONMENT)
    url = f"http://127.0.0.1:{port}"
    web = httpx.Client(base_url=url, trust_env=False)  # a proxy in the environment must not answer
    try:
        deadline = time.monotonic() + 90
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                if web.get("/health").json() == {"status": "ok", "models": 1}:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer within 90 s"
                time.sleep(0.25)
        answer = web.post("/v1/xo/predict", files=uploads([("x.png", png_bytes(xo_cells()[0]))]))
        assert answer.status_code == 200 and answer.json()["model"] == "cells"
        assert answer.json()["predictions"][0]["label"] in ("x", "o", "none")
    finally:
        web.close()
        server.send_signal(signal.SIGINT)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0, err
    assert f"Serving on {url}/" in out and "cells: xo" in out
