"""`nnkit <task> export`: every format on digits and one on each other task (ONNX for the recurrent
encoder-decoder and language model, LiteRT for the recurrent tagger and the captioner). Each test loads the
exported files in their runtime as export.json tells a user to, prepares the inputs as its
`processing` says, and expects what nnkit's own predictor answers; the beam-searched tasks are
decoded greedily through their exported encoder and decoder step. Then the refusals."""

import json
from importlib.util import find_spec

import numpy as np
import pytest
import tiny_models
from conftest import run_in_process

RUNTIME_MODULES = {"savedmodel": "tensorflow", "onnx": "onnxruntime", "litert": "ai_edge_litert"}


def exported(capsys, task, model_path, out, format_name, *options):
    """Export through the CLI; (manifest, the process's output)."""
    module = RUNTIME_MODULES[format_name]
    if find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[export]')")
    done = run_in_process(capsys, task, "export", "--model-path", model_path, "--format", format_name, "--out", out,
                          *options)
    assert done.returncode == 0, done.stderr
    manifest = json.loads((out / "export.json").read_text())
    assert manifest["task"] == task and manifest["format"] == format_name
    assert 0 <= manifest["max_abs_difference"] <= manifest["tolerance"] == 1e-4
    assert json.loads((out / "metadata.json").read_text())["task"] == task
    return manifest, done


def load(format_name, path):
    """An exported artifact as a function of the named inputs -> {output name: array}, loaded the
    way the manifest's `usage` says."""
    if format_name == "savedmodel":
        import tensorflow as tf

        function = tf.saved_model.load(str(path)).signatures["serving_default"]
        return lambda **inputs: {name: value.numpy() for name, value in function(**inputs).items()}
    if format_name == "onnx":
        import onnxruntime

        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        names = [output.name for output in session.get_outputs()]
        return lambda **inputs: dict(zip(names, session.run(names, inputs)))
    from ai_edge_litert.interpreter import Interpreter

    return Interpreter(model_path=str(path)).get_signature_runner("serving_default")


def artifacts(manifest, out, format_name):
    return {artifact["name"]: load(format_name, out / artifact["file"]) for artifact in manifest["artifacts"]}


@pytest.mark.parametrize("format_name", ["savedmodel", "onnx", "litert"])
def test_exported_digit_classifier_predicts_what_nnkit_predicts(capsys, tmp_path, trained_digits, mnist_pngs,
                                                                 format_name):
    from nnkit.saving import load_predictor

    out = tmp_path / "exported"
    out.mkdir()
    (out / "stale.txt").write_text("from an earlier export")
    manifest, done = exported(capsys, "digits", trained_digits, out, format_name, "--force")
    assert not (out / "stale.txt").exists()
    [artifact] = manifest["artifacts"]
    assert artifact["inputs"] == [{"name": "image", "shape": [None, 28, 28, 1], "dtype": "uint8"}]
    assert [output["name"] for output in artifact["outputs"]] == ["probabilities"]
    assert f"{artifact['file']}: max |difference|" in done.stdout and "tolerance 0.0001" in done.stdout

    predictor = load_predictor(trained_digits)
    paths, _ = mnist_pngs
    images = predictor.preprocess(paths)  # the MNIST-style preparation the manifest describes
    probabilities = np.asarray(load(format_name, out / artifact["file"])(image=images)["probabilities"])
    np.testing.assert_allclose(probabilities, predictor.model.predict(images, verbose=0), atol=1e-4)
    labels = [manifest["processing"]["class_names"][i] for i in probabilities.argmax(axis=1)]
    assert labels == [result["label"] for result in predictor.predict(paths)]


@pytest.mark.parametrize("format_name", ["savedmodel", "onnx"])
def test_a_model_with_augmentation_layers_exports_them_switched_off(capsys, tmp_path, trained_digits, format_name):
    """The default configs rotate, shift and zoom training images inside the model; the exported
    graph must leave images as they are, as Keras's predict does."""
    from nnkit.apps.digits.task import TASK
    from nnkit.config import load_config
    from nnkit.saving import read_metadata, save_model

    metadata = read_metadata(trained_digits)
    config = load_config("digits", overrides=["model.width=4", "model.dense_units=8"])  # default augmentation
    assert config["augmentation"]["rotation_degrees"] > 0 and config["augmentation"]["shift"] > 0
    model = TASK.build_model(config, metadata["data"])
    save_model(model, tmp_path / "augmented", {**metadata, "config": config})
    exported(capsys, "digits", tmp_path / "augmented", tmp_path / "exported", format_name)


