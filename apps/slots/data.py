"""Slot-filling corpora: the ATIS layout, or CoNLL-style BIO files.

The ATIS layout: `<split>/seq.in` (words), `<split>/seq.out` (one BIO tag per word) and
`<split>/label` (the intent), aligned line by line. ATIS comes from the data directory (`--data
DIR` may be the ATIS folder itself or hold it as `atis/`), or is downloaded from the snapshot the
shared copy was taken from (MiuLab/SlotGated-SLU, Goo et al. 2018), each file checked by MD5. Any
other folder in the same layout works too; `valid/` may also be called `dev/`, and may be missing
(then it is held out of train).

CoNLL-style files (`train.txt`, `dev.conll`, `test.bio` ...; see `read_conll` for the format) in
the same two places, or `--data FILE`, one such file: a missing valid or test split is held out
of train (task.py).
"""

from dataclasses import dataclass
from pathlib import Path

from nnkit.data import files
from nnkit.data.files import locate, read_lines
from nnkit.errors import UsageError

ATIS_ORIGIN = ("https://raw.githubusercontent.com/MiuLab/SlotGated-SLU/"
               "61f0307c729b1fad479ef1de94aa5ac5dee601b0/data/atis/")
ATIS_MD5 = {
    "train": ("28b26b5c417b042a89d7f5e6dd510990", "4d65746ef7fcd1b3aba1fdbf63759f48", "d12b88b8f258ab8d24dd0f2f498d8e59"),
    "valid": ("895013a95c8c09c3bb1b8878017eab90", "372c25af9f070b2e32863058cfba7496", "5addf865b0e2f223ef60766d0e2ed751"),
    "test": ("4a4ff4150cacc62fce6e235bb1c53cb5", "9f3cbd1f303411c6a11f04bf182ef6d2", "9cddcfbd8ff7026952d953dbe08e9e62"),
}
FILES = ("seq.in", "seq.out", "label")
CONLL_SUFFIXES = tuple(f"{suffix}{gz}" for suffix in (".txt", ".conll", ".bio", ".iob", ".tsv") for gz in ("", ".gz"))
SPLIT_NAMES = {"train": ("train",), "valid": ("valid", "dev"), "test": ("test",)}
NO_INTENT = "none"  # the one intent of sentences in files that give none
LAYOUT = (f"ATIS-layout split folders train/, valid/ (or dev/, optional) and test/, each with {', '.join(FILES)}; "
          "or CoNLL-style BIO files train, valid|dev and test (.txt, .conll, .bio, .iob or .tsv; only train "
          "needed), or one such file")


@dataclass
class Utterances:
    """One split: the words, BIO tags and intent of each utterance."""

    words: list
    tags: list
    intents: list

    def __len__(self):
        return len(self.words)

    def head(self, limit):
        return Utterances(self.words[:limit], self.tags[:limit], self.intents[:limit]) if limit else self

    def subset(self, indices):
        return Utterances(*([column[i] for i in indices] for column in (self.words, self.tags, self.intents)))


def _check_bio(tags, path, line_number):
    for tag in tags:
        if tag != "O" and not (tag[:2] in ("B-", "I-") and len(tag) > 2):
            raise UsageError(f"{path} line {line_number}: '{tag}' is not a BIO tag (O, B-slot or I-slot)")


def read_split(folder):
    """Read and check one split folder; every problem names the file and line."""
    folder = Path(folder)
    paths = [folder / name for name in FILES]
    for path in paths:
        if not path.is_file():
            raise UsageError(f"'{path}' is missing (a split needs {', '.join(FILES)})")
    words_lines, tags_lines, intents = (read_lines(path) for path in paths)
    if not len(words_lines) == len(tags_lines) == len(intents):
        raise UsageError(f"'{folder}': seq.in has {len(words_lines)} lines, seq.out {len(tags_lines)}, "
                         f"label {len(intents)}; they must be aligned line by line")
    words, tags = [], []
    for number, (word_line, tag_line, intent) in enumerate(zip(words_lines, tags_lines, intents), start=1):
        sentence, sentence_tags = word_line.split(), tag_line.split()
        if not sentence:
            raise UsageError(f"{paths[0]} line {number}: empty utterance")
        if len(sentence) != len(sentence_tags):
            raise UsageError(f"{paths[1]} line {number}: {len(sentence_tags)} tags for the "
                             f"{len(sentence)} words of {paths[0].name}")
        if not intent.strip():
            raise UsageError(f"{paths[2]} line {number}: empty intent label")
        _check_bio(sentence_tags, paths[1], number)
        words.append([word.lower() for word in sentence])
        tags.append(sentence_tags)
    return Utterances(words, tags, [intent.strip() for intent in intents])


