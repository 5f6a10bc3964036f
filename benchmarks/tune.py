"""Tuning benchmark (issue 8): within a stated budget, does `nnkit <task> tune` find a config
whose validation metric beats the default config's, trained under the same protocol?

    NNKIT_DATA_DIR=../shared/data python benchmarks/tune.py [--only digits|slots]

Protocol, per task: the same data and epochs for the default and for every trial (a shortened
schedule, so that a search fits the budget on 2 CPU cores); the default's figure is its best
epoch's validation metric, as a trial's is. The tuned model's test metric is reported beside the
default's. Results: benchmarks/results/tune.{json,md} and the README table.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
PROTOCOLS = {
    "digits": {"objective": "val_accuracy", "test_metric": "accuracy", "budget": "12m", "tuner": "bayesian",
               "flags": ["--epochs", "4", "--set", "data.train_limit=10000", "--set", "data.validation_fraction=0.1"],
               # The shipped space without the slowest corners (resnet, vgg, width 64), to fit the budget.
               "space": ["--set", "search_space.model.architecture={values: [cnn, lenet5]}",
                         "--set", "search_space.model.width={values: [16, 32, 48]}"],
               "described": "10,000 training images (1,000 held out for validation), 4 epochs"},
    "slots": {"objective": "val_slot_f1", "test_metric": "slot_f1", "budget": "15m", "tuner": "bayesian",
              "flags": ["--epochs", "8"],
              "space": ["--set", "search_space.model.layers={min: 1, max: 2}",
                        "--set", "search_space.model.units={values: [64, 128]}"],
              "described": "ATIS train / valid, 8 epochs"},
}


def best_epoch_value(history, name, direction):
    values = history[name]
    return max(values) if direction == "max" else min(values)


def benchmark(task, protocol, work, reuse):
    default_dir, search_dir, tuned_dir = work / f"{task}-default", work / f"{task}-search", work / f"{task}-tuned"
    if not (reuse and (default_dir / "metadata.json").is_file()):
        run([*NNKIT, task, "train", "--quiet", "--output", default_dir, *protocol["flags"]])
    default = json.loads((default_dir / "metadata.json").read_text())
    tune = [*NNKIT, task, "tune", "--tuner", protocol["tuner"], "--objective", protocol["objective"],
            "--directory", search_dir, "--output", tuned_dir, *protocol["flags"], *protocol["space"]]
    finished = sorted(search_dir.glob("trial_*/nnkit_trial.json"))
    if reuse and finished:  # no new trials: only the reports and the best model
        run([*tune, "--max-trials", str(len(finished))])
    else:
        run([*tune, "--max-trials", "200", "--time-budget", protocol["budget"], "--overwrite"])
    trials = json.loads((search_dir / "trials.json").read_text())
    tuned = json.loads((tuned_dir / "metadata.json").read_text())
    best = next(row for row in trials["trials"] if row["trial"] == trials["best_trial"])
    default_value = best_epoch_value(default["history"], protocol["objective"], trials["objective"]["direction"])
    return {
        "protocol": protocol["described"], "space_changes": protocol["space"][1::2], "objective": protocol["objective"], "tuner": protocol["tuner"],
        "budget": protocol["budget"], "default_validation": default_value, "tuned_validation": best["objective"],
        "default_test": default["metrics"]["test"][protocol["test_metric"]],
        "tuned_test": tuned["metrics"]["test"][protocol["test_metric"]],
        "trials": len(trials["trials"]), "completed": sum(row["status"] == "completed" for row in trials["trials"]),
        "best_hyperparameters": best["hyperparameters"],
        "default_training_s": default["training"]["wall_time_s"],
        "trials_time_s": round(sum(row["seconds"] or 0 for row in trials["trials"]), 1),
    }


def write_table(runs):
    rows = []
    for task, result in runs.items():
        beats = result["tuned_validation"] > result["default_validation"]
        changed = ", ".join(f"{key.split('.')[-1]}={value:.3g}" if isinstance(value, float) else
                            f"{key.split('.')[-1]}={value}" for key, value in result["best_hyperparameters"].items()
                            if value is not None)
        rows.append([f"{task}: {result['protocol']}", f"{result['objective']}",
                     f"{result['default_validation']:.4f}", f"**{result['tuned_validation']:.4f}**" if beats
                     else f"{result['tuned_validation']:.4f}", "yes" if beats else "no",
                     f"{result['default_test']:.4f} / {result['tuned_test']:.4f}",
                     f"{result['tuner']}, {result['budget']} ({result['trials']} trials, "
                     f"{result['trials_time_s'] / 60:.0f} min of trials)", changed])
    write_results("tune", {"runs": runs}, rows,
                  ["task and protocol", "objective", "default (validation)", "tuned (validation)", "beats default",
                   "test: default / tuned", "search", "best config"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PROTOCOLS))
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "tune"))
    parser.add_argument("--reuse", action="store_true",
                        help="reuse the default model and finish a search already in --work without new trials")
    args = parser.parse_args()
    previous = RESULTS / "tune.json"
    runs = json.loads(previous.read_text())["runs"] if previous.is_file() else {}
    for task in [args.only] if args.only else PROTOCOLS:
        runs[task] = benchmark(task, PROTOCOLS[task], Path(args.work), args.reuse)
        write_table(runs)


if __name__ == "__main__":
    main()
