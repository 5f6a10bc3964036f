"""Captioned photos: Flickr8k, or a user's captions file beside a folder of images (files.py).

Flickr8k: 8,091 photos with five captions each, and the standard 6,000 / 1,000 / 1,000 split
(Hodosh et al. 2013). Read from the data directory, which may be the Flickr8k folder itself (or
your own data in the same layout) or hold it as `flickr8k/`:

    Flickr8k_text.zip          Flickr8k.token.txt ("<image>#<n><TAB><caption>") and the split
                               files Flickr_8k.{train,dev,test}Images.txt; or those files loose
    flickr8k_images_128.zip    the photos, matched by file name (any zip of images), or a
                               folder of them: Flicker8k_Dataset/, Flickr8k_Dataset/ or images/

The captions zip is downloaded (MD5-checked) when missing. The photos are not: the original
1 GB archive has no published checksum; the error says where to put them.

A folder in neither place with Flickr8k's files but with a captions file of files.py (or
`--data FILE`, one such file) is read as that; a split it has no file for is a seeded random
sample of the training photos, by photo (a photo's captions all go to one side).
"""

import io
import zipfile
from pathlib import Path

import numpy as np

from nnkit.apps.caption.files import LAYOUT as FILES_LAYOUT, captions_files, image_folder, read_captions_file
from nnkit.data.files import data_dir as data_directory, locate
from nnkit.data.splits import held_out_record, random_split
from nnkit.data.photos import read_photo
from nnkit.errors import NnkitError, UsageError

TEXT_ZIP = "Flickr8k_text.zip"
TEXT_URL = "https://github.com/kareems78/flickr_8k_data/raw/81628ffaa0e00c06ee4eb4c328ccdba680f8e605/Flickr8k_text.zip"
TEXT_MD5 = "bf6c1abcb8e4a833b7f922104de18627"
CAPTIONS_FILE = "Flickr8k.token.txt"
SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt", "valid": "Flickr_8k.devImages.txt",
               "test": "Flickr_8k.testImages.txt"}
IMAGE_ZIPS = ("flickr8k_images_128.zip", "Flickr8k_Dataset.zip")
IMAGE_FOLDERS = ("Flicker8k_Dataset", "Flickr8k_Dataset", "images")
FRACTION_KEYS = {"valid": "validation_fraction", "test": "test_fraction"}  # the shares held out
LAYOUT = (f"Flickr8k captions ({TEXT_ZIP}, or {CAPTIONS_FILE} and the split files loose) beside its photos "
          f"({' or '.join(IMAGE_ZIPS)}, or a folder {'/, '.join(IMAGE_FOLDERS)}/), or {FILES_LAYOUT}")


def flickr8k_folder(data_dir):
    """The Flickr8k folder: the data directory itself or its flickr8k/, where the captions zip
    is downloaded when missing and online (the photos never are)."""
    return locate(data_dir, "flickr8k", [(TEXT_ZIP, CAPTIONS_FILE)], LAYOUT, {TEXT_ZIP: (TEXT_URL, TEXT_MD5)})


def _text_file(directory, name):
    """The text of `name`: a loose file, else the member of the captions zip."""
    if (directory / name).is_file():
        return (directory / name).read_text(encoding="utf-8"), str(directory / name)
    archive_path = directory / TEXT_ZIP
    try:
        with zipfile.ZipFile(archive_path) as archive:
            members = [m for m in archive.namelist() if Path(m).name == name and not m.startswith("__MACOSX")]
            if not members:
                raise NnkitError(f"'{archive_path}' has no {name}")
            return archive.read(members[0]).decode("utf-8"), f"{archive_path}:{members[0]}"
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError) as error:
        raise NnkitError(f"cannot read {name} from '{archive_path}' ({error})")


def read_captions(directory):
    """{image name: [caption, ...]} from the captions file; a malformed line names file and line."""
    text, where = _text_file(flickr8k_folder(directory), CAPTIONS_FILE)
    captions = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        key, tab, caption = line.partition("\t")
        if not tab or "#" not in key or not caption.strip():
            raise NnkitError(f"{where}, line {number}: expected '<image>#<n><TAB><caption>', got {line[:60]!r}")
        captions.setdefault(key.rsplit("#", 1)[0], []).append(caption.strip())
    return captions


