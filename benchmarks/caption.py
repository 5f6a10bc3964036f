"""Captioning benchmark: Flickr8k test BLEU-1..4 (corpus level, five references per photo) of
the offline default (`configs/caption.yaml`: small-cnn encoder pretrained by nnkit on the
training photos, attention LSTM decoder), at beam sizes 1, 3 and 5, with training wall time
and captioning speed.

    NNKIT_DATA_DIR=../shared/data python benchmarks/caption.py [--name NAME] [--reuse] [-- extra train flags]

Targets (issue 7), offline default: BLEU-4 >= 0.15 and BLEU-1 >= 0.55.
Results: benchmarks/results/caption.{json,md}; the README table is updated from them. Each
--name is one row (and the output folder under --work); other rows already there are kept.
The rows in the README: the default (`--name small-cnn-96`, no flags) and its first version,
`--name small-cnn-128 -- --image-size 128 --epochs 20 --set pretraining.epochs=15
--set pretraining.learning_rate=0.002 --set pretraining.dropout=0.3
--set pretraining.early_stopping_patience=3`.
"""

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import RESULTS, ROOT, hardware, run, write_results  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
BEAM_SIZES = (1, 3, 5)
TARGETS = {"bleu_1": 0.55, "bleu_4": 0.15}


def score_test_split(model_path, beam_size):
    """(metrics, photos per second) of captioning the whole test split at `beam_size`."""
    from nnkit.backend import import_keras_quietly

    import_keras_quietly()
    from nnkit.config import merge
    from nnkit.registry import load_task
    from nnkit.saving import load_model

    task = load_task("caption")
    model, metadata = load_model(model_path, expected_task="caption")
    config = merge(metadata["config"], {"decoding": {"beam_size": beam_size}})
    test = task.evaluation_data(config, metadata["data"])
    task.evaluate(model, type(test)(test.photos[:2], test.names[:2], test.references[:2], test.decoding),
                  metadata["data"])  # compile first
    started = time.perf_counter()
    metrics = task.evaluate(model, test, metadata["data"])
    return metrics, len(test.names) / (time.perf_counter() - started)


def train(name, flags, work, reuse=False):
    output = work / name
    if not (reuse and (output / "metadata.json").is_file()):
        run([*NNKIT, "caption", "train", "--quiet", "--output", str(output), *flags])
    metadata = json.loads((output / "metadata.json").read_text())
    result = {"flags": flags, "model": metadata["config"]["model"], "image_size": metadata["config"]["data"]["image_size"],
              "encoder_pretraining": metadata["data"].get("encoder_pretraining"),
              # Encoder pretraining and feature caching, then the decoder's epochs.
              "training_time_s": metadata["training"]["wall_time_s"] + metadata["training"]["preparation_time_s"],
              "decoder_epochs": len(metadata["training"]["epoch_train_seconds"]),
              "hardware": hardware(), "backend": metadata["versions"]["backend"], "beams": {}}
    for beam_size in BEAM_SIZES:
        metrics, speed = score_test_split(output, beam_size)
        result["beams"][beam_size] = {**{key: metrics[key] for key in ("bleu_1", "bleu_2", "bleu_3", "bleu_4")},
                                      "photos_per_s": round(speed, 1), "examples": metrics["examples"],
                                      "distinct_captions": metrics["distinct_captions"]}
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "caption"))
    parser.add_argument("--name", default="small-cnn-96", help="row name; the output folder under --work")
    parser.add_argument("--reuse", action="store_true", help="score the model already in --work/NAME, if any")
    parser.add_argument("flags", nargs="*", help="extra nnkit caption train flags (after --)")
    args = parser.parse_args()
    previous = RESULTS / "caption.json"
    runs = json.loads(previous.read_text())["runs"] if previous.is_file() else {}
    runs[args.name] = train(args.name, args.flags, Path(args.work), args.reuse)
    write_table(runs)


def write_table(runs):
    rows = []
    for name, r in runs.items():
        model = r["model"]
        pretraining = r["encoder_pretraining"]
        encoder = (f"{model['encoder']}, {r['image_size']} px"
                   + (f", concepts {pretraining['epochs']} epochs" if pretraining else ""))
        for beam_size, b in r["beams"].items():
            rows.append([name, encoder, f"{model['architecture'].upper()} {model['units']}, {model['attention']}",
                         beam_size, f"{b['bleu_1']:.3f}", f"{b['bleu_2']:.3f}", f"{b['bleu_3']:.3f}",
                         f"{b['bleu_4']:.3f}", f"{r['training_time_s'] / 60:.0f} min", f"{b['photos_per_s']:.0f}"])
    write_results("caption", {"runs": runs, "targets": TARGETS}, rows,
                  ["Flickr8k test (1,000 photos)", "encoder", "decoder", "beam", "BLEU-1", "BLEU-2", "BLEU-3",
                   "BLEU-4 (target 0.15)", "training time", "photos/s"])


if __name__ == "__main__":
    main()
