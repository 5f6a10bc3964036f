"""Flickr8k: 8,091 photos with five captions each, and the standard 6,000 / 1,000 / 1,000 split
(Hodosh et al. 2013).

Read from the data directory, which may be the Flickr8k folder itself (or your own data in the
same layout) or hold it as `flickr8k/`:

    Flickr8k_text.zip          Flickr8k.token.txt ("<image>#<n><TAB><caption>") and the split
                               files Flickr_8k.{train,dev,test}Images.txt; or those files loose
    flickr8k_images_128.zip    the photos, matched by file name (any zip of images), or a
                               folder of them: Flicker8k_Dataset/, Flickr8k_Dataset/ or images/

The captions zip is downloaded (MD5-checked) when missing. The photos are not: the original
1 GB archive has no published checksum; the error says where to put them.
"""

import io
import zipfile
from pathlib import Path

import numpy as np

from nnkit.data.files import locate
from nnkit.data.photos import read_photo
from nnkit.errors import NnkitError

TEXT_ZIP = "Flickr8k_text.zip"
TEXT_URL = "https://github.com/kareems78/flickr_8k_data/raw/81628ffaa0e00c06ee4eb4c328ccdba680f8e605/Flickr8k_text.zip"
TEXT_MD5 = "bf6c1abcb8e4a833b7f922104de18627"
CAPTIONS_FILE = "Flickr8k.token.txt"
SPLIT_FILES = {"train": "Flickr_8k.trainImages.txt", "valid": "Flickr_8k.devImages.txt",
               "test": "Flickr_8k.testImages.txt"}
IMAGE_ZIPS = ("flickr8k_images_128.zip", "Flickr8k_Dataset.zip")
IMAGE_FOLDERS = ("Flicker8k_Dataset", "Flickr8k_Dataset", "images")
LAYOUT = (f"Flickr8k captions ({TEXT_ZIP}, or {CAPTIONS_FILE} and the split files loose) beside its photos "
          f"({' or '.join(IMAGE_ZIPS)}, or a folder {'/, '.join(IMAGE_FOLDERS)}/)")


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

    def __init__(self, directory):
        directory = flickr8k_folder(directory)
        self.archive, self.folder = None, None
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
