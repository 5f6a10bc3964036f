"""Generality benchmark: every text and captioning task trained with its unchanged default config,
on a short budget (epochs and data limits only), on its home data and on the same data in each
new form a user may bring, the figures side by side:

    slots      ATIS layout (home)  | ATIS converted to CoNLL-style BIO files with intent lines
    caption    Flickr8k (home)     | the same photos as a folder of images and train/val/test.tsv
    translate  Multi30k (home)     | a pairs file, shuffled | the same file sorted by source length
               (the Tatoeba/Anki order) | TFDS's wmt14_translate/de-en layout serving Multi30k
    lm         PTB (home)          | TFDS's tiny_shakespeare layout serving PTB's text

The TFDS forms read TFDS's mock data (tfds.testing.mock_data), fed the home data: the real
entries cannot be downloaded here, and the same data shows the reader alone. A pairs file
holds out a seeded random sample for validation and test, so the shuffled and the sorted file
must score within noise of each other (noise: twice the bootstrap standard deviation of the
held-out BLEU); both are also scored on Multi30k's own test2016, the same sentences for both.

    NNKIT_DATA_DIR=../shared/data python benchmarks/generality.py [--tiny] [--only translate]

Each run is a fresh process. Results: benchmarks/results/generality.{json,md}.
"""

import argparse
import json
import random
import subprocess
import sys
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_results  # noqa: E402

# The budget: only epochs and how much data; every other key is the task's default.
BUDGETS = {
    "full": {"slots": ["training.epochs=3"],
             "caption": ["training.epochs=3", "pretraining.epochs=2", "data.train_limit=500", "data.test_limit=150"],
             "translate": ["training.epochs=2", "data.test_limit=400"],
             "lm": ["training.epochs=1", "data.train_limit=100000", "data.test_limit=15000"]},
    "tiny": {"slots": ["training.epochs=1", "data.train_limit=300", "data.test_limit=100"],
             "caption": ["training.epochs=1", "pretraining.epochs=1", "data.train_limit=60", "data.test_limit=20"],
             "translate": ["training.epochs=1", "data.test_limit=60"],
             "lm": ["training.epochs=1", "data.train_limit=5000", "data.test_limit=2000"]},
}
TRANSLATE_PAIRS = {"full": 4000, "tiny": 400}  # the first N Multi30k training pairs, in every form
# (task, form): home forms first; each names the function that stages its data.
RUNS = [("slots", "atis"), ("slots", "conll"), ("caption", "flickr8k"), ("caption", "tsv"),
        ("translate", "multi30k"), ("translate", "pairs shuffled"), ("translate", "pairs sorted"),
        ("translate", "tfds mock"), ("lm", "ptb"), ("lm", "tfds mock")]
HOME = {"slots": "atis", "caption": "flickr8k", "translate": "multi30k", "lm": "ptb"}


# --- staging each form's data (in the work folder; the shared data is only read) --------------

def stage_slots_conll(work, mode):
    """ATIS's three splits as CoNLL-style files: word<TAB>tag lines, the intent after the last word."""
    from nnkit.apps.slots.data import atis_folder, read_split, split_folder

    atis, folder = atis_folder(None, ("train", "valid", "test")), work / "slots-conll"
    folder.mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train.txt"), ("valid", "dev.txt"), ("test", "test.txt")):
        read = read_split(split_folder(atis, split))
        blocks = ["\n".join([*(f"{w}\t{t}" for w, t in zip(words, tags)), intent])
                  for words, tags, intent in zip(read.words, read.tags, read.intents)]
        (folder / name).write_text("\n\n".join(blocks) + "\n")
    return {"data_dir": folder}


def stage_caption_tsv(work, mode):
    """The Flickr8k photos the budget uses (the first of each split, as the home form's limits take
    them), unpacked into images/, with train/val/test.tsv of their captions."""
    from nnkit.apps.caption.data import flickr8k_folder, read_captions, read_split

    limits = {key.split("=")[0]: int(key.split("=")[1]) for key in BUDGETS[mode]["caption"] if "limit" in key}
    counts = {"train": limits["data.train_limit"], "valid": limits["data.test_limit"], "test": limits["data.test_limit"]}
    source = flickr8k_folder(None)
    captions, folder = read_captions(source), work / "caption-tsv"
    (folder / "images").mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source / "flickr8k_images_128.zip") as archive:
        members = {Path(name).name: name for name in archive.namelist() if not name.endswith("/")}
        for split, file_name in (("train", "train.tsv"), ("valid", "val.tsv"), ("test", "test.tsv")):
            names = [name for name in read_split(source, split) if name in captions and name in members]
            names = names[: counts[split]]
            for name in names:
                (folder / "images" / name).write_bytes(archive.read(members[name]))
            (folder / file_name).write_text("".join(f"{name}#{number}\t{caption}\n" for name in names
                                                    for number, caption in enumerate(captions[name])))
    return {"data_dir": folder}


