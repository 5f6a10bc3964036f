"""Handwritten digits: MNIST with the CNN curriculum (MLP, LeNet-5, AlexNet, VGG, ResNet, CNN).

    nnkit digits train --model lenet5 --epochs 5
    nnkit digits evaluate --confusion-matrix cm.png
    nnkit digits predict my_digit.jpg --top-k 3

Data: the four MNIST IDX files in the data directory (downloaded when missing and online),
or any TensorFlow Datasets image classification set with `--data tfds:NAME`.
"""

import numpy as np

from nnkit.data.files import locate
from nnkit.errors import UsageError
from nnkit.families.image_classification import ImageClassificationTask
from nnkit.task import Splits

MNIST_MIRROR = "https://ossci-datasets.s3.amazonaws.com/mnist/"
# The published MD5 of each original .gz file (the same ones torchvision checks).
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873",
              "train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3",
             "t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}
LAYOUT = "MNIST files (" + ", ".join(name for files in MNIST_FILES.values() for name in files[::2]) + ")"


def load_mnist_split(data_dir, split):
    """(images uint8 (n, 28, 28), labels int (n,)) of the 'train' or 'test' split, from the data
    directory (None: the default) or its mnist/ folder."""
    from nnkit.data.idx import read_idx

    images_file, images_md5, labels_file, labels_md5 = MNIST_FILES[split]
    sources = {images_file: (MNIST_MIRROR + images_file, images_md5),
               labels_file: (MNIST_MIRROR + labels_file, labels_md5)}
    folder = locate(data_dir, "mnist", list(sources), LAYOUT, sources)
    images, labels = read_idx(folder / images_file), read_idx(folder / labels_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise UsageError(f"MNIST files in '{folder}' do not match: images {images.shape}, labels {labels.shape}")
    return images, labels.astype(np.int64)


def split_validation(images, labels, fraction, seed):
    """A seeded random hold-out of `fraction` of the training images."""
    count = int(round(len(images) * fraction))
    if count == 0:
        return (images, labels), None
    order = np.random.default_rng(seed).permutation(len(images))
    held_out, kept = order[:count], order[count:]
    return (images[kept], labels[kept]), (images[held_out], labels[held_out])


class DigitsTask(ImageClassificationTask):
    name = "digits"
    data_help = "Data directory with the MNIST files (default $NNKIT_DATA_DIR), or tfds:NAME."
    data_metavar = "DIR|tfds:NAME"
    data_layout = LAYOUT

    def check_config(self, config):
        super().check_config(config)
        source = config["data"]["source"]
        if source != "mnist" and not (source.startswith("tfds:") and source[5:]):
            raise UsageError(f"config key 'data.source' must be mnist or tfds:NAME, got {source!r}")

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        data = config["data"]
        source = data["source"]
        if source.startswith("tfds:"):
            from nnkit.data.tfds_source import load_image_classification

            loaded, class_names = load_image_classification(source[5:], splits, data_dir, image_size=28)
        else:  # mnist (check_config allows nothing else)
            loaded = {split: load_mnist_split(data_dir, split) for split in splits}
            class_names = [str(digit) for digit in range(10)]
        limits = {"train": data["train_limit"], "test": data["test_limit"]}
        loaded = {split: tuple(array[: limits[split]] for array in arrays) for split, arrays in loaded.items()}

        train, validation = None, None
        if "train" in loaded:
            train, validation = split_validation(*loaded["train"], data["validation_fraction"], config["seed"])
        info = {"source": source, "class_names": class_names, "input_shape": [28, 28, 1]}
        return Splits(train=train, validation=validation, test=loaded.get("test"), info=info)

    image_preparation = ("Luminance 0..255, made MNIST-like as nnkit.data.images.mnist_style does: light ink on "
                         "black, the ink fitted into 20x20 pixels and centred by mass in a 28x28 frame")

    def normalize(self, gray, info):
        from nnkit.data.images import mnist_style

        return mnist_style(gray)


TASK = DigitsTask()
