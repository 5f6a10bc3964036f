"""Digits benchmark: MNIST test accuracy and wall time of the best and LeNet-5 configurations,
nnkit's training throughput against a plain Keras script, and CLI latencies.

    NNKIT_DATA_DIR=../shared/data python benchmarks/digits.py

Targets (issue 2): best >= 99.5% test accuracy in <= 15 min on a 2-core CPU; LeNet-5 >= 99.0%;
throughput ratio nnkit / plain Keras >= 0.97. Results: benchmarks/results/digits.{json,md}.
"""

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, median_wall_time, run, steady_samples_per_s, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]


EXTRA_FLAGS = []  # --set overrides for every training run (a quick dry run of the script)


def train(work, name, *flags):
    output = work / name
    seconds, _ = run([*NNKIT, "digits", "train", "--quiet", "--output", str(output), *flags, *EXTRA_FLAGS])
    metadata = json.loads((output / "metadata.json").read_text())
    training = metadata["training"]
    return {
        "test_accuracy": metadata["metrics"]["test"]["accuracy"],
        "wall_time_s": round(seconds, 1),
        "epochs": len(training["epoch_train_seconds"]),
        "samples_per_s": round(steady_samples_per_s(training["epoch_train_seconds"], training["train_samples"]), 1),
        "train_samples": training["train_samples"],
        "config": {k: metadata["config"][k] for k in ("model", "training", "augmentation")},
    }, output


def throughput(work, data_dir, epochs):
    nnkit, _ = train(work, "throughput", "--epochs", str(epochs))
    _, printed = run([sys.executable, str(ROOT / "benchmarks" / "plain_keras_digits.py"), "--data", data_dir,
                      "--epochs", str(epochs), "--train-images", str(nnkit["train_samples"])])
    plain = json.loads(printed.strip().splitlines()[-1])
    plain_rate = steady_samples_per_s(plain["epoch_train_seconds"], plain["train_images"])
    return {"nnkit_samples_per_s": nnkit["samples_per_s"], "plain_keras_samples_per_s": round(plain_rate, 1),
            "ratio": round(nnkit["samples_per_s"] / plain_rate, 3), "epochs_each": epochs}


def file_pipeline_accuracy(model_dir, data_dir, count=1000):
    """Accuracy when the test digits go through PNG files and `nnkit.load(...).predict`."""
    import nnkit
    from nnkit.data.idx import read_idx
    from nnkit.data.images import write_png

    images = read_idx(Path(data_dir) / "t10k-images-idx3-ubyte.gz")[:count]
    labels = read_idx(Path(data_dir) / "t10k-labels-idx1-ubyte.gz")[:count]
    folder = Path(tempfile.mkdtemp())
    paths = []
    for index, image in enumerate(images):
        paths.append(folder / f"{index}.png")
        write_png(image, paths[-1])
    predictions = nnkit.load(model_dir).predict(paths)
    return sum(int(p["label"]) == int(y) for p, y in zip(predictions, labels)) / count, paths[0]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "digits"), help="scratch folder")
    parser.add_argument("--throughput-epochs", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="config override for every run, e.g. for a dry run: --set data.train_limit=2000")
    args = parser.parse_args()
    EXTRA_FLAGS.extend(flag for override in args.set for flag in ("--set", override))
    data_root = Path(os.environ.get("NNKIT_DATA_DIR", ROOT.parent / "shared" / "data"))
    os.environ["NNKIT_DATA_DIR"] = str(data_root)
    mnist_dir = str(data_root / "mnist" if (data_root / "mnist").is_dir() else data_root)
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    best, best_dir = train(work, "best")
    print("best:", best, flush=True)
    lenet, _ = train(work, "lenet5", "--model", "lenet5")
    print("lenet5:", lenet, flush=True)
    speed = throughput(work, mnist_dir, args.throughput_epochs)
    print("throughput:", speed, flush=True)
    file_accuracy, one_png = file_pipeline_accuracy(best_dir, mnist_dir)
    latency = {
        "help_s": round(median_wall_time([*NNKIT, "--help"], 5), 3),
        "cold_predict_one_png_s": round(median_wall_time(
            [*NNKIT, "digits", "predict", str(one_png), "--model-path", str(best_dir)], 3), 2),
    }
    print("latency:", latency, flush=True)

    results = {"best": best, "lenet5": lenet, "throughput": speed, "latency": latency,
               "file_pipeline_accuracy_1000": file_accuracy,
               "targets": {"best_accuracy": 0.995, "best_wall_time_s": 900, "lenet5_accuracy": 0.99,
                           "throughput_ratio": 0.97}}
    minutes = lambda seconds: f"{seconds / 60:.1f} min"  # noqa: E731
    rows = [
        ["digits: best (`cnn`)", f"{best['test_accuracy']:.2%} test accuracy", "≥ 99.5% in ≤ 15 min",
         minutes(best["wall_time_s"]), f"{best['samples_per_s']:.0f} samples/s"],
        ["digits: LeNet-5", f"{lenet['test_accuracy']:.2%} test accuracy", "≥ 99.0%",
         minutes(lenet["wall_time_s"]), f"{lenet['samples_per_s']:.0f} samples/s"],
        ["digits: nnkit / plain Keras throughput", f"{speed['ratio']:.3f}", "≥ 0.97", "",
         f"{speed['nnkit_samples_per_s']:.0f} vs {speed['plain_keras_samples_per_s']:.0f} samples/s"],
        ["digits: PNG files through `nnkit.load().predict`", f"{file_accuracy:.2%} of 1,000 test digits", "", "", ""],
        ["`nnkit --help`", f"{latency['help_s']:.2f} s", "well under 1 s", "", ""],
        ["`nnkit digits predict one.png` (cold)", f"{latency['cold_predict_one_png_s']:.2f} s", "", "", ""],
    ]
    write_results("digits", results, rows, ["what", "measured", "target", "wall time", "speed"])


if __name__ == "__main__":
    main()
