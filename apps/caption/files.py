"""A user's own captioned photos: a captions file beside a folder of images.

A captions file is one of
    image<TAB>caption lines           (Flickr8k/30k's token files: "image#n" keys read as "image")
    a table with a header row         naming an image column (image, image_name, file_name,
                                      filename) and a caption column (caption, comment, text),
                                      comma-, tab-, "|"- or ";"-separated: the Kaggle exports of
                                      Flickr8k (captions.txt) and Flickr30k (results.csv)
    a COCO-style captions JSON        {"images": [{"id", "file_name"}], "annotations":
                                      [{"image_id", "caption"}]}
with any number of captions per image. The files are named after their split, train, val
(valid, dev) and test, as `train.csv` or COCO's `captions_train2017.json`, or there is one for
every photo, `captions.*` or `results.*` (or `--data FILE`); they sit in the dataset's folder or
its annotations/. Image names are paths relative to that folder or to a folder directly in it
(Images/, train2017/ ...), the one that holds them.
"""

import csv
import json
import re
import sys

from nnkit.data.files import read_lines
from nnkit.errors import NnkitError, UsageError

SPLIT_FILE = re.compile(r"(?:captions_)?(train|val|valid|dev|test)(?:\d{4})?\.(?:txt|tsv|csv|json)")
SINGLE_FILE = re.compile(r"(?:captions|results)\.(?:txt|tsv|csv|json)")
SPLIT_OF = {"train": "train", "val": "valid", "valid": "valid", "dev": "valid", "test": "test"}
IMAGE_COLUMNS = ("image", "image_name", "file_name", "filename", "image_file")
CAPTION_COLUMNS = ("caption", "comment", "text", "description")
DELIMITERS = ",\t|;"
LAYOUT = ("a captions file (image<TAB>caption lines, a CSV with image,caption columns or a COCO captions JSON; "
          "train/val/test.* or captions.*) beside a folder of its images")


def captions_files(place):
    """{split: path} of the captions files in `place` or its annotations/, {"all": path} for one
    file of every photo; {} where there are none."""
    for folder in (place, place / "annotations"):
        if not folder.is_dir():
            continue
        names = sorted(path.name for path in folder.iterdir() if path.is_file())
        found = {}
        for name in names:
            match = SPLIT_FILE.fullmatch(name)
            if match:
                found.setdefault(SPLIT_OF[match.group(1)], folder / name)
        if found:
            return found
        single = [name for name in names if SINGLE_FILE.fullmatch(name)]
        if single:
            return {"all": folder / single[0]}
    return {}


MAX_WARNINGS = 10  # broken rows named one by one; the rest are counted


class Rows:
    """The captions of a file read row by row. A broken row (too few fields, no image name, an
    empty caption: Flickr30k's results.csv has one) is skipped with one warning line naming the
    file and line; a file with at least half of its rows broken is the wrong file or format, and
    is refused in one line instead."""

    def __init__(self, path):
        self.path, self.captions, self.rows, self.broken = path, {}, 0, []

    def add(self, where, image, caption):
        if not image or not caption:
            return self.skip(where, "no image name" if not image else "an empty caption")
        self.rows += 1
        self.captions.setdefault(image, []).append(caption)

    def skip(self, where, problem):
        self.rows += 1
        self.broken.append((where, problem))

    def result(self):
        if self.broken and 2 * len(self.broken) >= self.rows:
            where, problem = self.broken[0]
            more = f"; {len(self.broken)} of its {self.rows} rows are broken" if len(self.broken) > 1 else ""
            raise UsageError(f"{self.path}{where}: {problem}{more}")
        for where, problem in self.broken[:MAX_WARNINGS]:
            print(f"warning: {self.path}{where}: {problem}; row skipped", file=sys.stderr)
        if len(self.broken) > MAX_WARNINGS:
            print(f"warning: {self.path}: {len(self.broken) - MAX_WARNINGS} more broken rows skipped", file=sys.stderr)
        return self.captions


