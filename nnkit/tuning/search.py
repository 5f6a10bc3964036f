"""`nnkit <task> tune`: hyperparameter search with KerasTuner over a task's config.

A trial is one config (the defaults with the trial's hyperparameters set) trained exactly as
`train` trains it (same data, callbacks and schedule) and scored on the validation split; the
test split is only read to score the best model at the end. KerasTuner keeps the search state
in the search directory, so an interrupted search resumes where it stopped, and runs it across
processes (a chief oracle and workers over gRPC).

Search directory layout:
    search.json                   task, tuner, objective, search space and base config
    trial_<id>/                   KerasTuner's trial record and best-epoch weights, plus
                                  nnkit_trial.json (its wall time)
    trials.csv, trials.json       every trial: status, objective, hyperparameters, time
    trials.png                    objective per trial and per hyperparameter
    tensorboard/                  per-trial logs with HParams (TensorFlow backend)
    prepared/                     what Task.prepare made, per data and model config
"""

import contextlib
import functools
import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path

import keras
import keras_tuner
from keras_tuner.errors import FailedTrialError, FatalError

from nnkit.tuning import search_space
from nnkit.errors import NnkitError, UsageError
from nnkit.config_rules import rules_of
from nnkit.reproducibility import set_seed
from nnkit.saving import write_json
from nnkit.training.output import output_lock
from nnkit.training.run import (compile_model, count_training_examples, evaluate_and_save, is_diverged, monitored_metric,
                            schedule_callbacks, task_callbacks, train)
from nnkit.tuning.reports import TRIAL_TIME_FILE, failure_reason, trial_line, trial_rows, write_reports

SEARCH_FILE = "search.json"
DEFAULT_MAX_TRIALS = 10


def objective_for(task, name=None):
    """The KerasTuner objective: `name` or the task's monitored metric; `name:min` or
    `name:max` gives the direction, else it is the task's for its own metric and inferred."""
    name, _, direction = (name or task.monitor).partition(":")
    if not direction:
        if name == task.monitor:
            direction = task.monitor_mode
        else:
            direction = "min" if any(word in name for word in ("loss", "perplexity", "error")) else "max"
    if direction not in ("min", "max"):
        raise UsageError(f"--objective {name}:{direction}: the direction must be min or max")
    return keras_tuner.Objective(name, direction)