def read_split(directory, split):
    """The image names of `split` (train, valid or test), in file order."""
    text, _ = _text_file(flickr8k_folder(directory), SPLIT_FILES[split])
    return [line.strip() for line in text.splitlines() if line.strip()]


class ImageStore:
    """The photos, from a zip (read in place, members matched by file name) or a folder."""

    def __init__(self, directory=None, folder=None):
        self.archive, self.folder = None, None
        if folder is not None:  # a user's folder of images, named by their paths in it
            self.folder, self.where = folder, str(folder)
            return
        directory = flickr8k_folder(directory)
        for name in IMAGE_ZIPS:
            if (directory / name).is_file():
                try:
                    self.archive = zipfile.ZipFile(directory / name)
                except (zipfile.BadZipFile, OSError) as error:
                    raise NnkitError(f"'{directory / name}' is not a readable zip ({error})")
                self.members = {Path(m).name: m for m in self.archive.namelist() if not m.endswith("/")}
                self.where = str(directory / name)
                return
        for name in IMAGE_FOLDERS:
            if (directory / name).is_dir():
                self.folder, self.where = directory / name, str(directory / name)
                return
        raise NnkitError(f"no Flickr8k photos in '{directory}': put {IMAGE_ZIPS[0]} (or the original "
                         f"{IMAGE_ZIPS[1]}, or a folder {IMAGE_FOLDERS[0]}/) there")

    def __contains__(self, name):
        return name in self.members if self.archive else (self.folder / name).is_file()

    def read(self, name, size):
        """The photo as a (size, size, 3) uint8 array; NnkitError when it cannot be decoded."""
        if self.archive:
            try:
                data = self.archive.read(self.members[name])
            except (zipfile.BadZipFile, OSError, ValueError) as error:  # a damaged member (bad CRC, say)
                raise NnkitError(f"'{self.where}:{name}' is a corrupt zip entry ({error})")
            return read_photo(io.BytesIO(data), size, label=f"{self.where}:{name}")
        return read_photo(self.folder / name, size)


def load_photos(store, names, size):
    """(images (n, size, size, 3) uint8, the names read, {problem: [names]}): a photo that is
    missing or cannot be decoded is skipped and counted, not fatal."""
    images, kept, skipped = [], [], {"missing": [], "unreadable": []}
    for name in names:
        if name not in store:
            skipped["missing"].append(name)
            continue
        try:
            images.append(store.read(name, size))
        except NnkitError:
            skipped["unreadable"].append(name)
            continue
        kept.append(name)
    array = np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)
    return array, kept, skipped


def users_captions(directory):
    """(folder, {split: path}) of a user's captions files in the data directory or its
    flickr8k/; (None, {}) where there are none, or where Flickr8k's own files come first."""
    for place in (directory, directory / "flickr8k"):
        if (place / TEXT_ZIP).exists() or (place / CAPTIONS_FILE).exists():
            return None, {}
        found = captions_files(place)
        if found:
            return place, found
    return None, {}


def caption_splits(data_dir, splits, data, seed):
    """({split: (photo names, {name: [caption, ...]}, ImageStore)} for `splits`, what was held
    out or None): Flickr8k, else a user's captions files (files.py), a split they lack held out
    of the training photos (data.validation_fraction and data.test_fraction of them)."""
    directory = data_directory(data_dir)
    place, found = (directory.parent, {"all": directory}) if directory.is_file() else users_captions(directory)
    if not found:
        directory = flickr8k_folder(data_dir)
        captions, store = read_captions(directory), ImageStore(directory)
        return {split: (read_split(directory, split), captions, store) for split in splits}, None
    missing = [split for split in splits if split not in found]
    sources = {split: found[split] for split in splits if split in found}
    if missing:
        pool = found.get("train", found.get("all"))
        if pool is None:
            purpose = "" if "train" in splits else f" to hold the {' and '.join(missing)} photos out of"
            raise UsageError(f"no train captions file beside '{next(iter(found.values()))}'{purpose}")
        sources = {**sources, **{split: pool for split in ("train", *missing)}}
    read = {}
    for path in dict.fromkeys(sources.values()):
        captions = read_captions_file(path)
        names = list(captions)
        read[path] = (names, captions, ImageStore(folder=image_folder(place, names, path)))
    result = {split: read[path] for split, path in sources.items()}
    held_out = None
    if missing:
        parts = hold_out(result["train"][0], {split: data[key] for split, key in FRACTION_KEYS.items()
                                               if split not in found}, seed)
        result = {split: (parts[split], *entry[1:]) if split in parts else entry for split, entry in result.items()}
        held_out = held_out_record(seed, **{split: len(names) for split, names in parts.items()})
    return {split: result[split] for split in splits}, held_out