def read_conll(path):
    """Utterances of a CoNLL-style BIO file: one word and its tag per line (tab- or
    space-separated; with more columns, as CoNLL-2003's four, the first is the word and the last
    the tag), a blank line after each sentence, `-DOCSTART-` lines ignored. A sentence's intent,
    if any, is a line of one field after its last word: the layout of the ATIS and SNIPS
    conversions of Stack-Propagation SLU (Qin et al. 2019) and the joint models after it. A file
    gives every sentence an intent or none; without intents each sentence's intent is "none"."""
    words, tags, intents, first = [], [], [], None
    block = []  # (line number, fields) of the sentence being read
    for number, line in enumerate([*read_lines(path), ""], start=1):  # the "" ends the last sentence
        fields = line.split()
        if fields and not fields[0].startswith("-DOCSTART-"):
            block.append((number, fields))
            continue
        if not block:
            continue
        intent = block.pop()[1][0] if len(block) > 1 and len(block[-1][1]) == 1 else None
        for word_number, word_fields in block:
            if len(word_fields) < 2:
                raise UsageError(f"{path} line {word_number}: expected a word and its tag, found "
                                 f"{word_fields[0]!r} alone (an intent goes after the sentence's last word)")
            _check_bio(word_fields[-1:], path, word_number)
        first = first or (block[0][0], intent is not None)
        if first[1] != (intent is not None):
            raise UsageError(f"{path} line {block[0][0]}: this sentence has {'an' if intent else 'no'} intent line "
                             f"but the one at line {first[0]} has {'none' if intent else 'one'}; give every "
                             "sentence an intent or none")
        words.append([fields[0].lower() for _, fields in block])
        tags.append([fields[-1] for _, fields in block])
        intents.append(intent or NO_INTENT)
        block = []
    if not words:
        raise UsageError(f"'{path}' has no sentences (one 'word<TAB>tag' line per word, a blank line after each)")
    return Utterances(words, tags, intents)


def conll_files(data_dir):
    """{split: path} of the CoNLL-style files in the data directory or its atis/ ({"train":
    path} where `data_dir` is one file); None where neither place has any."""
    directory = files.data_dir(data_dir)
    if directory.is_file():
        return {"train": directory}
    for place in (directory, directory / "atis"):
        candidates = {split: [place / f"{name}{suffix}" for name in names for suffix in CONLL_SUFFIXES]
                      for split, names in SPLIT_NAMES.items()}
        found = {split: next((path for path in paths if path.is_file()), None) for split, paths in candidates.items()}
        if any(found.values()):
            return {split: path for split, path in found.items() if path}
    return None


def read_corpus(data_dir, splits):
    """{split: Utterances} of `splits` from the data: CoNLL-style files where there are any,
    else the ATIS layout. A split the data lacks (valid; test too, of CoNLL files) is left out,
    and train is then read as well, to hold it out of."""
    conll = conll_files(data_dir)
    if conll is None:
        folder = atis_folder(data_dir, splits)
        folders = {split: split_folder(folder, split) for split in splits}
        return {split: read_split(folder) for split, folder in folders.items() if folder}
    missing = [split for split in splits if split not in conll]
    if missing and "train" not in conll:
        purpose = "" if "train" in splits else f" to hold the {' and '.join(missing)} split out of"
        raise UsageError(f"no train file ({', '.join('train' + suffix for suffix in CONLL_SUFFIXES[::2])}) beside "
                         f"'{next(iter(conll.values()))}'{purpose}")
    return {split: read_conll(conll[split]) for split in conll if split in splits or missing and split == "train"}


