"""Every config key of every task refuses bad values in one line, before any work.

Each bad value goes through `--set` into `nnkit <task> train --data <an empty folder>`: were the
value checked only once the data was read, the empty folder would give another error (a missing
file, exit 1) instead of the one line that names the key (exit 2).
"""

import pytest

from conftest import run_in_process
from nnkit.config import SEARCH_SPACE_KEY, task_defaults
from nnkit.config_rules import Rule, leaves, rules_of
from nnkit.registry import load_task, task_names

WRONG_TYPE = {bool: "3", int: "abc", float: "abc", str: "[1]", list: "3"}


def yaml_text(value):
    return "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)


def outside(rule, default):
    """Values just outside `rule`, as --set writes them."""
    if rule.choices is not None:
        return ["not-a-choice"] if all(isinstance(choice, str) for choice in rule.choices) else []
    step = 1 if isinstance(default, int) or rule.kind is int else 0.5
    values = []
    if rule.low is not None:
        values.append(rule.low if rule.low_open else rule.low - step)
    if rule.high is not None:
        values.append(rule.high if rule.high_open else rule.high + step)
    return values


def bad_values(key, default, rule):
    """(value, why) pairs that the config must refuse for `key`."""
    kind = type(default) if default is not None else rule.kind
    cases = []
    if default is not None and not rule.nullable:
        cases.append(("null", "null"))
    if kind in WRONG_TYPE:
        cases.append((WRONG_TYPE[kind], "wrong type"))
    cases += [(yaml_text(value), "out of range") for value in outside(rule, default)]
    if kind is float:
        cases.append((".nan", "not a number"))
    if key.endswith("_limit"):
        cases.append(("-59990", "negative limit"))
    return cases


# Rules across keys and rules a table cannot say (Task.check_config), one case each.
CROSS_KEY_CASES = {
    "digits": [("data.source", "cifar10"), ("data.source", "tfds:"), ("model.activation", "sparkly")],
    "xo": [("data.classes", "x"), ("data.classes", "x,x"), ("model.kernel_initializer", "golden")],
    "translate": [("data.source_language", "fr"), ("data.target_language", "de")],
    "caption": [("model.encoder", "vgg-ish"), ("model.encoder", "keras-app:NoSuchNet"), ("data.image_size", "24")],
}


def refused_in_one_line(done, key):
    """What is wrong with the way `done` refused a bad value of `key`, or None."""
    lines = done.stderr.strip().splitlines()
    if done.returncode != 2:
        return f"exit {done.returncode}: {done.stderr.strip()[:200]}"
    if len(lines) != 1:
        return f"{len(lines)} lines on stderr: {done.stderr[:300]}"
    if f"'{key}'" not in lines[0] or "internal error" in lines[0] or "Traceback" in done.stderr:
        return f"the line does not name '{key}' (or is an internal error): {lines[0]}"
    return None


@pytest.fixture
def empty(tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_OFFLINE", "1")  # a value let through must not start a download
    folder = tmp_path / "empty"
    folder.mkdir()
    return folder


@pytest.mark.parametrize("task_name", task_names())
def test_every_bad_value_of_every_key_is_one_line_before_any_work(task_name, empty, capsys):
    task = load_task(task_name)
    rules = rules_of(task)
    defaults = {key: value for key, value in task_defaults(task_name).items() if key != SEARCH_SPACE_KEY}
    cases = [(key, value, why) for key, default in leaves(defaults)
             for value, why in bad_values(key, default, rules.get(key, Rule()))]
    cases += [(key, value, "rule across keys") for key, value in CROSS_KEY_CASES.get(task_name, [])]
    assert len(cases) > 2 * len(list(leaves(defaults)))  # null and a wrong type at least, for most keys
    failures = []
    for key, value, why in cases:
        done = run_in_process(capsys, task_name, "train", "--data", empty, "--set", f"{key}={value}")
        problem = refused_in_one_line(done, key)
        if problem:
            failures.append(f"--set {key}={value} ({why}): {problem}")
    assert not failures, "\n".join(failures)


def test_a_negative_seed_flag_and_a_bad_config_file(empty, tmp_path, capsys):
    done = run_in_process(capsys, "digits", "train", "--data", empty, "--seed", "-1")
    assert refused_in_one_line(done, "seed") is None
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("training:\n  optimizer: adam # réglé\n".encode("latin-1"))
    done = run_in_process(capsys, "digits", "train", "--data", empty, "--config", latin1)
    assert done.returncode == 2 and "not UTF-8" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    bad_value = tmp_path / "bad.yaml"
    bad_value.write_text("model:\n  attention: foo\n")
    done = run_in_process(capsys, "translate", "train", "--data", empty, "--config", bad_value)
    assert refused_in_one_line(done, "model.attention") is None


@pytest.mark.parametrize("space, key", [
    ("search_space.model.units={values: [0, 64]}", "search_space.model.units.values"),
    ("search_space.model.dropout={min: 0.1, max: 1.5}", "search_space.model.dropout.max"),
    ("search_space.training.optimizer={values: [adam, sgdd]}", "search_space.training.optimizer.values"),
    ("search_space.training.epochs={values: [null, 2]}", "search_space.training.epochs.values"),
])
def test_tune_checks_every_value_of_the_search_space(space, key, empty, tmp_path, capsys):
    done = run_in_process(capsys, "slots", "tune", "--data", empty, "--directory", tmp_path / "search",
                          "--set", space)
    assert refused_in_one_line(done, key) is None


def test_tune_checks_the_config_too(empty, tmp_path, capsys):
    done = run_in_process(capsys, "lm", "tune", "--data", empty, "--directory", tmp_path / "search",
                          "--set", "training.bptt=0")
    assert refused_in_one_line(done, "training.bptt") is None


def test_evaluate_option_out_of_range_is_one_line(capsys, tmp_path):
    done = run_in_process(capsys, "translate", "evaluate", "--model-path", tmp_path / "none", "--beam-size", "0")
    assert done.returncode == 2 and "--beam-size" in done.stderr and len(done.stderr.strip().splitlines()) == 1
