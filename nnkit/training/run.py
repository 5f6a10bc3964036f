"""Training wiring shared by every task: optimizer and schedule from the config, callbacks,
resume after a kill, and saving the finished model with its metadata.

Output directory layout:
    model.keras, metadata.json   the finished model (written atomically at the end)
    checkpoints/best.keras       best epoch so far (atomic)
    .lock                        held while a run works here, so a second run is refused
                                 (nnkit.training.output); gone when the run ends
    backup/                      BackupAndRestore state (atomic); a killed run resumes from it,
                                 `train --restart` discards it
    prepared/                    what `Task.prepare` made (a pretrained encoder); reused on resume
    training_log.csv, logs/      per-epoch metrics (CSV) and TensorBoard logs
    workers/<index>/             a multi-worker run's other workers' own backups and logs, so
                                 that workers sharing a disk never write the same file; removed
                                 when they finish (only the chief saves the model)
"""

import contextlib
import json
import math
import shutil
import time
import zipfile
from datetime import datetime, timezone
from pathlib import Path

import keras

from nnkit.distribution import Distribution, Plan, weights_digest
from nnkit.errors import NnkitError, UsageError
from nnkit.layers.stateful import reset_states
from nnkit.reproducibility import hardware, set_seed, versions
from nnkit.saving import atomic_path, write_json
from nnkit.training import OPTIMIZERS
from nnkit.training.output import output_lock

BACKUP_DIR = "backup"
# In BACKUP_DIR: the config of the run (ours), its last finished epoch's weights and optimizer
# state, and that epoch's number (Keras writes it after the weights).
BACKUP_CONFIG = "config.json"
BACKUP_WEIGHTS = "latest.keras"
BACKUP_STATE = "training_metadata.json"
PREPARED_DIR = "prepared"
WORKERS_DIR = "workers"
EPOCH_SECONDS = "epoch_seconds"
TRAINING_LOG = "training_log.csv"


def make_optimizer(training, steps_per_epoch):
    """The optimizer named in the config, with its learning-rate schedule and clipping:
    `clipnorm` clips each weight's gradient on its own, `global_clipnorm` all of them together.
    The config rules (nnkit.config_rules) have checked the names and numbers."""
    rate = training["learning_rate"]
    if training["schedule"] == "cosine":
        warmup_steps = training["warmup_epochs"] * steps_per_epoch
        decay_steps = max(1, training["epochs"] * steps_per_epoch - warmup_steps)
        rate = keras.optimizers.schedules.CosineDecay(
            initial_learning_rate=rate / 10 if warmup_steps else rate,
            decay_steps=decay_steps,
            warmup_target=rate if warmup_steps else None,
            warmup_steps=warmup_steps,
        )
    options = {"learning_rate": rate}
    if training["optimizer"] == "sgd" and training["momentum"]:
        options.update(momentum=training["momentum"], nesterov=True)
    if training["weight_decay"]:
        options["weight_decay"] = training["weight_decay"]
    if training["clipnorm"]:
        options["clipnorm"] = training["clipnorm"]
    if training["global_clipnorm"]:
        options["global_clipnorm"] = training["global_clipnorm"]
    return getattr(keras.optimizers, OPTIMIZERS[training["optimizer"]])(**options)


class EpochTimer(keras.callbacks.Callback):
    """Wall time of each epoch's training steps alone (validation excluded), also written into
    the epoch's logs (`epoch_seconds`), so that a resumed run knows what its killed part took."""

    def __init__(self):
        super().__init__()
        self.seconds = []

    def on_epoch_begin(self, epoch, logs=None):
        self._start, self._train_end = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        self._train_end = self._train_end or self._finished()

    def on_epoch_end(self, epoch, logs=None):
        self.seconds.append((self._train_end or self._finished()) - self._start)
        if logs is not None:
            logs[EPOCH_SECONDS] = self.seconds[-1]

    def _finished(self):
        """The time the epoch's last step finished: with batch-end callbacks dispatched
        asynchronously (see async_safe) the training thread does not wait for each step, so wait
        for the optimizer's step count, which the last step updates (on JAX, Keras hands its
        training state back to the model's variables before validation and at the epoch's end)."""
        keras.ops.convert_to_numpy(self.model.optimizer.iterations)
        return time.perf_counter()


class BestCheckpoint(keras.callbacks.Callback):
    """Save the model whenever the monitored metric improves, via a temporary file."""

    def __init__(self, path, monitor, mode):
        super().__init__()
        self.path, self.monitor, self.mode = Path(path), monitor, mode
        self.best = None

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        if self.best is None or (value > self.best if self.mode == "max" else value < self.best):
            self.best = value
            with atomic_path(self.path) as temporary:
                self.model.save(temporary)


