"""The checks every task passes, whatever it is (keras-hub's `run_*_test` style), from its recipe
(recipes.py): its tiny trained model shows its info, evaluates, predicts alike from the CLI and
the Python API, answers the same after a reload in a fresh process, exports to ONNX with parity,
serves its endpoint, and answers bad inputs with one line. And the check every model builder's
model passes (`check_save_reload_predict`)."""

import json
import subprocess
import sys

import numpy as np
import pytest

import nnkit
from conftest import USER_ENVIRONMENT, run_in_process
from nnkit.saving import load_model, read_metadata, save_model
from nnkit.task import Predictor


def assert_same(answer, expected, where="answer", tolerance=1e-5):
    """Words, labels and every other value equal; floats (probabilities, scores) within
    `tolerance`. `answer` may carry more keys than `expected`, none fewer."""
    if isinstance(expected, dict):
        assert isinstance(answer, dict) and set(expected) <= set(answer), f"{where}: {sorted(expected)} vs {answer}"
        for key, value in expected.items():
            assert_same(answer[key], value, f"{where}.{key}", tolerance)
    elif isinstance(expected, list):
        assert isinstance(answer, list) and len(answer) == len(expected), f"{where}: {answer} vs {expected}"
        for index, (item, value) in enumerate(zip(answer, expected)):
            assert_same(item, value, f"{where}[{index}]", tolerance)
    elif isinstance(expected, float):
        assert answer == pytest.approx(expected, abs=tolerance), f"{where}: {answer} vs {expected}"
    else:
        assert answer == expected, f"{where}: {answer!r} vs {expected!r}"


def assert_one_line_error(done, code, text):
    assert done.returncode == code, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert text in lines[0], lines[0]


def check_info_and_evaluate(capsys, name, model, evaluation_args):
    info = json.loads(run_in_process(capsys, name, "info", "--model-path", model, "--json", check=True).stdout)
    assert info["task"] == name and info["metrics"]["test"]
    text = run_in_process(capsys, name, "info", "--model-path", model, check=True).stdout
    assert f"task: {name}" in text and "Total params" in text
    evaluated = json.loads(run_in_process(capsys, name, "evaluate", "--model-path", model, "--json",
                                          *evaluation_args, check=True).stdout)
    # The same model on the same test data scores what training recorded.
    saved = info["metrics"]["test"]
    shared = [key for key, value in evaluated.items() if isinstance(value, float) and key in saved]
    assert shared, (evaluated, saved)
    for key in shared:
        assert evaluated[key] == pytest.approx(saved[key], rel=1e-3, abs=1e-6), key
    assert run_in_process(capsys, name, "evaluate", "--model-path", model, *evaluation_args, check=True).stdout.strip()


FRESH_PROCESS = """
import json, sys
import nnkit
asked = json.load(sys.stdin)
print(json.dumps({name: nnkit.load(model).predict(inputs, **options) for name, (model, inputs, options) in asked.items()}))
"""


def fresh_process_answers(asked):
    """{task: its predictions} from one fresh interpreter, each model reloaded from its file;
    `asked` is {task: (model directory, inputs, options)}. One process for all: each would
    otherwise pay TensorFlow's start-up."""
    if not asked:
        return {}
    done = subprocess.run([sys.executable, "-c", FRESH_PROCESS], input=json.dumps(asked), capture_output=True,
                          text=True, env=USER_ENVIRONMENT)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def check_predict(capsys, name, model, recipe, fresh_answer):
    """The CLI's --json answer, which must be the Python API's, and a fresh process's."""
    arguments = [name, "predict", *recipe.inputs, *recipe.flags, "--json", "--model-path", model]
    from_cli = json.loads(run_in_process(capsys, *arguments, check=True).stdout)
    predictor = nnkit.load(model)
    assert isinstance(predictor, Predictor)
    from_api = predictor.predict(list(recipe.inputs), **recipe.options)
    assert len(from_api) == len(recipe.inputs) and all(isinstance(answer, dict) for answer in from_api)
    assert_same(from_cli, json.loads(json.dumps(from_api)), f"{name} predict")
    assert fresh_answer == json.loads(json.dumps(from_api))  # identical, reloaded with nothing shared
    return from_api


def check_export(capsys, name, model, out):
    pytest.importorskip("tf2onnx")
    done = run_in_process(capsys, name, "export", "--format", "onnx", "--out", out, "--model-path", model, check=True)
    assert "checked in ONNX Runtime" in done.stdout, done.stdout  # export checks parity itself
    assert json.loads((out / "export.json").read_text())["task"] == name


def check_serving(name, model, recipe, predictions):
    from fastapi.testclient import TestClient

    from nnkit.serving.app import create_app

    with TestClient(create_app(model)) as client:
        answered = client.post(f"/v1/{name}/predict", **recipe.request(list(recipe.inputs)))
        assert answered.status_code == 200, answered.text
        assert answered.json()["task"] == name and len(answered.json()["predictions"]) == len(predictions)
        refused = client.post(f"/v1/{name}/predict", **recipe.bad_request)
        assert 400 <= refused.status_code < 500, refused.text
        message = refused.json()["error"]["message"]
        assert message and "\n" not in message


def check_refusals(capsys, name, model, recipe, tmp_path):
    for arguments, code, text in recipe.refusals(tmp_path):
        assert_one_line_error(run_in_process(capsys, name, "predict", *arguments, "--model-path", model), code, text)
    other = "digits" if name != "digits" else "xo"
    assert_one_line_error(run_in_process(capsys, other, "info", "--model-path", model), 2, f"task '{name}'")


def run_task_test(recipe, name, model, capsys, tmp_path, fresh_answer, evaluation_args=()):
    """Every shared check of task `name` on its tiny trained model in `model`; `fresh_answer` is
    what a fresh process predicted for the recipe (`fresh_process_answers`)."""
    check_info_and_evaluate(capsys, name, model, evaluation_args)
    predictions = check_predict(capsys, name, model, recipe, fresh_answer)
    check_export(capsys, name, model, tmp_path / "onnx")
    check_serving(name, model, recipe, predictions)
    check_refusals(capsys, name, model, recipe, tmp_path)


def check_save_reload_predict(model, inputs, targets, loss, directory, task="digits"):
    """A model of the catalogue trains a step, saves with its metadata, reloads in this process
    and predicts exactly as before."""
    model.compile(optimizer="adam", loss=loss)
    model.fit(inputs, targets, batch_size=len(inputs), epochs=1, verbose=0)
    before = model.predict(inputs, verbose=0)
    save_model(model, directory, {"task": task, "marker": 7})
    reloaded, metadata = load_model(directory, expected_task=task)
    after = reloaded.predict(inputs, verbose=0)
    assert metadata["marker"] == 7 and read_metadata(directory / "model.keras")["marker"] == 7
    if isinstance(before, dict):  # a model with named outputs
        assert before.keys() == after.keys()
        for name in before:
            np.testing.assert_array_equal(before[name], after[name])
    else:
        np.testing.assert_array_equal(before, after)
    return reloaded