def split_folder(root, split):
    """`root/<split>`, accepting the other name a split goes by (dev for valid)."""
    for name in SPLIT_NAMES[split]:
        if (Path(root) / name).is_dir():
            return Path(root) / name
    return None


def atis_folder(data_dir, splits):
    """The folder in the ATIS layout that has `splits` (valid, which may be missing, aside): the
    data directory itself or its atis/, where ATIS is downloaded when missing and online."""
    needed = [split for split in splits if split != "valid"]
    required = [tuple(f"{name}/{file}" for name in SPLIT_NAMES[split]) for split in needed
                for file in FILES]
    sources = {f"{split}/{file}": (f"{ATIS_ORIGIN}{split}/{file}", md5)  # ATIS has a valid split: fetch it too
               for split in sorted({*needed, "valid"}) for file, md5 in zip(FILES, ATIS_MD5[split])}
    return locate(data_dir, "atis", required, LAYOUT, sources)


# A builder's tag sequences that may be slots, and its class feature that may be the intent, by
# name, the first found winning (CoNLL-2003 has BIO "ner" and "chunks" tags: "ner" wins).
TFDS_TAG_NAMES = ("slots", "slot_tags", "ner", "ner_tags", "tags", "labels")
TFDS_WORD_NAMES = ("tokens", "words")
TFDS_INTENT_NAMES = ("intent", "intent_label", "label")


def _bio_names(feature):
    """Whether a class feature's names are all BIO tags (O, B-x, I-x): slots, unlike POS tags."""
    return bool(feature["names"]) and all(name == "O" or (name[:2] in ("B-", "I-") and len(name) > 2)
                                          for name in feature["names"])


def tfds_corpus(source, splits, tag_feature=None):
    """{split: Utterances} of a TensorFlow Datasets entry with a sentence's tokens (a sequence of
    text) and BIO tags (a sequence of class labels whose names are all O, B-x or I-x):
    `tag_feature` (data.tag_feature) if set, else the only such sequence, else the first of
    TFDS_TAG_NAMES. The intent is a class feature named as in TFDS_INTENT_NAMES where the entry
    has one; otherwise every sentence's intent is "none", as in CoNLL files without intent lines,
    and the model tags slots alone in effect. A split the entry lacks is held out of train (task.py)."""
    from nnkit.data.tfds_source import load_examples, text, value

    examples = load_examples(source, splits)
    words_path = examples.choose("text", "words", preferred=TFDS_WORD_NAMES, sequence=True)
    tags_path = examples.choose("class", "BIO slot tags", preferred=TFDS_TAG_NAMES, named=tag_feature,
                                config_key="data.tag_feature", sequence=True, accept=_bio_names)
    intent_path = next((path for path, feature in examples.features.items() if feature["kind"] == "class"
                        and not feature["sequence"] and path.split("/")[-1] in TFDS_INTENT_NAMES), None)
    tag_names = examples.features[tags_path]["names"]
    intent_names = examples.features[intent_path]["names"] if intent_path else None
    corpus = {}
    for split in ("train", *splits):
        if split not in examples or split in corpus:
            continue
        read = Utterances([], [], [])
        for number, example in enumerate(examples.read(split)):
            words, tags = text(value(example, words_path)), [tag_names[i] for i in value(example, tags_path)]
            if not words:
                continue
            if len(words) != len(tags):
                raise UsageError(f"{source} {split} example {number}: {len(tags)} tags ({tags_path}) for "
                                 f"{len(words)} words ({words_path})")
            read.words.append([word.lower() for word in words])
            read.tags.append(tags)
            read.intents.append(intent_names[int(value(example, intent_path))] if intent_path else NO_INTENT)
        if not read.words:
            raise UsageError(f"no sentences in the {split} split of {source}")
        corpus[split] = read
    return corpus
