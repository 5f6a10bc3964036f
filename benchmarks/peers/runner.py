"""What every peer script shares, and nothing of the model or its training loop: reading the
prepared data (the arrays nnkit trains on, written by benchmarks/peers/prepare.py), the run's
options, padded length batches, and the one JSON line a run prints for benchmarks/peers.py.

A peer script is what a user of plain Keras or plain PyTorch would write for the same model;
it reads its hyperparameters (sizes, batch, learning rate) from the nnkit config saved beside
the data, so that both sides train the same model with the same optimizer.
"""

import argparse
import json
import math
import time

import numpy as np


def arguments(description):
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, help="the .npz written by prepare.py (its .json beside it)")
    parser.add_argument("--epochs", type=int, default=3, help="the first is warm-up (tracing, compiling)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: all cores)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    with np.load(args.data) as arrays:
        data = {name: arrays[name] for name in arrays.files}
    with open(args.data[:-len(".npz")] + ".json") as handle:
        meta = json.load(handle)
    return args, data, meta


def padded_batches(lengths, batch_size, rng, multiple=8):
    """Shuffled batches of row indexes, each with its width: its longest length rounded up to a
    multiple of `multiple` (as nnkit.data.batching.PaddedBatches pads, so both sides run the
    same shapes)."""
    order = rng.permutation(len(lengths))
    batches = []
    for start in range(0, len(order), batch_size):
        rows = np.sort(order[start:start + batch_size])
        batches.append((rows, multiple * math.ceil(max(1, lengths[rows].max()) / multiple)))
    # Keras's PyDataset infers the batches' shapes from the first two: the widest first and the
    # narrowest second leave the time axis open, as nnkit's PaddedBatches does.
    widths = [width for _, width in batches]
    first = list(dict.fromkeys([int(np.argmax(widths)), int(np.argmin(widths))]))
    return [batches[i] for i in first] + [batch for i, batch in enumerate(batches) if i not in first]


class Clock:
    """Seconds and mean training loss of each epoch."""

    def __init__(self):
        self.seconds, self.losses = [], []

    def start(self):
        self._started = time.perf_counter()

    def stop(self, loss):
        self.seconds.append(time.perf_counter() - self._started)
        self.losses.append(float(loss))


def report(clock, steps_per_epoch, **extra):
    print(json.dumps({"epoch_seconds": clock.seconds, "epoch_losses": clock.losses,
                      "steps_per_epoch": steps_per_epoch, **extra}))
