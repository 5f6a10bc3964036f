"""`--data tfds:NAME`, with TensorFlow Datasets' own mock data (no download)."""

import pytest

from nnkit.errors import UsageError

from conftest import TINY_TRAINING, run_nnkit

tfds = pytest.importorskip("tensorflow_datasets", reason="tensorflow-datasets is not installed (pip install -e '.[tfds]')")


def test_load_image_classification_from_mock_data():
    from nnkit.data.tfds_source import load_image_classification

    with tfds.testing.mock_data(num_examples=12):
        loaded, class_names = load_image_classification("mnist", ("train", "test"))
    images, labels = loaded["test"]
    assert images.shape == (12, 28, 28) and images.dtype.name == "uint8"
    assert labels.dtype.name == "int64" and class_names == [str(d) for d in range(10)]


def test_digits_trains_on_a_tfds_source(tmp_path):
    from nnkit.config import load_config
    from nnkit.registry import load_task
    from nnkit.training.run import train

    config = load_config("digits", overrides=["data.source=tfds:mnist", "training.epochs=1", "model.width=4",
                                              "model.dense_units=8", "training.warmup_epochs=0"])
    with tfds.testing.mock_data(num_examples=40):
        metadata = train(load_task("digits"), config, tmp_path, verbose=0)
    assert metadata["data"]["source"] == "tfds:mnist" and metadata["metrics"]["test"]["examples"] == 40


def test_offline_and_unknown_datasets_fail_at_once(tmp_path):
    from nnkit.data.tfds_source import load_image_classification

    with pytest.raises(UsageError, match="unknown TFDS dataset"):
        load_image_classification("no_such_dataset_anywhere", ("test",))
    done = run_nnkit("digits", "train", "--data", "tfds:mnist", "--output", tmp_path / "out", *TINY_TRAINING,
                     env={"NNKIT_OFFLINE": "1", "TFDS_DATA_DIR": str(tmp_path / "tfds")})
    assert done.returncode == 1 and "offline, so nothing was downloaded" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
