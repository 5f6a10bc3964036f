"""The real `nnkit serve` against clients that never finish a request: connections that send half
a request head, or nothing, or stall after an answer, are closed after --header-timeout while
good requests are answered meanwhile; connections past --max-connections are refused at once.
One server (with an API key, checked over HTTP too) serves the whole module."""

import signal
import socket
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from conftest import USER_ENVIRONMENT, free_ports

HEADER_TIMEOUT = 2.0
MAX_CONNECTIONS = 60
KEY = "connections-test-key-0123456789"
HALF_HEAD = b"POST /v1/xo/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Ty"


@pytest.fixture(scope="module")
def server(tmp_path_factory, trained_xo):
    import httpx

    folder = tmp_path_factory.mktemp("served")
    (folder / "models").mkdir()
    (folder / "models" / "cells").symlink_to(trained_xo, target_is_directory=True)
    (folder / "keys").write_text(f"# test key\n{KEY}\n")
    port = free_ports(1)[0]
    process = subprocess.Popen(
        [sys.executable, "-m", "nnkit.cli", "serve", "--models", folder / "models", "--port", str(port),
         "--header-timeout", str(HEADER_TIMEOUT), "--max-connections", str(MAX_CONNECTIONS),
         "--api-key-file", folder / "keys"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=USER_ENVIRONMENT)
    web = httpx.Client(base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=30,
                       headers={"Authorization": f"Bearer {KEY}"})
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, process.communicate()[1]
            try:
                if web.get("/health").status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not answer within 90 s"
                time.sleep(0.25)
        yield SimpleNamespace(port=port, web=web, process=process)
    finally:
        web.close()
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "1 API key(s)" in out


def connect(server, send=b""):
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=HEADER_TIMEOUT + 5)
    if send:
        connection.sendall(send)
    return connection


def until_closed(connection):
    """What the server sent before it closed the connection, and when it closed (monotonic)."""
    received = b""
    try:
        while chunk := connection.recv(4096):
            received += chunk
    except ConnectionResetError:
        pass
    closed = time.monotonic()
    connection.close()
    return received, closed


def models_answered(server):
    answer = server.web.get("/v1/models")
    return answer.status_code == 200 and answer.json()["models"][0]["name"] == "cells"


def test_half_sent_and_silent_connections_are_closed_while_good_requests_are_answered(server):
    started = time.monotonic()
    half_sent = [connect(server, HALF_HEAD) for _ in range(40)]
    silent = [connect(server) for _ in range(10)]
    for _ in range(5):  # 50 stalled connections meanwhile, and every good request is answered
        assert models_answered(server)
    for connection in half_sent:
        received, closed = until_closed(connection)
        assert received.startswith(b"HTTP/1.1 408 ") and b"did not arrive within 2 s" in received
        assert closed - started < HEADER_TIMEOUT + 2
    for connection in silent:
        received, closed = until_closed(connection)
        assert received == b"" and closed - started < HEADER_TIMEOUT + 2
    assert models_answered(server)


def test_a_kept_alive_connection_that_starts_a_request_and_stalls_is_closed(server):
    connection = connect(server, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    first = b""
    while not first.endswith(b"}"):  # the whole answer, its JSON body last
        first += connection.recv(4096)
    assert first.startswith(b"HTTP/1.1 200 ")
    answered = time.monotonic()
    connection.sendall(b"GET /health HTTP/1.1\r\nHo")  # the next request, never finished
    received, closed = until_closed(connection)
    assert received.startswith(b"HTTP/1.1 408 ") and HEADER_TIMEOUT - 0.5 < closed - answered < HEADER_TIMEOUT + 2


def test_connections_past_the_limit_are_refused_at_once(server):
    held = [connect(server, HALF_HEAD) for _ in range(MAX_CONNECTIONS + 10)]
    time.sleep(0.5)
    refused = 0
    for connection in held[MAX_CONNECTIONS - 2:]:  # the first ones are held until the timeout
        connection.settimeout(0.5)
        try:
            received = connection.recv(4096)
            refused += received.startswith(b"HTTP/1.1 503 ") and b"retry-after: 1" in received
        except TimeoutError:
            pass
    assert refused >= 10
    for connection in held:
        connection.settimeout(HEADER_TIMEOUT + 5)
        until_closed(connection)
    assert models_answered(server)  # all closed: the server answers again


def test_the_api_key_over_http(server):
    import httpx

    with httpx.Client(base_url=f"http://127.0.0.1:{server.port}", trust_env=False) as anonymous:
        refused = anonymous.get("/v1/models")
        assert refused.status_code == 401 and refused.headers["www-authenticate"] == 'Bearer realm="nnkit"'
        assert anonymous.get("/health").status_code == 200 and anonymous.get("/").status_code == 200
        assert anonymous.get("/metrics").status_code == 401
    metrics = server.web.get("/metrics")
    assert metrics.status_code == 200
    assert 'nnkit_requests_total{endpoint="/v1/models",model="",status="200",task=""}' in metrics.text
    assert 'nnkit_queue_depth{model="cells",task="xo"} 0.0' in metrics.text
