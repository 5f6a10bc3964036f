"""`--data tfds:NAME`: any TensorFlow Datasets image-classification entry (TensorFlow only).

Offline, TFDS retries DNS for minutes before failing, so this module checks for a network
first and, without one, only reads a dataset already prepared in the TFDS data directory.
"""

import os
import socket

import numpy as np

from nnkit.errors import NnkitError, UsageError

SPLIT_NAMES = {"train": "train", "test": "test"}


def is_online(host="storage.googleapis.com", port=443, timeout=2.0):
    """Whether the TFDS download host is reachable (fails fast without DNS or a route)."""
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
    directory = data_dir or os.environ.get("TFDS_DATA_DIR")
    online = is_online()
    try:
        builder = tfds.builder(name, data_dir=directory)
    except Exception as error:
        raise UsageError(f"unknown TFDS dataset '{name}': {error}")
    if not online and not builder.is_prepared():
        raise NnkitError(f"TFDS dataset '{name}' is not prepared in '{builder.data_dir}' and this machine is offline")
    features = builder.info.features
    if "image" not in features or "label" not in features:
        raise UsageError(f"TFDS dataset '{name}' has no 'image' and 'label' features")
    if online:
        builder.download_and_prepare()
    loaded = {}
    for split in splits:
        dataset = builder.as_dataset(split=SPLIT_NAMES[split], as_supervised=True)
        images, labels = [], []
        for image, label in tfds.as_numpy(dataset.batch(1024)):
            images.append(_to_gray(tf, image, image_size))
            labels.append(label)
        loaded[split] = (np.concatenate(images), np.concatenate(labels).astype(np.int64))
    return loaded, list(features["label"].names)


def _to_gray(tf, batch, size):
    batch = tf.convert_to_tensor(batch)
    if batch.shape[-1] == 3:
        batch = tf.image.rgb_to_grayscale(batch)
    if batch.shape[1] != size or batch.shape[2] != size:
        batch = tf.image.resize(batch, (size, size), antialias=True)
    return np.clip(np.round(batch.numpy()), 0, 255).astype(np.uint8)[..., 0]
