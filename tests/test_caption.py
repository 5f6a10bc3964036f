"""The captioning app: photo reading, caption text, BLEU, encoders, the attention decoder, and
train -> evaluate -> predict -> reload on a tiny Flickr8k-layout dataset."""

import json

import numpy as np
import pytest
from PIL import Image

from conftest import data_dir, run_in_process
from tiny_models import CAPTIONS, COLOURS, photo
from nnkit.apps.caption.text import caption_words, corpus_bleu
from nnkit.apps.caption.data import ImageStore, load_photos, read_captions, read_split
from nnkit.data.photos import read_photo
from nnkit.errors import NnkitError, UsageError

def test_caption_words_lower_case_without_punctuation():
    assert caption_words("A dog, running on the BEACH.") == ["a", "dog", "running", "on", "the", "beach"]
    assert caption_words("A man's red t-shirt; 2 dogs!") == ["a", "man's", "red", "t-shirt", "2", "dogs"]
    assert caption_words(" ... ") == []


def test_bleu_against_hand_computed_values():
    references = [[["a", "dog", "runs"], ["the", "dog", "runs", "fast"]], [["a", "cat", "sits"]]]
    perfect = corpus_bleu([["the", "dog", "runs", "fast"], ["a", "cat", "sits"]], references)
    assert perfect == {"bleu_1": 1.0, "bleu_2": 1.0, "bleu_3": 1.0, "bleu_4": 1.0}
    # 'a dog' / 'a cat': 4 of 4 unigrams match; hypothesis length 4, closest reference lengths 3 + 3 = 6
    # (a tie between 3 and 4 words goes to the shorter),
    # so the brevity penalty is exp(1 - 6/4); bigrams: 2 of 2.
    scores = corpus_bleu([["a", "dog"], ["a", "cat"]], references, orders=(1, 2))
    assert scores["bleu_1"] == pytest.approx(np.exp(1 - 6 / 4), abs=1e-4)
    assert scores["bleu_2"] == pytest.approx(np.exp(1 - 6 / 4), abs=1e-4)


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P", "I;16"])
def test_any_photo_mode_reads_as_rgb_of_the_asked_size(tmp_path, mode):
    path = tmp_path / "photo.png" if mode != "CMYK" else tmp_path / "photo.jpg"
    photo("red", size=50).convert(mode).save(path)
    array = read_photo(path, 24)
    assert array.shape == (24, 24, 3) and array.dtype == np.uint8


def test_transparent_pixels_read_as_white(tmp_path):
    Image.new("RGBA", (20, 20), (0, 0, 0, 0)).save(tmp_path / "clear.png")
    assert read_photo(tmp_path / "clear.png", 16).min() == 255


def test_bad_photos_get_clear_errors(tmp_path, monkeypatch):
    (tmp_path / "notes.txt").write_text("not an image")
    with pytest.raises(NnkitError, match="not an image file"):
        read_photo(tmp_path / "notes.txt", 32)
    photo("red", size=8).save(tmp_path / "tiny.png")
    with pytest.raises(NnkitError, match="too small"):
        read_photo(tmp_path / "tiny.png", 32)
    photo("red", size=300).save(tmp_path / "huge.png")
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # 90,000 pixels is then more than twice too many
    with pytest.raises(NnkitError, match="too large"):
        read_photo(tmp_path / "huge.png", 32)
    with pytest.raises(NnkitError, match="no such file"):
        read_photo(tmp_path / "absent.jpg", 32)


def test_missing_and_corrupt_photos_are_skipped_and_counted(flickr_layout):
    captions = read_captions(flickr_layout)
    assert len(captions["missing_red.jpg"]) == 3
    names = read_split(flickr_layout, "train")
    photos, kept, skipped = load_photos(ImageStore(flickr_layout), names, 32)
    assert skipped == {"missing": ["missing_red.jpg"], "unreadable": ["corrupt_red.jpg"]}
    assert photos.shape == (24, 32, 32, 3) and len(kept) == 24


def test_malformed_captions_file_names_the_line(tmp_path):
    (tmp_path / "Flickr8k.token.txt").write_text("a.jpg#0\tA dog.\nb.jpg a caption without a tab\n")
    with pytest.raises(NnkitError, match="line 2"):
        read_captions(tmp_path)


