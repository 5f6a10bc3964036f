"""Serving benchmark: `nnkit serve` under load and abuse from 16 concurrent clients on localhost.

Starts the real command as a subprocess with one small model of each task (trained here once,
briefly, on slices of the real datasets, unless `--models DIR` holds them), warms it up, then
sends `--requests` good requests (2,000) from `--clients` threads (16), rotating over the tasks,
mixed with hostile ones (10% of all): 9000x9000 and 12000x12000 white PNGs, a 2,000-word
translation at beam 16, lone surrogates, a negative temperature, and connections that send half
a body or half a request head and then stall (left open, not waited on: the server must drop
them). It records errors on good requests, their p50/p99 latency, requests per second, how each
hostile kind was answered, and the server's resident memory (VmRSS, sampled every 20 ms) at
idle after warm-up and at its peak under the load.

    NNKIT_DATA_DIR=../shared/data python benchmarks/serving.py [--models DIR] [--runtime NAME ...]

`--runtime NAME` (repeatable) is passed to `nnkit serve --runtime NAME`, one full run each;
without it the server chooses. Everything is bounded: the load itself takes a minute or so,
training the models about ten the first time. Targets (issue 20): 0 errors on good requests,
peak memory at most 1.5x the idle figure, every hostile request refused (4xx) or dropped.
Results: benchmarks/results/serving.{json,md}.
"""

import argparse
import gzip
import io
import itertools
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
# Small models, trained in a minute or two each: inference costs what it costs a model of this
# size; digits and slots keep their default architectures, as the earlier serving benchmark did.
TRAINING = {
    "digits": ["--epochs", "1", "--set", "data.train_limit=3000", "--set", "data.test_limit=500"],
    "slots": ["--epochs", "1", "--set", "data.train_limit=1000", "--set", "data.test_limit=200"],
    "xo": ["--epochs", "1", "--set", "data.generated_train_per_class=200", "--set", "data.generated_test_per_class=40"],
    "lm": ["--epochs", "1", "--set", "data.train_limit=20000", "--set", "data.test_limit=2000", "--set", "model.units=64",
           "--set", "model.embedding_dim=64", "--set", "model.layers=1"],
    "translate": ["--epochs", "1", "--set", "data.train_limit=2000", "--set", "data.test_limit=100",
                  "--set", "model.units=64", "--set", "model.embedding_dim=64"],
    "caption": ["--epochs", "1", "--set", "data.train_limit=300", "--set", "data.test_limit=50", "--set", "model.units=64",
                "--set", "model.embedding_dim=64", "--set", "model.encoder_width=8", "--set", "data.min_count=1",
                "--set", "pretraining.epochs=1"],
}
WARM_UP_ROUNDS = 8  # requests per task before measuring: the first calls trace and compile
HOSTILE_EVERY = 10  # one request in ten
STALL_GRACE_S = 30  # how long, after the load, a stalled connection may stay open (the server's limits: 10 s, 15 s)


