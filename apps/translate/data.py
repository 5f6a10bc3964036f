"""Parallel text for translation: sentence pairs, line i of one language translating line i of
the other.

Any language pair comes as a folder of `train.xx`/`train.yy` files, with `valid.xx` (or
`dev.xx`) and `test.xx` beside them when there are such splits, each plain or gzipped: the data
directory itself, or its `xx-yy/` (or `yy-xx/`). Without one, German and English are Multi30k
(task 1: English-German image descriptions, raw cased text), from the data directory, which may
be the Multi30k folder itself or hold it as `multi30k/`, or downloaded from the official
repository, each file checked by MD5. A user's own pairs may also be two aligned files (source,
target) or one tab-separated file (--pairs). A split the data lacks is a seeded random sample
held out of its training pairs (many corpora are sorted, by length or by source: their last
lines would be a test set unlike the rest).
"""

from nnkit.data.files import locate, read_lines
from nnkit.data.splits import held_out_record, random_split
from nnkit.errors import NnkitError, UsageError

MULTI30K_ORIGIN = "https://raw.githubusercontent.com/multi30k/dataset/a3d2e0d26b56f3846f66a952536ffed4e401d05a/data/task1/raw/"
MULTI30K_SPLITS = {"train": "train", "valid": "val", "test": "test_2016_flickr"}
MULTI30K_MD5 = {
    "train.en.gz": "0065d13af80720a55ca8153d126e6627", "train.de.gz": "81ff90b99829c0cd4b1b587d394afd39",
    "val.en.gz": "2b69aa9253948ac9f67e94917272dd40", "val.de.gz": "6e0e229eb049e3fc99a1ef02fb2d5f91",
    "test_2016_flickr.en.gz": "ff2c0fcb4893a13bd73414306bc250ae",
    "test_2016_flickr.de.gz": "efd67d314d98489b716b145475101932",
}
LANGUAGES = ("en", "de")  # Multi30k's; a folder of files may hold any pair
LAYOUT = "Multi30k files " + ", ".join(f"{name}.{{de,en}}.gz" for name in MULTI30K_SPLITS.values())
# A language pair's folder: each split's file stems, the first the usual one.
FOLDER_SPLITS = {"train": ("train",), "valid": ("valid", "dev"), "test": ("test",)}


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


def split_files(split, language):
    """The names a split's file of one language may have: plain or gzipped, valid or dev."""
    return tuple(f"{stem}.{language}{suffix}" for stem in FOLDER_SPLITS[split] for suffix in ("", ".gz"))


def pair_folder(data_dir, source, target):
    """The folder of a language pair's files (`train.<source>` and `train.<target>`, plain or
    gzipped): the data directory itself or its `<source>-<target>/` or `<target>-<source>/`;
    None where there is none. Multi30k's own folder holds train.de.gz and train.en.gz too, but
    names its other splits otherwise: it is read as Multi30k."""
    required = [split_files("train", language) for language in (source, target)]
    multi30k_only = [name for name in MULTI30K_MD5 if not name.startswith("train")]
    for folder_name in (f"{source}-{target}", f"{target}-{source}"):
        try:
            folder = locate(data_dir, folder_name, required, "language pair")
        except NnkitError:  # not in this place: try the next
            continue
        return None if any((folder / name).exists() for name in multi30k_only) else folder
    return None


def folder_pairs(folder, source, target, split):
    """The pairs of one split in a language pair's folder, None where it has no such split."""
    paths = {language: next((folder / name for name in split_files(split, language) if (folder / name).is_file()),
                            None) for language in (source, target)}
    if not any(paths.values()):
        return None
    if not all(paths.values()):
        found, lacking = (source, target) if paths[source] else (target, source)
        raise UsageError(f"{paths[found]} has no {lacking} side: expected {' or '.join(split_files(split, lacking))} "
                         f"beside it")
    return nonempty(aligned(read_lines(paths[source]), read_lines(paths[target]), paths[source], paths[target]),
                    f"{paths[source]} and {paths[target]}")