def multi30k(split, count=None):
    from nnkit.apps.translate.data import multi30k_pairs

    pairs = multi30k_pairs(None, split, "de", "en")
    return pairs[:count] if count else pairs


def stage_pairs(work, mode, order):
    pairs = multi30k("train", TRANSLATE_PAIRS[mode])
    if order == "shuffled":
        random.Random(0).shuffle(pairs)
    else:  # by source length, shortest first, as sentence-pair exports sort
        pairs.sort(key=lambda pair: (len(pair[0]), pair[0]))
    path = work / f"pairs-{order}.tsv"
    path.write_text("".join(f"{source}\t{target}\n" for source, target in pairs))
    return {"overrides": [f"data.files=[{path}]"]}


def stage_translate_home(work, mode):
    return {"overrides": [f"data.train_limit={TRANSLATE_PAIRS[mode]}"]}


def stage_translate_tfds(work, mode):
    return {"overrides": ["data.source=tfds:wmt14_translate/de-en", f"data.train_limit={TRANSLATE_PAIRS[mode]}"],
            "mock": "translate"}


def stage_lm_tfds(work, mode):
    return {"overrides": ["data.source=tfds:tiny_shakespeare"], "mock": "lm"}


STAGE = {("slots", "atis"): lambda work, mode: {}, ("slots", "conll"): stage_slots_conll,
         ("caption", "flickr8k"): lambda work, mode: {}, ("caption", "tsv"): stage_caption_tsv,
         ("translate", "multi30k"): stage_translate_home,
         ("translate", "pairs shuffled"): lambda work, mode: stage_pairs(work, mode, "shuffled"),
         ("translate", "pairs sorted"): lambda work, mode: stage_pairs(work, mode, "sorted"),
         ("translate", "tfds mock"): stage_translate_tfds,
         ("lm", "ptb"): lambda work, mode: {}, ("lm", "tfds mock"): stage_lm_tfds}


# --- TFDS mock data fed the home data -------------------------------------------------------------

def mock_home_data(kind):
    """tfds.testing.mock_data whose examples are the home data's, split by split."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    def rows(split):
        if kind == "translate":
            return [{"de": de, "en": en} for de, en in multi30k(split)]
        from nnkit.apps.lm.data import corpus_files
        from nnkit.data.files import read_lines

        return [{"text": "\n".join(read_lines(corpus_files(None, (split,))[split]))}]

    def as_dataset(self, split, *args, **kwargs):
        name = {"validation": "valid"}.get(str(split), str(split))
        found = rows(name)
        return tf.data.Dataset.from_generator(lambda: iter(found), output_types=self.info.features.dtype,
                                              output_shapes=self.info.features.shape)

    return tfds.testing.mock_data(as_dataset_fn=as_dataset)


# --- one run, in its own process ----------------------------------------------------------------

def headline(task, metrics):
    """The figures the table shows for a task's test metrics."""
    if task == "slots":
        return {"slot F1": metrics["slot_f1"], "intent accuracy": metrics["intent_accuracy"]}
    if task == "caption":
        return {"BLEU-1": metrics["bleu_1"], "BLEU-4": metrics["bleu_4"]}
    if task == "translate":
        return {"BLEU": metrics["bleu"]}
    return {"test perplexity": metrics["test_perplexity"]}


def bootstrap_noise(hypotheses, references, samples=200):
    """Twice the standard deviation of corpus BLEU over bootstrap resamples of the test sentences."""
    import statistics

    import sacrebleu

    generator = random.Random(0)
    scores = []
    for _ in range(samples):
        chosen = [generator.randrange(len(hypotheses)) for _ in hypotheses]
        scores.append(sacrebleu.corpus_bleu([hypotheses[i] for i in chosen], [[references[i] for i in chosen]]).score)
    return round(2 * statistics.stdev(scores), 2)


def run_one(task_name, form, mode, work):
    import contextlib

    from nnkit.backend import import_keras_quietly

    import_keras_quietly()
    from nnkit.config import load_config
    from nnkit.registry import load_task
    from nnkit.training.run import train

    stage = STAGE[(task_name, form)](work, mode)
    task = load_task(task_name)
    config = load_config(task_name, overrides=[*BUDGETS[mode][task_name], *stage.get("overrides", [])])
    output = work / "models" / f"{task_name}-{form.replace(' ', '-')}"
    context = mock_home_data(stage["mock"]) if "mock" in stage else contextlib.nullcontext()
    started = time.perf_counter()
    with context:
        metadata = train(task, config, output, data_dir=stage.get("data_dir"), verbose=0, restart=True)
    result = {"figures": headline(task_name, metadata["metrics"]["test"]),
              "minutes": round((time.perf_counter() - started) / 60, 1),
              "held_out": metadata["data"].get("held_out"), "config_overrides": config_overrides(stage, mode, task_name)}
    if task_name == "translate" and form.startswith("pairs"):
        result.update(translate_checks(task, output))
    return result


