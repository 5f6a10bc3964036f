"""Models saved by an older nnkit still load and answer the same (tests/data/compat/README.md):
one tiny model per task, saved before the tasks became folders, and what each answered then."""

import json
from pathlib import Path

import pytest

import nnkit
from task_harness import assert_same

COMPAT = Path(__file__).resolve().parent / "data" / "compat"
INPUTS = COMPAT / "inputs"
EXPECTED = json.loads((COMPAT / "expected.json").read_text())

# task -> (inputs, options) the answers in expected.json were given for.
ASKED = {
    "digits": ([INPUTS / "seven.png"], {"top_k": 3}),
    "xo": ([INPUTS / "seven.png"], {"top_k": 3}),
    "slots": (["show me flights from boston to denver tomorrow"], {}),
    "lm": (["the cat sat on"], {"count": 3}),
    "translate": (["Ein Mann liest ein Buch."], {"beam_size": 2}),
    "caption": ([INPUTS / "red.jpg", INPUTS / "blue.jpg"], {"beam_size": 2}),
}


def test_every_task_has_a_compatibility_model():
    assert set(ASKED) == set(EXPECTED) == {path.name for path in COMPAT.iterdir() if (path / "model.keras").is_file()}


@pytest.mark.parametrize("task", sorted(ASKED))
def test_an_old_model_loads_and_answers_as_it_did(task):
    inputs, options = ASKED[task]
    answers = nnkit.load(COMPAT / task).predict([str(item) for item in inputs], **options)
    # The language model's predictor answered one prompt with one dict then; a list of them now.
    expected = [EXPECTED[task]] if task == "lm" else EXPECTED[task]
    assert_same(answers, expected, task)
