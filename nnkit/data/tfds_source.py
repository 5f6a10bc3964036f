"""`--data tfds:NAME[/CONFIG]`: a TensorFlow Datasets entry (TensorFlow only), for any task.

Offline, a TFDS download retries DNS for minutes before failing, so this module checks for a
network first (or obeys NNKIT_OFFLINE=1) and, without one, loads with `download=False`: only a
dataset already prepared in the TFDS data directory is read, and a missing one fails at once, in
one line. Online, naming a dataset asks for it: TFDS downloads and prepares it once.

Image classification reads the supervised (image, label) pairs. The other tasks read whole
examples (`load_examples`) and find the features they need in the builder's feature layout
(`feature_paths`): each task's data.py says which kinds of feature it takes and how it chooses.
"""

import logging
import os
import socket

import numpy as np

from nnkit.errors import NnkitError, UsageError

SPLIT_NAMES = {"train": "train", "test": "test"}
# nnkit's split names -> the names TFDS builders give them, the usual one first.
BUILDER_SPLITS = {"train": ("train",), "valid": ("validation", "valid", "val", "dev"), "test": ("test",)}
PREFIX = "tfds:"


def is_online(host="storage.googleapis.com", port=443, timeout=2.0):
    """Whether the TFDS download host is reachable (fails fast without DNS or a route)."""
    if os.environ.get("NNKIT_OFFLINE"):
        return False
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def is_tfds(source):
    """Whether a config's data.source names a TensorFlow Datasets entry (tfds:NAME[/CONFIG])."""
    return isinstance(source, str) and source.startswith(PREFIX) and len(source) > len(PREFIX)


def _import_tfds(name):
    try:
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise UsageError(f"--data tfds:{name} needs TensorFlow Datasets: pip install 'nnkit[tfds]' ({error})")
    if name.split("/")[0] not in tfds.list_builders():
        raise UsageError(f"unknown TFDS dataset '{name.split('/')[0]}' (see tfds.list_builders())")
    return tfds


def _load(tfds, name, split_names, data_dir, **options):
    """tfds.load of `split_names`, downloading only when online; one line when it fails."""
    directory = data_dir or os.environ.get("TFDS_DATA_DIR")
    online = is_online()
    absl_logger = logging.getLogger("absl")  # TFDS warns about each folder it looks in
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        return tfds.load(name, split=list(split_names), data_dir=directory, download=online, with_info=True,
                         **options)
    except Exception as error:  # offline and not prepared, or a failed download
        state = "online" if online else "offline, so nothing was downloaded"
        raise NnkitError(f"cannot load TFDS dataset '{name}' ({state}): {str(error).splitlines()[0]}")
    finally:
        absl_logger.setLevel(level)


def load_image_classification(name, splits, data_dir=None, image_size=28):
    """{split: (uint8 images (n, size, size), int64 labels)} and the class names."""
    tfds = _import_tfds(name)
    import tensorflow as tf

    datasets, info = _load(tfds, name, [SPLIT_NAMES[split] for split in splits], data_dir, as_supervised=True)
    if "label" not in info.features or not hasattr(info.features["label"], "names"):
        raise UsageError(f"TFDS dataset '{name}' has no class 'label' feature")
    loaded = {}
    for split, dataset in zip(splits, datasets):
        images, labels = [], []
        for image, label in tfds.as_numpy(dataset.batch(1024)):
            images.append(_to_gray(tf, image, image_size))
            labels.append(label)
        loaded[split] = (np.concatenate(images), np.concatenate(labels).astype(np.int64))
    return loaded, list(info.features["label"].names)


def _to_gray(tf, batch, size):
    batch = tf.convert_to_tensor(batch)
    if batch.shape[-1] == 3:
        batch = tf.image.rgb_to_grayscale(batch)
    if batch.shape[1] != size or batch.shape[2] != size:
        batch = tf.image.resize(batch, (size, size), antialias=True)
    return np.clip(np.round(batch.numpy()), 0, 255).astype(np.uint8)[..., 0]


