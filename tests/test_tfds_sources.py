"""`--data tfds:NAME[/CONFIG]` for the text and captioning tasks, on TensorFlow Datasets' mock data
(no download): each task finds its features in a real builder's layout and trains or loads."""

import numpy as np
import pytest

from nnkit.errors import NnkitError, UsageError

tfds = pytest.importorskip("tensorflow_datasets", reason="tensorflow-datasets is not installed (pip install -e '.[tfds]')")

PAIRS = [("um homem anda de bicicleta .", "a man rides a bike ."), ("uma mulher lê um livro .", "a woman reads a book ."),
         ("dois cães brincam .", "two dogs play ."), ("uma criança come .", "a child eats .")]
SENTENCES = [(["eu", "Blackburn", "in", "London"], ["O", "B-PER", "O", "B-LOC"]),
             (["Peter", "Blackburn", "left"], ["B-PER", "I-PER", "O"]),
             (["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"])]


def mock_rows(make_rows):
    """TFDS's mock data yielding the examples `make_rows(builder)` gives (its own random ones
    would not line a sentence's tags up with its words), in the builder's own feature layout."""
    import tensorflow as tf

    def as_dataset(self, *args, **kwargs):
        rows = make_rows(self)
        return tf.data.Dataset.from_generator(lambda: iter(rows), output_types=self.info.features.dtype,
                                              output_shapes=self.info.features.shape)

    return tfds.testing.mock_data(as_dataset_fn=as_dataset)


def train_on(task_name, overrides, tmp_path):
    from nnkit.config import load_config
    from nnkit.registry import load_task
    from nnkit.training.run import train

    config = load_config(task_name, overrides=["training.epochs=1", *overrides])
    return train(load_task(task_name), config, tmp_path, verbose=0)


def test_translate_reads_a_translation_builder_in_its_own_pair_or_the_one_asked(capsys):
    from nnkit.config import load_config
    from nnkit.registry import load_task

    def splits_of(*overrides):
        config = load_config("translate", overrides=["data.source=tfds:ted_hrlr_translate/pt_to_en", "data.min_count=1",
                                                     *overrides])
        return load_task("translate").load_data(config)

    with mock_rows(lambda builder: [{"pt": pt, "en": en} for pt, en in PAIRS * 5]):
        own = splits_of()  # de -> en, the defaults: the builder has no de, so its supervised keys decide
        asked = splits_of("data.source_language=en", "data.target_language=pt")  # the other way round
        with pytest.raises(UsageError, match="has the text features pt, en, not both fr and en"):
            splits_of("data.source_language=fr")
    assert (own.info["source_language"], own.info["target_language"]) == ("pt", "en")
    assert "bicicleta" in own.info["source_words"] and "bike" in own.info["target_words"]
    assert own.test.sources[:2] == [pt for pt, _ in PAIRS[:2]] and len(own.test.references) == len(PAIRS) * 5
    assert "translates pt to en (the dataset's own pair)" in capsys.readouterr().err
    assert (asked.info["source_language"], asked.info["target_language"]) == ("en", "pt")
    assert "bike" in asked.info["source_words"] and asked.test.references[0] == PAIRS[0][0]


def test_lm_reads_a_text_builder_as_one_stream_in_order(tmp_path):
    from nnkit.apps.lm.data import tfds_streams

    text = "the cat sat on the mat\nthe dog sat on the log\n" * 30
    with mock_rows(lambda builder: [{"text": text}]):
        streams = tfds_streams("tfds:tiny_shakespeare", ("train", "valid", "test"), None, True, 0.05, 0.05)
        metadata = train_on("lm", ["data.source=tfds:tiny_shakespeare", "training.batch_size=4", "training.bptt=8",
                                   "model.layers=1", "model.units=8", "model.embedding_dim=8"], tmp_path)
        with pytest.raises(UsageError, match="config key 'data.text_feature' is 'content'.*: text"):
            tfds_streams("tfds:tiny_shakespeare", ("train",), "content", True, 0.05, 0.05)
    assert streams["train"][:8] == ["<eos>", "the", "cat", "sat", "on", "the", "mat", "<eos>"]  # the file's order
    assert set(metadata["data"]["vocabulary"]) == {"<eos>", "<unk>", "the", "cat", "sat", "on", "mat", "dog", "log"}
    assert metadata["metrics"]["test"]["test_perplexity"] > 1


