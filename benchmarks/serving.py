"""Serving benchmark: `nnkit serve` under load from 16 concurrent clients on localhost.

Starts the real command as a subprocess with a digits and a slots model (the default
architectures, trained briefly here unless `--models DIR` holds `digits/` and `slots/`),
warms it up, then sends 2,000 requests split evenly between /v1/digits/predict (one MNIST
test digit as a PNG upload) and /v1/slots/predict (one ATIS test sentence as JSON). It records
errors, latency percentiles and requests per second, the latency of one client alone, and the
server's resident memory (VmRSS) after warm-up and after the measured requests; two more
untimed rounds of the same load then show where the memory settles.

    NNKIT_DATA_DIR=../shared/data python benchmarks/serving.py [--models DIR] [--requests 2000] [--clients 16]

Targets (issue 10): zero errors; no memory growth under load once warm.
Results: benchmarks/results/serving.{json,md}.
"""

import argparse
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
# The default architectures (inference costs what a fully trained model's does), trained briefly.
TRAINING = {
    "digits": ["--epochs", "1", "--set", "data.train_limit=3000", "--set", "data.test_limit=500"],
    "slots": ["--epochs", "1", "--set", "data.train_limit=1000", "--set", "data.test_limit=200"],
}
WARM_UP = 64  # requests before measuring: the first calls trace and compile the models


