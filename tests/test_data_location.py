"""One data-location rule for every task: `--data DIR` (or $NNKIT_DATA_DIR) is the dataset's own
folder or a folder that holds it under its usual name, and a dataset found in neither place is
one line naming the layout expected and both places looked in (nnkit.data.files.locate)."""

import gzip

import numpy as np
import pytest

import tiny_models
from nnkit.config import load_config
from nnkit.data.files import locate
from nnkit.errors import NnkitError
from nnkit.registry import load_task


def write_mnist(folder):
    folder.mkdir(parents=True)
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    for name, array, magic in (("t10k-images-idx3-ubyte.gz", images, b"\x00\x00\x08\x03"),
                               ("t10k-labels-idx1-ubyte.gz", np.array([1, 2, 3], np.uint8), b"\x00\x00\x08\x01")):
        dims = b"".join(size.to_bytes(4, "big") for size in array.shape)
        (folder / name).write_bytes(gzip.compress(magic + dims + array.tobytes()))


def write_atis(folder):
    (folder / "test").mkdir(parents=True)
    for name, text in (("seq.in", "fly to boston\n"), ("seq.out", "O O B-toloc\n"), ("label", "atis_flight\n")):
        (folder / "test" / name).write_text(text)


def write_ptb(folder):
    folder.mkdir(parents=True)
    (folder / "ptb.test.txt").write_text("the cat sat\non the mat\n")


def write_multi30k(folder):
    folder.mkdir(parents=True)
    for language, text in (("de", "Ein Hund läuft .\n"), ("en", "A dog runs .\n")):
        (folder / f"test_2016_flickr.{language}.gz").write_bytes(gzip.compress(text.encode()))


def write_flickr8k(folder):
    """tiny_models writes the dataset into <root>/flickr8k/; here it is moved to `folder`."""
    maker = folder.parent.parent / "maker"
    maker.mkdir()
    folder.parent.mkdir(parents=True, exist_ok=True)
    (tiny_models.write_flickr_layout(maker) / "flickr8k").rename(folder)


def examples_in(test):
    """How many test examples load_data read, whatever form the task keeps them in."""
    for attribute in ("sources", "photos"):  # translation, captioning
        if hasattr(test, attribute):
            return len(getattr(test, attribute))
    if isinstance(test, dict):  # language modelling: word ids per split
        return len(test["test"])
    return len(test[0]) if isinstance(test, tuple) else len(test)


# task -> (the usual folder name under a data directory, a writer of a tiny dataset, test examples)
DATASETS = {
    "digits": ("mnist", write_mnist, 3),
    "slots": ("atis", write_atis, 1),
    "lm": ("ptb", write_ptb, 9),  # the stream of words: <eos>, then each line's words and an <eos>
    "translate": ("multi30k", write_multi30k, 1),
    "caption": ("flickr8k", write_flickr8k, 4),
}


@pytest.mark.parametrize("task_name", sorted(DATASETS))
@pytest.mark.parametrize("form", ["the dataset's own folder", "a folder holding it"])
def test_data_is_the_dataset_folder_or_a_folder_holding_it(task_name, form, tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_OFFLINE", "1")
    name, write, count = DATASETS[task_name]
    write(tmp_path / "holder" / name)
    data = tmp_path / "holder" / name if form == "the dataset's own folder" else tmp_path / "holder"
    task = load_task(task_name)
    test = task.load_data(load_config(task_name), data, splits=("test",)).test
    assert examples_in(test) == count


@pytest.mark.parametrize("task_name", sorted(DATASETS))
def test_a_missing_dataset_is_one_line_with_the_layout_and_both_places(task_name, tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_OFFLINE", "1")
    task = load_task(task_name)
    with pytest.raises(NnkitError) as raised:
        task.load_data(load_config(task_name), tmp_path, splits=("test",))
    message = str(raised.value)
    assert "\n" not in message and task.data_layout in message and "NNKIT_OFFLINE" in message
    assert f"'{tmp_path}'" in message and f"'{tmp_path / DATASETS[task_name][0]}'" in message


def test_the_environment_variable_follows_the_same_rule(tmp_path, monkeypatch):
    write_ptb(tmp_path / "corpus")
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "corpus"))
    assert locate(None, "ptb", ["ptb.test.txt"], "PTB") == tmp_path / "corpus"
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path))
    (tmp_path / "corpus").rename(tmp_path / "ptb")
    assert locate(None, "ptb", ["ptb.test.txt"], "PTB") == tmp_path / "ptb"


def test_alternatives_and_what_cannot_be_downloaded(tmp_path, monkeypatch):
    monkeypatch.delenv("NNKIT_OFFLINE", raising=False)
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "label").write_text("x\n")
    assert locate(tmp_path, "atis", [("valid/label", "dev/label")], "ATIS") == tmp_path
    # Nothing to download it from: refused at once, online or not, naming both places.
    with pytest.raises(NnkitError, match=r"no photos in '.*' or in '.*flickr8k'; pass --data"):
        locate(tmp_path, "flickr8k", ["images"], "photos", sources={"other.zip": ("https://example.invalid", "0")})


def test_a_download_goes_into_the_named_folder(tmp_path, monkeypatch):
    import hashlib

    monkeypatch.delenv("NNKIT_OFFLINE", raising=False)
    upstream = tmp_path / "upstream.txt"
    upstream.write_text("the cat\n")
    md5 = hashlib.md5(upstream.read_bytes()).hexdigest()
    data = tmp_path / "data"
    data.mkdir()
    folder = locate(data, "ptb", ["ptb.test.txt"], "PTB", sources={"ptb.test.txt": (upstream.as_uri(), md5)})
    assert folder == data / "ptb" and (folder / "ptb.test.txt").read_text() == "the cat\n"


@pytest.mark.parametrize("task_name", [*sorted(DATASETS), "xo"])
def test_every_task_declares_the_layout_it_reads(task_name):
    layout = load_task(task_name).data_layout
    assert layout and "\n" not in layout


def test_a_download_fetches_the_optional_files_too(tmp_path, monkeypatch):
    """ATIS's valid split is optional in a user's folder, but downloading ATIS fetches it."""
    import hashlib

    monkeypatch.delenv("NNKIT_OFFLINE", raising=False)
    sources = {}
    for name in ("train.txt", "valid.txt"):
        (tmp_path / name).write_text(name)
        sources[name] = ((tmp_path / name).as_uri(), hashlib.md5(name.encode()).hexdigest())
    folder = locate(tmp_path / "data", "corpus", ["train.txt"], "a corpus", sources)
    assert sorted(path.name for path in folder.iterdir()) == ["train.txt", "valid.txt"]
