"""A model saved under one Keras backend loads and predicts the same under another.

This process runs the default backend (TensorFlow); JAX and PyTorch run in fresh processes,
on the CPU: what is compared is the saved model, not a GPU's rounding. Each test skips when its
backend's package is not installed.
"""

import importlib.util
import json
import subprocess
import sys

import pytest

from conftest import ROOT, TINY_TRAINING, USER_ENVIRONMENT, data_dir, run_in_process, run_nnkit

TOLERANCE = 1e-5  # probabilities; labels and tags must be identical


def backend_environment(backend):
    """The environment of a fresh process on `backend`; skips when its package is missing."""
    if importlib.util.find_spec(backend) is None:
        pytest.skip(f"{backend} is not installed, so KERAS_BACKEND={backend} cannot be tested")
    return {"KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}


def class_probabilities(results):
    """Per image: {label: probability} over every class (`--top-k 10` lists them all)."""
    return [{entry["label"]: entry["probability"] for entry in result["top_k"]} for result in results]


@pytest.fixture(scope="module")
def digits_reference(trained_digits, mnist_pngs):
    paths, _ = mnist_pngs
    done = run_in_process(None, "digits", "predict", *paths, "--model-path", trained_digits, "--top-k", "10", "--json",
                          check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_a_digits_model_saved_under_tensorflow_predicts_the_same(backend, trained_digits, mnist_pngs,
                                                                 digits_reference):
    environment = backend_environment(backend)
    paths, _ = mnist_pngs
    done = run_nnkit("digits", "predict", *paths, "--model-path", trained_digits, "--top-k", "10", "--json",
                     env=environment, check=True)
    results = json.loads(done.stdout)
    assert [result["label"] for result in results] == [result["label"] for result in digits_reference]
    for mine, reference in zip(class_probabilities(results), class_probabilities(digits_reference)):
        assert mine.keys() == reference.keys()
        assert all(abs(mine[label] - reference[label]) <= TOLERANCE for label in reference)


# Trains a slot filler on `argv` under the process's backend, then prints, as the last line,
# what the saved model predicts for the texts after `--`: one process, one start-up.
TRAIN_THEN_PREDICT = """
import json, sys
import nnkit
from nnkit.cli import main

separator = sys.argv.index("--")
main(sys.argv[1:separator])
output = sys.argv[sys.argv.index("--output") + 1]
print(json.dumps(nnkit.load(output).predict(sys.argv[separator + 1:])))
"""
TEXTS = ["Show me flights from Boston to Denver tomorrow, please!", "cheapest fare to pittsburgh"]


def small_atis(root):
    """The first utterances of each ATIS split, in the ATIS layout: seconds to train on."""
    atis = data_dir() / "atis"
    if not (atis / "test" / "seq.in").is_file():
        pytest.skip(f"ATIS not found under {data_dir()} (set NNKIT_DATA_DIR)")
    for split, count in (("train", 64), ("valid", 16), ("test", 16)):
        (root / split).mkdir(parents=True)
        for name in ("seq.in", "seq.out", "label"):
            lines = (atis / split / name).read_text(encoding="utf-8").splitlines()[:count]
            (root / split / name).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_a_slot_filler_trained_under_jax_predicts_the_same_under_tensorflow(tmp_path, capsys):
    """Jordan cells (nnkit's own recurrent layer), bidirectional, word hashing and masked
    pooling: trained and saved by JAX, loaded by TensorFlow."""
    environment = {**USER_ENVIRONMENT, "NNKIT_DATA_DIR": str(data_dir()), **backend_environment("jax")}
    environment.pop("NNKIT_DEBUG", None)
    output = tmp_path / "model"
    train = ["slots", "train", "--quiet", "--data", small_atis(tmp_path / "atis"), "--output", output,
             "--model", "jordan", "--bidirectional", "--layers", "1", "--units", "8", "--epochs", "1",
             "--batch-size", "32", "--set", "model.embedding_dim=8", "--set", "model.hash_buckets=256",
             "--set", "model.attention_heads=0"]
    done = subprocess.run([sys.executable, "-c", TRAIN_THEN_PREDICT, *map(str, train), "--", *TEXTS],
                          capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    under_jax = json.loads(done.stdout.strip().splitlines()[-1])
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["versions"]["backend"] == "jax"

    done = run_in_process(capsys, "slots", "predict", *TEXTS, "--model-path", output, "--json", check=True)
    under_tensorflow = json.loads(done.stdout)
    tags, intents = set(metadata["data"]["tags"][1:]), set(metadata["data"]["intents"])
    for mine, theirs in zip(under_tensorflow, under_jax):
        assert mine["words"] == theirs["words"] and len(mine["tags"]) == len(mine["words"])
        assert set(mine["tags"]) <= tags and mine["intent"] in intents
        assert (mine["tags"], mine["intent"], mine["slots"]) == (theirs["tags"], theirs["intent"], theirs["slots"])
        assert abs(mine["intent_probability"] - theirs["intent_probability"]) <= TOLERANCE
    assert under_tensorflow[0]["words"][:3] == ["show", "me", "flights"]


def test_a_language_model_saved_under_tensorflow_generates_the_same_under_jax(trained_lm, capsys):
    """Greedy generation feeds one word per call, so every word depends on the recurrent state
    carried from call to call, which JAX's compiled calls lose unless the model tracks it."""
    environment = backend_environment("jax")
    output = trained_lm
    generate = ["lm", "generate", "--model-path", output, "--prompt", "the dog", "--length", "12", "--temperature", "0",
                "--json"]
    under_tensorflow = json.loads(run_in_process(capsys, *generate, check=True).stdout)
    under_jax = json.loads(run_nnkit(*generate, env=environment, check=True).stdout)
    assert under_jax["words"] == under_tensorflow["words"]
    assert len(set(under_tensorflow["words"])) > 2  # a sentence or two, not one word over and over


# Runs the CLI as if TensorFlow were not installed (a GPU machine with JAX only): importing it
# fails and looking it up finds nothing.
WITHOUT_TENSORFLOW = """
import importlib.util, sys

class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named {name!r}")

sys.meta_path.insert(0, NoTensorFlow())
find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] == "tensorflow" else find_spec(name, package))
from nnkit.cli import main
main(sys.argv[1:])
"""


def test_jax_trains_and_predicts_without_tensorflow(tmp_path, mnist_dir):
    environment = {**USER_ENVIRONMENT, "NNKIT_DATA_DIR": str(data_dir()), **backend_environment("jax")}
    environment.pop("NNKIT_DEBUG", None)
    output = tmp_path / "model"

    def nnkit(*args):
        return subprocess.run([sys.executable, "-c", WITHOUT_TENSORFLOW, *map(str, args)], capture_output=True,
                              text=True, env=environment)

    done = nnkit("digits", "train", "--quiet", "--output", output, "--model", "mlp", *TINY_TRAINING)
    assert done.returncode == 0, done.stderr
    assert (output / "model.keras").is_file() and not (output / "logs").exists()  # no TensorBoard writer
    done = nnkit("digits", "predict", "--model-path", output, "--json", ROOT / "tests" / "data" / "digits")
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 4
