"""Batches of variable-length sentences, each padded only as far as its own longest one.

ATIS sentences average 11 words but run up to 46: padding every batch to the longest
sentence of the corpus would make a recurrent net spend three quarters of its steps on
padding. A `keras.utils.PyDataset` works with every backend.
"""

import math

import keras
import numpy as np


def _cut(array, length, rows):
    """The `rows` of `array`, with its time axis (axis 1, if any) cut to `length`."""
    return array[rows, :length] if array.ndim > 1 else array[rows]


class PaddedBatches(keras.utils.PyDataset):
    """(inputs, targets) batches from 0-padded arrays with a time axis; `lengths` gives each
    example's real length. Lengths are rounded up to a multiple of `multiple`, so that only a
    few distinct shapes get traced and compiled. Shuffled afresh each epoch when `shuffle`."""

    def __init__(self, inputs, targets, lengths, batch_size, shuffle=False, seed=0, multiple=8):
        super().__init__()
        self.inputs, self.targets = inputs, targets
        self.lengths, self.batch_size, self.multiple = np.asarray(lengths), batch_size, multiple
        self.shuffle, self.rng = shuffle, np.random.default_rng(seed)
        self.order = self.rng.permutation(len(self.lengths)) if shuffle else np.arange(len(self.lengths))

    def __len__(self):
        return math.ceil(len(self.lengths) / self.batch_size)

    def __getitem__(self, index):
        rows = np.sort(self.order[index * self.batch_size:(index + 1) * self.batch_size])
        length = self.multiple * math.ceil(max(1, self.lengths[rows].max()) / self.multiple)
        inputs = {name: _cut(array, length, rows) for name, array in self.inputs.items()}
        targets = {name: _cut(array, length, rows) for name, array in self.targets.items()}
        return inputs, targets

    def on_epoch_end(self):
        if self.shuffle:
            self.order = self.rng.permutation(len(self.lengths))
