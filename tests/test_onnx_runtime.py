"""Inference without Keras: every saved model's ONNX artifacts (nnkit.export.inference) run by
ONNX Runtime (nnkit.runtime) answer what the Keras model answers -- labels and probabilities
within 1e-4, the same words from beam search and greedy generation -- in a process that never
imports TensorFlow or Keras, through nnkit.load, the CLI's --runtime and the server; and the
inference-only install (slow)."""

import inspect
import json
import random
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from conftest import USER_ENVIRONMENT, free_ports, run_in_process
from recipes import RECIPES
from task_harness import assert_one_line_error, assert_same

import nnkit

pytest.importorskip("onnxruntime")
pytest.importorskip("tf2onnx")

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
TASKS = ["digits", "xo", "slots", "lm", "translate", "caption"]
# Converting the bidirectional tagger and the translator takes the longest (10-20 s each): in the
# slow run; caption covers the same encoder-decoder runner (OnnxStepDecoder) in the default run,
# and digits the image family's predictor, which xo shares.
SLOW_CONVERSIONS = ("slots", "translate", "xo")
HEAVY = ("tensorflow", "keras", "jax", "torch", "matplotlib", "seqeval", "sacrebleu", "sklearn")


def extra_answers(predictor, task, inputs):
    """What else a task's predictor answers beyond `predict`: greedy decoding, generation, scores."""
    if task in ("translate", "caption"):
        return {"greedy": predictor.predict(inputs, beam_size=1)}
    if task == "lm":
        return {"greedy": predictor.generate("the cat", 8, temperature=0),
                "sampled": predictor.generate("the", 8, temperature=1.0, top_k=5, seed=3),
                "score": predictor.score("the dog sat on the mat")}
    return {}


# Run in a fresh interpreter: load with ONNX Runtime, predict, serve one request, and say which
# heavy modules were imported on the way.
ONNX_PROCESS = f"HEAVY = {HEAVY!r}\n" + inspect.getsource(extra_answers) + """
import json, sys
sys.path.insert(0, sys.argv[1])
import nnkit
from recipes import RECIPES
task, model = sys.argv[2], sys.argv[3]
recipe = RECIPES[task]
predictor = nnkit.load(model, runtime="onnx")
answers = {"predict": predictor.predict(list(recipe.inputs), **recipe.options),
           **extra_answers(predictor, task, list(recipe.inputs))}
from fastapi.testclient import TestClient
from nnkit.serving.app import create_app
with TestClient(create_app(model, runtime="onnx")) as client:
    served = client.post(f"/v1/{task}/predict", **recipe.request(list(recipe.inputs)))
print(json.dumps({"answers": answers, "served": [served.status_code, served.json()],
                  "imported": [name for name in HEAVY if name in sys.modules]}))
"""


@pytest.fixture(scope="module")
def with_artifacts(request, tmp_path_factory):
    """task -> a copy of its tiny trained model (conftest.py saves them without artifacts) with
    the ONNX artifacts added by `export --format onnx --into-model`."""
    made = {}

    def copy(task):
        if task not in made:
            trained = request.getfixturevalue(RECIPES[task].model)
            trained = trained[0] if isinstance(trained, tuple) else trained  # the captioner's fixture
            made[task] = tmp_path_factory.mktemp(f"{task}-onnx") / "model"
            shutil.copytree(trained, made[task], ignore=shutil.ignore_patterns("checkpoints", "logs"))
            assert not (made[task] / "onnx").exists()
            done = run_in_process(None, task, "export", "--format", "onnx", "--into-model", "--model-path", made[task])
            assert done.returncode == 0, done.stderr
            assert "checked in ONNX Runtime" in done.stdout
        return made[task]

    return copy


@pytest.mark.parametrize("task", [pytest.param(task, marks=pytest.mark.slow) if task in SLOW_CONVERSIONS else task
                                  for task in TASKS])
def test_onnx_runtime_answers_as_keras_without_importing_it(task, with_artifacts):
    model = with_artifacts(task)
    recipe = RECIPES[task]
    keras_predictor = nnkit.load(model, runtime="keras")
    expected = {"predict": keras_predictor.predict(list(recipe.inputs), **recipe.options),
                **extra_answers(keras_predictor, task, list(recipe.inputs))}
    done = subprocess.run([sys.executable, "-c", ONNX_PROCESS, str(TESTS), task, str(model)], capture_output=True,
                          text=True, env=USER_ENVIRONMENT)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    assert found["imported"] == [], f"the ONNX path imported {found['imported']}"
    # Labels, words and beams the same; probabilities, scores and attention within 1e-4.
    assert_same(found["answers"], json.loads(json.dumps(expected)), f"{task} onnx vs keras", tolerance=1e-4)
    status, body = found["served"]
    assert status == 200 and body["task"] == task and len(body["predictions"]) == len(recipe.inputs), body


