"""Cold `nnkit <task> predict` of one input: ONNX Runtime against Keras, in one run.

    NNKIT_DATA_DIR=../shared/data python benchmarks/inference.py [--repeats 5] [--models DIR] [--work DIR]

Each task's model is DIR/<task> (default saved_models/) where it holds ONNX artifacts, else a
small one this script trains once into --work (the test suite's tiny recipes, tests/tiny_models.py;
digits and slots need MNIST and ATIS in the data directory). Every repeat runs the task's predict
command in a fresh process with --runtime onnx, then with --runtime keras (alternating, so both
see the same load on the machine); the figure is the median wall time of the repeats. Then one
instrumented cold process per task and runtime says where the time goes: the interpreter's
start, importing nnkit's CLI and the task, loading the model (Keras: importing TensorFlow with
it) and the first call.

Targets (issue 20): <= 1.0 s for digits, xo and slots; <= 1.5 s for lm, translate and caption,
with ONNX Runtime. Results: benchmarks/results/inference.{json,md}.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_results  # noqa: E402

sys.path.insert(0, str(ROOT / "tests"))
import tiny_models  # noqa: E402

NNKIT = [sys.executable, "-m", "nnkit.cli"]
DATA = ROOT / "tests" / "data"
TARGETS = {"digits": 1.0, "xo": 1.0, "slots": 1.0, "lm": 1.5, "translate": 1.5, "caption": 1.5}
INPUTS = {"digits": str(DATA / "digits" / "seven.png"), "xo": str(DATA / "digits" / "seven.png"),
          "slots": "show me flights from boston to denver tomorrow", "lm": "the cat sat on",
          "translate": "Ein Mann fährt Fahrrad.", "caption": str(DATA / "compat" / "inputs" / "red.jpg")}
# The digits fixture's training (tests/conftest.py TINY_TRAINING).
TINY_DIGITS = ["--epochs", "1", "--batch-size", "32", "--set", "data.train_limit=1200", "--set", "data.test_limit=300",
               "--set", "model.width=8", "--set", "model.dense_units=32", "--set", "model.batch_norm=false",
               "--set", "training.schedule=constant", "--set", "augmentation.rotation_degrees=0",
               "--set", "augmentation.shift=0", "--set", "augmentation.zoom=0"]

# One cold process, timed phase by phase; prints JSON.
PHASES = """
import json, sys, time
started = time.perf_counter()
task_name, model, runtime, text = sys.argv[1:]
import nnkit.cli
from nnkit.registry import load_task
task = load_task(task_name)
task.commands()
imported = time.perf_counter()
backend = imported
if runtime == "keras":
    from nnkit.backend import import_keras_quietly
    import_keras_quietly()
    backend = time.perf_counter()
from nnkit.saving import load_predictor
predictor = load_predictor(model, expected_task=task_name, runtime=runtime)
loaded = time.perf_counter()
predictor.predict([text])
called = time.perf_counter()
print(json.dumps({"imports": imported - started, "keras_import": backend - imported, "load": loaded - backend,
                  "first_call": called - loaded}))
