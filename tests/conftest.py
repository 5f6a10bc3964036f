"""Shared fixtures. Tests read real data from $NNKIT_DATA_DIR (CI: ../shared/data) and skip,
saying why, when it is absent."""

import csv
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import tiny_models

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "tests" / "data" / "digits"
# The environment a user's shell would pass, taken before any test imports TensorFlow or TFDS:
# importing them sets variables (TF_CPP_MIN_LOG_LEVEL=1 among them) that a child process would
# otherwise inherit, letting C++ warnings through that a user never sees.
# The many tiny trainings save without ONNX artifacts (seconds each); test_onnx_runtime.py
# covers them, the default included (nnkit.runtime.SAVE_ONNX_VARIABLE).
os.environ.setdefault("NNKIT_SAVE_ONNX", "0")
USER_ENVIRONMENT = dict(os.environ)

# Small and fast everywhere: a narrow CNN, a slice of MNIST, one epoch.
# A tiny run has a few dozen steps: batch norm's moving statistics would not settle, a cosine
# schedule would leave almost no learning rate, and augmentation would only slow learning.
TINY_TRAINING = ["--epochs", "1", "--batch-size", "32", "--set", "data.train_limit=1200",
                 "--set", "data.test_limit=300", "--set", "model.width=8", "--set", "model.dense_units=32",
                 "--set", "model.batch_norm=false", "--set", "training.schedule=constant",
                 "--set", "augmentation.rotation_degrees=0", "--set", "augmentation.shift=0",
                 "--set", "augmentation.zoom=0"]


