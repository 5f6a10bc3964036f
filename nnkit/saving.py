"""Saving and loading models with their metadata, never leaving a half-written file behind.

A saved model is a directory holding `model.keras` and `metadata.json`. The metadata is also
stored inside the `.keras` zip (as `nnkit.json`), so the `.keras` file alone is enough to
predict: it holds the weights, the preprocessing layers and what the task needs to decode.
"""

import json
import os
import tempfile
import zipfile
from contextlib import contextmanager
from importlib.util import find_spec
from pathlib import Path

from nnkit.errors import NnkitError, UsageError

MODEL_FILE = "model.keras"
METADATA_FILE = "metadata.json"
METADATA_IN_ZIP = "nnkit.json"
FORMAT_VERSION = 1


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; it replaces `path` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep every suffix: Keras insists on names ending in ".keras" or ".weights.h5".
    suffix = "".join(path.suffixes)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name[: -len(suffix) or None]}-", suffix=suffix)
    os.close(handle)
    try:
        yield temporary
        os.chmod(temporary, 0o666 & ~_umask())  # mkstemp makes 0600; saved files follow the umask
        os.replace(temporary, path)
    except OSError as error:
        # A full disk, say: the writer names no file (HDF5, zip) or the temporary one, so the
        # error names the file the user knows of (nnkit.cli.main tells them in one line).
        if error.errno is None or error.filename not in (None, temporary):
            raise
        raise OSError(error.errno, os.strerror(error.errno), str(path)) from error
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


@contextmanager
def atomic_directory(path, replace=False):
    """Yield a temporary directory beside `path`; it becomes `path` only if the block succeeds.
    An existing `path` that holds files is refused, unless `replace`: then it is swapped out
    whole at the end, so a failure leaves it as it was."""
    import shutil

    path = Path(path)
    if path.exists() and not path.is_dir():
        raise UsageError(f"'{path}' is a file, not a directory")
    if path.is_dir() and any(path.iterdir()) and not replace:
        raise UsageError(f"'{path}' already exists and is not empty (pass --force to replace it)")
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-"))
    old = None
    try:
        yield temporary
        os.chmod(temporary, 0o777 & ~_umask())  # mkdtemp makes 0700; directories follow the umask
        if path.exists():
            old = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}-old-"))
            os.replace(path, old)  # onto an empty directory: allowed, and atomic
        os.replace(temporary, path)
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
        if old is not None:
            if not path.exists():  # the second rename failed: put the old one back
                os.replace(old, path)
            shutil.rmtree(old, ignore_errors=True)


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def write_json(data, path):
    with atomic_path(path) as temporary:
        _dump_json(data, temporary)


def _dump_json(data, path):
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
        handle.write("\n")


def save_model(model, directory, metadata):
    """Write `directory/model.keras` (metadata inside) and `directory/metadata.json`. Both are
    written in full before either replaces the file there, so a failure (a full disk) leaves
    the model that was there whole, never a new model beside the old one's metadata. (Training
    saves through nnkit.export.inference.save_with_artifacts, which adds the ONNX artifacts.)"""
    directory = Path(directory)
    metadata = {"format_version": FORMAT_VERSION, **metadata}
    with atomic_path(directory / METADATA_FILE) as metadata_file:
        _dump_json(metadata, metadata_file)
        with atomic_path(directory / MODEL_FILE) as model_file:
            model.save(model_file)
            with zipfile.ZipFile(model_file, "a") as archive:
                archive.writestr(METADATA_IN_ZIP, json.dumps(metadata, indent=2, sort_keys=True))
    return directory / MODEL_FILE


def resolve_model_file(path):
    path = Path(path)
    model_file = path / MODEL_FILE if path.is_dir() else path
    if not model_file.is_file():
        raise NnkitError(f"no saved model at '{path}' (train one first, or pass --model-path)")
    return model_file