"""


def train_small(task, work):
    """A small model of `task` in work/<task>, trained once (with its ONNX artifacts)."""
    output = work / task
    if (output / "onnx" / "export.json").is_file():
        return output
    work.mkdir(parents=True, exist_ok=True)
    recipes = {
        "digits": TINY_DIGITS, "xo": tiny_models.TINY_XO,
        "slots": ["--model", "gru", "--bidirectional", *tiny_models.TINY_SLOTS],
        "lm": ["--text", str(tiny_models.write_corpus(work / "corpus.txt")), *tiny_models.TINY_LM],
        "translate": ["--pairs", str(tiny_models.write_pairs(work / "pairs.tsv")), *tiny_models.TINY_TRANSLATE],
        "caption": ["--data", str(flickr_layout(work)), *tiny_models.TINY_CAPTION],
    }
    environment = {**os.environ, "NNKIT_SAVE_ONNX": "1"}
    done = subprocess.run([*NNKIT, task, "train", "--quiet", "--output", str(output), *recipes[task]],
                          capture_output=True, text=True, env=environment)
    if done.returncode != 0 or not (output / "onnx" / "export.json").is_file():
        sys.exit(f"training the small {task} model failed:\n{done.stdout[-1500:]}\n{done.stderr[-1500:]}")
    return output


def flickr_layout(work):
    if not (work / "flickr8k").is_dir():
        tiny_models.write_flickr_layout(work)
    return work


def model_for(task, models, work):
    given = models / task
    return given if (given / "onnx" / "export.json").is_file() else train_small(task, work)


def cold_predict(task, model, runtime):
    started = time.perf_counter()
    done = subprocess.run([*NNKIT, task, "predict", INPUTS[task], "--runtime", runtime, "--model-path", str(model)],
                          capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{task} predict --runtime {runtime} failed:\n{done.stderr[-2000:]}")
    return seconds


def phases(task, model, runtime):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PHASES, task, str(model), runtime, INPUTS[task]],
                          capture_output=True, text=True)
    total = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"timing {task} ({runtime}) failed:\n{done.stderr[-2000:]}")
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    # What the process spent outside the timed code: the interpreter's start and exit.
    return {"total": total, "interpreter": total - sum(measured.values()), **measured}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--models", type=Path, default=ROOT / "saved_models")
    parser.add_argument("--work", type=Path, default=Path("/tmp/nnkit-inference-benchmark"))
    parser.add_argument("--tasks", nargs="+", default=list(TARGETS), choices=list(TARGETS))
    arguments = parser.parse_args()

    models = {task: model_for(task, arguments.models, arguments.work) for task in arguments.tasks}
    times = {task: {"onnx": [], "keras": []} for task in arguments.tasks}
    for _ in range(arguments.repeats):
        for task in arguments.tasks:
            for runtime in ("onnx", "keras"):  # alternating: both see the same load on the machine
                times[task][runtime].append(cold_predict(task, models[task], runtime))
    breakdown = {task: {runtime: phases(task, models[task], runtime) for runtime in ("onnx", "keras")}
                 for task in arguments.tasks}

    results, rows = {}, []
    for task in arguments.tasks:
        onnx, keras = (statistics.median(times[task][runtime]) for runtime in ("onnx", "keras"))
        parts = breakdown[task]["onnx"]
        results[task] = {"model": str(models[task]), "onnx_s": times[task]["onnx"], "keras_s": times[task]["keras"],
                         "onnx_median_s": round(onnx, 3), "keras_median_s": round(keras, 3),
                         "target_s": TARGETS[task], "met": onnx <= TARGETS[task], "breakdown": breakdown[task]}
        rows.append([task, f"{onnx:.2f}", f"{keras:.2f}", f"{keras / onnx:.1f}x", f"<= {TARGETS[task]}",
                     "yes" if onnx <= TARGETS[task] else "**no**",
                     " / ".join(f"{parts[key]:.2f}" for key in ("interpreter", "imports", "load", "first_call")),
                     f"{breakdown[task]['keras']['keras_import']:.2f}"])
    notes = (f"Median of {arguments.repeats} cold runs of `nnkit <task> predict INPUT --runtime onnx|keras` (one "
             "input; a fresh process each, the two runtimes alternating). Where the time of one cold ONNX run goes: "
             "the interpreter's start and exit / importing nnkit's CLI and the task / loading the model (ONNX "
             "Runtime's import and sessions) / the first call; the Keras column beside it is importing Keras and "
             "TensorFlow alone. Models: small ones (tests/tiny_models.py recipes) unless saved_models/ holds them. "
             "The machine is shared with other work (2 cores): the figures are noisy.")
    write_results("inference", {"repeats": arguments.repeats, "tasks": results}, rows,
                  ["task", "onnx s", "keras s", "speed-up", "target s", "met",
                   "onnx: start / imports / load / first call s", "keras import s"], notes)


if __name__ == "__main__":
    main()
