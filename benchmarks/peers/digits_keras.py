"""LeNet-5 on MNIST in plain Keras (keras.io style): a Sequential model and `model.fit`.

The same layers as `nnkit digits train --model lenet5` without augmentation: conv, batch norm
and ReLU units (no conv bias under batch norm), max pooling, dense 120 and 84, dropout, softmax.
"""

import keras
from keras import layers

from keras_clock import EpochClock
from runner import Clock, arguments, report


def unit(kind, size, **options):
    return [kind(size, use_bias=False, kernel_initializer="he_normal", **options),
            layers.BatchNormalization(), layers.Activation("relu")]


def main():
    args, data, meta = arguments(__doc__)
    keras.utils.set_random_seed(args.seed)
    model_config, training = meta["config"]["model"], meta["config"]["training"]
    model = keras.Sequential([
        keras.Input((28, 28, 1)),
        layers.Rescaling(1 / 255),
        *unit(layers.Conv2D, 6, kernel_size=5, padding="same"),
        layers.MaxPooling2D(2),
        *unit(layers.Conv2D, 16, kernel_size=5, padding="valid"),
        layers.MaxPooling2D(2),
        layers.Flatten(),
        *unit(layers.Dense, 120),
        *unit(layers.Dense, 84),
        layers.Dropout(model_config["dropout"]),
        layers.Dense(10, activation="softmax"),
    ])
    model.compile(optimizer=keras.optimizers.Adam(training["learning_rate"]),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    clock = Clock()
    images = data["x"].reshape(-1, 28, 28, 1)
    model.fit(images, data["y"], batch_size=training["batch_size"], epochs=args.epochs,
              callbacks=[EpochClock(clock)], verbose=0)
    report(clock, -(-len(images) // training["batch_size"]))


if __name__ == "__main__":
    main()
