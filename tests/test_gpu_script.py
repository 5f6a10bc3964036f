"""benchmarks/gpu.py, run as a GPU machine without TensorFlow would run it, but on the CPU
with two steps and a few hundred examples."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import data_dir

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_the_gpu_script_trains_tasks_under_jax_without_tensorflow():
    if not (data_dir() / "ptb").is_dir() or not (data_dir() / "atis").is_dir():
        pytest.skip("PTB or ATIS is not in the data directory")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu.py"), "--tasks", "slots", "--steps", "2",
                           "--lm-steps", "2", "--small-data", "--without-tensorflow", "--no-write"],
                          capture_output=True, text=True, timeout=900,
                          env={**__import__("os").environ, "NNKIT_DATA_DIR": str(data_dir())})
    assert done.returncode == 0, done.stderr[-2000:]
    found = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    assert [figures["task"] for figures in found] == ["slots", "lm (medium: 650 units, tied)"]
    for figures in found:
        assert "error" not in figures, figures
        assert figures["samples_per_s"] > 0 and figures["tensorflow_importable"] is False
    assert found[1]["validation_perplexity"] > 1
