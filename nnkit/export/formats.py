"""Writing a saved model for other runtimes, and checking that it still computes the same.

Each artifact of a task's `ExportPlan` is converted by Keras's own `Model.export` (a TensorFlow
SavedModel through Keras's ExportArchive, ONNX through tf2onnx, LiteRT through the TFLite
converter, with built-in operators only, so that the plain LiteRT runtime runs it), loaded back
in the runtime that will serve it (TensorFlow, ONNX Runtime, the LiteRT interpreter), and run on
the plan's sample inputs beside the Keras model: the largest difference of any output must stay
within the tolerance. All three conversions trace TensorFlow graphs: this module needs the
TensorFlow backend. (Keras and TensorFlow are imported where they are used, so that the
command's --help can read FORMATS without them.)
"""

import importlib.metadata
import os
import sys
import tempfile
import warnings
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from nnkit.errors import NnkitError


@dataclass(frozen=True)
class Format:
    keras_name: str  # what Model.export calls it
    suffix: str  # of the artifact's file (a SavedModel is a directory)
    runtime: str  # what loads it back for the check
    packages: tuple  # Python modules beyond TensorFlow, to convert and to run it
    usage: str  # how to call an artifact, for the manifest


FORMATS = {
    "savedmodel": Format("tf_saved_model", "", "TensorFlow", (), "tf.saved_model.load(FILE).signatures"
                         "['serving_default'](**inputs) -> {output name: tensor}"),
    "onnx": Format("onnx", ".onnx", "ONNX Runtime", ("tf2onnx", "onnx", "onnxruntime"),
                   "onnxruntime.InferenceSession(FILE).run([output names], {input name: array})"),
    "litert": Format("litert", ".tflite", "LiteRT", ("ai_edge_litert",), "ai_edge_litert.interpreter.Interpreter("
                     "model_path=FILE).get_signature_runner('serving_default')(**inputs) -> {output name: array}"),
}
# float32 outputs computed by other kernels, in another order, differ in the last few bits;
# 1e-4 is far above that and far below any difference that changes a prediction.
TOLERANCE = 1e-4
MANIFEST = "export.json"
METADATA = "metadata.json"


def missing_packages(format_name):
    """The Python modules `format_name` needs that are not installed."""
    from importlib.util import find_spec

    return [module for module in FORMATS[format_name].packages if find_spec(module) is None]


def export_plan_to(directory, task, model, metadata, format_name, tolerance=TOLERANCE, batch_size=None,
                   metadata_file=True):
    """Write every artifact of the task's plan into `directory`, check each in its runtime, and
    write the manifest `export.json` and (with `metadata_file`) `metadata.json`; returns the manifest."""
    from nnkit.saving import write_json

    plan = task.export_plan(model, metadata)
    artifacts = [export_artifact(artifact, format_name, directory, tolerance, batch_size)
                 for artifact in plan.artifacts]
    manifest = {
        "task": metadata["task"], "format": format_name, "runtime": FORMATS[format_name].runtime,
        "usage": FORMATS[format_name].usage,
        "artifacts": artifacts, "tolerance": tolerance,
        "max_abs_difference": max(artifact["max_abs_difference"] for artifact in artifacts),
        "processing": plan.processing, "notes": plan.notes,
        "metadata_file": METADATA if metadata_file else f"../{METADATA}",
        "versions": versions(format_name),
    }
    if metadata_file:
        write_json(metadata, directory / METADATA)
    write_json(manifest, directory / MANIFEST)
    return manifest


