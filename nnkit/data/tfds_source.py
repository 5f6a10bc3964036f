"""`--data tfds:NAME`: any TensorFlow Datasets image-classification entry (TensorFlow only).

Offline, a TFDS download retries DNS for minutes before failing, so this module checks for a
network first (or obeys NNKIT_OFFLINE=1) and, without one, loads with `download=False`: only a
dataset already prepared in the TFDS data directory is read, and a missing one fails at once.
"""

import logging
import os
import socket

import numpy as np

from nnkit.errors import NnkitError, UsageError

SPLIT_NAMES = {"train": "train", "test": "test"}


def is_online(host="storage.googleapis.com", port=443, timeout=2.0):
    """Whether the TFDS download host is reachable (fails fast without DNS or a route)."""
    if os.environ.get("NNKIT_OFFLINE"):
        return False
    try:
        socket.create_connection((host, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def load_image_classification(name, splits, data_dir=None, image_size=28):
    """{split: (uint8 images (n, size, size), int64 labels)} and the class names."""
    try:
        import tensorflow as tf
        import tensorflow_datasets as tfds
    except ImportError as error:
        raise UsageError(f"--data tfds:{name} needs TensorFlow Datasets: pip install 'nnkit[tfds]' ({error})")
    if name not in tfds.list_builders():
        raise UsageError(f"unknown TFDS dataset '{name}' (see tfds.list_builders())")
    directory = data_dir or os.environ.get("TFDS_DATA_DIR")
    online = is_online()
    absl_logger = logging.getLogger("absl")  # TFDS warns about each folder it looks in
    level = absl_logger.level
    absl_logger.setLevel(logging.ERROR)
    try:
        datasets, info = tfds.load(name, split=[SPLIT_NAMES[split] for split in splits], data_dir=directory,
                                   download=online, as_supervised=True, with_info=True)
    except Exception as error:  # offline and not prepared, or a failed download
        state = "online" if online else "offline, so nothing was downloaded"
        raise NnkitError(f"cannot load TFDS dataset '{name}' ({state}): {str(error).splitlines()[0]}")
    finally:
        absl_logger.setLevel(level)
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
