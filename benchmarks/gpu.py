"""GPU figures (issue 22), prepared for a machine with JAX and a GPU but without TensorFlow:
each task's default config trained for a fixed number of steps (samples per second once
compiled, peak device memory), and the medium language model's validation perplexity after a
fixed number of steps.

    KERAS_BACKEND=jax NNKIT_DATA_DIR=../shared/data python benchmarks/gpu.py
    python benchmarks/gpu.py --steps 2 --tasks digits,lm --small-data --lm-steps 2 --no-write   # a CPU smoke test

Each task runs in a process of its own (so that its peak memory is its own, and a task that
fails is one line in the results): it loads the task's data and runs `Task.prepare`, builds and
compiles the model as `nnkit <task> train` does, then trains a warm-up epoch of --steps steps
(compiling) and a measured one of --steps steps. Peak memory is JAX's `peak_bytes_in_use` of
the first device (none on CPU). Preparation is not timed: caption pretrains its encoder for
--set pretraining.epochs (GPU_OVERRIDES), xo draws fewer cells than its default, both only to
keep the run short. Results: benchmarks/results/gpu.{json,md} (the README links them).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_results  # noqa: E402

TASKS = ("digits", "xo", "slots", "lm", "translate", "caption")
# Preparation that is no GPU work (drawing cells on the CPU) or no training step (pretraining
# the caption encoder), cut short.
GPU_OVERRIDES = {"xo": ["data.generated_train_per_class=2000", "data.generated_test_per_class=100"],
                 "caption": ["pretraining.epochs=2"]}
# --small-data: a few hundred examples of every task, for a smoke test on a CPU.
SMALL_DATA = {"digits": ["data.train_limit=1000", "data.test_limit=100"],
              "xo": ["data.generated_train_per_class=100", "data.generated_test_per_class=10"],
              "slots": ["data.train_limit=300", "data.test_limit=50"],
              "lm": ["data.train_limit=20000", "data.test_limit=5000"],
              "translate": ["data.train_limit=300", "data.test_limit=50"],
              "caption": ["data.train_limit=64", "data.test_limit=16", "pretraining.epochs=1"]}
MEDIUM_LM = ["model.units=650", "model.embedding_dim=650", "model.dropout=0.5"]


class StepClock:
    """Wall time of each epoch; JAX runs steps asynchronously, so the clock stops only once the
    epoch's last results are in (Keras reads them into the epoch's logs)."""

    def __init__(self):
        import keras

        class Clock(keras.callbacks.Callback):
            def on_epoch_begin(inner, epoch, logs=None):
                inner.started = time.perf_counter()

            def on_epoch_end(inner, epoch, logs=None):
                self.seconds.append(time.perf_counter() - inner.started)

        self.seconds, self.callback = [], Clock()


def peak_memory_bytes():
    import jax

    stats = jax.devices()[0].memory_stats() or {}
    return stats.get("peak_bytes_in_use")


def train_task(name, overrides, steps, evaluate_perplexity=False):
    """Train `name` for a warm-up and a measured epoch of `steps` steps; returns its figures."""
    from nnkit.config import load_config
    from nnkit.registry import load_task
    from nnkit.reproducibility import set_seed
    from nnkit.training.run import compile_model, count_training_examples, task_callbacks

    task = load_task(name)
    config = load_config(name, overrides=overrides)
    set_seed(config["seed"])
    started = time.perf_counter()
    splits = task.load_data(config, None)
    with tempfile.TemporaryDirectory() as prepared:
        splits = task.prepare(config, splits, Path(prepared), 0)
    preparation = time.perf_counter() - started
    model = task.build_model(config, splits.info)
    compile_model(task, config, model, count_training_examples(splits))
    batch_size = config["training"]["batch_size"]
    arguments = task.fit_arguments(splits, batch_size, config["seed"])
    validation = arguments.pop("validation_data", None)
    arguments.pop("validation_batch_size", None)
    clock = StepClock()
    callbacks = [callback for callback in task_callbacks(task, splits) if type(callback).__name__ == "ResetStates"]
    model.fit(**arguments, epochs=2, steps_per_epoch=steps, callbacks=[*callbacks, clock.callback], verbose=0)
    seconds = clock.seconds[-1]
    figures = {"task": name, "overrides": overrides, "steps": steps, "batch_size": batch_size,
               "preparation_s": round(preparation, 1), "warmup_epoch_s": round(clock.seconds[0], 2),
               "measured_epoch_s": round(seconds, 3), "samples_per_s": round(steps * batch_size / seconds, 1),
               "peak_memory_bytes": peak_memory_bytes()}
    if task.stateful:  # a sample is a window of bptt words
        figures["words_per_s"] = round(figures["samples_per_s"] * config["training"]["bptt"], 1)
    if evaluate_perplexity:
        import math

        from nnkit.layers.stateful import reset_states

        reset_states(model)
        loss = model.evaluate(validation[0], validation[1], batch_size=batch_size, verbose=0, return_dict=True)["loss"]
        figures["validation_perplexity"] = round(math.exp(loss), 2)
        figures["trained_steps"] = 2 * steps
    return figures


class _NoTensorFlow:
    """An import hook under which `import tensorflow` fails as on a machine without it. (Not
    `sys.modules["tensorflow"] = None`: Keras takes a "tensorflow" key in sys.modules for a
    TensorFlow in use, and its preprocessing layers then fail where they would not.)"""

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] == "tensorflow":
            raise ModuleNotFoundError(f"No module named '{name}' (hidden by benchmarks/gpu.py)", name=name)
        return None


def hide_tensorflow():
    import importlib.util

    sys.meta_path.insert(0, _NoTensorFlow())
    find_spec = importlib.util.find_spec  # nnkit asks it whether TensorBoard's writer is there
    importlib.util.find_spec = lambda name, package=None: (
        None if name.split(".")[0] == "tensorflow" else find_spec(name, package))


def worker(args):
    """One task, in this process: prints its figures as one JSON line."""
    if args.without_tensorflow:
        hide_tensorflow()
    os.environ["KERAS_BACKEND"] = "jax"
    name = args.worker
    overrides = [*GPU_OVERRIDES.get(name.split(":")[0], []), *(SMALL_DATA.get(name.split(":")[0], []) if args.small_data else [])]
    if name == "lm:medium":
        figures = train_task("lm", [*overrides, *MEDIUM_LM], args.lm_steps, evaluate_perplexity=True)
        figures["task"] = "lm (medium: 650 units, tied)"
    else:
        figures = train_task(name, overrides, args.steps)
    import jax

    figures["device"] = str(jax.devices()[0].device_kind)
    figures["tensorflow_importable"] = _importable("tensorflow")
    print(json.dumps(figures))


def _importable(module):
    try:
        __import__(module)
        return True
    except ImportError:
        return False


def run_worker(name, args):
    command = [sys.executable, __file__, "--worker", name, "--steps", str(args.steps), "--lm-steps", str(args.lm_steps)]
    command += ["--small-data"] * args.small_data + ["--without-tensorflow"] * args.without_tensorflow
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "KERAS_BACKEND": "jax"},
                          timeout=args.timeout)
    if done.returncode != 0:
        last = [line for line in done.stderr.strip().splitlines() if line.strip()][-1:] or ["no output"]
        return {"task": name, "error": last[0][:300]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def megabytes(value):
    return f"{value / 2**20:,.0f} MB" if value else "n/a"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--steps", type=int, default=200, help="steps of the warm-up epoch and of the measured one")
    parser.add_argument("--lm-steps", type=int, default=1500, help="steps per epoch of the medium language model "
                        "(two epochs; 0 skips it)")
    parser.add_argument("--small-data", action="store_true", help="a few hundred examples per task (smoke test)")
    parser.add_argument("--without-tensorflow", action="store_true", help="hide TensorFlow, as on a JAX-only machine")
    parser.add_argument("--timeout", type=int, default=900, help="seconds per task")
    parser.add_argument("--no-write", action="store_true", help="print the figures, write no results")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args)
    os.environ.setdefault("NNKIT_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    names = [name for name in args.tasks.split(",") if name] + (["lm:medium"] if args.lm_steps else [])
    found = []
    for name in names:
        found.append(run_worker(name, args))
        print(json.dumps(found[-1]), flush=True)
    if args.no_write:
        return
    rows = [[figures["task"], figures.get("device", ""), figures.get("steps", ""), figures.get("batch_size", ""),
             f"{figures['samples_per_s']:,.0f}" if "samples_per_s" in figures else figures.get("error", ""),
             megabytes(figures.get("peak_memory_bytes")), figures.get("validation_perplexity", "")] for figures in found]
    notes = ("Made with `KERAS_BACKEND=jax python benchmarks/gpu.py` "
             f"(--steps {args.steps}, --lm-steps {args.lm_steps}): samples/s over a measured epoch after a "
             "compiling one; peak memory is JAX's peak_bytes_in_use of the device in that task's process; "
             "the medium language model's perplexity is on PTB's validation split after its two epochs.")
    write_results("gpu", {"tasks": found, "steps": args.steps, "lm_steps": args.lm_steps}, rows,
                  ["task", "device", "steps", "batch", "samples/s", "peak memory", "valid perplexity"], notes)


if __name__ == "__main__":
    main()