def export_artifact(artifact, format_name, directory, tolerance, batch_size):
    """Convert one artifact, run it in its runtime and compare; its manifest entry."""
    import keras

    from nnkit.export.graphs import inference_graph

    model, form = artifact.model, FORMATS[format_name]
    if not isinstance(model.input, dict):
        raise ValueError(f"export artifact '{artifact.name}' must take a dict of named inputs")
    # LiteRT's built-in operators run a recurrent loop only over a batch of known size.
    fixed = batch_size or (1 if format_name == "litert" and has_recurrence(model) else None)
    samples = {name: np.asarray(artifact.sample_inputs[name], tensor.dtype) for name, tensor in model.input.items()}
    path = directory / f"{artifact.name}{form.suffix}"
    signature = [{name: keras.InputSpec(shape=(fixed, *tensor.shape[1:]), dtype=tensor.dtype, name=name)
                  for name, tensor in model.input.items()}]
    options = {}
    if format_name == "litert":
        import tensorflow as tf

        options["target_spec"] = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    with quiet() as log:
        try:
            inference_graph(model).export(str(path), format=form.keras_name, input_signature=signature,
                                          verbose=False, **options)
        except Exception as error:
            raise NnkitError(f"cannot convert '{artifact.name}' to {format_name}: {reason(error, log)}")
        expected = model.predict_on_batch(samples)
        try:
            exported = run_in_batches(LOADERS[format_name](path), samples, fixed)
        except Exception as error:
            raise NnkitError(f"{form.runtime} cannot run the exported '{artifact.name}': {reason(error, log)}")
    differences = compare(expected, exported, artifact.name, form.runtime)
    largest = max(differences.values())
    if not largest <= tolerance:  # also when NaN
        worst = max(differences, key=differences.get)
        raise NnkitError(f"the exported '{artifact.name}' differs from the Keras model: output '{worst}' by up to "
                         f"{largest:.3g}, over the tolerance {tolerance:g} (nothing was written)")

    def described(tensor, name):
        return {"name": name, "shape": [fixed, *tensor.shape[1:]], "dtype": str(tensor.dtype)}

    return {"name": artifact.name, "file": path.name, "description": artifact.description, "batch_size": fixed,
            "inputs": [described(tensor, name) for name, tensor in model.input.items()],
            "outputs": [{**described(tensor, name), "max_abs_difference": differences[name]}
                        for name, tensor in model.output.items()],
            "samples_checked": len(next(iter(samples.values()))), "max_abs_difference": largest}


def has_recurrence(model):
    """Whether a recurrent layer sits anywhere in `model`, inside wrappers and nested models too
    (Keras's own walk over every layer it tracks)."""
    import keras

    return any(isinstance(layer, keras.layers.RNN) for layer in model._flatten_layers())


def run_in_batches(function, inputs, batch_size):
    """`function(inputs)` on all the rows at once, or `batch_size` rows at a time (the last
    batch filled up with repeated rows, whose outputs are dropped), the outputs joined."""
    rows = len(next(iter(inputs.values())))
    if not batch_size or batch_size == rows:
        return function(inputs)
    parts = []
    for start in range(0, rows, batch_size):
        batch = {name: np.resize(value[start: start + batch_size], (batch_size, *value.shape[1:]))
                 for name, value in inputs.items()}
        parts.append({name: np.asarray(value)[: rows - start] for name, value in function(batch).items()})
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}


def compare(expected, exported, name, runtime):
    """{output name: largest absolute difference}; a missing or misshapen output is an error."""
    differences = {}
    for output, want in expected.items():
        if output not in exported:
            raise NnkitError(f"the exported '{name}' has no output '{output}' in {runtime} "
                             f"(it has {', '.join(sorted(exported))})")
        have, want = np.asarray(exported[output]), np.asarray(want)
        if have.shape != want.shape:
            raise NnkitError(f"the exported '{name}' gives '{output}' of shape {have.shape} in {runtime}, "
                             f"Keras {want.shape}")
        differences[output] = float(np.max(np.abs(have.astype(np.float64) - want.astype(np.float64)), initial=0.0))
    return differences


def load_savedmodel(path):
    import tensorflow as tf

    function = tf.saved_model.load(str(path)).signatures["serving_default"]
    return lambda inputs: {name: value.numpy() for name, value in function(**inputs).items()}


def load_onnx(path):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return lambda inputs: dict(zip(names, session.run(names, inputs)))


def load_litert(path):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=str(path)).get_signature_runner("serving_default")
    return lambda inputs: runner(**inputs)


LOADERS = {"savedmodel": load_savedmodel, "onnx": load_onnx, "litert": load_litert}


def versions(format_name):
    """The versions of what converted and checked the artifacts, by distribution name."""
    found = {}
    for package in ("keras", "tensorflow", "tensorflow-cpu", *FORMATS[format_name].packages):
        package = package.replace("_", "-")
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            pass
    return found


@contextmanager
def quiet():
    """Converters and runtimes write C++ logs to file descriptor 2 and Python warnings; keep
    them (the log is yielded, for an error message) unless NNKIT_DEBUG is set."""
    with tempfile.TemporaryFile(mode="w+") as log, warnings.catch_warnings():
        if os.environ.get("NNKIT_DEBUG"):
            yield log
            return
        warnings.simplefilter("ignore")
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(log.fileno(), 2)
        try:
            yield log
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


def reason(error, log):
    """One line saying why a conversion or run failed: the first line that says 'error'."""
    log.seek(0)
    lines = [line.strip() for line in (str(error).splitlines() + log.read().splitlines()) if line.strip()]
    errors = [line for line in lines if "error" in line.lower()]
    found = (errors or lines or [type(error).__name__])[0]
    return found if len(found) <= 300 else found[:297] + "..."
