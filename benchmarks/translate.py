"""Translation benchmark: Multi30k test2016 BLEU (sacrebleu, detokenized output against the
raw references) for German->English and English->German with the default config
(`configs/translate.yaml`), at beam sizes 1 and 5, with training wall time and decoding speed.

    NNKIT_DATA_DIR=../shared/data python benchmarks/translate.py [--only de-en] [--reuse] [-- extra train flags]

Targets (issue 6): BLEU >= 35 de->en and >= 33 en->de for the best configuration; beam 5 should
cost less than 5x greedy decoding.
Results: benchmarks/results/translate.{json,md}; the README table is updated from them.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, hardware, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
DIRECTIONS = {"de-en": ("de", "en"), "en-de": ("en", "de")}
TARGETS = {"de-en": 35.0, "en-de": 33.0}


def decode_test_split(model_path, beam_size):
    """(BLEU, sentences per second) of translating the whole test split at `beam_size`."""
    from nnkit.backend import import_keras_quietly

    import_keras_quietly()
    import sacrebleu

    from nnkit.apps.translate.task import read_pairs
    from nnkit.saving import load_predictor, read_metadata

    translator = load_predictor(model_path, expected_task="translate")
    pairs = read_pairs(read_metadata(model_path)["config"], None, ("test",))[0]["test"]
    translator.translate([pairs[0][0]], beam_size=beam_size)  # compile first
    started = time.perf_counter()
    results = translator.translate([source for source, _ in pairs], beam_size=beam_size)
    seconds = time.perf_counter() - started
    hypotheses = [result["translations"][0]["text"] for result in results]
    bleu = sacrebleu.corpus_bleu(hypotheses, [[target for _, target in pairs]])
    return round(bleu.score, 2), round(len(pairs) / seconds, 1)


def train(direction, flags, work, reuse=False):
    """Train (or, with `reuse`, take the model a previous run left in `work`), then decode."""
    source, target = DIRECTIONS[direction]
    output = work / direction
    if not (reuse and (output / "metadata.json").is_file()):
        run([*NNKIT, "translate", "train", "--quiet", "--source", source, "--target", target,
             "--output", str(output), *flags])
    metadata = json.loads((output / "metadata.json").read_text())
    greedy_bleu, greedy_speed = decode_test_split(output, 1)
    beam_bleu, beam_speed = decode_test_split(output, 5)
    return {"flags": flags, "bleu_beam_1": greedy_bleu, "bleu_beam_5": beam_bleu,
            "sentences_per_s_beam_1": greedy_speed, "sentences_per_s_beam_5": beam_speed,
            "training_time_s": metadata["training"]["wall_time_s"],
            "epochs": len(metadata["training"]["epoch_train_seconds"]),
            "hardware": hardware(), "backend": metadata["versions"]["backend"], "model": metadata["config"]["model"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "translate"))
    parser.add_argument("--only", action="append", choices=sorted(DIRECTIONS), help="run only these directions")
    parser.add_argument("--reuse", action="store_true", help="decode the models already in --work, if any")
    parser.add_argument("flags", nargs="*", help="extra nnkit translate train flags (after --)")
    args = parser.parse_args()
    previous = RESULTS / "translate.json"
    runs = json.loads(previous.read_text())["runs"] if previous.is_file() else {}
    for direction in args.only or DIRECTIONS:
        runs[direction] = train(direction, args.flags, Path(args.work), args.reuse)
        print(f"{direction}: BLEU {runs[direction]['bleu_beam_5']} (beam 5)", flush=True)
        write_table(runs)  # after each direction: a long run keeps what it finished


def write_table(runs):
    rows = []
    for direction, r in runs.items():
        model = r["model"]
        description = (f"{'bi' if model['bidirectional_encoder'] else ''}{model['architecture'].upper()} "
                       f"{model['layers']}x{model['units']}, {model['attention']}")
        rows.append([f"translate: {direction}", f"{r['bleu_beam_1']:.2f}", f"{r['bleu_beam_5']:.2f}",
                     f"{TARGETS[direction]:.0f}", description,
                     f"{r['training_time_s'] / 60:.0f} min ({r['epochs']} epochs)",
                     f"{r['sentences_per_s_beam_1']:.0f} / {r['sentences_per_s_beam_5']:.0f}"])
    write_results("translate", {"runs": runs, "targets": TARGETS}, rows,
                  ["Multi30k test2016 (1,000 sentences)", "BLEU beam 1", "BLEU beam 5", "target", "model",
                   "training time", "sentences/s beam 1 / 5"])


if __name__ == "__main__":
    main()