@pytest.mark.parametrize("encoder, grid", [("small-cnn", (16, 64)), ("resnet", (16, 64)),
                                           ("keras-app:MobileNetV2", (4, 1280))])
def test_encoder_grid_shapes(encoder, grid):
    from nnkit.apps.caption.model import build_image_encoder

    model = build_image_encoder({"encoder": encoder, "encoder_width": 8}, 64, weights=None)
    assert tuple(model.output.shape[1:]) == grid
    assert model(np.zeros((2, 64, 64, 3), np.uint8)).shape == (2, *grid)


@pytest.mark.parametrize("encoder", ["inception", "keras-app:NoSuchNet", "keras-app:decode_predictions"])
def test_unknown_encoders_are_refused(encoder):
    from nnkit.config import load_config

    with pytest.raises(UsageError, match="config key 'model.encoder'"):  # before any photo is read
        load_config("caption", overrides=[f"model.encoder={encoder}"])


def test_imagenet_preprocessing_modes():
    from nnkit.layers import ImageNetPreprocessing

    pixels = np.array([[[[255.0, 0.0, 127.5]]]], np.float32)
    np.testing.assert_allclose(ImageNetPreprocessing("tf")(pixels), [[[[1.0, -1.0, 0.0]]]], atol=1e-6)
    np.testing.assert_allclose(ImageNetPreprocessing("caffe")(pixels), [[[[127.5 - 103.939, -116.779, 255 - 123.68]]]],
                               atol=1e-4)


def test_decoder_attends_over_every_grid_cell_and_never_writes_specials():
    import keras

    from nnkit.apps.caption.model import CaptionDecoder, build_caption_trainer, build_captioner, build_image_encoder

    keras.utils.set_random_seed(0)
    config = {"encoder": "small-cnn", "encoder_width": 4, "architecture": "lstm", "attention": "bahdanau",
              "layers": 1, "units": 16, "embedding_dim": 8, "dropout": 0.0}
    encoder = build_image_encoder(config, 32)
    trainer = build_caption_trainer(config, encoder.output.shape[1:], 12)
    decoder = CaptionDecoder(build_captioner(trainer, encoder, config), config)
    memory, mask, states = decoder.encode(np.zeros((3, 32, 32, 3), np.uint8))
    assert memory.shape == (3, 4, 16) and mask.all() and len(states) == 2
    logits, _, weights = decoder.step(np.full(3, 2, np.int32), memory, mask, states)
    assert weights.shape == (3, 4)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert (logits.argmax(axis=-1) >= 3).all() and logits[:, :3].max() < -1e8


def test_train_evaluate_predict_and_reload(trained_captioner, flickr_layout, tmp_path, capsys):
    output, training = trained_captioner
    assert "1 missing, 1 unreadable" in training.stderr  # the bad training photos, counted
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["data"]["encoder_pretraining"]["concepts"] >= 4
    assert not (output / "prepared").exists()  # the pretrained encoder lives inside model.keras

    evaluated = run_in_process(capsys, "caption", "evaluate", "--model-path", output, "--data", flickr_layout,
                               "--beam-size", "1", "--json", check=True)
    metrics = json.loads(evaluated.stdout)
    assert metrics["photos"] == 4 and metrics["references"] == 3 and metrics["beam_size"] == 1
    assert metrics["bleu_1"] >= 0.6  # "a red square" for red photos is learnable in 25 tiny epochs

    photo("blue", size=100, mode="CMYK").save(tmp_path / "blue.jpg")  # any size, any mode
    photo("red", size=64, mode="RGBA").save(tmp_path / "red.png")
    predicted = run_in_process(capsys, "caption", "predict", tmp_path / "red.png", tmp_path / "blue.jpg",
                               "--model-path", output, "--attention-plot", tmp_path / "where.png", "--json", check=True)
    results = json.loads(predicted.stdout)
    assert "red" in results[0]["captions"][0]["words"] and "blue" in results[1]["captions"][0]["words"]
    attention = np.asarray(results[0]["captions"][0]["attention"])
    np.testing.assert_allclose(attention.sum(axis=-1), 1.0, atol=1e-3)
    assert (tmp_path / "where.png").stat().st_size > 1000

    again = run_in_process(capsys, "caption", "predict", tmp_path / "red.png", "--model-path",
                           output / "model.keras", check=True)
    assert again.stdout.strip() == f"{tmp_path / 'red.png'}: {results[0]['captions'][0]['text']}"


