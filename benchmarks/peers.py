"""Training speed side by side with the peers (issue 22): for each task family, the same
model, data, batch size and optimizer trained by nnkit on each backend, by a plain Keras
script and by a plain PyTorch script (benchmarks/peers/), in alternating runs.

    NNKIT_DATA_DIR=../shared/data python benchmarks/peers.py            # about 25 min on 2 cores
    NNKIT_DATA_DIR=../shared/data python benchmarks/peers.py --quick    # a smoke test, results not written
    python benchmarks/peers.py --families digits --runners nnkit-tensorflow,keras-tensorflow --repeats 3

Each run is a fresh process that trains a warm-up epoch (tracing, compiling) and then
measured epochs of a fixed number of steps; a runner's figure is its steady seconds per epoch
(the mean of its measured epochs). Runs go A B C ... A B C ..., so that a slow spell of a
shared machine falls on every runner alike, and each repeat's ratio compares runs made side by
side: the ratios (with their spread over the repeats) are the result, not the seconds.
Each run's last-epoch training loss is compared with nnkit's on TensorFlow, so that every
script is seen to train the same model (same loss after the same steps, within LOSS_TOLERANCE).

The families' nnkit configs differ from the defaults only where a fair comparison needs it:
a constant learning rate (the plain scripts have no schedule), no augmentation for digits
(the PyTorch script has none), fewer training examples (a fixed number of steps), few test
examples and greedy decoding (the final evaluation is not timed, but it takes wall time).
The data the plain scripts read is nnkit's own training split (benchmarks/peers/prepare.py).
Results: benchmarks/results/peers.{json,md} and the README's results table.
"""

import argparse
import json
import os
import shutil
import statistics
import sys
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, run, write_results  # noqa: E402

PEERS = ROOT / "benchmarks" / "peers"
BACKENDS = ("tensorflow", "jax", "torch")
BASELINE = "keras-tensorflow"  # what nnkit's default backend is measured against
REFERENCE_LOSS = "nnkit-tensorflow"
LOSS_TOLERANCE = 0.15  # relative difference of the last epoch's training loss
# Every run gets it: on a machine whose cores other processes share, OpenMP threads that spin
# while they wait (libgomp's default, used by PyTorch) lose several times their speed.
RUN_ENVIRONMENT = {"OMP_WAIT_POLICY": "PASSIVE", "TF_CPP_MIN_LOG_LEVEL": "2"}


@dataclass
class Family:
    task: str
    what: str
    batch_size: int
    steps: int  # per epoch, in a full run
    quick_steps: int
    # How many training examples make `steps` steps (the language model counts words).
    examples: callable
    overrides: list = field(default_factory=list)
    runners: tuple = ()

    def settings(self, steps):
        return [f"data.train_limit={self.examples(steps, self.batch_size)}", *self.overrides]


ALL_RUNNERS = (*(f"nnkit-{backend}" for backend in BACKENDS), *(f"keras-{backend}" for backend in BACKENDS), "torch")
# Plain Keras on JAX and torch for digits, where it tells whether a slow backend is nnkit's doing
# (the stateful language model's plain Keras script trains correctly on TensorFlow only); the
# other families' runners are cut to what fits the benchmark's 25 minutes (--runners adds any).
FAMILIES = {
    "digits": Family(
        "digits", "CNN classifier: LeNet-5 on MNIST", 128, 40, 6, lambda steps, batch: round(steps * batch / 0.95),
        ["model.architecture=lenet5", "augmentation.rotation_degrees=0", "augmentation.shift=0",
         "augmentation.zoom=0", "training.schedule=constant", "training.warmup_epochs=0", "data.test_limit=256"],
        ALL_RUNNERS),
    "slots": Family(
        "slots", "recurrent tagger: 2x bi-LSTM 128 + self-attention on ATIS", 32, 20, 4, lambda steps, batch: steps * batch,
        # The model the peer scripts write, pinned (the default config may move on).
        ["model.architecture=lstm", "model.bidirectional=true", "model.layers=2", "model.units=128",
         "model.encoding=embedding+wordhash", "model.embedding_dim=128", "model.hash_buckets=4096",
         "model.dropout=0.3", "model.joint_intent=true", "model.attention_heads=4", "model.intent_decision=vote",
         "training.schedule=constant", "training.warmup_epochs=0", "training.clipnorm=5.0",
         "training.global_clipnorm=null", "data.test_limit=64"],
        (*(f"nnkit-{backend}" for backend in BACKENDS), "keras-tensorflow", "torch")),
    "lm": Family(
        "lm", "stateful language model: 2x LSTM 200, tied, on PTB", 20, 20, 4, lambda steps, batch: steps * batch * 35 + 1,
        ["training.bptt=35", "training.schedule=constant", "data.test_limit=2000"],
        (*(f"nnkit-{backend}" for backend in BACKENDS), "keras-tensorflow", "torch")),
    "translate": Family(
        "translate", "attention encoder-decoder: bi-GRU 256 + Bahdanau on Multi30k de-en", 64, 10, 3,
        lambda steps, batch: steps * batch,
        ["model.architecture=gru", "model.attention=bahdanau", "model.bidirectional_encoder=true", "model.layers=1",
         "training.schedule=constant", "data.test_limit=32", "decoding.beam_size=1"],
        (*(f"nnkit-{backend}" for backend in BACKENDS), "keras-tensorflow", "torch")),
}