def _failing_as_trial(method):
    """Any error while building or training one configuration (an invalid combination, no
    memory left, ...) fails that trial alone, with a one-line message; the search goes on."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except (FailedTrialError, FatalError):
            raise
        except Exception as error:
            text = str(error).strip()
            raise FailedTrialError(f"{type(error).__name__}: {text.splitlines()[0] if text else ''}") from error

    return wrapper


class StopAtDeadline(keras.callbacks.Callback):
    """Ends the running trial's training when the search's time budget is spent."""

    def __init__(self, deadline):
        super().__init__()
        self.deadline = deadline

    def on_train_batch_end(self, batch, logs=None):
        if time.time() >= self.deadline:
            self.model.stop_training = True


class TaskHyperModel(keras_tuner.HyperModel):
    """Builds and trains the task's model for a trial's hyperparameters."""

    def __init__(self, task, config, dimensions, data_dir, work_dir, deadline=None, verbose=0):
        super().__init__(name=task.name)
        self.task, self.config, self.dimensions = task, config, dimensions
        self.data_dir, self.work_dir, self.deadline, self.verbose = data_dir, Path(work_dir), deadline, verbose
        self._splits_key, self._splits = None, None
        self.execution = -1  # executions of one trial differ by their seed: config seed + 0, 1, ...

    def config_for(self, hyperparameters):
        return search_space.apply_values(self.config, search_space.active_values(hyperparameters, self.dimensions))

    def splits_for(self, config):
        """The data, and what `Task.prepare` made of it, for `config`: loaded again only when a
        section other than `training` changed (the vocabulary may depend on a model key)."""
        key = json.dumps({name: value for name, value in config.items() if name != "training"}, sort_keys=True)
        if key != self._splits_key:
            self._splits_key, self._splits = None, None  # let the previous arrays go first
            splits = self.task.load_data(config, self.data_dir)
            preparation = json.dumps(self.task.preparation_config(config), sort_keys=True)
            prepared = self.work_dir / hashlib.sha1(preparation.encode()).hexdigest()[:12]
            self._splits = self.task.prepare(config, splits, prepared, self.verbose)
            self._splits_key = key
        return self._splits

    @_failing_as_trial
    def build(self, hyperparameters):
        config = self.config_for(hyperparameters)
        self.execution += 1
        set_seed(config["seed"] + self.execution)
        splits = self.splits_for(config)
        train_samples = count_training_examples(splits)
        model = self.task.build_model(config, splits.info)
        compile_model(self.task, config, model, train_samples)
        return model

    @_failing_as_trial
    def fit(self, hyperparameters, model, *args, callbacks=(), epochs=None, initial_epoch=0, **kwargs):
        config = self.config_for(hyperparameters)
        splits = self.splits_for(config)
        training = config["training"]
        monitor, mode = monitored_metric(self.task, splits)
        steering = [*task_callbacks(self.task, splits), *schedule_callbacks(training, monitor, mode)]
        history = model.fit(
            **self.task.fit_arguments(splits, training["batch_size"], config["seed"] + self.execution),
            epochs=epochs or training["epochs"],  # Hyperband gives each round's epochs
            initial_epoch=initial_epoch,
            # KerasTuner's callbacks (reporting, best-epoch weights) come after the task's
            # metrics, which they read.
            callbacks=steering + list(callbacks) + ([StopAtDeadline(self.deadline)] if self.deadline else []),
            verbose=self.verbose,
        )
        if is_diverged(history):
            raise FailedTrialError("training diverged (the loss became NaN or infinite)")
        return history


class ReportingTuner:
    """Mixed into KerasTuner's tuners: one table line per finished trial, the trial's wall time
    kept in its folder, and the execution count reset at each trial."""

    def _populate_initial_space(self):
        """KerasTuner builds the model once per conditional branch to discover the space; nnkit
        declares the whole space from the config up front, so nothing needs building (or, for
        captioning, pretraining) before the first trial."""

    def on_search_begin(self):
        super().on_search_begin()
        print(f"{'trial':>6}  {'status':<9}  {self.oracle.objective.name + ' (best)':>26}  {'time':>7}  hyperparameters",
              flush=True)

    def on_trial_begin(self, trial):
        self.hypermodel.execution = -1
        self._trial_started = time.perf_counter()
        super().on_trial_begin(trial)

    def on_trial_end(self, trial):
        seconds = time.perf_counter() - self._trial_started
        write_json({"seconds": round(seconds, 2), "tuner": self.tuner_id},
                   Path(self.get_trial_dir(trial.trial_id)) / TRIAL_TIME_FILE)
        super().on_trial_end(trial)  # the oracle records and scores the trial
        ended = self.oracle.get_trial(trial.trial_id)
        best = self.oracle.get_best_trials(1)
        print(trial_line(ended, best[0].score if best else None, seconds, self.hypermodel.dimensions), flush=True)


class RandomSearch(ReportingTuner, keras_tuner.RandomSearch):
    pass


class BayesianOptimization(ReportingTuner, keras_tuner.BayesianOptimization):
    pass


class Hyperband(ReportingTuner, keras_tuner.Hyperband):
    pass


class GridSearch(ReportingTuner, keras_tuner.GridSearch):
    pass


TUNERS = {"random": RandomSearch, "bayesian": BayesianOptimization, "hyperband": Hyperband, "grid": GridSearch}


def stop_creating_trials_at(oracle, deadline):
    """After `deadline`, the oracle answers every request for a new trial with 'stopped', so
    every process of the search ends (the running trials stop at the deadline themselves)."""
    create_trial = oracle.create_trial

    def create_trial_within_budget(tuner_id):
        if time.time() >= deadline and tuner_id not in oracle.ongoing_trials:
            oracle.max_trials = max(1, len(oracle.trials))
        return create_trial(tuner_id)

    oracle.create_trial = create_trial_within_budget


def serve_search(oracle, address):
    """Serve `oracle` to the workers until the search has ended and every worker has been told.
    This is KerasTuner's chief server (`oracle_chief.start_server`), but it checks every second
    where KerasTuner's sleeps 20 s, so the chief exits as soon as its last worker does."""
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer, exit_chief

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1))
    servicer = OracleServicer(oracle)
    protos.get_service_grpc().add_OracleServicer_to_server(servicer, server)
    server.add_insecure_port(address)
    server.start()
    try:
        while not (servicer.stop_triggered and exit_chief(oracle)):
            time.sleep(1)
    finally:
        server.stop(grace=1)


