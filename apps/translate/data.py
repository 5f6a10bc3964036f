"""Parallel text for translation: sentence pairs, line i of one language translating line i of
the other.

Multi30k (task 1: English-German image descriptions, raw cased text) comes from the data
directory, which may be the Multi30k folder itself or hold it as `multi30k/`, or is downloaded
from the official repository, each file checked by MD5. A user's own pairs are two aligned files (source, target) or one tab-separated file; a
seeded random sample of them is held out for validation and test (many corpora are sorted, by
length or by source: their last lines would be a test set unlike the rest).
"""

import numpy as np

from nnkit.data.files import locate, read_lines
from nnkit.errors import UsageError

MULTI30K_ORIGIN = "https://raw.githubusercontent.com/multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/"
MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
MULTI30K_MD5 = {
    "train.en.gz": "0065d13af80720a55ca8153d126e6627", "train.de.gz": "81ff90b99829c0cd4b1b587d394afd39",
    "val.en.gz": "2b69aa9253948ac9f67e94917272dd40", "val.de.gz": "6e0e229eb049e3fc99a1ef02fb2d5f91",
    "test_2016_flickr.en.gz": "ff2c0fcb4893a13bd73414306bc250ae",
    "test_2016_flickr.de.gz": "efd67d314d98489b716b145475101932",
}
LANGUAGES = ("en", "de")
LAYOUT = "Multi30k files " + ", ".join(f"{name}.{{de,en}}.gz" for name in MULTI30K_SPLITS.values())


def aligned(source_lines, target_lines, source_name, target_name):
    """Pairs of two aligned line lists; different counts are refused with both counts."""
    if len(source_lines) != len(target_lines):
        raise UsageError(f"{source_name} has {len(source_lines):,} lines but {target_name} has "
                         f"{len(target_lines):,}; parallel files must align line by line")
    return list(zip(source_lines, target_lines))


def multi30k_pairs(data_dir, split, source, target):
    """(source sentence, target sentence) pairs of one Multi30k split, from the data directory
    itself or its multi30k/ (the config rules have checked the languages: see
    TranslateTask.check_config)."""
    names = {language: f"{MULTI30K_SPLITS[split]}.{language}.gz" for language in (source, target)}
    sources = {name: (MULTI30K_ORIGIN + name, MULTI30K_MD5[name]) for name in names.values()}
    folder = locate(data_dir, "multi30k", list(sources), LAYOUT, sources)
    paths = {language: folder / name for language, name in names.items()}
    return aligned(read_lines(paths[source]), read_lines(paths[target]), paths[source], paths[target])


def file_pairs(files):
    """Pairs from two aligned files (source, target) or one file of `source<TAB>target` lines."""
    if len(files) == 2:
        return aligned(read_lines(files[0]), read_lines(files[1]), files[0], files[1])
    if len(files) != 1:
        raise UsageError(f"give one tab-separated file or two aligned files, not {len(files)}")
    pairs = []
    for number, line in enumerate(read_lines(files[0]), start=1):
        if not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) != 2:
            raise UsageError(f"{files[0]} line {number}: expected 'source<TAB>target', found {len(parts)} fields")
        pairs.append((parts[0], parts[1]))
    return pairs


def hold_out(pairs, validation_fraction, test_fraction, seed):
    """{train, valid, test} from one list of pairs: the validation and test splits are a random
    sample of them, the same for the same seed; each split keeps the pairs in file order."""
    tests, validations = max(1, int(len(pairs) * test_fraction)), max(1, int(len(pairs) * validation_fraction))
    if tests + validations >= len(pairs):
        raise UsageError(f"{len(pairs)} sentence pairs are too few to hold out validation and test pairs")
    order = np.random.default_rng(seed).permutation(len(pairs))
    chosen = {"test": order[:tests], "valid": order[tests: tests + validations], "train": order[tests + validations:]}
    return {split: [pairs[i] for i in sorted(indices)] for split, indices in chosen.items()}


def nonempty(pairs, where):
    """The pairs where both sides have text; refuses a split with none."""
    kept = [(source, target) for source, target in pairs if source.strip() and target.strip()]
    if not kept:
        raise UsageError(f"no sentence pairs in {where}")
    return kept
