"""The plain Keras scripts' epoch timer (a module of its own: runner.py serves the PyTorch
scripts too, which must not import Keras)."""

import keras


class EpochClock(keras.callbacks.Callback):
    def __init__(self, clock):
        super().__init__()
        self.clock = clock

    def on_epoch_begin(self, epoch, logs=None):
        self.clock.start()

    def on_epoch_end(self, epoch, logs=None):
        self.clock.stop(logs["loss"])