@contextlib.contextmanager
def optimizer_state_not_loaded():
    """KerasTuner's best-epoch weights files also hold the optimizer's state, which a freshly
    compiled model does not load (Keras warns); the weights are what is wanted."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Skipping variable loading for optimizer")
        yield


def _check_search_file(directory, description):
    """A search directory is resumed only with the same task, tuner, objective, space and config."""
    path = directory / SEARCH_FILE
    if path.is_file() and json.loads(path.read_text()) != description:
        raise UsageError(f"'{directory}' holds a search with different settings; resume it with the same "
                         "options, or pass --overwrite (or another --directory) to start afresh")


def _distribute(role, address, worker_id):
    """KerasTuner reads its chief/worker roles from the environment."""
    if role is None:
        return "tuner0"
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise UsageError(f"--oracle-address expects HOST:PORT, got '{address}'")
    tuner_id = "chief" if role == "chief" else f"worker-{worker_id or os.getpid()}"
    if role == "worker" and "chief" in tuner_id:
        raise UsageError("--worker-id must not contain 'chief'")
    os.environ.update(KERASTUNER_ORACLE_IP=host, KERASTUNER_ORACLE_PORT=port, KERASTUNER_TUNER_ID=tuner_id)
    return tuner_id


def tune(task, config, space, directory, output, role=None, **options):
    """Search `space` around `config`, report every trial, and save the best model to `output`
    (none from a worker). Returns a summary dict. The output folder is held from the start, as
    `train` holds it (nnkit.training.output): a second run on it is refused before any trial."""
    with contextlib.nullcontext() if role == "worker" else output_lock(output):
        return _search(task, config, space, directory, output, role=role, **options)


def _search(task, config, space, directory, output, tuner="random", max_trials=None, time_budget=None,
            executions_per_trial=1, objective=None, overwrite=False, retrain=False, data_dir=None,
            role=None, oracle_address="127.0.0.1:8000", worker_id=None, verbose=0):
    dimensions = search_space.parse_search_space(space, config, rules_of(task))
    if not dimensions:
        raise UsageError(f"the search space is empty: add keys under search_space in configs/{task.name}.yaml, "
                         "a --config file, or --set 'search_space.<section>.<key>={values: [...]}'")
    directory = Path(directory)
    objective = objective_for(task, objective)
    if tuner == "grid" and any(d.kind == "float" and d.step is None for d in dimensions):
        raise UsageError("grid search needs a step for every float range (or values: [...])")
    if max_trials is None and tuner in ("random", "bayesian"):  # grid and hyperband end by themselves
        max_trials = DEFAULT_MAX_TRIALS
    description = {"task": task.name, "tuner": tuner, "objective": [objective.name, objective.direction],
                   "space": [dimension.describe() for dimension in dimensions], "config": config}
    tuner_id = _distribute(role, oracle_address, worker_id)
    if role != "worker":
        if overwrite:
            shutil.rmtree(directory, ignore_errors=True)
        _check_search_file(directory, description)
    deadline = time.time() + time_budget if time_budget else None
    hypermodel = TaskHyperModel(task, config, dimensions, data_dir, directory / "prepared", deadline, verbose)
    options = dict(hypermodel=hypermodel, objective=objective, seed=config["seed"],
                   hyperparameters=search_space.define(keras_tuner.HyperParameters(), dimensions),
                   directory=str(directory.parent), project_name=directory.name, overwrite=False,
                   executions_per_trial=executions_per_trial)
    if tuner == "hyperband":
        options.update(max_epochs=config["training"]["epochs"], factor=3)
    else:
        options.update(max_trials=max_trials)
    searcher = TUNERS[tuner](**options)
    if tuner == "hyperband" and max_trials:
        searcher.oracle.max_trials = max_trials
    if role != "worker":
        write_json(description, directory / SEARCH_FILE)
        if deadline:
            stop_creating_trials_at(searcher.oracle, deadline)
    # On the TensorFlow backend KerasTuner adds HParams to each trial's TensorBoard logs.
    callbacks = [keras.callbacks.TensorBoard(str(directory / "tensorboard"))] if keras.backend.backend() == "tensorflow" else []
    try:
        if role == "chief":
            print(f"Chief: serving the search at {oracle_address}; start workers with --worker "
                  f"--oracle-address {oracle_address} --directory {directory}", flush=True)
            searcher.oracle.verbose = 0
            searcher.save()
            serve_search(searcher.oracle, oracle_address)
        else:
            with optimizer_state_not_loaded():  # Hyperband starts a round from an earlier trial's weights
                searcher.search(callbacks=callbacks, verbose=verbose)
    except RuntimeError as error:
        if "consecutive failures" not in str(error):
            raise
        first = str(error).strip().splitlines()[0]
        if role != "worker":
            write_reports(directory, trial_rows(searcher.oracle, dimensions, directory), objective, dimensions)
        raise NnkitError(f"the search stopped: {first.rstrip('.')} (see {directory / 'trials.csv'}); "
                         f"the last one: {failure_reason(str(error))}")
    if role == "worker":
        return {"role": "worker", "tuner_id": tuner_id}
    rows = trial_rows(searcher.oracle, dimensions, directory)
    best_rows = write_reports(directory, rows, objective, dimensions)
    best = searcher.oracle.get_best_trials(1)
    if not best:
        raise NnkitError(f"no trial completed, so there is no model to save (see {directory / 'trials.csv'})")
    metadata = save_best_model(task, searcher, hypermodel, best[0], output, rows, retrain, data_dir, verbose)
    return {"best": best_rows, "trials": rows, "metadata": metadata, "objective": objective.name}


def save_best_model(task, searcher, hypermodel, trial, output, rows, retrain, data_dir, verbose):
    """Save the best trial's model as a normal saved model: its best-epoch weights, or, with
    `retrain` (or when they are missing), the best config trained afresh by `train`."""
    config = hypermodel.config_for(trial.hyperparameters)
    row = next(row for row in rows if row["trial"] == trial.trial_id)
    tuned = {"search": str(Path(searcher.project_dir)), "trial": trial.trial_id, "objective": row["objective"],
             "hyperparameters": row["hyperparameters"]}
    if retrain or not Path(searcher._get_checkpoint_fname(trial.trial_id)).is_file():
        return train(task, config, output, data_dir=data_dir, verbose=verbose, note={"tuned": tuned, "retrained": True})
    with optimizer_state_not_loaded():
        model = searcher.load_model(trial)
    history = {name: [observation.value[0] for observation in trial.metrics.get_history(name)]
               for name in trial.metrics.metrics}
    record = {"tuned": tuned, "wall_time_s": row["seconds"], "retrained": False}
    return evaluate_and_save(task, config, model, hypermodel.splits_for(config), output, history, record)