class TaskMetrics(keras.callbacks.Callback):
    """Adds the task's own validation metrics (`Task.epoch_metrics`) to every epoch's logs.
    It runs first, so the callbacks after it (logs, checkpoints, early stopping) see them."""

    def __init__(self, task, splits):
        super().__init__()
        self.task, self.splits = task, splits

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs.update(self.task.epoch_metrics(self.model, self.splits))


class ResetStates(keras.callbacks.Callback):
    """For stateful recurrent layers: every epoch reads its stream from the start, and
    validation reads another stream, so both begin from a zero state."""

    def on_epoch_begin(self, epoch, logs=None):
        reset_states(self.model)

    def on_test_begin(self, logs=None):
        reset_states(self.model)


class AtomicBackupAndRestore(keras.callbacks.BackupAndRestore):
    """Keras's BackupAndRestore, but every backup file is written to a temporary name and
    renamed: the stock callback writes the weights in place, and a kill during that write
    leaves an HDF5 file that cannot be read, so the run could not resume. The weights (with the
    optimizer's state) go in a `.keras` file, whose HDF5 part Keras makes in memory: HDF5 writing
    straight to a full disk leaves its library broken, and the process crashes as it exits."""

    def __init__(self, backup_dir, **options):
        super().__init__(backup_dir, **options)
        self._weights_path = str(Path(backup_dir) / BACKUP_WEIGHTS)

    def _save_model(self):
        Path(self.backup_dir).mkdir(parents=True, exist_ok=True)
        with atomic_path(self._weights_path) as temporary:
            self.model.save(temporary)
        state = {"epoch": self._current_epoch, "batch": self._last_batch_seen}
        with atomic_path(self._training_metadata_path) as temporary:
            Path(temporary).write_text(json.dumps(state))

    def on_train_begin(self, logs=None):
        try:
            super().on_train_begin(logs)
        except Exception as error:  # Keras raises many kinds for a damaged file
            raise NnkitError(f"cannot resume from '{self.backup_dir}': {type(error).__name__}: "
                             f"{_first_line(error)}; {_way_out(Path(self.backup_dir))}")


def async_safe(callback):
    """Mark `callback` as safe for Keras's asynchronous batch-end dispatch. One callback with
    a batch-end hook that is not marked makes Keras run every step's batch-end hooks in the
    training thread, each converting the step's logs to Python numbers first, so the training
    thread waits for each step's results before it goes on. The callbacks marked here only
    read the logs (TerminateOnNaN: a NaN stops training a step or two later than otherwise) or
    do nothing per batch (BackupAndRestore saving per epoch; TensorBoard logging per epoch,
    writing the graph once through its own writer).

    Not on JAX: there, with asynchronous dispatch and a PyDataset (slots), Keras 3.15's
    training step was handed weights an earlier step had donated ("Array has been deleted")."""
    if keras.backend.backend() != "jax":
        callback.async_safe = True
    return callback


def _first_line(error):
    text = str(error).strip()
    return text.splitlines()[0] if text else ""


def _way_out(backup):
    return f"run again with --restart (or delete '{backup}') to start afresh"


def _is_resuming(output, config):
    """A backup with a finished epoch means an interrupted run: resume it, but only with the
    same config. One without (a run stopped in its first epoch) holds nothing to resume and
    blocks nothing: `_start_afresh` clears it. A damaged one is refused before any data is read."""
    backup = output / BACKUP_DIR
    if not (backup / BACKUP_STATE).exists():
        return False
    if _read_backup_json(backup, BACKUP_CONFIG) != config:
        raise UsageError(f"'{output}' holds an interrupted run with a different config; resume it with the same "
                         f"options, or {_way_out(backup)} (or choose another --output)")
    _read_backup_json(backup, BACKUP_STATE)
    if not zipfile.is_zipfile(backup / BACKUP_WEIGHTS):  # also False when it is missing
        raise _damaged(backup, f"{BACKUP_WEIGHTS} is missing or incomplete")
    return True


def _read_backup_json(backup, name):
    try:
        return json.loads((backup / name).read_text())
    except FileNotFoundError:
        raise _damaged(backup, f"no {name}")
    except (OSError, ValueError) as error:
        raise _damaged(backup, f"{name} cannot be read: {_first_line(error)}")


def _damaged(backup, problem):
    return NnkitError(f"'{backup.parent}' holds an interrupted run whose backup is damaged ({problem}); "
                      f"{_way_out(backup)}")