def split_pairs(read, wanted, validation_fraction, test_fraction, seed):
    """({split: pairs} for the `wanted` splits, what was held out or None). `read(split)` gives a
    split's pairs, or None where the data lacks it: that split is then held out of the training
    pairs, a seeded random sample (see `hold_out`); the training pairs are read only if needed."""
    pairs = {split: read(split) for split in wanted if split != "train"}
    lacking = [split for split, found in pairs.items() if found is None]
    held_out = None
    if "train" in wanted or lacking:
        train = read("train")
        if lacking:
            fractions = {"valid": validation_fraction, "test": test_fraction}
            parts = hold_out(train, *(fractions[split] if split in lacking else 0 for split in ("valid", "test")), seed)
            pairs.update({split: parts[split] for split in lacking})
            train = parts["train"]
            held_out = held_out_record(seed, **{split: len(parts[split]) for split in ("train", *lacking)})
        pairs["train"] = train
    return {split: pairs[split] for split in wanted}, held_out


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
    """{train, valid, test} from one list of pairs: the validation and test splits are a seeded
    random sample of them (nnkit.data.splits; none for a fraction of 0, else at least one pair);
    each split keeps the pairs in file order."""
    fractions = {"test": test_fraction, "valid": validation_fraction}
    parts = random_split(len(pairs), fractions, seed)
    if not len(parts["train"]) or any(fraction and not len(parts[split]) for split, fraction in fractions.items()):
        raise UsageError(f"{len(pairs)} sentence pairs are too few to hold out validation and test pairs")
    return {split: [pairs[i] for i in indices] for split, indices in parts.items()}


def nonempty(pairs, where):
    """The pairs where both sides have text; refuses a split with none."""
    kept = [(source, target) for source, target in pairs if source.strip() and target.strip()]
    if not kept:
        raise UsageError(f"no sentence pairs in {where}")
    return kept


def tfds_pairs(source_spec, source, target, default_pair, wanted, validation_fraction, test_fraction, seed):
    """({split: pairs}, what was held out or None, (source, target)) of a TensorFlow Datasets
    entry with a text feature per language (a Translation feature, as ted_hrlr_translate and the
    wmt builders have, or plain text features named by language code). The languages are
    `source` and `target` where the builder has both; left at `default_pair` (the config's
    defaults) on a builder without both, they are its supervised keys (or its only two
    languages), with a note. A split the builder lacks is held out of train, as for files."""
    import sys

    from nnkit.data.tfds_source import load_examples, text

    examples = load_examples(source_spec, wanted)
    languages = [path for path, feature in examples.features.items() if feature["kind"] == "text"
                 and not feature["sequence"] and "/" not in path]
    if source not in languages or target not in languages:
        if (source, target) != tuple(default_pair):
            raise UsageError(f"TFDS dataset '{examples.name}' has the text features {', '.join(languages) or 'none'}, "
                             f"not both {source} and {target}: choose the pair with --source and --target")
        keys = tuple(examples.info.supervised_keys or ())
        source, target = keys if len(keys) == 2 and set(keys) <= set(languages) else (
            languages if len(languages) == 2 else (None, None))
        if source is None:
            raise UsageError(f"TFDS dataset '{examples.name}' has the text features {', '.join(languages) or 'none'}: "
                             "choose a pair with --source and --target")
        print(f"note: {source_spec} translates {source} to {target} (the dataset's own pair); --source and "
              f"--target choose among {', '.join(languages)}", file=sys.stderr)

    def read(split):
        if split not in examples:
            return None
        return nonempty([(text(example[source]), text(example[target])) for example in examples.read(split)],
                        f"the {split} split of {source_spec}")

    pairs, held_out = split_pairs(read, wanted, validation_fraction, test_fraction, seed)
    return pairs, held_out, (source, target)
