"""Helpers every benchmark shares: running nnkit commands, timing, hardware, writing results."""

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def run(command, env=None, check=True):
    """Run a command, returning (seconds, stdout)."""
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - started
    if check and done.returncode != 0:
        sys.exit(f"benchmark step failed: {' '.join(map(str, command))}\n{done.stderr[-3000:]}")
    return seconds, done.stdout


def median_wall_time(command, repeats):
    return statistics.median(run(command)[0] for _ in range(repeats))


def steady_samples_per_s(epoch_seconds, samples):
    """Throughput of the epochs after the first (which also traces and compiles)."""
    steady = epoch_seconds[1:] or epoch_seconds
    return samples / statistics.median(steady)


def hardware():
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "machine": platform.machine(), "python": platform.python_version()}


def write_results(name, results, table_rows, headers, notes=""):
    """benchmarks/results/<name>.json and .md, and the README block between the markers;
    `notes` (Markdown) follow the table in both."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    results = {"benchmark": name, "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
               "hardware": hardware(), **results}
    (RESULTS / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in table_rows]
    table = "\n".join(lines) + (f"\n\n{notes.strip()}" if notes else "")
    hardware_line = f"Hardware: {results['hardware']['cpu']}, {results['hardware']['cores']} cores; {results['date']}."
    (RESULTS / f"{name}.md").write_text(f"# {name} benchmark\n\n{table}\n\n{hardware_line}\n")
    readme = ROOT / "README.md"
    start, end = f"<!-- results:{name} -->", f"<!-- /results:{name} -->"
    text = readme.read_text()
    if start in text and end in text:
        block = f"{start}\n{table}\n\n{hardware_line}\n{end}"
        readme.write_text(re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S))
    print(table)
    print(hardware_line)