def data_dir():
    return Path(os.environ.get("NNKIT_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()


def models_folder(given, work):
    """A models directory with one model per task: `given`, or one trained here once."""
    if given:
        return Path(given)
    folder = work / "models"
    for task, flags in TRAINING.items():
        if not (folder / task / "model.keras").is_file():
            print(f"training a small {task} model ...", flush=True)
            run([*NNKIT, task, "train", "--quiet", "--output", str(folder / task), *flags],
                env={"NNKIT_DATA_DIR": str(data_dir())})
    return folder


def png(image):
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def good_requests():
    """{task: [request keyword arguments for httpx]} from the tasks' test data."""
    from PIL import Image

    from nnkit.apps.digits.task import load_mnist_split
    from nnkit.apps.slots.data import atis_folder, read_split
    from nnkit.apps.xo.drawing import draw_cell, image_rng

    def upload(data, name="image.png", **fields):
        return {"files": [("images", (name, data, "image/png"))], "data": fields}

    def lines(path, count):
        with gzip.open(path, "rt", encoding="utf-8") as file:
            return [line.strip() for line, _ in zip(file, range(count)) if line.strip()]

    with zipfile.ZipFile(data_dir() / "flickr8k" / "flickr8k_images_128.zip") as archive:
        photos = [archive.read(name) for name in archive.namelist() if name.endswith(".jpg")][:20]
    digits = load_mnist_split(data_dir(), "test")[0][:50]
    atis = read_split(atis_folder(data_dir(), ["test"]) / "test").words[:50]
    return {
        "digits": [upload(png(Image.fromarray(image))) for image in digits],
        "xo": [upload(png(Image.fromarray(draw_cell(kind, image_rng(3, kind, index)))))
               for index in range(10) for kind in ("x", "o", "none")],
        "slots": [{"json": {"texts": [" ".join(words)]}} for words in atis],
        "lm": [{"json": {"texts": [" ".join(line.split()[:8])], "count": 5}}
               for line in lines(data_dir() / "ptb" / "ptb.test.txt.gz", 50)],
        "translate": [{"json": {"texts": [line]}} for line in lines(data_dir() / "multi30k" / "test_2016_flickr.de.gz", 50)],
        "caption": [{"files": [("images", (f"{index}.jpg", photo, "image/jpeg"))]} for index, photo in enumerate(photos)],
    }


def hostile_kinds(tasks):
    """{kind: (endpoint, request or a raw-socket sender, the statuses that count as refused)}."""
    from PIL import Image

    white = {size: png(Image.new("L", (size, size), 255)) for size in (9000, 12000)}
    surrogate = b'{"texts": ["flights to boston \\ud800"]}'
    kinds = {
        "9000x9000 white PNG": ("digits", {"files": [("images", ("white.png", white[9000], "image/png"))]}, {413}),
        "12000x12000 white PNG": ("caption", {"files": [("images", ("huge.png", white[12000], "image/png"))]}, {413}),
        "2,000 words at beam 16": ("translate", {"json": {"texts": [" ".join(["Hund"] * 2000)], "beam_size": 16}}, {413}),
        "lone surrogate": ("slots", {"content": surrogate, "headers": {"content-type": "application/json"}}, {422}),
        "negative temperature": ("lm", {"json": {"prompt": "the", "temperature": -1}}, {422}),
        "half-sent body": ("slots", HALF_BODY, "dropped"),
        "half-sent headers": ("slots", HALF_HEAD, "dropped"),
    }
    return {kind: value for kind, value in kinds.items() if value[0] in tasks}


HALF_BODY = (b"POST /v1/slots/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
             b"Content-Length: 1000\r\n\r\n{\"texts\": [\"fli")
HALF_HEAD = b"POST /v1/slots/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Le"


def endpoint(task, kind=None):
    return "/v1/lm/generate" if kind == "negative temperature" else f"/v1/{task}/predict"


def resident_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class MemorySampler(threading.Thread):
    """The server's VmRSS every 20 ms until stopped; `peak` in MB."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid, self.peak, self.stopped = pid, 0.0, threading.Event()

    def run(self):
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, resident_mb(self.pid))


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(models, port, log_path, runtime):
    import httpx

    command = [*NNKIT, "serve", "--models", str(models), "--port", str(port), *(["--runtime", runtime] if runtime else [])]
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                  env={**os.environ, "NNKIT_DATA_DIR": str(data_dir())})
    started = time.perf_counter()
    while time.perf_counter() - started < 180:
        if server.poll() is not None:
            sys.exit(f"nnkit serve exited with {server.returncode}:\n{Path(log_path).read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", trust_env=False).status_code == 200:
                return server, time.perf_counter() - started
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    sys.exit("nnkit serve did not answer /health within 180 s")


def stop_server(server):
    server.send_signal(signal.SIGINT)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def plan(tasks, kinds, good_count):
    """The requests in order: ('good', task) and, one in HOSTILE_EVERY, ('hostile', kind)."""
    hostile_count = good_count // (HOSTILE_EVERY - 1) if kinds else 0
    good = itertools.islice(itertools.cycle(tasks), good_count)
    kinds = itertools.cycle(kinds)
    order = []
    for index in range(good_count + hostile_count):
        if index % HOSTILE_EVERY == HOSTILE_EVERY - 1 and hostile_count:
            order.append(("hostile", next(kinds)))
            hostile_count -= 1
        else:
            order.append(("good", next(good, None)))
    return [entry for entry in order if entry[1] is not None]


def load(port, order, requests, hostile, clients):
    """Send `order` from `clients` threads (one keep-alive connection each). Returns the results
    [(kind, name, seconds, outcome)] (outcome: None for a good answer, else what went wrong or
    the status of a refusal), the StallWatchers of the stalled connections and the wall time."""
    import httpx

    url = f"http://127.0.0.1:{port}"
    results, stalled, lock, upcoming = [], [], threading.Lock(), iter(order)
    counters = {task: itertools.count() for task in requests}

    def good(client, task):
        examples = requests[task]
        response = client.post(endpoint(task), **examples[next(counters[task]) % len(examples)])
        ok = response.status_code == 200 and "error" not in response.json()
        return None if ok else f"{response.status_code}: {response.text[:200]}"

    def abuse(client, kind):
        task, request, expected = hostile[kind]
        if expected == "dropped":  # a raw socket, left stalled, and a thread that sees when the server drops it
            connection = socket.create_connection(("127.0.0.1", port))
            connection.sendall(request)
            watcher = StallWatcher(kind, connection)
            watcher.start()
            with lock:
                stalled.append(watcher)
            return "stalled"
        status = client.post(endpoint(task, kind), **request).status_code
        return f"refused {status}" if status in expected else f"unexpected {status}"

    def client_loop():
        with httpx.Client(base_url=url, timeout=60, trust_env=False) as client:
            while True:
                with lock:
                    entry = next(upcoming, None)
                if entry is None:
                    return
                kind, name = entry
                started = time.perf_counter()
                try:
                    outcome = (good if kind == "good" else abuse)(client, name)
                except Exception as failure:  # a refused or dropped connection is an error to count
                    outcome = f"{type(failure).__name__}: {failure}"
                with lock:
                    results.append((kind, name, time.perf_counter() - started, outcome))

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, stalled, time.perf_counter() - started


class StallWatcher(threading.Thread):
    """Waits, at most STALL_GRACE_S, for the server to close a stalled connection; `closed_after`
    is the seconds it took, or None."""

    def __init__(self, kind, connection):
        super().__init__(daemon=True)
        self.kind, self.connection, self.sent, self.closed_after = kind, connection, time.monotonic(), None

    def run(self):
        self.connection.settimeout(STALL_GRACE_S)
        try:
            while self.connection.recv(4096):  # a 408 may come first
                pass
            self.closed_after = round(time.monotonic() - self.sent, 1)
        except ConnectionResetError:
            self.closed_after = round(time.monotonic() - self.sent, 1)
        except TimeoutError:
            pass
        self.connection.close()


def dropped_after(stalled):
    """{kind: [seconds until the server closed it, or None: still open after the grace]}."""
    found = {}
    for watcher in stalled:
        watcher.join()
        found.setdefault(watcher.kind, []).append(watcher.closed_after)
    return found


def summary(latencies, seconds=None):
    latencies = sorted(latencies)
    percentile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    found = {"requests": len(latencies), "p50_ms": round(statistics.median(latencies) * 1000, 1),
             "p99_ms": round(percentile(0.99), 1), "max_ms": round(latencies[-1] * 1000, 1)}
    if seconds:
        found["requests_per_s"] = round(len(latencies) / seconds, 1)
    return found


def one_run(models, tasks, requests, hostile, args, runtime, work):
    port = free_port()
    server, start_seconds = start_server(models, port, work / f"server-{runtime or 'default'}.log", runtime)
    try:
        warm_order = [("good", task) for task in tasks] * WARM_UP_ROUNDS
        warm, _, _ = load(port, warm_order, requests, hostile, args.clients)
        time.sleep(1)
        idle = resident_mb(server.pid)
        sampler = MemorySampler(server.pid)
        sampler.start()
        results, stalled, seconds = load(port, plan(tasks, list(hostile), args.requests), requests, hostile, args.clients)
        dropped = dropped_after(stalled)
        sampler.stopped.set()
        sampler.join()
        after = resident_mb(server.pid)
        still_serving = load(port, [("good", task) for task in tasks], requests, hostile, 1)[0]
    finally:
        stop_server(server)
    good = [r for r in results if r[0] == "good"]
    errors = [r[3] for r in good + warm + still_serving if r[3] is not None]
    answers = {}
    for kind, name, _, outcome in results:
        if kind == "hostile" and outcome != "stalled":
            answers.setdefault(name, {}).setdefault(outcome, 0)
            answers[name][outcome] += 1
    for kind, times in dropped.items():
        closed = [t for t in times if t is not None]
        answers[kind] = {"sent": len(times), "dropped": len(closed), "still open": len(times) - len(closed),
                         "closed after s (max)": max(closed) if closed else None}
    return {"runtime": runtime or "default", "server_start_s": round(start_seconds, 1),
            "good": summary([r[2] for r in good], seconds), "good_errors": len(errors), "first_errors": errors[:5],
            "by_task": {task: summary([r[2] for r in good if r[1] == task]) for task in tasks},
            "hostile_requests": len(results) - len(good), "hostile": answers,
            "memory_mb": {"idle_after_warm_up": round(idle, 1), "peak_under_load": round(sampler.peak, 1),
                          "after_load": round(after, 1), "peak_over_idle": round(sampler.peak / idle, 2)},
            "wall_s": round(seconds, 1), "server_exit_code": server.returncode}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="models directory, one subdirectory per task (default: train small ones)")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "serving"))
    parser.add_argument("--requests", type=int, default=2000, help="good requests (hostile ones come on top)")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--runtime", action="append", help="pass `--runtime NAME` to nnkit serve (repeat: one run each)")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    models = models_folder(args.models, work)
    tasks = [task for task in TRAINING if (models / task / "model.keras").is_file()]
    requests = {task: examples for task, examples in good_requests().items() if task in tasks}
    hostile = hostile_kinds(tasks)
    runs = [one_run(models, tasks, requests, hostile, args, runtime, work) for runtime in args.runtime or [None]]
    rows, notes = [], []
    for found in runs:
        good, memory = found["good"], found["memory_mb"]
        rows.append([found["runtime"], good["requests"], found["good_errors"], found["hostile_requests"], good["p50_ms"],
                     good["p99_ms"], good["requests_per_s"], memory["idle_after_warm_up"], memory["peak_under_load"],
                     f"{memory['peak_over_idle']}x"])
        refusals = "; ".join(f"{kind}: " + ", ".join(f"{key} {value}" for key, value in outcome.items())
                             for kind, outcome in found["hostile"].items())
        notes.append(f"Hostile requests ({found['runtime']}): {refusals}.")
    notes.append(f"Models: {', '.join(tasks)} (one small model each); {args.clients} clients, one hostile request "
                 f"in {HOSTILE_EVERY}; the machine is shared with other work, so latencies are noisy.")
    results = {"requests": args.requests, "clients": args.clients, "tasks": tasks, "runs": runs,
               "targets": {"good_errors": 0, "peak_over_idle": 1.5, "hostile": "refused (4xx) or dropped"}}
    write_results("serving", results, rows,
                  ["runtime", "good requests", "errors", "hostile", "p50 ms", "p99 ms", "good requests/s",
                   "idle MB", "peak MB", "peak/idle"], notes="\n\n".join(notes))
    failed = [found["runtime"] for found in runs if found["good_errors"]]
    if failed:
        sys.exit(f"good requests failed ({', '.join(failed)}): {runs[0]['first_errors'][:1]}")


if __name__ == "__main__":
    main()
