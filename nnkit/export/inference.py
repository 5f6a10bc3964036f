"""The ONNX artifacts a saved model carries for inference without Keras (nnkit.runtime).

When training saves a model, TensorFlow is loaded anyway: the task's export plan is converted to
ONNX then, checked in ONNX Runtime against Keras as `nnkit <task> export` checks it, and put in
the model's onnx/ directory with its manifest, whose `model_digest` ties it to the model's
metadata. Where that cannot be done (another backend, tf2onnx or onnxruntime missing, a failed
conversion or check, NNKIT_SAVE_ONNX=0) the model is saved all the same, its metadata says why
(`inference.onnx_skipped`), and it runs in Keras. `nnkit <task> export --format onnx
--into-model` adds the artifacts to a model saved without them.
"""

import os
import shutil
import tempfile
from pathlib import Path

from nnkit.runtime import MANIFEST, ONNX_DIRECTORY, SAVE_ONNX_VARIABLE, metadata_digest

FORMAT = "onnx"


def skip_reason():
    """Why no ONNX artifacts can be made here, before trying; None when they can."""
    from nnkit.export.formats import missing_packages

    if os.environ.get(SAVE_ONNX_VARIABLE, "").strip().lower() in ("0", "false", "no", "off"):
        return f"{SAVE_ONNX_VARIABLE}={os.environ[SAVE_ONNX_VARIABLE]}"
    import keras

    if keras.backend.backend() != "tensorflow":
        return f"the {keras.backend.backend()} backend (the conversion traces TensorFlow graphs)"
    missing = missing_packages(FORMAT)
    if missing:
        return f"{', '.join(missing)} not installed (pip install 'nnkit[export]')"
    return None


def convert(task, model, metadata, into):
    """Write the task's ONNX artifacts and their manifest into the directory `into`, each
    checked in ONNX Runtime; returns (manifest, None), or (None, why not) on any failure."""
    from nnkit.export.formats import export_plan_to

    try:
        return export_plan_to(Path(into), task, model, metadata, FORMAT, metadata_file=False), None
    except Exception as error:  # a model the converter or the plan cannot take: saved without artifacts
        text = " ".join(str(error).split()) or type(error).__name__
        return None, f"the conversion failed: {text[:300]}"


def save_with_artifacts(task, model, directory, metadata):
    """nnkit.saving.save_model, and the ONNX artifacts beside the model in `directory`/onnx, or
    the reason in its metadata when there are none. Returns the metadata written. A stale onnx/
    of an earlier model there is replaced or removed."""
    from nnkit.saving import FORMAT_VERSION, atomic_directory, save_model, write_json

    metadata = {"format_version": FORMAT_VERSION, **metadata}  # as save_model writes it: the digest covers it
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=directory, prefix=f".{ONNX_DIRECTORY}-"))
    try:
        reason = skip_reason()
        manifest = None
        if reason is None:
            manifest, reason = convert(task, model, metadata, staging)
        if manifest is None:
            metadata = {**metadata, "inference": {"onnx_skipped": reason}}
            if not reason.startswith(SAVE_ONNX_VARIABLE):  # asked for: nothing to say
                print(f"note: saved without ONNX artifacts ({reason}): the model runs in Keras", flush=True)
        else:
            metadata = {**metadata, "inference": {"onnx": ONNX_DIRECTORY,
                                                  "max_abs_difference": manifest["max_abs_difference"]}}
            write_json({**manifest, "model_digest": metadata_digest(metadata)}, staging / MANIFEST)
        save_model(model, directory, metadata)
        if manifest is None:
            shutil.rmtree(directory / ONNX_DIRECTORY, ignore_errors=True)
        else:
            with atomic_directory(directory / ONNX_DIRECTORY, replace=True) as target:
                for path in staging.iterdir():
                    os.replace(path, target / path.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return metadata


def add_to_saved_model(task, path, tolerance=None):
    """The ONNX artifacts of the saved model at `path` (written before this existed, or without
    them), put in its onnx/ directory; returns their manifest. Errors are NnkitError's."""
    from nnkit.export.formats import TOLERANCE, export_plan_to
    from nnkit.runtime import onnx_directory
    from nnkit.saving import atomic_directory, load_model, write_json

    model, metadata = load_model(path, expected_task=task.name)
    with atomic_directory(onnx_directory(path), replace=True) as target:
        manifest = export_plan_to(target, task, model, metadata, FORMAT, tolerance or TOLERANCE,
                                  metadata_file=False)
        manifest = {**manifest, "model_digest": metadata_digest(metadata)}
        write_json(manifest, target / MANIFEST)
    return manifest
