"""Slots benchmark: ATIS test slot F1, intent accuracy and sentence accuracy of every recurrent
family, each trained with the default config (`configs/slots.yaml`) but for the flags shown.
The default (best) configuration trains for its full epochs; the other families, to fit a
2-core CPU's budget, for `--family-epochs` (the cosine schedule is compressed to match).

    NNKIT_DATA_DIR=../shared/data python benchmarks/slots.py [--only NAME ...] [--encodings]

Target (issue 4): slot F1 >= 95.5 and intent accuracy >= 97.5 for the best configuration.
Results: benchmarks/results/slots.{json,md}; the README table is updated from them.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
FAMILIES = {
    "elman": ["--model", "elman", "--unidirectional"],
    "jordan": ["--model", "jordan", "--unidirectional"],
    "gru": ["--model", "gru", "--unidirectional"],
    "lstm": ["--model", "lstm", "--unidirectional"],
    "bidirectional elman": ["--model", "elman", "--bidirectional"],
}
DEFAULT = {"bidirectional lstm + attention (default)": []}
ENCODINGS = {f"bidirectional lstm, {encoding}": ["--model", "lstm", "--bidirectional", "--encoding", encoding]
             for encoding in ("onehot", "embedding", "wordhash")}


def train(name, flags, work):
    output = work / name.replace(" ", "_").replace(",", "").replace("(", "").replace(")", "")
    seconds, _ = run([*NNKIT, "slots", "train", "--quiet", "--output", str(output), *flags])
    metadata = json.loads((output / "metadata.json").read_text())
    test, model = metadata["metrics"]["test"], metadata["config"]["model"]
    return {"flags": flags, "slot_f1": test["slot_f1"], "slot_precision": test["slot_precision"],
            "slot_recall": test["slot_recall"], "intent_accuracy": test["intent_accuracy"],
            "sentence_accuracy": test["sentence_accuracy"], "wall_time_s": round(seconds, 1),
            "epochs": len(metadata["training"]["epoch_train_seconds"]),
            "parameters": model, "unseen": test["unseen"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "slots"))
    parser.add_argument("--only", action="append", metavar="NAME", help="run only these rows (keeps the others' last figures)")
    parser.add_argument("--encodings", action="store_true", help="also compare the word encodings")
    parser.add_argument("--family-epochs", type=int, default=15, help="epochs of the non-default rows")
    args = parser.parse_args()
    shorter = ["--epochs", str(args.family_epochs)]
    variants = {**DEFAULT, **{name: flags + shorter for name, flags in
                              {**FAMILIES, **(ENCODINGS if args.encodings else {})}.items()}}
    previous = RESULTS / "slots.json"
    runs = json.loads(previous.read_text())["runs"] if previous.is_file() else {}
    for name, flags in variants.items():
        if args.only and name not in args.only:
            continue
        runs[name] = train(name, flags, Path(args.work))
        print(f"{name}: F1 {runs[name]['slot_f1']:.4f}, intent {runs[name]['intent_accuracy']:.4f}", flush=True)
    rows = [[f"slots: {name}", f"{100 * r['slot_f1']:.2f}", f"{100 * r['intent_accuracy']:.2f}%",
             f"{100 * r['sentence_accuracy']:.2f}%", f"{r['wall_time_s'] / 60:.1f} min ({r['epochs']} epochs)"]
            for name, r in runs.items()]
    best = max(runs.values(), key=lambda r: r["slot_f1"])
    results = {"runs": runs, "targets": {"slot_f1": 0.955, "intent_accuracy": 0.975},
               "best": {"slot_f1": best["slot_f1"], "intent_accuracy": best["intent_accuracy"], "flags": best["flags"]}}
    write_results("slots", results, rows, ["ATIS test (893 sentences)", "slot F1", "intent accuracy",
                                            "sentence accuracy", "wall time"])


if __name__ == "__main__":
    main()