def hold_out(names, fractions, seed):
    """{"train": names, split: names for each split of `fractions`}: a seeded random share of the
    photos for each split, the same for the same seed; each keeps the file's order."""
    parts = random_split(len(names), fractions, seed)
    for split in fractions:
        if not len(parts[split]):
            raise UsageError(f"no {split} photos to hold out of {len(names)} (data.{FRACTION_KEYS[split]} "
                             f"{fractions[split]}): add a {split} captions file or raise it")
    if not len(parts["train"]):
        raise UsageError(f"{len(names)} captioned photos are too few to hold out {' and '.join(fractions)} photos")
    return {split: [names[i] for i in indices] for split, indices in parts.items()}


class ArrayStore:
    """Photos a TensorFlow Datasets split gave as arrays, by name, resized as they are added (a
    big split would not fit in memory at full size); one too small to caption reads as
    unreadable, as a damaged file would."""

    def __init__(self, where, size):
        self.where, self.size, self.photos = where, size, {}

    def add(self, name, pixels):
        from PIL import Image

        from nnkit.data.photos import photo_array

        pixels = np.asarray(pixels, np.uint8)
        try:
            self.photos[name] = photo_array(Image.fromarray(pixels[..., 0] if pixels.shape[-1] == 1 else pixels),
                                            self.size, f"{self.where}:{name}")
        except NnkitError:
            self.photos[name] = None

    def __contains__(self, name):
        return name in self.photos

    def read(self, name, size):
        if self.photos[name] is None:
            raise NnkitError(f"'{self.where}:{name}' is too small to caption")
        if size == self.size:
            return self.photos[name]
        from PIL import Image

        from nnkit.data.photos import photo_array

        return photo_array(Image.fromarray(self.photos[name]), size, f"{self.where}:{name}")


def tfds_caption_splits(source, splits, data, seed):
    """Like `caption_splits`, from a TensorFlow Datasets entry with an image feature and captions:
    the text feature named text, caption or captions (COCO's captions/text, several per photo),
    else its only text feature. A photo is named by its split and place (`train:000042`). A split
    the entry lacks is a seeded random share of the training photos; an existing split is read up
    to data.train_limit or data.test_limit photos only."""
    from nnkit.data.tfds_source import load_examples, text, value

    examples = load_examples(source, splits)
    image_path = examples.choose("image", "photos", preferred=("image",))
    caption_path = examples.choose("text", "captions", preferred=("text", "caption", "captions"))
    missing = [split for split in splits if split not in examples]
    limits = {"train": data["train_limit"], "valid": data["test_limit"], "test": data["test_limit"]}
    result = {}
    for split in ("train", *splits):
        if split not in examples or split in result:
            continue
        store, names, captions = ArrayStore(f"{source}:{split}", data["image_size"]), [], {}
        limit = None if missing and split == "train" else limits[split]  # the whole pool to hold out of
        for number, example in enumerate(examples.read(split, limit)):
            name = f"{split}:{number:06d}"
            found = text(value(example, caption_path))
            found = [found] if isinstance(found, str) else found
            store.add(name, value(example, image_path))
            names.append(name)
            captions[name] = [caption.strip() for caption in found if caption.strip()]
        result[split] = (names, {name: found for name, found in captions.items() if found}, store)
    held_out = None
    if missing:
        parts = hold_out(result["train"][0], {split: data[FRACTION_KEYS[split]] for split in missing}, seed)
        result = {**result, **{split: (parts[split], *result["train"][1:]) for split in ("train", *missing)}}
        held_out = held_out_record(seed, **{split: len(names) for split, names in parts.items()})
    return {split: result[split] for split in splits}, held_out