def run_once(family, runner, data, work, epochs, settings):
    """One fresh process of `runner`: (epoch seconds, epoch losses, steps per epoch)."""
    kind, _, backend = runner.partition("-")
    env = {**RUN_ENVIRONMENT, "KERAS_BACKEND": backend or "tensorflow"}
    if kind == "nnkit":
        output = work / f"{family.task}-{runner}"
        shutil.rmtree(output, ignore_errors=True)
        command = [sys.executable, "-m", "nnkit.cli", family.task, "train", "--quiet", "--output", str(output),
                   "--epochs", str(epochs), "--set", f"training.batch_size={family.batch_size}"]
        for setting in settings:
            command += ["--set", setting]
        run(command, env=env)
        metadata = json.loads((output / "metadata.json").read_text())
        training = metadata["training"]
        shutil.rmtree(output, ignore_errors=True)
        steps = -(-training["train_samples"] // family.batch_size)
        return training["epoch_train_seconds"], metadata["history"]["loss"], steps
    script = PEERS / f"{family.task}_{kind}.py"
    _, printed = run([sys.executable, str(script), "--data", str(data), "--epochs", str(epochs),
                      "--threads", str(os.cpu_count())], env=env)
    result = json.loads(printed.strip().splitlines()[-1])
    return result["epoch_seconds"], result["epoch_losses"], result["steps_per_epoch"]


def steady(seconds):
    """Seconds per epoch once warm: the mean of the epochs after the first."""
    return statistics.mean(seconds[1:] or seconds)


def summarize(runs, runners):
    """Per runner: steady seconds per repeat, and its speed relative to the baseline and to
    PyTorch, repeat by repeat (those runs were made side by side)."""
    summary = {}
    for runner in runners:
        seconds = [steady(run_["epoch_seconds"]) for run_ in runs[runner]]
        summary[runner] = {"steady_seconds": seconds, "final_loss": [run_["epoch_losses"][-1] for run_ in runs[runner]]}
    for name, reference in (("vs_keras_tensorflow", BASELINE), ("vs_torch", "torch")):
        if reference not in summary:
            continue
        for runner in runners:
            ratios = [theirs / mine for mine, theirs in zip(summary[runner]["steady_seconds"],
                                                           summary[reference]["steady_seconds"])]
            summary[runner][name] = spread(ratios)
    if REFERENCE_LOSS in summary:
        reference = statistics.mean(summary[REFERENCE_LOSS]["final_loss"])
        for runner in runners:
            mine = statistics.mean(summary[runner]["final_loss"])
            difference = abs(mine - reference) / reference
            summary[runner]["loss_difference"] = round(difference, 4)
            summary[runner]["same_loss"] = difference <= LOSS_TOLERANCE
    return summary


def spread(values):
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3),
            "values": [round(value, 3) for value in values]}


def ratio_text(ratio):
    if ratio is None:
        return ""
    if ratio["min"] == ratio["max"]:
        return f"{ratio['median']:.2f}"
    return f"{ratio['median']:.2f} ({ratio['min']:.2f}-{ratio['max']:.2f})"


