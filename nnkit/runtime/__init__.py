"""Running a saved model for inference: in Keras, or with ONNX Runtime and neither Keras nor
TensorFlow.

Training writes, beside `model.keras`, the ONNX artifacts of the task's export plan in
`onnx/` (nnkit.export.inference), checked there against Keras. `nnkit.load(path, runtime=...)`
picks the runtime: "onnx" runs those artifacts (nnkit.runtime.onnx), "keras" the `.keras` file,
"auto" the artifacts where they are present, current and ONNX Runtime is installed, else Keras.
This module stays light (no ONNX Runtime, no Keras): the CLI reads RUNTIMES for its --help.
"""

import hashlib
import json
from importlib.util import find_spec
from pathlib import Path

RUNTIMES = ("auto", "onnx", "keras")
ONNX_DIRECTORY = "onnx"  # in the saved model's directory
MANIFEST = "export.json"  # in ONNX_DIRECTORY, as `nnkit <task> export` names it
# Set to 0 (or false, no) to save models without their ONNX artifacts: quicker saves, Keras-only
# inference (the test suite's many tiny trainings do; dedicated tests cover the default).
SAVE_ONNX_VARIABLE = "NNKIT_SAVE_ONNX"


def metadata_digest(metadata):
    """What ties the ONNX artifacts to the one model they were made from: a digest of its
    metadata (its creation time, config and training record, weights digest included)."""
    as_saved = json.loads(json.dumps(metadata))  # as read back: tuples are lists, keys strings
    return hashlib.sha256(json.dumps(as_saved, sort_keys=True).encode()).hexdigest()[:16]


def onnx_directory(path):
    """The ONNX artifacts' directory of the saved model at `path` (its directory or model.keras)."""
    path = Path(path)
    return (path if path.is_dir() else path.parent) / ONNX_DIRECTORY


def onnx_unavailable(path, metadata, task):
    """Why the saved model at `path` cannot run with ONNX Runtime, in a few words; None if it can."""
    from nnkit.task import Task

    if type(task).make_onnx_predictor is Task.make_onnx_predictor:
        return f"task '{task.name}' has no ONNX predictor"
    directory = onnx_directory(path)
    manifest_file = directory / MANIFEST
    if not manifest_file.is_file():
        skipped = metadata.get("inference", {}).get("onnx_skipped")
        return f"it has no ONNX artifacts ({skipped})" if skipped else "it has no ONNX artifacts"
    try:
        manifest = json.loads(manifest_file.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return f"its {ONNX_DIRECTORY}/{MANIFEST} is unreadable ({error})"
    if manifest.get("model_digest") != metadata_digest(metadata):
        return f"its ONNX artifacts in '{directory}' were made from another model"
    if find_spec("onnxruntime") is None:
        return "onnxruntime is not installed"
    return None

