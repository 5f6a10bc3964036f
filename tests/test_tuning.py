"""`nnkit <task> tune`: search spaces from YAML, and real (tiny) searches on MNIST."""

import csv
import json
import signal
import subprocess
import sys
import time

import pytest

from nnkit.config import load_config, task_defaults
from nnkit.config_rules import rules_of
from nnkit.errors import UsageError
from nnkit.registry import load_task, task_names
from nnkit.tuning.search_space import active_values, apply_values, define, load_search_space, parse_search_space

from conftest import TINY_TRAINING, USER_ENVIRONMENT, data_dir, free_ports, run_in_process, run_nnkit

# A small space over quick-to-train keys; the tests start from an empty space and add it.
SMALL_SPACE = ["--set", "search_space=null",
               "--set", "search_space.model.width={values: [4, 8]}",
               "--set", "search_space.training.learning_rate={min: 0.001, max: 0.01, sampling: log}"]
TINY_SEARCH = [*TINY_TRAINING, "--set", "data.train_limit=600", "--set", "data.test_limit=100", *SMALL_SPACE]
# Valid config values (the config rules pass them) with which the convolutional architectures
# shrink a 28 x 28 digit to nothing: their trials fail when building the model, mlp's do not.
SHRINKING = ["--set", "model.padding=valid", "--set", "model.stride=2"]


def space_of(text):
    import yaml

    return yaml.safe_load(text)


@pytest.mark.parametrize("task", task_names())
def test_every_shipped_search_space_parses(task):
    # Every value a shipped space lists keeps its key's config rule.
    dimensions = parse_search_space(task_defaults(task)["search_space"], load_config(task), rules_of(load_task(task)))
    assert len(dimensions) >= 5
    assert any(dimension.key == "training.learning_rate" for dimension in dimensions)


def test_kinds_types_and_conditions():
    import keras_tuner

    config = load_config("slots")
    dimensions = parse_search_space(space_of("""
        model:
          layers: {min: 1, max: 3}
          units: {values: [64, 128]}
          dropout: {min: 0.1, max: 0.5, step: 0.1}
          hash_buckets: {values: [1024, 2048], when: {model.layers: {min: 3}}}
        training:
          learning_rate: {min: 0.0001, max: 0.01, sampling: log}
          optimizer: {values: [adam, sgd]}
          momentum: {min: 0.8, max: 0.99, when: {training.optimizer: sgd}}
    """), config)
    kinds = {dimension.key: dimension.kind for dimension in dimensions}
    assert kinds == {"model.layers": "int", "model.units": "choice", "model.dropout": "float",
                     "model.hash_buckets": "choice", "training.learning_rate": "float",
                     "training.optimizer": "choice", "training.momentum": "float"}
    assert dict(dimensions[3].conditions) == {"model.layers": [3]}  # "only if layers >= 3"

    hyperparameters = define(keras_tuner.HyperParameters(), dimensions)
    hyperparameters.values.update({"model.layers": 2, "training.optimizer": "adam"})
    values = active_values(hyperparameters, dimensions)
    assert "model.hash_buckets" not in values and "training.momentum" not in values
    hyperparameters.values.update({"model.layers": 3, "training.optimizer": "sgd"})
    values = active_values(hyperparameters, dimensions)
    assert values["model.hash_buckets"] == 1024 and 0.8 <= values["training.momentum"] <= 0.99
    tuned = apply_values(config, values)
    assert tuned["model"]["layers"] == 3 and tuned["training"]["optimizer"] == "sgd"
    assert config["model"]["layers"] == 2  # the base config is left alone


@pytest.mark.parametrize("text, message", [
    ("model: {widht: {values: [1, 2]}}", "no config key 'model.widht'"),
    ("model: {width: {values: [8, 'wide']}}", "expects int"),
    ("model: {width: {min: 8, max: 8}}", "min (8) must be below max (8)"),
    ("model: {width: {min: 8.5, max: 16}}", "is an int; min and max must be ints"),
    ("training: {learning_rate: {min: 0, max: 0.1, sampling: log}}", "log sampling needs min > 0"),
    ("training: {learning_rate: {min: 0.001}}", "needs both min and max"),
    ("training: {learning_rate: {min: 0.001, max: 0.1, sampling: cubic}}", "sampling: expected one of"),
    ("model: {width: {values: [8], max: 9}}", "either values or min/max"),
    ("model: {width: {choices: [8, 16]}}", "unknown entry 'choices'"),
    ("model: {width: 16}", "expected a mapping"),
    ("model: {architecture: {min: 1, max: 3}}", "not numeric"),
    ("training: {momentum: {min: 0.8, max: 0.9, when: {training.optimizer: sgd}}}", "listed before this one"),
    ("training: {optimizer: {values: [adam, sgd]}, momentum: {min: 0.8, max: 0.9, when: {training.optimizer: rmsprop}}}",
     "'rmsprop' is not a value"),
    ("training: {learning_rate: {min: 0.001, max: 0.1}, momentum: {min: 0.8, max: 0.9, when: {training.learning_rate: 0.01}}}",
     "cannot depend on the float range"),
])
def test_bad_search_spaces_fail_with_the_key_named(text, message):
    with pytest.raises(UsageError, match="search_space") as failure:
        parse_search_space(space_of(text), load_config("digits"))
    assert message in str(failure.value)


