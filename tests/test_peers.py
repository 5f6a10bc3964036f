"""benchmarks/peers.py: the batching its plain scripts share with nnkit, its ratios, and (slow)
one quick side-by-side run of nnkit's TensorFlow runner and the plain scripts on digits."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import data_dir

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "benchmarks" / "peers"))

import peers  # noqa: E402
from runner import padded_batches  # noqa: E402


def test_padded_batches_cover_every_row_once_with_widths_that_fit_and_vary_first():
    lengths = np.array([3, 17, 9, 1, 25, 8, 12, 4, 30, 2])
    batches = padded_batches(lengths, 3, np.random.default_rng(0))
    rows = np.concatenate([batch_rows for batch_rows, _ in batches])
    assert sorted(rows) == list(range(10))
    for batch_rows, width in batches:
        assert width % 8 == 0 and width >= lengths[batch_rows].max() and width - 8 < lengths[batch_rows].max()
    widths = [width for _, width in batches]
    assert widths[0] == max(widths) and widths[1] == min(widths)  # Keras leaves the time axis open


def test_ratios_compare_runs_of_the_same_repeat_and_flag_a_different_loss():
    runs = {"nnkit-tensorflow": [{"epoch_seconds": [9, 2.0, 2.0], "epoch_losses": [1.0, 0.50]},
                                 {"epoch_seconds": [9, 4.0, 4.0], "epoch_losses": [1.0, 0.52]}],
            "keras-tensorflow": [{"epoch_seconds": [9, 1.9, 1.9], "epoch_losses": [1.0, 0.51]},
                                 {"epoch_seconds": [9, 4.2, 4.2], "epoch_losses": [1.0, 0.49]}],
            "torch": [{"epoch_seconds": [1, 1.0, 1.0], "epoch_losses": [1.0, 0.9]},
                      {"epoch_seconds": [1, 2.0, 2.0], "epoch_losses": [1.0, 0.9]}]}
    summary = peers.summarize(runs, list(runs))
    speed = summary["nnkit-tensorflow"]["vs_keras_tensorflow"]
    assert speed["values"] == [0.95, 1.05] and speed["median"] == 1.0  # repeat by repeat, not pooled
    assert summary["torch"]["vs_torch"]["median"] == 1.0
    assert summary["keras-tensorflow"]["same_loss"] and not summary["torch"]["same_loss"]


@pytest.mark.slow
def test_a_quick_run_trains_nnkit_and_both_plain_scripts_to_similar_losses(tmp_path):
    if not (data_dir() / "mnist").is_dir():
        pytest.skip("MNIST is not in the data directory")
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "peers.py"), "--quick", "--families", "digits",
                           "--runners", "nnkit-tensorflow,keras-tensorflow,torch", "--work", str(tmp_path)],
                          capture_output=True, text=True, env={**__import__("os").environ,
                                                               "NNKIT_DATA_DIR": str(data_dir())})
    assert done.returncode == 0, done.stderr[-2000:]
    rows = [line.split(" | ") for line in done.stdout.splitlines() if line.startswith("digits: ")]
    assert [row[0] for row in rows] == ["digits: nnkit-tensorflow", "digits: keras-tensorflow", "digits: torch"]
    assert all(float(row[1]) > 0 for row in rows)
    losses = [float(row[5].split()[0]) for row in rows]
    assert max(losses) / min(losses) < 1.5  # the same model learning alike, not identical numbers
    assert json.loads((tmp_path / "digits.json").read_text())["config"]["model"]["architecture"] == "lenet5"
