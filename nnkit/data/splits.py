"""Splits carved out of a user's data where it brings none: a seeded random share, the same for
the same seed. Files are often sorted (by length, by source, by date), so their last lines would
make a test set unlike the rest. What was held out, and how, goes into the model's metadata
(`held_out_record`) and `train` prints it."""

import numpy as np


def random_split(count, fractions, seed):
    """{name: indices for each `fractions` entry ({name: share of count}), "train": the rest}:
    a seeded random partition of range(count), each part in ascending (file) order."""
    order = np.random.default_rng(seed).permutation(count)
    parts, start = {}, 0
    for name, fraction in fractions.items():
        size = int(round(count * fraction))
        parts[name], start = np.sort(order[start:start + size]), start + size
    parts["train"] = np.sort(order[start:])
    return parts


def held_out_record(seed, **sizes):
    """What the metadata says of a split carved out here: how, with which seed, and the sizes."""
    return {"sampling": "seeded random", "seed": seed, **sizes}