def test_set_narrows_widens_and_clears_the_space(tmp_path):
    space = load_search_space("digits", overrides=["search_space.training.learning_rate.max=0.003",
                                                   "search_space.model.width=null",
                                                   "search_space.model.padding={values: [same, valid]}"])
    assert space["training"]["learning_rate"]["max"] == 0.003 and "min" in space["training"]["learning_rate"]
    assert "width" not in space["model"] and space["model"]["padding"] == {"values": ["same", "valid"]}
    user = tmp_path / "space.yaml"
    user.write_text("search_space:\n  model:\n    width: {values: [8]}\n")
    assert load_search_space("digits", user, ["search_space=null"]) == {}
    assert load_search_space("digits", user)["model"]["width"] == {"values": [8]}


def test_durations_and_objectives():
    import click

    from nnkit.registry import load_task
    from nnkit.cli.tune import parse_duration
    from nnkit.tuning.search import objective_for

    assert [parse_duration(text) for text in ("90", "90s", "30m", "2h", "1h30m")] == [90, 90, 1800, 7200, 5400]
    for bad in ("soon", "10x", "", "0m"):
        with pytest.raises(click.BadParameter):
            parse_duration(bad)
    slots, digits = load_task("slots"), load_task("digits")
    assert (objective_for(slots).name, objective_for(slots).direction) == ("val_slot_f1", "max")
    assert objective_for(digits, "val_accuracy").direction == "max"
    assert objective_for(digits, "val_loss").direction == "min"
    assert objective_for(digits, "val_thing:min").direction == "min"
    with pytest.raises(UsageError, match="min or max"):
        objective_for(digits, "val_accuracy:up")


def read_trials(directory):
    with open(directory / "trials.csv", newline="") as handle:
        return list(csv.DictReader(handle))


def test_random_search_end_to_end(tmp_path, mnist_pngs):
    directory, output = tmp_path / "search", tmp_path / "best"
    args = ["digits", "tune", "--max-trials", "3", "--directory", directory, "--output", output,
            "--objective", "val_accuracy", *TINY_SEARCH]
    done = run_nnkit(*args)
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stdout.splitlines() if " completed " in line]
    assert len(lines) == 3 and all("model.width=" in line for line in lines)
    trials = read_trials(directory)
    assert [row["status"] for row in trials] == ["completed"] * 3
    assert len({(row["model.width"], row["training.learning_rate"]) for row in trials}) == 3
    summary = json.loads((directory / "trials.json").read_text())
    best = max(trials, key=lambda row: float(row["val_accuracy"]))
    assert summary["best_trial"] == best["trial"]
    assert (directory / "trials.png").stat().st_size > 5000
    events = list((directory / "tensorboard").rglob("events.out.tfevents.*"))
    assert any(b"hparams" in path.read_bytes() for path in events)  # TensorBoard's HParams dashboard

    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["training"]["tuned"]["trial"] == best["trial"]
    assert metadata["config"]["model"]["width"] == int(best["model.width"])
    paths, _ = mnist_pngs
    predicted = run_nnkit("digits", "predict", "--model-path", output, paths[0])
    assert predicted.returncode == 0 and predicted.stdout.strip(), predicted.stderr