def test_unknown_encoder_on_the_command_line(flickr_layout, tmp_path, capsys):
    done = run_in_process(capsys, "caption", "train", "--data", flickr_layout, "--encoder", "vgg99",
                          "--output", tmp_path / "m")
    assert done.returncode == 2 and "config key 'model.encoder'" in done.stderr and "'vgg99'" in done.stderr
    assert "Traceback" not in done.stderr


def test_real_flickr8k_slice_reads():
    root = data_dir()
    if not (root / "flickr8k" / "Flickr8k_text.zip").is_file():
        pytest.skip(f"Flickr8k not found under {root} (set NNKIT_DATA_DIR)")
    test = read_split(root, "test")
    assert len(test) == 1000 and len(read_split(root, "train")) == 6000
    photos, kept, skipped = load_photos(ImageStore(root), test[:5], 128)
    assert photos.shape == (5, 128, 128, 3) and not any(skipped.values())
    assert all(len(read_captions(root)[name]) == 5 for name in kept)


def test_python_api_takes_files_arrays_and_pil_images(trained_captioner, tmp_path):
    import nnkit

    output, _ = trained_captioner
    photo("red").save(tmp_path / "red.png")
    captioner = nnkit.load(output)
    results = captioner.predict([tmp_path / "red.png", np.asarray(photo("red", size=70)), photo("red", mode="P")],
                                beam_size=1)
    assert results[0]["input"] == str(tmp_path / "red.png") and results[1]["input"] is None  # JSON-able
    assert len({result["caption"] for result in results}) == 1  # the same photo, however it came


def write_photos(folder, count, prefix=""):
    """`count` red and `count` blue photos in `folder`: {name: its colour}."""
    folder.mkdir(parents=True, exist_ok=True)
    colours = {f"{prefix}{colour}{i}.jpg": colour for i in range(count) for colour in COLOURS}
    for name, colour in colours.items():
        photo(colour).save(folder / name)
    return colours


@pytest.mark.parametrize("name, text", [
    ("captions.txt", "image,caption\nred0.jpg,A red square.\nred0.jpg,\"a red, square block\"\nblue0.jpg,blue\n"),
    ("results.csv", "image_name| comment_number| comment\nred0.jpg| 0| A red square.\n"
                    "red0.jpg| 1| a red, square block\nblue0.jpg| 0| blue\n"),
    ("train.tsv", "red0.jpg#0\tA red square.\nred0.jpg#1\ta red, square block\n\nblue0.jpg\tblue\n"),
    ("captions_train2017.json", json.dumps({
        "images": [{"id": 7, "file_name": "red0.jpg"}, {"id": 9, "file_name": "blue0.jpg"}],
        "annotations": [{"image_id": 7, "caption": "A red square."}, {"image_id": 9, "caption": "blue"},
                        {"image_id": 7, "caption": "a red, square block"}]})),
])
def test_captions_files_tsv_csv_and_coco_json(tmp_path, name, text):
    from nnkit.apps.caption.files import read_captions_file

    (tmp_path / name).write_text(text)
    assert read_captions_file(tmp_path / name) == {"red0.jpg": ["A red square.", "a red, square block"],
                                                   "blue0.jpg": ["blue"]}


@pytest.mark.parametrize("name, text, problem", [
    ("captions.txt", "red0.jpg\tA red square.\nblue0.jpg a blue square\n", "line 2: expected 'image<TAB>caption'"),
    ("captions.csv", "image,caption\nred0.jpg,A red square.\n\nblue0.jpg\n", "line 4: 1 fields where the header"),
    ("captions.csv", "image,caption\nred0.jpg,\n", "line 2: an empty caption"),
    ("captions.json", '{"images": [],\n "annotations": [}', "line 2: not valid JSON"),
    ("captions.json", json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}],
                                  "annotations": [{"image_id": 2, "caption": "a"}]}), r"annotations\[0\]: needs"),
])
def test_bad_captions_files_name_the_file_and_line(tmp_path, name, text, problem):
    from nnkit.apps.caption.files import read_captions_file

    (tmp_path / name).write_text(text)
    with pytest.raises(UsageError, match=f"{tmp_path / name}.*{problem}"):
        read_captions_file(tmp_path / name)


