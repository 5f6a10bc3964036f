"""The shared harness (task_harness.py) over every registered task, built-in or plugin, each
with its recipe (recipes.py)."""

import pytest

from conftest import run_in_process
from nnkit.registry import task_names
from recipes import RECIPES
from task_harness import fresh_process_answers, run_task_test


@pytest.fixture(scope="session")
def trained_by_recipe(tmp_path_factory):
    """Task name -> its tiny model, trained once a session from the `train` arguments of a recipe
    (tasks whose model is not a conftest fixture shared with other tests: a new task, a plugin)."""
    trained = {}

    def train(name, arguments):
        if name not in trained:
            output = tmp_path_factory.mktemp(f"{name}-model")
            run_in_process(None, name, "train", "--quiet", "--output", output, *arguments, check=True)
            trained[name] = output
        return trained[name]

    return train


def model_of(request, name, recipe):
    if not isinstance(recipe.model, str):  # the recipe's own train arguments
        return request.getfixturevalue("trained_by_recipe")(name, recipe.model)
    trained = request.getfixturevalue(recipe.model)
    return trained[0] if isinstance(trained, tuple) else trained  # the captioner's comes with its run


@pytest.fixture(scope="module")
def fresh_answers(request):
    """What one fresh process predicts for every task this run tests (whose model trained)."""
    tested = [item.callspec.params["name"] for item in request.session.items
              if item.module is request.module and item.originalname == "test_task"]
    asked = {}
    for name in tested:
        try:
            recipe = RECIPES[name]
            asked[name] = (str(model_of(request, name, recipe)), [str(item) for item in recipe.inputs], recipe.options)
        except (Exception, pytest.skip.Exception, pytest.fail.Exception):
            continue  # that task's own test reports it
    return fresh_process_answers(asked)


@pytest.mark.parametrize("name", task_names())
def test_task(name, request, capsys, tmp_path, fresh_answers):
    assert name in RECIPES, f"task '{name}' has no recipe in tests/recipes.py"
    recipe = RECIPES[name]
    model = model_of(request, name, recipe)
    evaluation_args = ["--data", request.getfixturevalue(recipe.evaluation_data)] if recipe.evaluation_data else []
    run_task_test(recipe, name, model, capsys, tmp_path, fresh_answers[name], evaluation_args)


def test_a_task_without_a_predict_command_gets_the_generic_one(trained_by_recipe, capsys):
    """The example plugin declares no commands: its `predict` prints a JSON line per input, and
    passes --option KEY=VALUE to its predictor."""
    import json

    model = trained_by_recipe("sentiment", RECIPES["sentiment"].model)
    done = run_in_process(capsys, "sentiment", "predict", "Great fun.", "Awful.", "--model-path", model, check=True)
    answers = [json.loads(line) for line in done.stdout.strip().splitlines()]
    assert [answer["text"] for answer in answers] == ["Great fun.", "Awful."]
    refused = run_in_process(capsys, "sentiment", "predict", "Great fun.", "--option", "top_k=2", "--model-path", model)
    assert refused.returncode == 2 and "unknown option top_k" in refused.stderr
    refused = run_in_process(capsys, "sentiment", "predict", "Great fun.", "--option", "top_k", "--model-path", model)
    assert refused.returncode == 2 and "--option expects key=value, got 'top_k'" in refused.stderr