def test_exported_xo_classifier_runs_in_tensorflow(capsys, tmp_path, trained_xo):
    from nnkit.saving import load_predictor

    manifest, _ = exported(capsys, "xo", trained_xo, tmp_path / "xo", "savedmodel")
    predictor = load_predictor(trained_xo)
    cells = predictor.preprocess(list(np.random.default_rng(1).integers(0, 256, (3, 40, 40))))
    model = artifacts(manifest, tmp_path / "xo", "savedmodel")["model"]
    np.testing.assert_allclose(model(image=cells)["probabilities"], predictor.model.predict(cells, verbose=0),
                               atol=1e-4)


def test_exported_slot_filler_tags_as_nnkit_does(capsys, tmp_path, trained_slots):
    from nnkit.apps.slots.task import encode_inputs
    from nnkit.saving import load_predictor

    manifest, _ = exported(capsys, "slots", trained_slots, tmp_path / "slots", "litert")
    assert manifest["artifacts"][0]["batch_size"] == 1  # LiteRT runs the recurrent layers one sentence at a time
    processing = manifest["processing"]
    model = artifacts(manifest, tmp_path / "slots", "litert")["model"]
    predictor = load_predictor(trained_slots)
    for result in predictor.predict(["show me flights from boston to denver tomorrow morning", "Cheapest fare?"]):
        outputs = model(**encode_inputs([result["words"]], predictor.info))
        tag_ids = outputs["slots"][0, :, 1:].argmax(axis=-1) + 1  # never padding
        assert [processing["tags"][i] for i in tag_ids] == result["tags"]
        assert processing["intents"][outputs["intent"][0].argmax()] == result["intent"]


def test_exported_language_model_is_a_step_model_with_its_states(capsys, tmp_path, trained_lm):
    """The state-in/state-out step model gives the next-word probabilities of nnkit's stateful one,
    whether the words go in at once or one per call with the states fed back."""
    from nnkit.saving import load_predictor

    manifest, done = exported(capsys, "lm", trained_lm, tmp_path / "lm", "onnx")
    assert "recurrent states as inputs and outputs" in done.stdout
    predictor = load_predictor(trained_lm, runtime="keras")
    [expected] = predictor.predict(["the cat sat on"], count=3)
    tokens = np.asarray([[manifest["processing"]["eos"], *(predictor.index[w] for w in expected["words"])]], np.int32)
    step = artifacts(manifest, tmp_path / "lm", "onnx")["step"]
    [state_input] = [entry for entry in manifest["artifacts"][0]["inputs"] if entry["name"] == "state_0"]
    zeros = {entry["name"]: np.zeros((1, entry["shape"][1]), np.float32)
             for entry in manifest["artifacts"][0]["inputs"] if entry["name"].startswith("state_")}
    assert state_input and zeros
    logits = step(tokens=tokens, **zeros)["logits"][0, -1]
    states = zeros
    for token in tokens[0]:  # one word per call, the states carried
        outputs = step(tokens=np.asarray([[token]], np.int32), **states)
        states = {name: outputs[f"next_{name}"] for name in states}
    np.testing.assert_allclose(outputs["logits"][0, -1], logits, atol=1e-4)
    probabilities = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    best = np.argsort(-probabilities)[:3]
    assert [predictor.vocabulary[i] for i in best] == [word["word"] for word in expected["next_words"]]
    np.testing.assert_allclose(probabilities[best], [word["probability"] for word in expected["next_words"]],
                               atol=1e-4)


def greedy(encoded, step, start, end, max_length=30, forbidden=(), min_length=0):
    """Greedy decoding of one input from its exported encoder's outputs with the exported decoder
    step, as the export's note says."""
    memory = encoded["memory"]
    mask = encoded.get("memory_mask", np.ones(memory.shape[:2], bool))  # captions: every grid cell is real
    states = {name: value for name, value in encoded.items() if name.startswith("state_")}
    word, words = start, []
    for position in range(max_length):
        outputs = step(word=np.asarray([[word]], np.int32), memory=memory, memory_mask=mask, **states)
        logits = np.array(outputs["logits"][0, 0])
        logits[list(forbidden) + ([end] if position < min_length else [])] = -np.inf
        word = int(logits.argmax())
        if word == end:
            return words
        words.append(word)
        states = {name: outputs[f"next_{name}"] for name in states}
    return words