def test_one_captions_file_holds_out_photos_by_seed_and_counts_missing_ones(tmp_path, capsys):
    from nnkit.apps.caption.data import caption_splits
    from nnkit.config import load_config
    from nnkit.registry import load_task

    colours = {**write_photos(tmp_path / "Images", 10), "absent.jpg": "red"}
    lines = [f"{name}\t{caption}" for name, colour in colours.items() for caption in CAPTIONS[colour]]
    (tmp_path / "captions.txt").write_text("\n".join(lines) + "\n")
    task, config = load_task("caption"), load_config("caption", overrides=["data.image_size=32"])
    splits = task.load_data(config, tmp_path)  # the photos are found in Images/
    assert splits.info["held_out"] == {"sampling": "seeded random", "seed": 1337, "train": 17, "valid": 2, "test": 2}
    assert "1 missing" in capsys.readouterr().err  # absent.jpg, wherever it was held out to
    # evaluate, given the file itself, finds the same test photos; another seed holds out others.
    test = task.load_data(config, tmp_path / "captions.txt", splits=("test",)).test
    assert test.names == splits.test.names
    assert test.references[0][0] == ["a", colours[test.names[0]], "square"]  # "A red square.", as words
    read, _ = caption_splits(tmp_path, ("train", "valid", "test"), config["data"], seed=3)
    assert read["test"][0] != test.names
    assert not set(read["train"][0]) & {*read["valid"][0], *read["test"][0]}  # a photo is on one side only


def test_split_files_are_used_where_present_and_the_images_folder_found(tmp_path):
    from nnkit.apps.caption.data import caption_splits

    (tmp_path / "annotations").mkdir()
    for split, count in (("train", 4), ("val", 1)):
        names = list(write_photos(tmp_path / f"{split}2017", count, prefix=split))
        document = {"images": [{"id": i, "file_name": name} for i, name in enumerate(names)],
                    "annotations": [{"image_id": i, "caption": "a square"} for i in range(len(names))]}
        (tmp_path / "annotations" / f"captions_{split}2017.json").write_text(json.dumps(document))
    data = {"validation_fraction": 0.1, "test_fraction": 0.25}
    read, held_out = caption_splits(tmp_path, ("train", "valid", "test"), data, seed=1)
    assert held_out == {"sampling": "seeded random", "seed": 1, "test": 2, "train": 6}  # no test file: held out
    assert read["valid"][0] == ["valred0.jpg", "valblue0.jpg"] and read["valid"][2].where == str(tmp_path / "val2017")
    assert read["train"][2].where == str(tmp_path / "train2017")


def test_a_broken_row_is_one_warning_and_skipped_unless_most_rows_are(tmp_path, capsys):
    from nnkit.apps.caption.files import read_captions_file

    # Flickr30k's results.csv: "|"-separated, and one row lost its separator.
    rows = [f"{number}.jpg| 0| A dog number {number} runs ." for number in range(5)]
    path = tmp_path / "results.csv"
    path.write_text("\n".join(["image_name| comment_number| comment", *rows[:3], "3.jpg| 4 A dog runs .", *rows[4:]]))
    captions = read_captions_file(path)
    assert list(captions) == ["0.jpg", "1.jpg", "2.jpg", "4.jpg"] and captions["4.jpg"] == ["A dog number 4 runs ."]
    assert capsys.readouterr().err == (f"warning: {path} line 5: 2 fields where the header has at least 3; "
                                       "row skipped\n")
    path.write_text("image_name| comment\n1.jpg\n2.jpg\n3.jpg| a cat\n")  # most rows broken: the wrong file
    with pytest.raises(UsageError, match=f"^{path} line 2: 1 fields where .*; 2 of its 3 rows are broken$"):
        read_captions_file(path)