def _start_afresh(output, config):
    """Clear what an earlier run left (finished, or stopped before it finished an epoch), and
    mark this run as resumable."""
    shutil.rmtree(output / BACKUP_DIR, ignore_errors=True)
    (output / TRAINING_LOG).unlink(missing_ok=True)
    write_json(config, output / BACKUP_DIR / BACKUP_CONFIG)


def monitored_metric(task, splits):
    """What early stopping and checkpoints watch; without validation data only the training loss."""
    return (task.monitor, task.monitor_mode) if splits.validation is not None else ("loss", "min")


def task_callbacks(task, splits):
    """The callbacks that must run first in every epoch: state resets, and the task's own
    validation metrics that the callbacks after them read."""
    return ([ResetStates()] if task.stateful else []) + [TaskMetrics(task, splits)]


def schedule_callbacks(training, monitor, mode):
    """What steers training from the monitored metric: early stopping, the plateau schedule, and
    stopping at a NaN loss. Training runs and tuning trials share them."""
    callbacks = [
        keras.callbacks.EarlyStopping(
            monitor=monitor, mode=mode, patience=training["early_stopping_patience"], restore_best_weights=True
        ),
        async_safe(keras.callbacks.TerminateOnNaN()),
    ]
    if training["schedule"] == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(
            monitor=monitor, mode=mode, factor=training["plateau_factor"], patience=training["plateau_patience"]))
    return callbacks


def callbacks_for(task, output, training, timer, splits):
    monitor, mode = monitored_metric(task, splits)
    return [
        *task_callbacks(task, splits),
        timer,
        # The epoch's CSV row is written before its backup: a kill between the two repeats the
        # row on resume (read_training_log keeps the last) rather than losing it.
        keras.callbacks.CSVLogger(str(output / TRAINING_LOG), append=True),
        async_safe(AtomicBackupAndRestore(str(output / BACKUP_DIR), delete_checkpoint=False)),
        BestCheckpoint(output / "checkpoints" / "best.keras", monitor, mode),
        *tensorboard_callbacks(output),
        *schedule_callbacks(training, monitor, mode),
    ]


def tensorboard_callbacks(output):
    """TensorBoard logs, where TensorFlow (their writer) is installed: a JAX or torch machine
    without it (a GPU box, say) trains all the same, without them."""
    from importlib.util import find_spec

    return [async_safe(keras.callbacks.TensorBoard(str(output / "logs")))] if find_spec("tensorflow") else []


def check_replicas(task, training, plan):
    if training["batch_size"] % plan.replicas:
        raise UsageError(f"training.batch_size {training['batch_size']} does not split evenly across "
                         f"{plan.replicas} replicas; make it a multiple of {plan.replicas}")
    if task.stateful and plan.replicas > 1:
        raise UsageError(f"{task.name} trains stateful layers that carry each batch row's state from step to step; "
                         "it trains on one device (--strategy default)")


def count_training_examples(splits):
    train_samples = count_examples(splits.train[0])
    if train_samples == 0:
        raise UsageError("no training examples (check data.train_limit and the data directory)")
    return train_samples


