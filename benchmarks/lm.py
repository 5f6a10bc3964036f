"""Language-model benchmark: Penn Treebank perplexity (per word, <eos> counted) on valid and
test, training and generation speed, for the default config (`configs/lm.yaml`) on this
machine, plus any extra run named with --only and flags.

    NNKIT_DATA_DIR=../shared/data python benchmarks/lm.py
    NNKIT_DATA_DIR=... KERAS_BACKEND=jax python benchmarks/lm.py --name "gpu: medium, tied" \
        -- --units 650 --set model.embedding_dim=650 --dropout 0.5 --epochs 39

Targets (issue 5): test perplexity at most 115 for a small model trained on a 2-core CPU within
90 minutes, and at most 80 for a medium tied model trained on a GPU machine.
Results: benchmarks/results/lm.{json,md}; the README table is updated from them.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, hardware, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
GENERATED_WORDS = 500


def generation_speed(model_path):
    """Words per second of `nnkit lm generate`'s loop (the model loaded once, 500 words)."""
    from nnkit.backend import import_keras_quietly

    import_keras_quietly()
    from nnkit.saving import load_predictor

    predictor = load_predictor(model_path, expected_task="lm")
    predictor.generate("the company said", 5, seed=0)  # compile the one-word step first
    started = time.perf_counter()
    predictor.generate("the company said", GENERATED_WORDS, top_k=40, seed=0)
    return GENERATED_WORDS / (time.perf_counter() - started)


def train(name, flags, work):
    output = work / name.replace(" ", "_").replace(",", "").replace(":", "")
    seconds, _ = run([*NNKIT, "lm", "train", "--quiet", "--output", str(output), *flags])
    metadata = json.loads((output / "metadata.json").read_text())
    test, training, config = metadata["metrics"]["test"], metadata["training"], metadata["config"]
    epochs = len(training["epoch_train_seconds"])
    return {"flags": flags, "test_perplexity": test["test_perplexity"], "valid_perplexity": test["valid_perplexity"],
            "wall_time_s": round(seconds, 1), "training_time_s": training["wall_time_s"], "epochs": epochs,
            "train_words_per_s": round(training["train_samples"] * config["training"]["bptt"] * epochs
                                       / sum(training["epoch_train_seconds"])),
            "generation_words_per_s": round(generation_speed(output), 1),
            "backend": metadata["versions"]["backend"], "hardware": hardware(),
            "model": config["model"], "training": config["training"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "lm"))
    parser.add_argument("--name", default="cpu: small (default config)", help="row name of this run")
    parser.add_argument("flags", nargs="*", help="nnkit lm train flags for this run (after --)")
    args = parser.parse_args()
    previous = RESULTS / "lm.json"
    runs = json.loads(previous.read_text())["runs"] if previous.is_file() else {}
    runs[args.name] = train(args.name, args.flags, Path(args.work))
    print(f"{args.name}: test perplexity {runs[args.name]['test_perplexity']:.2f}", flush=True)
    rows = [[f"lm: {name}", f"{r['test_perplexity']:.1f}", f"{r['valid_perplexity']:.1f}",
             f"{r['model']['layers']}x{r['model']['units']} {r['model']['architecture']}"
             + (", tied" if r["model"]["tie_weights"] else ""),
             f"{r['wall_time_s'] / 60:.0f} min ({r['epochs']} epochs)", f"{r['train_words_per_s']:,}",
             f"{r['generation_words_per_s']:.0f}", f"{r['hardware']['cpu']} ({r['hardware']['cores']} cores), {r['backend']}"]
            for name, r in runs.items()]
    write_results("lm", {"runs": runs, "targets": {"cpu_test_perplexity": 115, "gpu_test_perplexity": 80},
                         "environment": {"KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "tensorflow")}},
                  rows, ["PTB", "test perplexity", "valid perplexity", "model", "wall time",
                         "training words/s", "generation words/s", "hardware"])


if __name__ == "__main__":
    main()