def config_overrides(stage, mode, task_name):
    return [*BUDGETS[mode][task_name], *(key for key in stage.get("overrides", []) if "files" not in key)]


def translate_checks(task, output):
    """A pairs-file model's held-out BLEU noise, and its BLEU on Multi30k test2016 (the same
    sentences for every form)."""
    from nnkit.apps.translate.task import TranslationTest
    from nnkit.saving import load_model, load_predictor

    model, metadata = load_model(output)
    config, info = metadata["config"], metadata["data"]
    held_out = task.load_data(config, splits=("test",)).test
    translator = load_predictor(output, expected_task="translate")
    hypotheses = [result["translations"][0]["text"] for result in translator.translate(held_out.sources)]
    test2016 = TranslationTest(multi30k("test", config["data"]["test_limit"]), config["decoding"])
    return {"held_out_noise": bootstrap_noise(hypotheses, held_out.references),
            "test2016 BLEU": task.evaluate(model, test2016, info)["bleu"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="a proof run: a minute or so per form, figures meaningless")
    parser.add_argument("--only", action="append", choices=sorted(HOME), help="run only these tasks")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "generality"))
    parser.add_argument("--run", nargs=2, metavar=("TASK", "FORM"), help=argparse.SUPPRESS)  # one run, in-process
    args = parser.parse_args()
    mode, work = ("tiny" if args.tiny else "full"), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    if args.run:
        print(json.dumps(run_one(*args.run, mode, work)))
        return
    runs = {}
    for task_name, form in RUNS:
        if args.only and task_name not in args.only:
            continue
        command = [sys.executable, __file__, "--run", task_name, form, "--work", str(work), *(["--tiny"] * args.tiny)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:  # reported, and the other forms still run
            print(f"{task_name} on {form} failed:\n{done.stderr[-3000:]}", file=sys.stderr, flush=True)
            continue
        runs[f"{task_name}: {form}"] = result = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{task_name} on {form}: {result['figures']} ({result['minutes']} min)", flush=True)
        write_table(runs, mode)  # after each run: a long run keeps what it finished


def write_table(runs, mode):
    rows = []
    for key, result in runs.items():
        task_name, form = key.split(": ")
        home = runs.get(f"{task_name}: {HOME[task_name]}")
        figures = ", ".join(f"{name} {value:.4g}" for name, value in result["figures"].items())
        beside = "" if form == HOME[task_name] or not home else ", ".join(
            f"{name} {value:.4g}" for name, value in home["figures"].items())
        extra = ""
        if "test2016 BLEU" in result:
            extra = f"held-out noise ±{result['held_out_noise']}; test2016 BLEU {result['test2016 BLEU']:.2f}"
        rows.append([task_name, form + (" (home)" if form == HOME[task_name] else ""), figures, beside or "-",
                     extra or "-", f"{result['minutes']} min"])
    shuffled, ordered = runs.get("translate: pairs shuffled"), runs.get("translate: pairs sorted")
    verdict = ""
    if shuffled and ordered:
        gap = abs(shuffled["figures"]["BLEU"] - ordered["figures"]["BLEU"])
        noise = max(shuffled["held_out_noise"], ordered["held_out_noise"])
        verdict = (f"Sorted vs shuffled pairs file: held-out BLEU differs by {gap:.2f}, "
                   f"{'within' if gap <= noise else 'outside'} the noise (±{noise}); on test2016 by "
                   f"{abs(shuffled['test2016 BLEU'] - ordered['test2016 BLEU']):.2f}.")
    notes = (f"Budget ({mode}): " + "; ".join(f"{task}: {' '.join(keys)}" for task, keys in BUDGETS[mode].items())
             + f"; translate: the first {TRANSLATE_PAIRS[mode]:,} Multi30k training pairs in every form "
             "(a pairs file holds 10% of them out). Every other config key is the task's default. "
             "TFDS forms: TFDS's mock data fed the home data (no download). " + verdict)
    write_results("generality", {"mode": mode, "runs": runs, "budgets": BUDGETS[mode]}, rows,
                  ["task", "data form", "figures", "home figures", "checks", "time"], notes)


if __name__ == "__main__":
    main()
