"""Image folders as datasets: `root/<class_name>/*.png|jpg`, one folder per class."""

from pathlib import Path

import numpy as np

from nnkit.data.images import IMAGE_SUFFIXES, read_grayscale
from nnkit.errors import NnkitError, UsageError


def list_image_folder(root, classes=None):
    """{class_name: [image paths]} for the class folders under `root` (all, or `classes`)."""
    root = Path(root)
    if not root.is_dir():
        raise NnkitError(f"no such directory: '{root}'")
    found = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if classes is None:
        classes = found
    missing = [name for name in classes if name not in found]
    if missing:
        raise UsageError(f"'{root}' has no class folder {', '.join(repr(m) for m in missing)} "
                         f"(found: {', '.join(found) or 'none'})")
    if len(classes) < 2:
        raise UsageError(f"'{root}' needs at least two class folders (class_name/*.png), found {len(classes)}")
    listing = {}
    for name in classes:
        files = sorted(p for p in (root / name).iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not files:
            raise NnkitError(f"class folder '{root / name}' has no images")
        listing[name] = files
    return listing


def load_image_folder(root, normalize, classes=None):
    """(images uint8 (n, h, w), labels int64 (n,), class names); `normalize` maps a luminance
    array to the model's input image."""
    listing = list_image_folder(root, classes)
    images, labels = [], []
    for label, (name, files) in enumerate(listing.items()):
        for path in files:
            try:
                images.append(normalize(read_grayscale(path)))
            except NnkitError as error:
                raise NnkitError(f"{path}: {error}" if str(path) not in str(error) else str(error))
            labels.append(label)
    return np.stack(images), np.array(labels, dtype=np.int64), list(listing)


def stratified_split(labels, fraction, seed):
    """Indices (kept, held_out): `fraction` of each class held out, chosen with `seed`."""
    rng = np.random.default_rng(seed)
    kept, held_out = [], []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        count = int(round(len(members) * fraction))
        held_out.extend(members[:count])
        kept.extend(members[count:])
    return np.sort(kept), np.sort(held_out)
