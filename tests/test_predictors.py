"""Every task's Predictor through the Python API (`nnkit.load`): the same call for all,
`predict(inputs: list, **options) -> list[dict]`, and one clear UsageError line for whatever a
caller can get wrong (None, no inputs, a wrong type, a NaN or a batch-shaped image array, an
option the predictor does not take) instead of a TypeError from deep inside NumPy or Keras."""

import numpy as np
import pytest

import nnkit
import tiny_models
from nnkit.errors import NnkitError, UsageError

FIXTURES = {"digits": "trained_digits", "xo": "trained_xo", "caption": "trained_captioner",
            "slots": "trained_slots", "translate": "trained_translator", "lm": "trained_lm"}
IMAGE_TASKS = ("digits", "xo", "caption")
# An option each predictor takes, with a value it must refuse.
BAD_OPTION_VALUES = {"digits": {"top_k": 0}, "xo": {"top_k": "2"}, "caption": {"n_best": 0},
                     "slots": None, "translate": {"beam_size": 0}, "lm": {"count": 2.5}}


def a_stroke():
    image = np.zeros((28, 28), np.uint8)
    image[5:23, 12:16] = 255
    return image


def good_input(task):
    return {"digits": a_stroke(), "xo": a_stroke(), "caption": tiny_models.photo("red"),
            "slots": "show me flights to denver", "translate": tiny_models.PAIRS[0][0], "lm": "the cat"}[task]


@pytest.fixture(params=list(FIXTURES))
def loaded(request):
    """(task, the predictor of its tiny model, loaded through `nnkit.load`)."""
    found = request.getfixturevalue(FIXTURES[request.param])
    return request.param, nnkit.load(found[0] if isinstance(found, tuple) else found)


def refused(call, text, kind=UsageError):
    with pytest.raises(kind) as raised:
        call()
    message = str(raised.value)
    assert text in message and "\n" not in message, message
    return message


def test_every_predictor_takes_a_list_and_refuses_bad_inputs_in_one_line(loaded):
    task, predictor = loaded
    assert predictor.task.name == task
    good = good_input(task)
    answers = predictor.predict([good, good])
    assert len(answers) == 2 and all(isinstance(answer, dict) for answer in answers)
    [alone] = predictor.predict(good)  # one input alone needs no list
    assert predictor.predict([good]) == [alone] and alone.keys() == answers[0].keys()
    for bad, text in ((None, "inputs is None"), ([], "the list of inputs is empty"),
                      ([good, None], "inputs[1] is None"), (42, "inputs must be a list, got int"),
                      ({"text": "a"}, "inputs must be a list, got dict")):
        refused(lambda: predictor.predict(bad), text)
    refused(lambda: predictor.predict([good], bogus=1), "unknown option bogus")
    if BAD_OPTION_VALUES[task]:
        [(name, value)] = BAD_OPTION_VALUES[task].items()
        refused(lambda: predictor.predict([good], **{name: value}), f"{name} must be a whole number of at least 1")


@pytest.mark.parametrize("task", IMAGE_TASKS)
def test_image_predictors_refuse_arrays_that_are_no_single_image(request, task):
    found = request.getfixturevalue(FIXTURES[task])
    predictor = nnkit.load(found[0] if isinstance(found, tuple) else found)
    nan = a_stroke().astype(np.float32)
    nan[0, 0] = np.nan
    refused(lambda: predictor.predict([nan]), "NaN or infinite")
    refused(lambda: predictor.predict([np.full((28, 28, 3), np.inf)]), "NaN or infinite")
    # Two channels is no image; it must not be read as 28 images of 28 x 2 either.
    refused(lambda: predictor.predict(np.zeros((28, 28, 2))), "expected one image")
    refused(lambda: predictor.predict(np.zeros((4, 28, 28, 1))), "pass several images as a list")
    refused(lambda: predictor.predict([np.zeros(28)]), "got shape (28,)")
    refused(lambda: predictor.predict([["a", "b"]]), "not an image")
    refused(lambda: predictor.predict(["no/such/image.png"]), "no/such/image.png", NnkitError)


@pytest.mark.parametrize("task", ("slots", "translate", "lm"))
def test_text_predictors_refuse_what_is_no_text(request, task):
    predictor = nnkit.load(request.getfixturevalue(FIXTURES[task]))
    refused(lambda: predictor.predict(["a text", 5]), "inputs[1] must be a text (str), got int")
    refused(lambda: predictor.predict([b"bytes"]), "inputs[0] must be a text (str), got bytes")


def test_load_refuses_what_is_no_saved_model_in_one_line(tmp_path):
    refused(lambda: nnkit.load(None), "a saved model's path must be a str or a pathlib.Path, got NoneType")
    refused(lambda: nnkit.load(42), "got int")
    refused(lambda: nnkit.load(tmp_path / "missing"), "no saved model at", NnkitError)
    (tmp_path / "model.keras").write_text("not a zip")
    refused(lambda: nnkit.load(tmp_path), "not a readable .keras model file", NnkitError)


@pytest.mark.parametrize("task", ["slots", "translate", "lm"])
def test_text_predictors_refuse_a_lone_surrogate_in_one_line(request, task):
    predictor = nnkit.load(request.getfixturevalue(FIXTURES[task]))
    refused(lambda: predictor.predict(["fine", "a \ud800 b"]), "inputs[1] is not valid Unicode text (a lone surrogate")


def test_generation_at_a_vanishing_temperature_is_greedy_and_a_negative_seed_is_refused(trained_lm):
    predictor = nnkit.load(trained_lm)
    greedy = predictor.generate("the cat", 4, temperature=0)
    assert predictor.generate("the cat", 4, temperature=1e-320, seed=3)["words"] == greedy["words"]
    refused(lambda: predictor.generate("the cat", 4, seed=-1), "--seed must be 0 or more")
    refused(lambda: predictor.generate("a \udc80", 4), "the prompt is not valid Unicode text")