def data_dir():
    # Absolute, so that tests which run the CLI from another directory still find the data.
    return Path(os.environ.get("NNKIT_DATA_DIR", ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def mnist_dir():
    root = data_dir()
    folder = root / "mnist" if (root / "mnist").is_dir() else root
    if not (folder / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST IDX files not found under {root} (set NNKIT_DATA_DIR)")
    return folder


def free_ports(count):
    """`count` distinct ports free on localhost now (held open together, so none repeats)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for each in sockets:
            each.bind(("127.0.0.1", 0))
        return [each.getsockname()[1] for each in sockets]
    finally:
        for each in sockets:
            each.close()


def epochs_logged(output):
    """The epochs a training run in `output` has finished, from its training_log.csv."""
    with open(output / "training_log.csv") as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def wait_for_an_epoch(output, processes, timeout):
    """Until the training run in `output` has finished an epoch (logged it and backed it up, so
    that a killed run resumes), one of the `processes` running it has ended, or `timeout`
    seconds have passed."""
    deadline = time.time() + timeout
    while time.time() < deadline and not ((output / "backup" / "training_metadata.json").is_file()
                                          and epochs_logged(output)):
        if any(process.poll() is not None for process in processes):
            return
        time.sleep(0.05)


def run_nnkit(*args, env=None, check=False, cwd=None):
    """Run the CLI in a fresh process, as a user would."""
    environment = {**USER_ENVIRONMENT, "NNKIT_DATA_DIR": str(data_dir()), **(env or {})}
    environment.pop("NNKIT_DEBUG", None)
    done = subprocess.run([sys.executable, "-m", "nnkit.cli", *map(str, args)],
                          capture_output=True, text=True, env=environment, cwd=cwd)
    if check and done.returncode != 0:
        raise AssertionError(f"nnkit {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done


def run_in_process(capsys, *args, check=False):
    """The CLI in this test's own process, answered like `run_nnkit`: for refusals and for the
    shared trained models, where a fresh interpreter per call would cost seconds each (the
    fresh-process start-up itself is tested elsewhere). `capsys` may be None (session fixtures)."""
    import contextlib
    import io

    from nnkit.cli import main

    out, err = io.StringIO(), io.StringIO()
    if capsys is not None:
        capsys.readouterr()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([str(arg) for arg in args])
            code = 0
        except SystemExit as exit:
            code = exit.code or 0
    done = subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())
    if capsys is not None:  # click may also have written to the captured streams
        captured = capsys.readouterr()
        done.stdout, done.stderr = done.stdout + captured.out, done.stderr + captured.err
    if check and code != 0:
        raise AssertionError(f"nnkit {' '.join(map(str, args))} failed:\n{done.stderr}")
    return done


@pytest.fixture(scope="session")
def trained_digits(tmp_path_factory, mnist_dir):
    """A tiny digits model trained once through the CLI, shared by the end-to-end tests."""
    output = tmp_path_factory.mktemp("digits-model")
    run_in_process(None, "digits", "train", "--quiet", "--output", output, *TINY_TRAINING, check=True)
    return output


@pytest.fixture(scope="session")
def mnist_pngs(tmp_path_factory, mnist_dir):
    """The first 20 MNIST test digits as PNG files, with their labels."""
    from nnkit.data.idx import read_idx
    from nnkit.data.images import write_png

    folder = tmp_path_factory.mktemp("mnist-png")
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")[:20]
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")[:20]
    paths = []
    for index, image in enumerate(images):
        paths.append(folder / f"{index:02d}.png")
        write_png(image, paths[-1])
    return paths, [int(label) for label in labels]


# --- one tiny trained model per task, shared by every module (see tiny_models.py) ----------

@pytest.fixture(scope="session")
def atis_dir():
    folder = data_dir() / "atis"
    if not (folder / "test" / "seq.in").is_file():
        pytest.skip(f"ATIS not found under {data_dir()} (set NNKIT_DATA_DIR)")
    return folder


@pytest.fixture(scope="session")
def trained_slots(tmp_path_factory, atis_dir):
    output = tmp_path_factory.mktemp("slots-model")
    done = run_in_process(None, "slots", "train", "--quiet", "--output", output, "--model", "gru", "--bidirectional",
                          *tiny_models.TINY_SLOTS, check=True)
    assert "slot F1" in done.stdout and "intent accuracy" in done.stdout
    return output


@pytest.fixture(scope="session")
def trained_xo(tmp_path_factory):
    output = tmp_path_factory.mktemp("xo-model")
    done = run_nnkit("xo", "train", "--quiet", "--output", output, *tiny_models.TINY_XO)
    assert done.returncode == 0, done.stderr
    return output


@pytest.fixture(scope="session")
def corpus_file(tmp_path_factory):
    return tiny_models.write_corpus(tmp_path_factory.mktemp("corpus") / "stories.txt")


@pytest.fixture(scope="session")
def trained_lm(tmp_path_factory, corpus_file):
    output = tmp_path_factory.mktemp("lm-model")
    run_in_process(None, "lm", "train", "--quiet", "--text", corpus_file, "--output", output, *tiny_models.TINY_LM,
                   check=True)
    return output


@pytest.fixture(scope="session")
def pairs_file(tmp_path_factory):
    return tiny_models.write_pairs(tmp_path_factory.mktemp("pairs") / "pairs.tsv")


@pytest.fixture(scope="session")
def trained_translator(tmp_path_factory, pairs_file):
    output = tmp_path_factory.mktemp("translate-model")
    done = run_in_process(None, "translate", "train", "--quiet", "--pairs", pairs_file, "--output", output,
                          *tiny_models.TINY_TRANSLATE, check=True)
    # What was held out of the pairs file, and how, is said (test_translate checks the metadata).
    assert "Held out of your data: 180 train, 10 valid, 10 test (seeded random split, seed 1337)" in done.stdout
    return output


@pytest.fixture(scope="session")
def flickr_layout(tmp_path_factory):
    return tiny_models.write_flickr_layout(tmp_path_factory.mktemp("data"))


@pytest.fixture(scope="session")
def trained_captioner(tmp_path_factory, flickr_layout):
    """(model directory, the finished training run) of a captioner that tells red photos from blue."""
    output = tmp_path_factory.mktemp("caption-model")
    done = run_in_process(None, "caption", "train", "--quiet", "--data", flickr_layout, "--output", output,
                          *tiny_models.TINY_CAPTION, check=True)
    return output, done
