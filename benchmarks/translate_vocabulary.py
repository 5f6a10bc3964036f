"""Translation vocabulary benchmark: whole words against subwords (SentencePiece pieces of each
language's Moses tokens, `--vocabulary subwords`) on Multi30k, German->English and
English->German, with the same budget for both: the same training pairs, epochs and model (the
default config otherwise). BLEU is sacrebleu's on the 1,000 test2016 sentences (detokenized
output against the raw references, beam 5), as `nnkit translate evaluate` computes it.

    NNKIT_DATA_DIR=../shared/data python benchmarks/translate_vocabulary.py [--pairs 6000] [--epochs 3]

The four runs alternate (words, subwords, words, subwords), so that a machine shared with other
work slows both alike. Subwords become the default only if they win in both directions.
Results: benchmarks/results/translate_vocabulary.{json,md}.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
DIRECTIONS = {"de-en": ("de", "en"), "en-de": ("en", "de")}
VOCABULARIES = ("words", "subwords")


def train(direction, vocabulary, budget, work):
    source, target = DIRECTIONS[direction]
    output = work / f"{direction}-{vocabulary}"
    seconds, _ = run([*NNKIT, "translate", "train", "--quiet", "--source", source, "--target", target,
                      "--vocabulary", vocabulary, "--epochs", str(budget["epochs"]),
                      "--set", f"data.train_limit={budget['pairs']}", "--output", str(output), "--restart"])
    metadata = json.loads((output / "metadata.json").read_text())
    info = metadata["data"]
    return {"bleu": metadata["metrics"]["test"]["bleu"], "sentences": metadata["metrics"]["test"]["sentences"],
            "source_vocabulary": len(info["source_words"]), "target_vocabulary": len(info["target_words"]),
            "epochs": len(metadata["training"]["epoch_train_seconds"]),
            "training_time_s": round(metadata["training"]["wall_time_s"]), "command_time_s": round(seconds),
            "signature": metadata["metrics"]["test"]["bleu_signature"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=6000, help="training pairs (the first N of Multi30k's 29,000)")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "translate_vocabulary"))
    args = parser.parse_args()
    budget = {"pairs": args.pairs, "epochs": args.epochs}
    runs = {}
    for direction in DIRECTIONS:
        for vocabulary in VOCABULARIES:
            runs[f"{direction} {vocabulary}"] = result = train(direction, vocabulary, budget, Path(args.work))
            print(f"{direction} {vocabulary}: BLEU {result['bleu']}", flush=True)
    wins = {direction: runs[f"{direction} subwords"]["bleu"] > runs[f"{direction} words"]["bleu"]
            for direction in DIRECTIONS}
    rows = [[key.split()[0], key.split()[1], f"{r['bleu']:.2f}", f"{r['source_vocabulary']:,} / {r['target_vocabulary']:,}",
             f"{r['training_time_s'] / 60:.1f} min ({r['epochs']} epochs)"] for key, r in runs.items()]
    verdict = ("subwords win in both directions: they are the default" if all(wins.values()) else
               "subwords do not win in both directions (" + ", ".join(
                   f"{direction}: {'win' if won else 'loss'}" for direction, won in wins.items())
               + "): words stay the default")
    notes = (f"Budget, the same for every run: the first {args.pairs:,} Multi30k training pairs, {args.epochs} epochs, "
             "the default model (biGRU 1x256, additive attention), default subword_units; BLEU at beam 5 on test2016. "
             f"{verdict}.")
    write_results("translate_vocabulary", {"budget": budget, "runs": runs, "subwords_win": wins}, rows,
                  ["direction", "vocabulary", "BLEU", "source / target vocabulary", "training time"], notes)


if __name__ == "__main__":
    main()
