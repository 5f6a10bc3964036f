"""The reviews: reading them, splitting them, and turning texts into word ids. Imported by the
Task's methods only, so that listing the tasks loads none of it."""

from importlib import resources
from pathlib import Path

import numpy as np

from nnkit.data.files import locate
from nnkit.errors import NnkitError
from nnkit.task import Splits
from nnkit.text.words import Vocabulary, pad, tokenize

REVIEWS = "reviews.tsv"


def read_reviews(path):
    """[(label, text)] of a `label<TAB>text` file; a malformed line is one error naming it."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        raise NnkitError(f"cannot read '{path}': {error}")
    reviews = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        if not tab or not label.strip() or not text.strip():
            raise NnkitError(f"{path} line {number}: expected 'label<TAB>text'")
        reviews.append((label.strip(), text.strip()))
    if not reviews:
        raise NnkitError(f"'{path}' holds no reviews")
    return reviews


def reviews_file(data_dir, layout):
    """The reviews of `--data` (the dataset's folder or one holding `sentiment/`), else the sample
    this package ships: $NNKIT_DATA_DIR is for the datasets nnkit knows, not for this one."""
    if data_dir is None:
        return resources.files("nnkit_example_sentiment").joinpath(REVIEWS)
    return locate(data_dir, "sentiment", [REVIEWS], layout) / REVIEWS


def encode(texts, info):
    """Word ids (n, words) of raw texts, cut at data.max_words, and the words themselves."""
    vocabulary = Vocabulary(info["words"])
    sentences = [tokenize(text)[: info["max_words"]] for text in texts]
    return pad([vocabulary.ids(words) or [1] for words in sentences]), sentences


def load_splits(config, data_dir, layout):
    """Seeded test and validation hold-outs of the reviews; the vocabulary of the training part."""
    reviews = read_reviews(reviews_file(data_dir, layout))
    order = np.random.default_rng(config["seed"]).permutation(len(reviews))
    reviews = [reviews[index] for index in order]
    held_out = int(round(len(reviews) * config["data"]["test_fraction"]))
    test, rest = reviews[:held_out], reviews[held_out:]
    validating = int(round(len(rest) * config["data"]["validation_fraction"]))
    validation, train = rest[:validating], rest[validating:]
    words = Vocabulary.build((tokenize(text) for _, text in train), config["data"]["min_count"]).symbols
    info = {"classes": sorted({label for label, _ in reviews}), "words": words, "max_words": config["data"]["max_words"]}

    def arrays(part):
        if not part:
            return None
        labels = np.array([info["classes"].index(label) for label, _ in part], np.int64)
        return encode([text for _, text in part], info)[0], labels

    return Splits(arrays(train), arrays(validation), arrays(test) or arrays(train), info)