def data_dir():
    return Path(os.environ.get("NNKIT_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()


def models_folder(given, work):
    """A models directory holding digits/ and slots/: `given`, or one trained here once."""
    if given:
        return Path(given)
    folder = work / "models"
    for task, flags in TRAINING.items():
        if not (folder / task / "model.keras").is_file():
            print(f"training a small {task} model ...", flush=True)
            run([*NNKIT, task, "train", "--quiet", "--output", str(folder / task), *flags],
                env={"NNKIT_DATA_DIR": str(data_dir())})
    return folder


def request_bodies(count=200):
    """(digit PNGs, ATIS test sentences) to send, from the test splits."""
    from nnkit.apps.digits.task import load_mnist_split
    from nnkit.apps.slots.data import atis_folder, read_split

    images, _ = load_mnist_split(data_dir(), "test")
    pngs = []
    from PIL import Image

    for image in images[:count]:
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="PNG")
        pngs.append(buffer.getvalue())
    sentences = [" ".join(words) for words in read_split(atis_folder(data_dir(), ["test"]) / "test").words[:count]]
    return pngs, sentences


def resident_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(models, port, log_path):
    log = open(log_path, "w")
    server = subprocess.Popen([*NNKIT, "serve", "--models", str(models), "--port", str(port)], stdout=log,
                              stderr=subprocess.STDOUT, env={**os.environ, "NNKIT_DATA_DIR": str(data_dir())})
    import httpx

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


def load(url, count, clients, pngs, sentences):
    """Send `count` requests from `clients` threads (one keep-alive connection each), alternating
    digits and slots; returns [(endpoint, seconds, error or None)] and the wall time."""
    import httpx

    results, lock, next_index = [], threading.Lock(), iter(range(count))

    def one(client, index):
        if index % 2 == 0:
            endpoint = "digits"
            files = [("images", (f"{index}.png", pngs[index // 2 % len(pngs)], "image/png"))]
            send = lambda: client.post(f"{url}/v1/digits/predict", files=files)  # noqa: E731
        else:
            endpoint = "slots"
            send = lambda: client.post(f"{url}/v1/slots/predict",  # noqa: E731
                                       json={"texts": [sentences[index // 2 % len(sentences)]]})
        started = time.perf_counter()
        try:
            response = send()
            answer = response.json()
            ok = response.status_code == 200 and len(answer["predictions"]) == 1
            error = None if ok else f"{response.status_code}: {response.text[:200]}"
        except Exception as failure:  # a refused or dropped connection is an error to count
            error = f"{type(failure).__name__}: {failure}"
        return endpoint, time.perf_counter() - started, error

    def client_loop():
        with httpx.Client(timeout=60, trust_env=False) as client:  # no proxy between
            while True:
                with lock:
                    index = next(next_index, None)
                if index is None:
                    return
                outcome = one(client, index)
                with lock:
                    results.append(outcome)

    started = time.perf_counter()
    threads = [threading.Thread(target=client_loop) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


def summary(results, seconds=None):
    latencies = sorted(latency for _, latency, _ in results)
    percentile = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000  # noqa: E731
    found = {"requests": len(results), "errors": sum(error is not None for _, _, error in results),
             "p50_ms": round(statistics.median(latencies) * 1000, 1), "p99_ms": round(percentile(0.99), 1),
             "max_ms": round(latencies[-1] * 1000, 1)}
    if seconds:
        found["requests_per_s"] = round(len(results) / seconds, 1)
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", help="models directory holding digits/ and slots/ (default: train small ones)")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "serving"))
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--soak-rounds", type=int, default=2,
                        help="further untimed rounds of --requests after the measured one, to see where memory settles")
    args = parser.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    models = models_folder(args.models, work)
    pngs, sentences = request_bodies()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server, start_seconds = start_server(models, port, work / "server.log")
    try:
        memory = {"after_start_mb": resident_mb(server.pid)}
        warm, _ = load(url, WARM_UP, args.clients, pngs, sentences)
        memory["after_warm_up_mb"] = resident_mb(server.pid)
        alone, _ = load(url, 100, 1, pngs, sentences)  # one client: the latency of an idle server
        measured, seconds = load(url, args.requests, args.clients, pngs, sentences)
        memory["after_load_mb"] = resident_mb(server.pid)
        soaked = []
        for _ in range(args.soak_rounds):
            soaked += load(url, args.requests, args.clients, pngs, sentences)[0]
            memory.setdefault("after_soak_rounds_mb", []).append(round(resident_mb(server.pid), 1))
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    memory = {key: round(value, 1) if isinstance(value, float) else value for key, value in memory.items()}
    memory["growth_mb"] = round(memory["after_load_mb"] - memory["after_warm_up_mb"], 1)
    if args.soak_rounds:
        settled = [memory["after_load_mb"], *memory["after_soak_rounds_mb"]]
        memory["growth_last_round_mb"] = round(settled[-1] - settled[-2], 1)
    overall = summary(measured, seconds)
    by_endpoint = {name: summary([r for r in measured if r[0] == name]) for name in ("digits", "slots")}
    errors = [error for _, _, error in warm + alone + measured + soaked if error]
    results = {"requests": args.requests, "clients": args.clients, "server_start_s": round(start_seconds, 1),
               "warm_up_requests": WARM_UP, "overall": overall, "by_endpoint": by_endpoint,
               "one_client": summary(alone), "soak_requests": len(soaked), "soak_errors": sum(bool(r[2]) for r in soaked),
               "memory": memory, "first_errors": errors[:5], "server_exit_code": server.returncode,
               "targets": {"errors": 0, "memory_growth": "none once warm"}}
    rows = [[f"{name} ({what} per request)", r["requests"], r["errors"], r["p50_ms"], r["p99_ms"], ""]
            for (name, r), what in zip(by_endpoint.items(), ("one PNG", "one sentence"))]
    rows.append(["all", overall["requests"], overall["errors"], overall["p50_ms"], overall["p99_ms"],
                 overall["requests_per_s"]])
    one = results["one_client"]
    rows.append(["one client at a time (both endpoints)", one["requests"], one["errors"], one["p50_ms"], one["p99_ms"], ""])
    line = (f"Server memory (VmRSS): {memory['after_warm_up_mb']} MB after warm-up, {memory['after_load_mb']} MB "
            f"after the {args.requests:,} measured requests ({memory['growth_mb']:+} MB)")
    if args.soak_rounds:
        line += (f"; after {args.soak_rounds} more rounds of {args.requests:,}: "
                 f"{', '.join(f'{mb} MB' for mb in memory['after_soak_rounds_mb'])} "
                 f"({memory['growth_last_round_mb']:+} MB over the last round)")
    line += f". Errors over all {len(warm) + len(alone) + len(measured) + len(soaked):,} requests: {len(errors)}."
    write_results("serving", results, rows, [f"nnkit serve, {args.clients} clients", "requests", "errors",
                                             "p50 ms", "p99 ms", "requests/s"], notes=line)
    if errors:
        sys.exit(f"{len(errors)} request(s) failed, the first: {errors[0]}")


if __name__ == "__main__":
    main()