def test_auto_runs_the_artifacts_and_falls_back_to_keras_without_them(with_artifacts, tmp_path):
    from nnkit.runtime.onnx import OnnxModel

    model = with_artifacts("digits")
    assert isinstance(nnkit.load(model).model, OnnxModel)
    assert isinstance(nnkit.load(model / "model.keras").model, OnnxModel)  # the .keras file alone names it too
    assert not isinstance(nnkit.load(model, runtime="keras").model, OnnxModel)
    old = tmp_path / "old"
    shutil.copytree(model, old, ignore=shutil.ignore_patterns("onnx"))
    assert not isinstance(nnkit.load(old).model, OnnxModel)  # saved before nnkit made artifacts: Keras


def test_artifacts_of_another_model_are_not_run(with_artifacts, tmp_path):
    """A model directory whose onnx/ came from another model (a copy, a half-finished save)."""
    from nnkit.errors import NnkitError
    from nnkit.runtime.onnx import OnnxModel

    model = tmp_path / "model"
    shutil.copytree(with_artifacts("digits"), model)
    metadata = json.loads((model / "onnx" / "export.json").read_text())
    (model / "onnx" / "export.json").write_text(json.dumps({**metadata, "model_digest": "0" * 16}))
    with pytest.raises(NnkitError, match="made from another model"):
        nnkit.load(model, runtime="onnx")
    assert not isinstance(nnkit.load(model).model, OnnxModel)


def test_cli_runtime_flag(capsys, with_artifacts, trained_digits, tmp_path):
    model = with_artifacts("digits")
    recipe = RECIPES["digits"]
    answers = {runtime: json.loads(run_in_process(capsys, "digits", "predict", *recipe.inputs, "--json", "--runtime",
                                                  runtime, "--model-path", model, check=True).stdout)
               for runtime in ("onnx", "keras")}
    assert_same(answers["onnx"], answers["keras"], "digits predict --runtime", tolerance=1e-4)
    # A model without artifacts: one line that names the fix, exit 1.
    assert_one_line_error(run_in_process(capsys, "digits", "predict", *recipe.inputs, "--runtime", "onnx",
                                         "--model-path", trained_digits), 1, "--into-model")
    assert_one_line_error(run_in_process(capsys, "digits", "export", "--format", "onnx", "--into-model",
                                         "--out", tmp_path / "x", "--model-path", trained_digits), 2, "--into-model")


CLI_PROCESS = f"""
import json, sys
from nnkit.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exit:
    assert not exit.code, exit.code
print(json.dumps([name for name in {HEAVY!r} if name in sys.modules]))
"""


def test_the_cli_predicts_with_onnx_in_a_fresh_process(with_artifacts):
    """As a user runs it: `nnkit lm generate --runtime onnx` starts without TensorFlow."""
    model = with_artifacts("lm")
    done = subprocess.run([sys.executable, "-c", CLI_PROCESS, "lm", "generate", "--prompt", "the cat", "--length", "5",
                           "--json", "--runtime", "onnx", "--model-path", str(model)],
                          capture_output=True, text=True, env=USER_ENVIRONMENT)
    assert done.returncode == 0, done.stderr
    *answer, imported = done.stdout.strip().splitlines()
    assert len(json.loads("\n".join(answer))["words"]) == 5 and json.loads(imported) == []


def test_training_saves_checked_artifacts_by_default(capsys, corpus_file, tmp_path, monkeypatch):
    """The default (NNKIT_SAVE_ONNX unset): the tiny language model is saved with its step model,
    which nnkit.load then runs; asked not to, the metadata says so and there is no onnx/."""
    import tiny_models

    from nnkit.runtime.onnx import RecurrentStream

    monkeypatch.delenv("NNKIT_SAVE_ONNX", raising=False)
    run_in_process(capsys, "lm", "train", "--quiet", "--text", corpus_file, "--output", tmp_path / "lm",
                   *tiny_models.TINY_LM, check=True)
    metadata = json.loads((tmp_path / "lm" / "metadata.json").read_text())
    assert metadata["inference"]["onnx"] == "onnx" and metadata["inference"]["max_abs_difference"] <= 1e-4
    manifest = json.loads((tmp_path / "lm" / "onnx" / "export.json").read_text())
    assert [artifact["name"] for artifact in manifest["artifacts"]] == ["step"]
    assert isinstance(nnkit.load(tmp_path / "lm").stream, RecurrentStream)

    # Asked not to (as the test suite's trainings are): the metadata says so, and the earlier
    # model's artifacts in the directory go with it.
    from nnkit.export.inference import save_with_artifacts
    from nnkit.registry import load_task
    from nnkit.saving import load_model

    monkeypatch.setenv("NNKIT_SAVE_ONNX", "0")
    model, metadata = load_model(tmp_path / "lm")
    save_with_artifacts(load_task("lm"), model, tmp_path / "lm", {**metadata, "created": "later"})
    assert json.loads((tmp_path / "lm" / "metadata.json").read_text())["inference"] == {
        "onnx_skipped": "NNKIT_SAVE_ONNX=0"}
    assert not (tmp_path / "lm" / "onnx").exists()
    assert not isinstance(nnkit.load(tmp_path / "lm").stream, RecurrentStream)