def read_metadata(path):
    """The metadata stored inside a saved model, without loading Keras."""
    model_file = resolve_model_file(path)
    try:
        with zipfile.ZipFile(model_file) as archive:
            if METADATA_IN_ZIP not in archive.namelist():
                raise NnkitError(f"'{model_file}' is a Keras file but not an nnkit model (no {METADATA_IN_ZIP} inside)")
            return json.loads(archive.read(METADATA_IN_ZIP))
    except (zipfile.BadZipFile, OSError, json.JSONDecodeError) as error:
        raise NnkitError(f"'{model_file}' is not a readable .keras model file ({error})")


def _checked_metadata(path, expected_task):
    metadata = read_metadata(path)
    if expected_task and metadata.get("task") != expected_task:
        raise UsageError(
            f"'{path}' holds a model of task '{metadata.get('task')}', not '{expected_task}'"
        )
    return metadata


def load_model(path, expected_task=None):
    """Load (model, metadata); the task is checked before Keras reads the weights."""
    metadata = _checked_metadata(path, expected_task)
    from nnkit.backend import import_keras_quietly

    keras = import_keras_quietly()  # TensorFlow's start-up lines on stderr are no news to the user
    import nnkit.layers  # noqa: F401  registers nnkit's custom layers before Keras looks for them
    from nnkit.registry import TASKS, import_task_layers

    if metadata.get("task") not in TASKS:
        raise NnkitError(f"'{path}' holds a model of task '{metadata.get('task')}', which is not installed "
                         f"(installed: {', '.join(sorted(TASKS))})")
    import_task_layers(metadata["task"])
    try:
        # Safe mode, said outright: a saved file must not run code of its own (a Lambda's bytecode).
        model = keras.saving.load_model(resolve_model_file(path), compile=False, safe_mode=True)
    except Exception as error:  # Keras raises many kinds for damaged archives
        raise NnkitError(f"cannot load the model in '{path}': {type(error).__name__}: {error}")
    return model, metadata


def load_predictor(path, expected_task=None, runtime="auto"):
    """Load a saved model as its task's Predictor, which takes raw inputs; see `open_predictor`."""
    return open_predictor(path, expected_task, runtime)[0]


def open_predictor(path, expected_task=None, runtime="auto"):
    """(the saved model at `path` as its task's Predictor, its metadata). `runtime` "onnx" runs
    its ONNX artifacts with ONNX Runtime, importing neither Keras nor TensorFlow; "keras" its
    .keras file; "auto" the artifacts where they can run (nnkit.runtime.onnx_unavailable), else Keras."""
    from nnkit.registry import TASKS, load_task
    from nnkit.runtime import RUNTIMES, onnx_directory, onnx_unavailable

    if not isinstance(path, (str, os.PathLike)):  # nnkit.load(None): say so, not a TypeError from pathlib
        raise UsageError(f"a saved model's path must be a str or a pathlib.Path, got {type(path).__name__}")
    if runtime not in RUNTIMES:
        raise UsageError(f"runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
    if runtime != "keras":
        metadata = _checked_metadata(path, expected_task)
        if metadata.get("task") in TASKS:
            task = load_task(metadata["task"])
            why_not = onnx_unavailable(path, metadata, task)
            if why_not is None:
                from nnkit.runtime.onnx import Artifacts

                return task.make_onnx_predictor(Artifacts(onnx_directory(path)), metadata), metadata
            fix = (f"add the artifacts with `nnkit {task.name} export --format onnx --into-model --model-path "
                   f"{path}` where Keras and TensorFlow are installed")
            if runtime == "onnx":
                raise NnkitError(f"cannot run '{path}' with ONNX Runtime: {why_not} ({fix}, or use --runtime keras)")
            if find_spec("keras") is None:  # an inference-only install
                raise NnkitError(f"cannot run '{path}': {why_not}, and Keras is not installed ({fix})")
    model, metadata = load_model(path, expected_task)
    return load_task(metadata["task"]).make_predictor(model, metadata), metadata
