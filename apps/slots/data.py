"""Slot-filling corpora in the ATIS layout: `<split>/seq.in` (words), `<split>/seq.out` (one BIO
tag per word) and `<split>/label` (the intent), aligned line by line.

ATIS comes from the data directory (`--data DIR` may be the ATIS folder itself or hold it as
`atis/`), or is downloaded from the snapshot the shared copy was taken from (MiuLab/SlotGated-SLU,
Goo et al. 2018), each file checked by MD5. Any other folder in the same layout works too;
`valid/` may also be called `dev/`, and may be missing (then it is held out of train).
"""

from dataclasses import dataclass
from pathlib import Path

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
SPLIT_ALIASES = {"valid": ("valid", "dev")}
LAYOUT = f"ATIS-layout split folders train/, valid/ (or dev/, optional) and test/, each with {', '.join(FILES)}"


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


def split_folder(root, split):
    """`root/<split>`, accepting the other name a split goes by (dev for valid)."""
    for name in SPLIT_ALIASES.get(split, (split,)):
        if (Path(root) / name).is_dir():
            return Path(root) / name
    return None


def atis_folder(data_dir, splits):
    """The folder in the ATIS layout that has `splits` (valid, which may be missing, aside): the
    data directory itself or its atis/, where ATIS is downloaded when missing and online."""
    needed = [split for split in splits if split != "valid"]
    required = [tuple(f"{name}/{file}" for name in SPLIT_ALIASES.get(split, (split,))) for split in needed
                for file in FILES]
    sources = {f"{split}/{file}": (f"{ATIS_ORIGIN}{split}/{file}", md5)  # ATIS has a valid split: fetch it too
               for split in sorted({*needed, "valid"}) for file, md5 in zip(FILES, ATIS_MD5[split])}
    return locate(data_dir, "atis", required, LAYOUT, sources)