@pytest.mark.parametrize("failure", ["missing package", "failed conversion"])
def test_a_model_that_cannot_get_artifacts_is_saved_all_the_same(trained_lm, tmp_path, monkeypatch, capsys, failure):
    from nnkit.export.inference import save_with_artifacts
    from nnkit.registry import load_task
    from nnkit.saving import load_model

    monkeypatch.delenv("NNKIT_SAVE_ONNX", raising=False)
    task = load_task("lm")
    if failure == "missing package":
        monkeypatch.setattr("nnkit.export.formats.missing_packages", lambda name: ["tf2onnx"])
    else:
        def broken(model, metadata):
            raise ValueError("no such op")

        monkeypatch.setattr(task, "export_plan", broken)
    model, metadata = load_model(trained_lm)
    save_with_artifacts(task, model, tmp_path / "lm", metadata)
    reason = json.loads((tmp_path / "lm" / "metadata.json").read_text())["inference"]["onnx_skipped"]
    assert ("tf2onnx not installed" if failure == "missing package" else "conversion failed: no such op") in reason
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and "saved without ONNX artifacts" in printed[0]
    assert not (tmp_path / "lm" / "onnx").exists()
    assert nnkit.load(tmp_path / "lm").predict(["the cat"])[0]["next_words"]


def test_slot_chunks_are_seqevals():
    """The predictor's own BIO reader (seqeval's import costs seconds) finds seqeval's chunks."""
    from seqeval.metrics.sequence_labeling import get_entities

    from nnkit.apps.slots.task import chunks

    rng = random.Random(0)
    tags = ["O", "B-a", "I-a", "B-b", "I-b", "E-a", "S-b", "I-c.d", "B-c.d", "B-x-y", "I-x-y"]
    for _ in range(3000):
        sequence = [rng.choice(tags) for _ in range(rng.randint(0, 9))]
        assert chunks(sequence) == get_entities(sequence), sequence


def test_task_modules_import_no_heavy_module():
    """What `nnkit --help`, the task commands and the ONNX path import: none of TensorFlow, Keras,
    matplotlib, seqeval, sacrebleu."""
    code = ("import sys\nfrom nnkit.registry import load_task\nimport nnkit.cli, nnkit.serving.app, nnkit.runtime.onnx\n"
            f"for name in {TASKS!r}:\n    load_task(name).commands()\n"
            f"print([name for name in {HEAVY!r} if name in sys.modules])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=USER_ENVIRONMENT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def checked(*arguments, **options):
    done = subprocess.run([str(argument) for argument in arguments], capture_output=True, text=True, **options)
    assert done.returncode == 0, f"{' '.join(map(str, arguments))}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_an_inference_only_install_predicts_and_serves(tmp_path, with_artifacts):
    """The README's inference-only install (requirements/inference.txt, nnkit without its
    dependencies) in a fresh virtual environment: no TensorFlow, Keras or JAX there, yet it
    predicts and serves with models trained by the full install. Slow: it installs packages."""
    models = tmp_path / "models"
    for task in ("digits", "slots"):
        shutil.copytree(with_artifacts(task), models / task)
    shutil.copytree(with_artifacts("lm"), models / "old_lm", ignore=shutil.ignore_patterns("onnx"))
    venv = tmp_path / "venv"
    checked(sys.executable, "-m", "venv", venv)
    python, nnkit = venv / "bin" / "python", venv / "bin" / "nnkit"
    environment = {key: value for key, value in USER_ENVIRONMENT.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    checked(python, "-m", "pip", "install", "-q", "-r", ROOT / "requirements" / "inference.txt", env=environment)
    checked(python, "-m", "pip", "install", "-q", "--no-deps", ROOT, env=environment, cwd=tmp_path)
    for absent in ("tensorflow", "keras", "jax"):
        assert subprocess.run([python, "-c", f"import {absent}"], capture_output=True).returncode != 0, absent

    assert "digits" in checked(nnkit, "--help", env=environment, cwd=tmp_path).stdout
    answer = json.loads(checked(nnkit, "digits", "predict", *RECIPES["digits"].inputs, "--json", "--model-path",
                                models / "digits", env=environment, cwd=tmp_path).stdout)
    assert [result["label"] for result in answer] and all(0 <= result["probability"] <= 1 for result in answer)
    # A model saved without artifacts: one line naming the fix, not a traceback.
    refused = subprocess.run([nnkit, "lm", "predict", "the cat", "--model-path", models / "old_lm"],
                             capture_output=True, text=True, env=environment, cwd=tmp_path)
    assert refused.returncode == 1 and "--into-model" in refused.stderr and "Traceback" not in refused.stderr
    shutil.rmtree(models / "old_lm")

    [port] = free_ports(1)
    server = subprocess.Popen([nnkit, "serve", "--models", models, "--port", str(port)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=environment, cwd=tmp_path)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1)
                break
            except OSError:
                assert server.poll() is None, server.communicate()
                time.sleep(0.2)
        request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/slots/predict",
                                         data=json.dumps({"texts": ["flights from boston to denver"]}).encode(),
                                         headers={"content-type": "application/json"})
        answered = json.loads(urllib.request.urlopen(request, timeout=30).read())
        assert answered["task"] == "slots" and answered["predictions"][0]["intent"]
    finally:
        server.terminate()
        server.wait(timeout=30)
