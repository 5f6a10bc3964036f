"""Write the training arrays nnkit trains a task on, so the peer scripts train on exactly the
same examples, ids and vocabularies: `OUT.npz` (the arrays) and `OUT.json` (the config and the
sizes the models need).

    python benchmarks/peers/prepare.py digits --set data.train_limit=6000 --out work/digits
"""

import argparse
import json

import numpy as np

from nnkit.config import load_config
from nnkit.registry import load_task


def flat(arrays, prefix):
    """(inputs, targets) of arrays or dicts of arrays -> {name: array}."""
    if isinstance(arrays, dict):
        return {f"{prefix}{name}": np.asarray(array) for name, array in arrays.items()}
    return {prefix.rstrip("_"): np.asarray(arrays)}


def sizes(info):
    """The sizes a model needs from the task's data info: lengths of its vocabularies and lists."""
    return {key: len(value) if isinstance(value, (list, dict)) else value for key, value in info.items()
            if isinstance(value, (list, dict, int))}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("task")
    parser.add_argument("--set", action="append", default=[])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    task = load_task(args.task)
    config = load_config(args.task, overrides=args.set)
    splits = task.load_data(config, None)
    inputs, targets = splits.train
    arrays = {**flat(inputs, "x_"), **flat(targets, "y_")}
    np.savez(args.out + ".npz", **arrays)
    with open(args.out + ".json", "w") as handle:
        json.dump({"config": config, "sizes": sizes(splits.info),
                   "shapes": {name: list(array.shape) for name, array in arrays.items()}}, handle, indent=1)


if __name__ == "__main__":
    main()