def compile_model(task, config, model, train_samples, jit=None):
    """Compile `model` for an epoch of `train_samples` examples (the schedule counts steps);
    `jit` True/False forces XLA compilation on or off, None lets Keras decide."""
    steps_per_epoch = -(-train_samples // config["training"]["batch_size"])
    model.compile(optimizer=make_optimizer(config["training"], steps_per_epoch),
                  jit_compile="auto" if jit is None else jit, **task.compile_options(config))


def is_diverged(history):
    losses = history.history.get("loss", [])
    return bool(losses) and not math.isfinite(losses[-1])  # TerminateOnNaN stopped the run


def train(task, config, output, data_dir=None, verbose="auto", note=None, distribution=None, restart=False):
    """Train `task` with `config`, evaluate on the test split, save to `output`; returns metadata.
    `note` adds to the metadata's training record (how a tuned config was found, say).
    `distribution` (nnkit.distribution.start) says on which devices; by default one.
    `restart` discards an interrupted run's backup instead of resuming it.
    In a multi-worker run only the chief evaluates and saves; the others return a short record."""
    distribution = distribution or Distribution(Plan("default", ()))
    plan = distribution.plan
    output = Path(output) if plan.chief else Path(output) / WORKERS_DIR / str(plan.worker_index)
    check_replicas(task, config["training"], plan)
    with output_lock(output):
        if restart:
            shutil.rmtree(output / BACKUP_DIR, ignore_errors=True)
        return _train_holding(task, config, output, data_dir, verbose, note, distribution)


def _train_holding(task, config, output, data_dir, verbose, note, distribution):
    """`train`, once it holds its output folder."""
    plan = distribution.plan
    training = config["training"]
    resumed = _is_resuming(output, config)
    set_seed(config["seed"])
    splits = task.load_data(config, data_dir)
    if not resumed:
        shutil.rmtree(output / PREPARED_DIR, ignore_errors=True)
    preparing = time.perf_counter()
    splits = task.prepare(config, splits, output / PREPARED_DIR, verbose)
    preparation_time = time.perf_counter() - preparing
    train_samples = count_training_examples(splits)

    with distribution.scope():
        model = task.build_model(config, splits.info)
        compile_model(task, config, model, train_samples, jit=plan.jit)
        if resumed:
            print(f"Resuming the interrupted run in '{output}' from its last completed epoch.")
        else:  # only now, with data and model ready, is there a run worth resuming
            _start_afresh(output, config)
        timer = EpochTimer()
        # A resumed run also counts the epochs its killed part trained.
        earlier_seconds = sum(read_training_log(output).get(EPOCH_SECONDS, [])) if resumed else 0.0
        started = time.perf_counter()
        history = model.fit(
            **task.fit_arguments(splits, training["batch_size"], config["seed"]),
            epochs=training["epochs"],
            callbacks=callbacks_for(task, output, training, timer, splits) + distribution.callbacks,
            verbose=verbose,
        )
    wall_time = time.perf_counter() - started + earlier_seconds
    if is_diverged(history):
        shutil.rmtree(output / BACKUP_DIR, ignore_errors=True)  # a diverged run is not worth resuming
        raise NnkitError(
            "training diverged (the loss became NaN or infinite); lower training.learning_rate "
            "or set training.clipnorm"
        )
    history = read_training_log(output)
    epoch_seconds = history.pop(EPOCH_SECONDS, timer.seconds)  # timings, not a metric to plot
    record = {
        "resumed": resumed,
        "wall_time_s": round(wall_time, 2),
        "preparation_time_s": round(preparation_time, 2),  # Task.prepare: pretraining, say
        "train_samples": train_samples,
        "epoch_train_seconds": [round(seconds, 3) for seconds in epoch_seconds],
        "distribution": plan.record(),
        # Workers that trained in sync have the same weights, so the same digest.
        "weights_digest": weights_digest(model),
        **(note or {}),
    }
    if not plan.chief:  # the chief evaluates and saves; this worker's files go
        shutil.rmtree(output, ignore_errors=True)
        with contextlib.suppress(OSError):  # workers/, once the last worker's folder has gone
            output.parent.rmdir()
        return {"task": task.name, "config": config, "history": history, "training": record}
    model = distribution.local_copy(model)
    try:
        metadata = evaluate_and_save(task, config, model, splits, output, history, record)
    except UsageError:  # the config, refused only now: resuming it would be refused again
        shutil.rmtree(output / BACKUP_DIR, ignore_errors=True)
        raise
    for finished in (BACKUP_DIR, PREPARED_DIR):  # nothing left to resume
        shutil.rmtree(output / finished, ignore_errors=True)
    return metadata


def evaluate_and_save(task, config, model, splits, output, history, record):
    """Score the trained `model` on the test split and save it with its metadata to `output`;
    `record` says how it was trained."""
    model = task.finish(config, model, splits)
    metrics = task.evaluate(model, splits.test, splits.info)
    metadata = {
        "task": task.name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "config": config,
        "data": splits.info,
        "metrics": {"test": metrics},
        "history": history,
        "training": record,
        "versions": versions(),
        "hardware": hardware(),
    }
    from nnkit.export.inference import save_with_artifacts

    save_with_artifacts(task, model, Path(output), metadata)  # and the ONNX artifacts, for inference without Keras
    return metadata


def count_examples(inputs):
    """The number of examples in an array or in a dict of arrays (a model with named inputs)."""
    if isinstance(inputs, dict):
        return len(next(iter(inputs.values()))) if inputs else 0
    return len(inputs)


def read_training_log(output):
    """The per-epoch metrics of the whole run (resumed parts included), column by column."""
    import csv

    path = Path(output) / TRAINING_LOG
    if not path.is_file():
        return {}
    with open(path, newline="") as handle:
        by_epoch = {int(row["epoch"]): row for row in csv.DictReader(handle)}
    rows = [by_epoch[epoch] for epoch in sorted(by_epoch)]
    # CSVLogger writes "NA" where an epoch lacks a value (no validation data, say).
    history = {key: [float(row[key]) for row in rows if row.get(key) not in (None, "", "NA")]
               for key in (rows[0] if rows else {})}
    return {key: values for key, values in history.items() if values}
