"""X-vs-O benchmark: accuracy on held-out generated cells, and on real image folders if given.

    python benchmarks/xo.py [--real DIR ...]

Target (issue 3): >= 99.5% on generated test cells; >= 97% on real webcam crops of hand-drawn
cells (a held-back set; pass any real folder of x/, o/, none/ images with --real).
Results: benchmarks/results/xo.{json,md}.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, run, steady_samples_per_s, write_results  # noqa: E402
from font_cells import write_font_cells  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "xo"))
    parser.add_argument("--real", action="append", default=[], metavar="DIR", help="real image folder(s) to score")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override")
    args = parser.parse_args()
    output = Path(args.work) / "model"
    flags = [flag for override in args.set for flag in ("--set", override)]
    seconds, _ = run([*NNKIT, "xo", "train", "--quiet", "--output", str(output), *flags])
    metadata = json.loads((output / "metadata.json").read_text())
    training = metadata["training"]
    generated = metadata["metrics"]["test"]
    results = {"generated_test_accuracy": generated["accuracy"], "generated_test_examples": generated["examples"],
               "wall_time_s": round(seconds, 1), "epochs": len(training["epoch_train_seconds"]),
               "samples_per_s": round(steady_samples_per_s(training["epoch_train_seconds"], training["train_samples"]), 1),
               "config": {k: metadata["config"][k] for k in ("data", "model", "training", "augmentation")},
               "real": {}, "targets": {"generated_accuracy": 0.995, "real_accuracy": 0.97}}
    rows = [["xo: generated test cells", f"{generated['accuracy']:.2%} of {generated['examples']}", "≥ 99.5%",
             f"{seconds / 60:.1f} min", f"{results['samples_per_s']:.0f} samples/s"]]
    def score(folder):
        _, printed = run([*NNKIT, "xo", "evaluate", "--model-path", str(output), "--data", str(folder), "--json"])
        scored = json.loads(printed)
        return {"accuracy": scored["accuracy"], "examples": scored["examples"]}

    fonts = score(write_font_cells(Path(args.work) / "font_cells"))
    results["font_cells"] = fonts
    rows.append(["xo: X/O typeset in DejaVu fonts (not the training generator)",
                 f"{fonts['accuracy']:.2%} of {fonts['examples']}", "", "", ""])
    for folder in args.real:
        real = results["real"][folder] = score(folder)
        rows.append([f"xo: real cells in `{Path(folder).name}`", f"{real['accuracy']:.2%} of {real['examples']}", "≥ 97%", "", ""])
    if not args.real:
        rows.append(["xo: real webcam crops", "not measured: no real set on this machine", "≥ 97%", "", ""])
    write_results("xo", results, rows, ["what", "measured", "target", "wall time", "speed"])


if __name__ == "__main__":
    main()
