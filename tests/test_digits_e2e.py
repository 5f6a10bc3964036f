"""Digits end to end, as a user runs it: train through the CLI, then predict, evaluate and
inspect in fresh processes; the Python API; resuming a killed run; reproducibility."""

import json
import signal
import subprocess
import sys

import numpy as np
import pytest

import nnkit
from conftest import SAMPLES, TINY_TRAINING, data_dir, epochs_logged, run_in_process, run_nnkit, wait_for_an_epoch


def test_train_saves_model_metadata_and_logs(trained_digits):
    metadata = json.loads((trained_digits / "metadata.json").read_text())
    assert metadata["task"] == "digits"
    assert metadata["config"]["model"]["width"] == 8
    assert 0.4 < metadata["metrics"]["test"]["accuracy"] <= 1.0  # one epoch on 1,200 images learns something
    assert metadata["metrics"]["test"]["examples"] == 300
    assert {"keras", "backend", "python"} <= set(metadata["versions"])
    assert metadata["created"] and len(metadata["history"]["loss"]) == 1
    assert (trained_digits / "checkpoints" / "best.keras").is_file()
    assert (trained_digits / "training_log.csv").is_file() and (trained_digits / "logs").is_dir()
    assert not (trained_digits / "backup").exists()  # finished runs leave nothing to resume


def test_predict_ranks_files_arrays_and_a_folder(trained_digits, mnist_pngs, capsys):
    # The CLI agreeing with the Python API, and a fresh process with both: tests/test_tasks.py.
    paths, labels = mnist_pngs
    files = [*paths, SAMPLES / "zero.jpg", SAMPLES / "one_transparent.png"]
    predictor = nnkit.load(trained_digits)
    from_api = predictor.predict(files, top_k=3)
    assert [r["input"] for r in from_api] == [str(f) for f in files]
    assert all(len(r["top_k"]) == 3 and r["top_k"][0]["label"] == r["label"] for r in from_api)
    assert all(r["top_k"][0]["probability"] >= r["top_k"][1]["probability"] for r in from_api)
    # the same digits given as arrays and PIL images
    from PIL import Image

    as_arrays = predictor.predict([np.asarray(Image.open(p)) for p in paths])
    assert [r["label"] for r in as_arrays] == [r["label"] for r in from_api[: len(paths)]]
    correct = sum(int(r["label"]) == label for r, label in zip(from_api, labels))
    assert correct >= 7  # a 1-epoch model beats chance (2 of 20) clearly

    text = run_in_process(capsys, "digits", "predict", SAMPLES, "--model-path", trained_digits)
    assert text.returncode == 0 and len(text.stdout.strip().splitlines()) == 4  # a folder of 4 samples


def test_evaluate_prints_report_and_writes_plots(trained_digits, tmp_path, capsys):
    matrix, curves = tmp_path / "cm.png", tmp_path / "curves.png"
    done = run_in_process(capsys, "digits", "evaluate", "--model-path", trained_digits, "--json",
                          "--confusion-matrix", matrix, "--learning-curves", curves)
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    saved = json.loads((trained_digits / "metadata.json").read_text())["metrics"]["test"]
    assert metrics["accuracy"] == pytest.approx(saved["accuracy"])  # same test slice, same model
    assert set(metrics["per_class"]) == {str(d) for d in range(10)}
    assert np.array(metrics["confusion_matrix"]).sum() == 300
    assert matrix.read_bytes()[:4] == b"\x89PNG" and curves.read_bytes()[:4] == b"\x89PNG"
    text = run_in_process(capsys, "digits", "evaluate", "--model-path", trained_digits)
    assert "precision" in text.stdout and "recall" in text.stdout


def test_a_killed_run_resumes_from_its_last_epoch(tmp_path, mnist_dir, capsys):
    output = tmp_path / "run"
    args = ["digits", "train", "--quiet", "--output", output, *TINY_TRAINING[2:], "--epochs", "4"]
    command = [sys.executable, "-m", "nnkit.cli", *map(str, args)]
    env = {"NNKIT_DATA_DIR": str(data_dir()), "PATH": "/usr/bin:/bin"}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_an_epoch(output, [process], timeout=120)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (output / "model.keras").exists() and (output / "backup").is_dir()
    killed_after = len(epochs_logged(output))
    assert 1 <= killed_after < 4

    done = run_in_process(capsys, *args)
    assert done.returncode == 0, done.stderr
    assert "Resuming the interrupted run" in done.stdout
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["training"]["resumed"] is True
    assert len(metadata["training"]["epoch_train_seconds"]) <= 4 - killed_after + 1
    assert len(metadata["history"]["loss"]) == 4  # every epoch once, across both processes

    changed = run_in_process(capsys, "digits", "train", "--quiet", "--output", output, *TINY_TRAINING)
    assert changed.returncode == 0  # a finished run is not "interrupted": a new config trains afresh


def test_resuming_with_another_config_is_refused(tmp_path, capsys):
    output = tmp_path / "run"
    (output / "backup").mkdir(parents=True)
    (output / "backup" / "config.json").write_text(json.dumps({"seed": 1}))
    (output / "backup" / "training_metadata.json").write_text('{"epoch": 0, "batch": -1}')  # an epoch finished
    done = run_in_process(capsys, "digits", "train", "--output", output, *TINY_TRAINING)
    assert done.returncode == 2 and "interrupted run with a different config" in done.stderr
    assert "run again with --restart" in done.stderr
    assert (output / "backup" / "config.json").read_text() == '{"seed": 1}'  # left as it was


def test_same_seed_same_metrics(tmp_path, mnist_dir):
    from nnkit.config import load_config
    from nnkit.registry import load_task
    from nnkit.training.run import train

    overrides = ["training.epochs=1", "data.train_limit=600", "data.test_limit=200", "model.width=4",
                 "model.dense_units=16", "training.warmup_epochs=0"]
    config = load_config("digits", overrides=overrides)
    task = load_task("digits")
    first = train(task, config, tmp_path / "a", data_dir=data_dir(), verbose=0)
    second = train(task, config, tmp_path / "b", data_dir=data_dir(), verbose=0)
    assert first["metrics"]["test"] == second["metrics"]["test"]
    assert first["history"] == second["history"]
    other = train(task, load_config("digits", overrides=[*overrides, "seed=7"]), tmp_path / "c",
                  data_dir=data_dir(), verbose=0)
    assert other["history"]["loss"] != first["history"]["loss"]


def test_missing_data_offline_fails_clearly(tmp_path):
    output = tmp_path / "run"
    done = run_nnkit("digits", "train", "--data", tmp_path, "--output", output, *TINY_TRAINING,
                     env={"NNKIT_OFFLINE": "1"})
    assert done.returncode == 1
    assert "no MNIST files (" in done.stderr and f"in '{tmp_path}' or in '{tmp_path / 'mnist'}'" in done.stderr
    assert "NNKIT_OFFLINE is set" in done.stderr and "--data" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not (output / "backup").exists()  # a run that never started leaves nothing to "resume"