def test_lm_holds_the_end_of_train_out_where_the_builder_lacks_splits(monkeypatch):
    from nnkit.apps.lm.data import tfds_streams
    from nnkit.data import tfds_source

    monkeypatch.setattr(tfds_source, "BUILDER_SPLITS", {**tfds_source.BUILDER_SPLITS, "valid": (), "test": ()})
    words = [f"w{number}" for number in range(100)]
    with mock_rows(lambda builder: [{"text": " ".join(words)}]):
        streams = tfds_streams("tfds:tiny_shakespeare", ("train", "valid", "test"), None, False, 0.1, 0.1)
    # Contiguous: train, then valid, then test at the end, each held-out part after one word of context.
    assert streams["test"][1:] == [*words[90:], "<eos>"]  # the last tenth of its 102 words
    assert streams["valid"][0] == streams["train"][-1] and streams["valid"][-1] == streams["test"][0]


def test_slots_take_the_bio_tags_of_a_token_builder_with_no_intent():
    from nnkit.apps.slots.data import NO_INTENT, tfds_corpus
    from nnkit.config import load_config
    from nnkit.registry import load_task

    def rows(builder):
        ner = builder.info.features["ner"].feature
        return [{"tokens": words, "ner": [ner.str2int(tag) for tag in tags], "pos": [0] * len(words),
                 "chunks": [1] * len(words)} for words, tags in SENTENCES * 10]

    with mock_rows(rows):
        corpus = tfds_corpus("tfds:conll2003", ("train", "valid", "test"))
        splits = load_task("slots").load_data(load_config("slots", overrides=["data.source=tfds:conll2003"]))
        with pytest.raises(UsageError, match="data.tag_feature' is 'pos'.*: chunks, ner"):  # POS tags are no BIO tags
            tfds_corpus("tfds:conll2003", ("train",), "pos")
    # "ner", not the "chunks" (also BIO), and every intent "none".
    assert corpus["test"].words[0] == ["eu", "blackburn", "in", "london"] and corpus["test"].tags[1] == SENTENCES[1][1]
    assert set(corpus["train"].intents) == {NO_INTENT}
    assert set(splits.info["tags"]) == {"<pad>", "O", "B-PER", "I-PER", "B-LOC", "B-ORG", "B-MISC"}
    assert splits.info["intents"] == [NO_INTENT] and len(splits.test) == len(SENTENCES) * 10


def test_caption_reads_coco_captions_photos_and_their_captions():
    from nnkit.config import load_config
    from nnkit.registry import load_task

    def rows(builder):
        colours = [(220, 30, 30), (30, 30, 220), (30, 220, 30)]
        photos = [np.full((40 + 8 * number, 60, 3), colour, np.uint8) for number, colour in enumerate(colours)]
        photos.append(np.zeros((8, 8, 3), np.uint8))  # too small to caption: skipped, counted
        empty_objects = {"area": np.zeros(0, np.int64), "bbox": np.zeros((0, 4), np.float32),
                         "id": np.zeros(0, np.int64), "is_crowd": np.zeros(0, bool), "label": np.zeros(0, np.int64)}
        return [{"image": photo, "image/filename": f"{number}.jpg", "image/id": number, "objects": empty_objects,
                 "captions": {"id": np.arange(2), "text": [f"A photo number {number}.", f"picture {number}"]}}
                for number, photo in enumerate(photos)]

    config = load_config("caption", overrides=["data.source=tfds:coco_captions", "data.image_size=32",
                                               "data.min_count=1"])
    with mock_rows(rows):
        splits = load_task("caption").load_data(config, splits=("train", "test"))
    assert splits.extras["photos"]["train"].shape == (3, 32, 32, 3)
    assert splits.extras["captions"]["valid"][1] == [["a", "photo", "number", "1"], ["picture", "1"]]
    assert splits.extras["photos"]["train"][0, 5, 5].tolist() == [220, 30, 30]
    assert splits.test.names == ["test:000000", "test:000001", "test:000002"]


def test_offline_an_unprepared_dataset_is_one_line_and_bad_names_are_usage_errors(tmp_path, monkeypatch):
    from nnkit.config import load_config
    from nnkit.data.tfds_source import load_examples

    monkeypatch.setenv("NNKIT_OFFLINE", "1")
    with pytest.raises(NnkitError, match="cannot load TFDS dataset 'tiny_shakespeare' .offline, so nothing was "
                                         "downloaded.") as raised:
        load_examples("tfds:tiny_shakespeare", ("train",), data_dir=str(tmp_path))
    assert "\n" not in str(raised.value)
    with pytest.raises(UsageError, match="unknown TFDS dataset 'no_such_dataset'"):
        load_examples("tfds:no_such_dataset/en", ("train",))
    for task, home in (("translate", "multi30k"), ("lm", "ptb"), ("slots", "atis"), ("caption", "flickr8k")):
        with pytest.raises(UsageError, match=f"'data.source' must be {home} .* or tfds:NAME"):
            load_config(task, overrides=["data.source=mnist"])