class Examples:
    """A TFDS dataset's splits as iterables of examples (dicts of NumPy values, text as bytes),
    with its feature layout. `datasets` is keyed by nnkit's split names (train, valid, test); a
    split the builder lacks is not among them (the task holds it out of train)."""

    def __init__(self, tfds, name, datasets, info):
        self.tfds, self.name, self.datasets, self.info = tfds, name, datasets, info
        self.features = feature_paths(info.features)

    def __contains__(self, split):
        return split in self.datasets

    def read(self, split, limit=None):
        """The examples of one split, in the builder's order (the first `limit` only, if given)."""
        dataset = self.datasets[split]
        return self.tfds.as_numpy(dataset.take(limit) if limit else dataset)

    def choose(self, kind, what, preferred=(), named=None, config_key=None, sequence=None, accept=None):
        """The path of the one feature of `kind` (see `feature_paths`; a sequence or not, as
        `sequence` says, and `accept`ed if given) that a task reads as `what`: `named` if given (a
        config key's value), else the only one, else the first of the `preferred` names (the last
        part of a path) that the builder has; UsageError otherwise."""
        found = [path for path, feature in self.features.items() if feature["kind"] == kind
                 and (sequence is None or feature["sequence"] == sequence) and (accept is None or accept(feature))]
        if named is not None:
            if named not in found:
                raise UsageError(f"config key '{config_key}' is {named!r}, but the {kind} features of TFDS dataset "
                                 f"'{self.name}' are: {', '.join(found) or 'none'}")
            return named
        if len(found) == 1:
            return found[0]
        for name in preferred:
            match = [path for path in found if path.split("/")[-1] == name]
            if match:
                return match[0]
        if not found:
            raise UsageError(f"TFDS dataset '{self.name}' has no {what} ({kind} feature); its features are: "
                             f"{', '.join(self.features)}")
        choice = f"; set {config_key} to one of them" if config_key else ""
        raise UsageError(f"TFDS dataset '{self.name}' has several {kind} features for {what} "
                         f"({', '.join(found)}){choice}")


def load_examples(source, splits, data_dir=None):
    """`Examples` of the splits (train, valid, test) that the dataset `source` (tfds:NAME[/CONFIG])
    has, of those asked for; train is always loaded when another split is missing, to hold it out of."""
    name = source[len(PREFIX):] if source.startswith(PREFIX) else source
    tfds = _import_tfds(name)
    try:
        known = set(tfds.builder(name, data_dir=data_dir or os.environ.get("TFDS_DATA_DIR")).info.splits)
    except Exception as error:  # an unknown config, say
        raise UsageError(f"TFDS dataset '{name}': {str(error).splitlines()[0]}")
    # A builder not yet prepared (or TFDS's mock data) knows no split names: take the usual ones.
    chosen = {split: next((n for n in BUILDER_SPLITS[split] if not known or n in known), None)
              for split in (*splits, "train")}
    if any(chosen[split] is None for split in splits):  # train is read to hold the missing ones out of
        if chosen["train"] is None:
            raise UsageError(f"TFDS dataset '{name}' has no train split (it has {', '.join(sorted(known))})")
        splits = (*splits, "train")
    chosen = {split: chosen[split] for split in dict.fromkeys(splits) if chosen[split]}
    datasets, info = _load(tfds, name, chosen.values(), data_dir)
    return Examples(tfds, name, dict(zip(chosen, datasets)), info)


def feature_paths(features, prefix="", sequence=False):
    """{path: {"kind", "sequence", "names"}} of every leaf of a TFDS feature layout: path parts
    joined by "/" (COCO's captions text is "captions/text"); kind "text" (a string), "image",
    "class" (a ClassLabel, with its `names`) or "other"; `sequence` when it is one per item of
    a sequence (a sentence's tokens, a photo's captions)."""
    import tensorflow_datasets as tfds

    if isinstance(features, tfds.features.Sequence):
        return feature_paths(features.feature, prefix, sequence=True)
    if isinstance(features, tfds.features.FeaturesDict):
        found = {}
        for key, feature in features.items():
            found.update(feature_paths(feature, f"{prefix}/{key}" if prefix else key, sequence))
        return found
    if isinstance(features, tfds.features.ClassLabel):
        kind = "class"
    elif isinstance(features, tfds.features.Image):
        kind = "image"
    elif isinstance(features, tfds.features.Tensor) and features.shape == () and np.dtype(features.np_dtype).kind in "OSU":
        kind = "text"  # tfds.features.Text and plain string tensors alike
    else:
        kind = "other"
    return {prefix: {"kind": kind, "sequence": sequence, "names": list(getattr(features, "names", []) or [])}}


def value(example, path):
    """The value at `path` of an example (see `feature_paths`)."""
    for key in path.split("/") if path not in example else [path]:
        example = example[key]
    return example


def text(raw):
    """A string of a TFDS text value (bytes), a list of them for a sequence."""
    if isinstance(raw, (bytes, np.bytes_)):
        return raw.decode("utf-8", errors="replace")
    if isinstance(raw, str):
        return raw
    return [text(item) for item in raw]
