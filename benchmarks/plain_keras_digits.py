"""The baseline for nnkit's overhead: the same digits model trained by a plain Keras script.

Same model builder, optimizer, batch size and number of training images as `nnkit digits
train`, but no nnkit wiring: no callbacks besides a timer, no validation. Prints JSON with the
training seconds of each epoch.
"""

import argparse
import json
import time

import keras
import numpy as np

from nnkit.config import load_config
from nnkit.data.idx import read_idx
from nnkit.models.vision import build_image_classifier


class Timer(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self.start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append(time.perf_counter() - self.start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--train-images", type=int, required=True)
    args = parser.parse_args()

    config = load_config("digits")
    keras.utils.set_random_seed(config["seed"])
    images = read_idx(f"{args.data}/train-images-idx3-ubyte.gz")[: args.train_images]
    labels = read_idx(f"{args.data}/train-labels-idx1-ubyte.gz")[: args.train_images].astype(np.int64)
    model = build_image_classifier((28, 28, 1), 10, config["model"], config["augmentation"], config["seed"])
    model.compile(optimizer=keras.optimizers.Adam(config["training"]["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    timer = Timer()
    model.fit(images, labels, batch_size=config["training"]["batch_size"], epochs=args.epochs,
              callbacks=[timer], verbose=0)
    print(json.dumps({"epoch_train_seconds": timer.seconds, "train_images": len(images)}))


if __name__ == "__main__":
    main()