def read_captions_file(path):
    """{image name: [caption, ...]}, images in the order the file first names them; a bad row
    is one line naming the file and line (a JSON entry by its place in its list): a warning, the
    row skipped, unless at least half of the rows are bad (see `Rows`)."""
    captions = _read_coco(path) if path.suffix == ".json" else _read_text(path)
    if not captions:
        raise UsageError(f"'{path}' has no captions")
    return captions


def _read_text(path):
    """A table whose header row names its image and caption columns, else image<TAB>caption lines."""
    lines = read_lines(path)
    first = next((number for number, line in enumerate(lines) if line.strip()), 0)
    for delimiter in DELIMITERS:
        columns = [column.strip().strip('"').lower() for column in lines[first].split(delimiter)] if lines else []
        image = next((columns.index(name) for name in IMAGE_COLUMNS if name in columns), None)
        caption = next((columns.index(name) for name in CAPTION_COLUMNS if name in columns), None)
        if image is not None and caption is not None:
            return _read_table(path, lines, first, delimiter, image, caption)
    return _read_tab_lines(path, lines)


def _read_table(path, lines, header, delimiter, image, caption):
    read, needed = Rows(path), max(image, caption) + 1
    rows = csv.reader(lines[header + 1:], delimiter=delimiter, skipinitialspace=True)
    for row in rows:
        where = f" line {header + 1 + rows.line_num}"
        if not any(field.strip() for field in row):
            continue
        if len(row) < needed:
            read.skip(where, f"{len(row)} fields where the header has at least {needed}")
            continue
        read.add(where, row[image].strip(), row[caption].strip())
    return read.result()


def _read_tab_lines(path, lines):
    read = Rows(path)
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        image, tab, caption = line.partition("\t")
        if not tab:
            read.skip(f" line {number}", f"expected 'image<TAB>caption' (or a header row naming the image and "
                                         f"caption columns), got {line[:60]!r}")
            continue
        read.add(f" line {number}", re.sub(r"#\d+$", "", image.strip()), caption.strip())
    return read.result()


def _read_coco(path):
    try:
        document = json.loads("\n".join(read_lines(path)))
    except json.JSONDecodeError as error:
        raise UsageError(f"{path} line {error.lineno}: not valid JSON ({error.msg})")
    if not (isinstance(document, dict) and isinstance(document.get("images"), list)
            and isinstance(document.get("annotations"), list)):
        raise UsageError(f"'{path}' is no COCO captions JSON: an object with 'images' and 'annotations' lists")
    files = {}
    for number, image in enumerate(document["images"]):
        if not (isinstance(image, dict) and isinstance(image.get("id"), (int, str))
                and isinstance(image.get("file_name"), str) and image["file_name"].strip()):
            raise UsageError(f"{path}: images[{number}] needs an 'id' and a 'file_name'")
        files[image["id"]] = image["file_name"].strip()
    read = Rows(path)
    for number, annotation in enumerate(document["annotations"]):
        if not (isinstance(annotation, dict) and isinstance(annotation.get("image_id"), (int, str))
                and annotation["image_id"] in files and isinstance(annotation.get("caption"), str)
                and annotation["caption"].strip()):
            read.skip(f": annotations[{number}]", "needs the 'image_id' of one of its images and a 'caption'")
            continue
        read.add(f": annotations[{number}]", files[annotation["image_id"]], annotation["caption"].strip())
    return read.result()


def image_folder(place, names, path, sample=20):
    """The folder the image names of the captions file `path` are relative to: `place` or the
    folder directly in it that holds most of the first `sample` names."""
    folders = [place, *sorted(folder for folder in place.iterdir() if folder.is_dir() and folder.name[:1] != ".")]
    found = {folder: sum((folder / name).is_file() for name in names[:sample]) for folder in folders}
    best = max(folders, key=found.get)  # the first of equals: `place` itself before its folders
    if not found[best]:
        raise NnkitError(f"none of the first photos '{path}' names ({', '.join(names[:3])} ...) is in "
                         f"'{place}' or a folder directly in it")
    return best