def table(results):
    rows = []
    for name, found in results["families"].items():
        for runner, figures in found["summary"].items():
            seconds = figures["steady_seconds"]
            rows.append([f"{name}: {runner}", f"{statistics.median(seconds):.2f}", found["steps_per_epoch"].get(runner, ""),
                         ratio_text(figures.get("vs_keras_tensorflow")), ratio_text(figures.get("vs_torch")),
                         f"{statistics.mean(figures['final_loss']):.3f}"
                         + ("" if figures.get("same_loss", True) else " (differs)")])
        rows += [[f"{name}: {runner}", "failed: " + error.strip().splitlines()[-1][:120], "", "", "", ""]
                 for runner, error in found.get("failed", {}).items()]
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few steps, one repeat; writes no results")
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--runners", default="", help=f"comma-separated subset of {', '.join(ALL_RUNNERS)}")
    parser.add_argument("--repeats", type=int, default=None, help="runs per runner (default 2; --quick 1)")
    parser.add_argument("--epochs", type=int, default=None, help="per run, the first being warm-up (default 3; --quick 2)")
    parser.add_argument("--work", default=str(ROOT / "benchmarks" / "work" / "peers"))
    args = parser.parse_args()
    repeats = args.repeats or (1 if args.quick else 2)
    epochs = args.epochs or (2 if args.quick else 3)
    os.environ.setdefault("NNKIT_DATA_DIR", str(ROOT.parent / "shared" / "data"))
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    wanted = [runner for runner in args.runners.split(",") if runner]
    unknown = [runner for runner in wanted if runner not in ALL_RUNNERS]
    if unknown:
        sys.exit(f"unknown runner(s) {', '.join(unknown)}; choose from {', '.join(ALL_RUNNERS)}")

    results = {"families": {}, "repeats": repeats, "epochs_per_run": epochs, "quick": args.quick,
               "loss_tolerance": LOSS_TOLERANCE, "environment": RUN_ENVIRONMENT, "threads": os.cpu_count()}
    for name in args.families.split(","):
        family = FAMILIES[name]
        steps = family.quick_steps if args.quick else family.steps
        settings = family.settings(steps)
        data = work / name
        run([sys.executable, str(PEERS / "prepare.py"), family.task, "--out", str(data),
             *[part for setting in settings for part in ("--set", setting)]], env=RUN_ENVIRONMENT)
        runners = [runner for runner in family.runners if not wanted or runner in wanted]
        runs, steps_per_epoch, failed = {runner: [] for runner in runners}, {}, {}
        for repeat in range(repeats):
            for runner in runners:
                if runner in failed:
                    continue
                try:
                    seconds, losses, steps_per_epoch[runner] = run_once(family, runner, data.with_suffix(".npz"),
                                                                        work, epochs, settings)
                except SystemExit as error:  # a failed run is reported, and the others go on
                    failed[runner] = str(error)[-600:]
                    print(f"{name} {runner} failed: {failed[runner]}", flush=True)
                    continue
                runs[runner].append({"epoch_seconds": [round(s, 3) for s in seconds],
                                     "epoch_losses": [round(loss, 4) for loss in losses]})
                print(f"{name} {runner} repeat {repeat + 1}: {steady(seconds):.2f} s/epoch, "
                      f"loss {losses[-1]:.4f}", flush=True)
        measured = [runner for runner in runners if runner not in failed]
        results["families"][name] = {"what": family.what, "settings": settings, "batch_size": family.batch_size,
                                     "steps_per_epoch": steps_per_epoch, "runs": runs, "failed": failed,
                                     "summary": summarize(runs, measured)}
        if not args.quick:  # after every family: a run cut short keeps what it measured
            write(results, epochs, repeats)
    if args.quick:
        for row in table(results):
            print(" | ".join(str(cell) for cell in row))


def write(results, epochs, repeats):
    notes = (f"Made with `NNKIT_DATA_DIR=../shared/data python benchmarks/peers.py`: each run a fresh process, "
             f"{epochs - 1} measured epochs after a warm-up one, runners alternating, {repeats} repeats; "
             "speed = plain Keras (TensorFlow) or PyTorch seconds / the runner's seconds in the same repeat, "
             "median (min-max); above 1 is faster. The machine's 2 cores were shared with other "
             "work: the seconds are noisy, the ratios of side-by-side runs are the figures. Loss: last "
             f"epoch's mean training loss (\"differs\": more than {LOSS_TOLERANCE:.0%} from nnkit on TensorFlow). "
             "Every run had OMP_WAIT_POLICY=PASSIVE; PyTorch used torch.set_num_threads(cores).")
    write_results("peers", results, table(results), ["family: runner", "s/epoch", "steps/epoch",
                                                     "speed vs plain Keras TF", "speed vs PyTorch", "loss"], notes)

if __name__ == "__main__":
    main()
