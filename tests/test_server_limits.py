"""`nnkit serve`'s limits, in-process: a full queue (503 with Retry-After), /metrics, API keys,
a body that trickles in, and the key file's refusals on the command line. The echo task's
predictor stands in for a model, so that no model is trained here."""

import asyncio
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

import echo_task
from conftest import free_ports, run_in_process

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx` with `starlette.testclient`")

KEYS = ("first-key-0123456789", "second-key-0123456789")


@pytest.fixture(scope="module")
def echo_models(tmp_path_factory):
    return echo_task.save_echo_model(tmp_path_factory.mktemp("echo") / "echo").parent


@pytest.fixture
def echo_app(echo_models, monkeypatch):
    """create_app(**options) over the echo model, its TestClient closed after the test."""
    from fastapi.testclient import TestClient

    from nnkit.serving.app import create_app

    echo_task.register(monkeypatch)
    clients = []

    def make(**options):
        clients.append(TestClient(create_app(echo_models, **options)).__enter__())
        return clients[-1]

    yield make
    for client in clients:
        client.__exit__(None, None, None)


def echo(client, *inputs, **request):
    return client.post("/v1/echo/predict", json={"inputs": list(inputs)}, **request)


def metric_samples(client, **request):
    """{(name, sorted labels): value} of the app's /metrics page, parsed by prometheus-client."""
    from prometheus_client.parser import text_string_to_metric_families

    page = client.get("/metrics", **request)
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain; version=")
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(page.text) for sample in family.samples}


def test_a_full_queue_answers_503_with_retry_after_and_metrics_show_its_depth(echo_app):
    client = echo_app(max_queue=2)
    served = client.app.state.models["echo"]
    answer, running, release = served.predictor.predict, threading.Event(), threading.Event()

    def held(inputs, **options):
        running.set()
        release.wait(10)
        return answer(inputs, **options)

    served.predictor.predict = held
    with ThreadPoolExecutor(3) as pool:
        first = pool.submit(echo, client, "a")
        assert running.wait(10)  # the model works on the first ...
        waiting = [pool.submit(echo, client, text) for text in ("bb", "ccc")]
        deadline = time.monotonic() + 10
        while served.worker.waiting() < 2:  # ... and two more wait: the queue is full
            assert time.monotonic() < deadline, "the requests did not queue"
            time.sleep(0.01)
        refused = echo(client, "dddd")
        depth = metric_samples(client)[("nnkit_queue_depth", (("model", "echo"), ("task", "echo")))]
        release.set()
        answers = [first.result(10), *[future.result(10) for future in waiting]]
    assert refused.status_code == 503 and refused.headers["retry-after"] == "1"
    assert refused.json()["error"]["message"] == "2 requests already wait for model 'echo': try again shortly"
    assert depth == 2
    assert [response.json()["predictions"][0]["length"] for response in answers] == [1, 2, 3]
    assert echo(client, "eeeee").json()["predictions"][0]["length"] == 5  # the queue drained


def test_metrics_count_requests_errors_and_latency_per_endpoint_and_model(echo_app):
    client, other = echo_app(), echo_app()  # two apps in one process: registries of their own
    assert echo(client, "a").status_code == echo(client, "bb").status_code == 200
    assert echo(other, "a").status_code == 200
    assert client.post("/v1/echo/predict", json={"inputs": []}).status_code == 422
    assert client.post("/v1/echo/predict", json={"inputs": ["a"], "options": {"beams": 2}}).status_code == 400
    assert client.get("/no/such/page").status_code == 404
    assert client.get("/v1/echo/predict").status_code == 405
    samples = metric_samples(client)

    def value(name, status=None, endpoint="/v1/echo/predict", model="echo"):
        labels = {"endpoint": endpoint, "model": model, "task": "echo" if model else "",
                  **({"status": status} if status else {})}
        return samples.get((name, tuple(sorted(labels.items()))), 0)

    assert value("nnkit_requests_total", "200") == 2  # not the other app's request
    assert value("nnkit_errors_total", "200") == 0 and value("nnkit_errors_total", "400") == 1
    assert value("nnkit_errors_total", "422") == 1
    assert value("nnkit_errors_total", "404", endpoint="other", model="") == 1  # no route: not the path's own label
    assert value("nnkit_errors_total", "405", model="") == 1  # the route's path, asked with another method
    assert value("nnkit_request_seconds_count") == 4  # 200, 200, 422, 400: the model was picked
    assert 0 < value("nnkit_request_seconds_sum") < 10
    assert value("nnkit_requests_total", "200", endpoint="/v1/models", model="") == 0  # not asked
    assert client.head("/metrics").status_code == 200


@pytest.mark.parametrize("method, path, headers, status", [
    ("GET", "/health", {}, 200),
    ("HEAD", "/health", {}, 200),
    ("GET", "/", {}, 200),  # the page loads, and asks for a key when the API refuses it
    ("GET", "/static/app.js", {}, 200),
    ("GET", "/v1/models", {}, 401),
    ("GET", "/v1/models", {"Authorization": f"Bearer {KEYS[1]}"}, 200),
    ("GET", "/v1/models", {"Authorization": f"bearer {KEYS[0]}"}, 200),  # the scheme in any case
    ("GET", "/v1/models", {"Authorization": f"Bearer {KEYS[0]}x"}, 401),
    ("GET", "/v1/models", {"Authorization": f"Bearer {KEYS[0][:-1]}"}, 401),
    ("GET", "/v1/models", {"Authorization": f"Basic {KEYS[0]}"}, 401),
    ("GET", "/v1/models", {"Authorization": "Bearer"}, 401),
    ("GET", "/v1/tasks", {}, 401),
    ("POST", "/v1/echo/predict", {}, 401),
    ("POST", "/v1/nothing/here", {}, 401),  # what exists is not told before the key
    ("GET", "/metrics", {}, 401),
    ("GET", "/metrics", {"Authorization": f"Bearer {KEYS[0]}"}, 200),
])
def test_api_keys_guard_the_api_and_metrics_but_not_health_or_the_page(echo_app, method, path, headers, status):
    client = echo_app(api_keys=KEYS)
    answer = client.request(method, path, headers=headers, json={"inputs": ["a"]} if method == "POST" else None)
    assert answer.status_code == status, answer.text
    if status == 401:
        challenge = answer.headers["www-authenticate"]
        message = answer.json()["error"]["message"]
        if "authorization" in {name.lower() for name in headers}:
            assert challenge == 'Bearer realm="nnkit", error="invalid_token"' and message == "the API key is not valid"
        else:
            assert challenge == 'Bearer realm="nnkit"' and "send 'Authorization: Bearer KEY'" in message


def test_the_key_is_asked_before_the_body_is_read(echo_app):
    client = echo_app(api_keys=KEYS, max_body_bytes=1000)
    refused = client.post("/v1/echo/predict", content=b"x" * 5000, headers={"content-type": "application/json"})
    assert refused.status_code == 401  # not 413: nothing about the request is answered without a key
    samples = metric_samples(client, headers={"Authorization": f"Bearer {KEYS[0]}"})
    refusal = (("endpoint", "other"), ("model", ""), ("status", "401"), ("task", ""))
    assert samples[("nnkit_errors_total", refusal)] == 1  # refusals before routing are counted too


def test_key_files_and_the_environment(tmp_path):
    from nnkit.errors import NnkitError
    from nnkit.serving.auth import is_loopback, key_matches, read_keys

    keys = tmp_path / "keys"
    keys.write_text("# the demo's keys\n\n  one-key  \ntwo-key\none-key\n")
    assert read_keys(keys, environment={}) == ("one-key", "two-key")
    assert read_keys(keys, environment={"NNKIT_API_KEYS": "env-a, env-b"}) == ("env-a", "env-b", "one-key", "two-key")
    assert read_keys(None, environment={}) == ()
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "comments").write_text("# nothing\n\n")
    (tmp_path / "spaced").write_text("a key with spaces\n")
    (tmp_path / "binary").write_bytes(b"\xff\xfe")
    for name, text in (("missing", "cannot read API key file"), ("fifo", "is not a regular file"),
                       (".", "is not a regular file"), ("comments", "holds no key"),
                       ("spaced", "key 1 holds a space"), ("binary", "is not UTF-8 text")):
        with pytest.raises(NnkitError, match=text):
            read_keys(tmp_path / name, environment={})
    assert key_matches("two-key", ("one-key", "two-key")) and not key_matches("two-ke", ("one-key", "two-key"))
    assert not key_matches("", ("one-key",)) and key_matches("ключ", ("ключ",))
    assert [is_loopback(host) for host in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "192.168.1.2", "example.org")] \
        == [True, True, True, False, False, False]


def test_serve_refuses_a_bad_key_file_in_one_line_and_warns_when_open_to_the_network(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("NNKIT_API_KEYS", raising=False)
    (tmp_path / "keys").write_text("\n# none yet\n")
    done = run_in_process(capsys, "serve", "--models", tmp_path, "--api-key-file", tmp_path / "keys")
    assert done.returncode == 1 and done.stderr.strip().splitlines() == \
        [f"nnkit: error: API key file '{tmp_path / 'keys'}' holds no key (one a line; blank lines and # comments "
         "are skipped)"], done.stderr
    port = free_ports(1)[0]
    done = run_in_process(capsys, "serve", "--models", tmp_path, "--host", "0.0.0.0", "--port", port)
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 2, done.stderr  # the warning, then why nothing is served
    assert lines[0].startswith("nnkit: warning: 0.0.0.0 is reachable from other machines and the API needs no key")
    assert "no model to serve" in lines[1]


def test_a_body_that_trickles_in_is_a_408_at_the_total_deadline():
    from nnkit.serving.inputs import BodyLimit

    sent = []

    async def trickle():  # a byte every 20 ms: never a stall, never the end
        await asyncio.sleep(0.02)
        return {"type": "http.request", "body": b" ", "more_body": True}

    async def send(message):
        sent.append(message)

    async def app(scope, receive, send):
        raise AssertionError("the app must not see a body that never ends")

    started = time.monotonic()
    asyncio.run(BodyLimit(app, max_bytes=2**20, read_seconds=1, total_seconds=0.3)({"type": "http", "headers": []},
                                                                                    trickle, send))
    assert sent[0]["status"] == 408 and b"did not all arrive within 0.3 s" in sent[1]["body"]
    assert (b"connection", b"close") in sent[0]["headers"]  # the rest of the body is never read
    assert time.monotonic() - started < 1