def test_exported_translator_encoder_and_step_decode_as_nnkit_does(capsys, tmp_path, trained_translator):
    from nnkit.saving import load_predictor
    from nnkit.apps.translate.text import tokenize
    from nnkit.text.sentences import encode

    manifest, done = exported(capsys, "translate", trained_translator, tmp_path / "translate", "onnx")
    assert [artifact["file"] for artifact in manifest["artifacts"]] == ["encoder.onnx", "decoder_step.onnx"]
    assert "Beam search is a Python loop" in done.stdout
    parts = artifacts(manifest, tmp_path / "translate", "onnx")
    translator = load_predictor(trained_translator)
    info, processing = translator.info, manifest["processing"]
    for sentence, _ in tiny_models.PAIRS[:3]:
        source = encode([tokenize(sentence, info["source_language"])], info["source_words"])
        ids = greedy(parts["encoder"](source=source), parts["decoder_step"], processing["bos"], processing["eos"])
        expected = translator.translate([sentence], beam_size=1)[0]["translations"][0]["tokens"]
        assert [info["target_words"][i] for i in ids] == expected


def test_exported_captioner_encoder_and_step_decode_as_nnkit_does(capsys, tmp_path, trained_captioner):
    from nnkit.saving import load_predictor

    model_path, _ = trained_captioner
    manifest, _ = exported(capsys, "caption", model_path, tmp_path / "caption", "litert")
    steps = {artifact["name"]: artifact["batch_size"] for artifact in manifest["artifacts"]}
    assert steps == {"encoder": None, "decoder_step": 1}  # LiteRT runs the recurrent step one row at a time
    parts = artifacts(manifest, tmp_path / "caption", "litert")
    captioner = load_predictor(model_path)
    processing = manifest["processing"]
    for colour in tiny_models.COLOURS:
        photo = captioner.read([tiny_models.photo(colour)])
        ids = greedy(parts["encoder"](image=photo), parts["decoder_step"], processing["start"], processing["end"],
                     forbidden=(0, 1, 2), min_length=1)  # as processing["never_written"] says
        expected = captioner.caption(photo, beam_size=1)[0]["captions"][0]["words"]
        assert [captioner.info["words"][i] for i in ids] == expected


# --- refusals ------------------------------------------------------------------------------

def test_export_refuses_a_non_empty_directory_and_leaves_it(capsys, tmp_path, trained_digits):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    done = run_in_process(capsys, "digits", "export", "--model-path", trained_digits, "--format", "savedmodel",
                          "--out", out)
    assert done.returncode == 2 and "not empty (pass --force" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert [path.name for path in tmp_path.iterdir()] == ["taken"] and (out / "keep.txt").read_text() == "mine"


def test_export_never_replaces_the_saved_model_itself(capsys, trained_digits):
    done = run_in_process(capsys, "digits", "export", "--model-path", trained_digits, "--format", "savedmodel",
                          "--out", trained_digits, "--force")
    assert done.returncode == 2 and "holds the saved model itself" in done.stderr
    assert (trained_digits / "model.keras").is_file()


def test_export_over_the_tolerance_fails_and_writes_nothing(capsys, tmp_path, trained_digits):
    if find_spec("onnxruntime") is None:
        pytest.skip("onnxruntime is not installed (pip install -e '.[export]')")
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    # ONNX Runtime sums in another order than TensorFlow: not bit for bit the same.
    done = run_in_process(capsys, "digits", "export", "--model-path", trained_digits, "--format", "onnx",
                          "--out", out, "--force", "--tolerance", "0")
    assert done.returncode == 1 and "differs from the Keras model" in done.stderr and "tolerance 0" in done.stderr
    assert [path.name for path in tmp_path.iterdir()] == ["taken"]  # no temporary directory left
    assert [path.name for path in out.iterdir()] == ["keep.txt"]


def test_export_refuses_an_unknown_format(capsys, tmp_path, trained_digits):
    done = run_in_process(capsys, "digits", "export", "--model-path", trained_digits, "--format", "tflite",
                          "--out", tmp_path / "out")
    assert done.returncode == 2 and "'tflite' is not one of 'litert', 'onnx', 'savedmodel'" in done.stderr
    assert not (tmp_path / "out").exists()


def test_export_needs_the_tensorflow_backend(capsys, tmp_path, trained_digits, monkeypatch):
    import keras

    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    done = run_in_process(capsys, "digits", "export", "--model-path", trained_digits, "--format", "onnx",
                          "--out", tmp_path / "out")
    assert done.returncode == 1 and "run it with KERAS_BACKEND=tensorflow" in done.stderr
    assert not (tmp_path / "out").exists()


def test_export_names_what_a_format_lacks(capsys, tmp_path, trained_digits, monkeypatch):
    import nnkit.export.formats

    monkeypatch.setattr(nnkit.export.formats, "missing_packages", lambda format_name: ["ai_edge_litert"])
    done = run_in_process(capsys, "digits", "export", "--model-path", trained_digits, "--format", "litert",
                          "--out", tmp_path / "out")
    assert done.returncode == 1 and "needs ai_edge_litert: pip install 'nnkit[export]'" in done.stderr
