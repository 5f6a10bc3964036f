"""Batches of variable-length sentences, each padded only as far as its own longest one.

ATIS sentences average 11 words but run up to 46: padding every batch to the longest
sentence of the corpus would make a recurrent net spend three quarters of its steps on
padding. A `keras.utils.PyDataset` works with every backend.
"""

import math

import keras
import numpy as np


def _cut(array, length, rows):
    """The `rows` of `array`, with its time axis (axis 1, if any) cut or 0-padded to `length`:
    every array of a batch gets the same time axis, however wide it was as a whole."""
    if array.ndim == 1:
        return array[rows]
    batch = array[rows, :length]
    padding = [(0, 0), (0, length - batch.shape[1])] + [(0, 0)] * (array.ndim - 2)
    return np.pad(batch, padding) if batch.shape[1] < length else batch


class PaddedBatches(keras.utils.PyDataset):
    """(inputs, targets) batches from 0-padded arrays with a time axis; `lengths` gives each
    example's real length. Lengths are rounded up to a multiple of `multiple`, so that only a
    few distinct shapes get traced and compiled. Shuffled afresh each epoch when `shuffle`."""

    def __init__(self, inputs, targets, lengths, batch_size, shuffle=False, seed=0, multiple=8):
        super().__init__()
        self.inputs, self.targets = inputs, targets
        self.lengths, self.batch_size, self.multiple = np.asarray(lengths), batch_size, multiple
        self.shuffle, self.rng = shuffle, np.random.default_rng(seed)
        self._arrange(self.rng.permutation(len(self.lengths)) if shuffle else np.arange(len(self.lengths)))

    def _arrange(self, order):
        """Batches of `order`, the widest first and the narrowest second: Keras infers the
        batches' shapes from the first two, and must see the time axis vary to leave it open.
        Where those two are as wide (this epoch's batches all round to one width, a later
        epoch's may not), the second is padded one step of `multiple` wider; padding is masked."""
        self.batches = [np.sort(order[start:start + self.batch_size]) for start in range(0, len(order), self.batch_size)]
        widths = [self._width(rows) for rows in self.batches]
        widest, narrowest = int(np.argmax(widths)), int(np.argmin(widths))
        first = [widest] + ([narrowest] if narrowest != widest else [])
        self.batches = [self.batches[i] for i in first] + [b for i, b in enumerate(self.batches) if i not in first]
        self.widen_second = len(self.batches) > 1 and widths[widest] == widths[narrowest]

    def _width(self, rows):
        return self.multiple * math.ceil(max(1, self.lengths[rows].max()) / self.multiple)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, index):
        rows = self.batches[index]
        length = self._width(rows) + (self.multiple if index == 1 and self.widen_second else 0)
        inputs = {name: _cut(array, length, rows) for name, array in self.inputs.items()}
        targets = {name: _cut(array, length, rows) for name, array in self.targets.items()}
        return inputs, targets

    def on_epoch_end(self):
        if self.shuffle:
            self._arrange(self.rng.permutation(len(self.lengths)))


class LookupBatches(PaddedBatches):
    """PaddedBatches where each example also gets a row of a shared `table`: input `index_name`
    holds the row numbers and is replaced by input `name` with the rows. Captioning stores a
    photo's cached encoder grid once and looks it up for each of its five captions."""

    def __init__(self, table, index_name, name, inputs, targets, lengths, batch_size, shuffle=False, seed=0):
        self.table, self.index_name, self.name = table, index_name, name
        super().__init__(inputs, targets, lengths, batch_size, shuffle=shuffle, seed=seed)

    def __getitem__(self, index):
        inputs, targets = super().__getitem__(index)
        rows = inputs.pop(self.index_name)
        return {**inputs, self.name: self.table[rows]}, targets
