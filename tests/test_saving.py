import zipfile

import keras
import numpy as np
import pytest

from nnkit.errors import NnkitError, UsageError
from nnkit.saving import atomic_path, load_model, load_predictor, read_metadata, save_model


def tiny_model():
    inputs = keras.Input((3,))
    return keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(inputs))


def test_atomic_path_keeps_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "model.keras"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as temporary:
            open(temporary, "w").write("half")
            raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.keras"]  # no temporary left behind


def test_saved_model_is_self_contained(tmp_path):
    model = tiny_model()
    save_model(model, tmp_path / "a", {"task": "digits", "data": {"class_names": ["x", "y"]}})
    lone = tmp_path / "lone.keras"
    lone.write_bytes((tmp_path / "a" / "model.keras").read_bytes())  # the .keras file alone
    reloaded, metadata = load_model(lone, expected_task="digits")
    assert metadata["data"]["class_names"] == ["x", "y"] and metadata["format_version"] == 1
    inputs = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(model.predict(inputs, verbose=0), reloaded.predict(inputs, verbose=0))


def test_wrong_task_is_refused_before_loading(tmp_path):
    save_model(tiny_model(), tmp_path, {"task": "lm"})
    with pytest.raises(UsageError, match="holds a model of task 'lm', not 'digits'"):
        load_predictor(tmp_path, expected_task="digits")


def test_missing_corrupt_and_foreign_files(tmp_path):
    with pytest.raises(NnkitError, match="no saved model"):
        read_metadata(tmp_path / "nothing")
    (tmp_path / "corrupt.keras").write_bytes(b"PK\x03\x04 definitely not a zip")
    with pytest.raises(NnkitError, match="not a readable .keras model"):
        read_metadata(tmp_path / "corrupt.keras")
    tiny_model().save(tmp_path / "plain.keras")
    with pytest.raises(NnkitError, match="not an nnkit model"):
        read_metadata(tmp_path / "plain.keras")
    # An nnkit archive whose weights are damaged fails with one clear error too.
    save_model(tiny_model(), tmp_path / "damaged", {"task": "digits"})
    path = tmp_path / "damaged" / "model.keras"
    with zipfile.ZipFile(path) as archive:
        entries = {name: archive.read(name) for name in archive.namelist()}
    with zipfile.ZipFile(path, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content[: len(content) // 3] if name.endswith(".h5") else content)
    with pytest.raises(NnkitError, match="cannot load the model"):
        load_model(path)


def test_a_failed_save_leaves_the_saved_model_whole_and_names_the_file(tmp_path, monkeypatch):
    import errno

    import nnkit.saving

    save_model(tiny_model(), tmp_path, {"task": "digits"})
    before = {name: (tmp_path / name).read_bytes() for name in ("model.keras", "metadata.json")}

    def full_disk(*_):
        raise OSError(errno.ENOSPC, "No space left on device")  # as zip and HDF5 say it: naming no file

    with monkeypatch.context() as patched:
        patched.setattr(nnkit.saving, "_dump_json", full_disk)
        with pytest.raises(OSError) as raised:
            save_model(tiny_model(), tmp_path, {"task": "digits", "new": True})
    assert raised.value.errno == errno.ENOSPC and raised.value.filename == str(tmp_path / "metadata.json")
    with monkeypatch.context() as patched:
        patched.setattr(keras.Model, "save", full_disk)
        with pytest.raises(OSError, match="No space left on device") as raised:
            save_model(tiny_model(), tmp_path, {"task": "digits", "new": True})
    assert raised.value.filename == str(tmp_path / "model.keras")
    # Neither file was replaced, not even the one written in full: model and metadata still match.
    assert {name: (tmp_path / name).read_bytes() for name in before} == before
    assert sorted(path.name for path in tmp_path.iterdir()) == ["metadata.json", "model.keras"]