def test_a_killed_search_resumes_without_losing_or_repeating_trials(tmp_path, mnist_dir):
    directory = tmp_path / "search"
    args = ["digits", "tune", "--max-trials", "3", "--directory", directory, "--output", tmp_path / "best",
            *TINY_SEARCH]
    process = subprocess.Popen([sys.executable, "-m", "nnkit.cli", *map(str, args)],
                               env={**USER_ENVIRONMENT, "NNKIT_DATA_DIR": str(data_dir())},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 180
    while time.time() < deadline and not list(directory.glob("trial_*/nnkit_trial.json")):
        time.sleep(0.05)
    time.sleep(1.0)  # into the second trial
    process.send_signal(signal.SIGKILL)
    process.wait()
    finished = {path.parent.name for path in directory.glob("trial_*/nnkit_trial.json")}
    assert 1 <= len(finished) < 3

    done = run_nnkit(*args)
    assert done.returncode == 0, done.stderr
    trials = read_trials(directory)
    assert len(trials) == 3 and len({row["trial"] for row in trials}) == 3
    assert all(row["status"] == "completed" for row in trials)
    ran_now = sum(" completed " in line for line in done.stdout.splitlines())
    assert ran_now == 3 - len(finished)  # finished trials are not run again


def test_a_failing_trial_is_recorded_and_the_search_goes_on(tmp_path, mnist_dir, capsys):
    directory = tmp_path / "search"
    done = run_in_process(capsys, "digits", "tune", "--tuner", "grid", "--directory", directory, "--output", tmp_path / "best",
                     *TINY_SEARCH, "--set", "search_space=null", *SHRINKING,
                     "--set", "search_space.model.architecture={values: [cnn, mlp]}")
    assert done.returncode == 0, done.stderr
    trials = read_trials(directory)
    status = {row["model.architecture"]: row["status"] for row in trials}
    assert status == {"cnn": "failed", "mlp": "completed"}
    failed = next(row for row in trials if row["status"] == "failed")
    assert "cannot be built" in failed["message"]
    assert "cannot be built" in done.stdout  # in the live table too
    assert json.loads((tmp_path / "best" / "metadata.json").read_text())["config"]["model"]["architecture"] == "mlp"


def test_a_search_whose_trials_all_fail_stops_with_the_reason(tmp_path, mnist_dir, capsys):
    from nnkit.cli import main

    with pytest.raises(SystemExit) as exit:
        main(["digits", "tune", "--tuner", "grid", "--directory", str(tmp_path / "search"), *map(str, TINY_SEARCH),
              "--set", "search_space=null", *SHRINKING, "--set", "search_space.model.architecture={values: [cnn, vgg, alexnet]}"])
    error = capsys.readouterr().err
    assert exit.value.code == 1 and "consecutive failures" in error and "cannot be built" in error
    assert [row["status"] for row in read_trials(tmp_path / "search")] == ["failed"] * 3


def test_a_time_budget_stops_the_search_and_keeps_the_best_model(tmp_path, mnist_dir, capsys):
    directory = tmp_path / "search"
    started = time.time()
    done = run_in_process(capsys, "digits", "tune", "--max-trials", "50", "--time-budget", "1s", "--directory", directory,
                     "--output", tmp_path / "best", *TINY_SEARCH, "--epochs", "3")
    assert done.returncode == 0, done.stderr
    trials = read_trials(directory)
    assert len(trials) == 1 and time.time() - started < 120
    assert (tmp_path / "best" / "model.keras").is_file()


def test_bad_tune_options_are_one_line_errors(tmp_path, capsys):
    from nnkit.cli import main

    def refused(*args):
        with pytest.raises(SystemExit) as exit:
            main(["digits", "tune", "--directory", str(tmp_path / "search"), *args])
        error = capsys.readouterr().err
        assert exit.value.code == 2 and len(error.strip().splitlines()) == 1, error
        return error

    assert "search space is empty" in refused("--set", "search_space=null")
    assert "no config key 'model.widht'" in refused("--set", "search_space.model.widht={values: [1]}")
    assert "not a duration" in refused("--time-budget", "soon")
    assert "needs a step" in refused("--tuner", "grid")
    assert "unknown config key 'model.widht'" in refused("--set", "model.widht=3")
    assert not (tmp_path / "search").exists()  # nothing was started


def test_a_chief_and_two_workers_finish_a_search_and_all_exit(tmp_path, mnist_dir):
    directory = tmp_path / "search"
    common = ["--directory", directory, "--output", tmp_path / "best", "--max-trials", "3",
              "--oracle-address", f"127.0.0.1:{free_ports(1)[0]}", *TINY_SEARCH]
    environment = {**USER_ENVIRONMENT, "NNKIT_DATA_DIR": str(data_dir())}

    def start(*role):
        return subprocess.Popen([sys.executable, "-m", "nnkit.cli", "digits", "tune", *role, *map(str, common)],
                                env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    chief = start("--chief")
    workers = [start("--worker", "--worker-id", name) for name in ("a", "b")]
    outputs = [process.communicate(timeout=300) for process in (*workers, chief)]
    assert [process.returncode for process in (*workers, chief)] == [0, 0, 0], [err for _, err in outputs]
    assert all("the search has ended" in out for out, _ in outputs[:2])
    trials = read_trials(directory)
    assert len(trials) == 3 and all(row["status"] == "completed" for row in trials)
    ran = sum(" completed " in out for out, _ in outputs[:2] for out in out.splitlines())
    assert ran == 3  # every trial ran on a worker, once
    assert (tmp_path / "best" / "model.keras").is_file()
