"""The contract every application implements.

A task knows its data, how to build its model, how to score it and how to turn raw user input
into predictions. Everything else (configs, training wiring, saving, the CLI) is shared, so
knowing one app means knowing them all.
"""

from dataclasses import dataclass, field


@dataclass
class Splits:
    """Arrays for training. `info` carries what the model and predictor need to know about
    the data (class names, input shape, vocabulary ...); it is saved in the model's metadata."""

    train: tuple
    validation: tuple | None
    test: tuple
    info: dict = field(default_factory=dict)
    # What a task needs beside the arrays and does not save (raw gold labels to score against).
    extras: dict = field(default_factory=dict)


@dataclass
class ExportArtifact:
    """One model file `nnkit <task> export` writes: a keras.Model with named inputs and a dict of
    named outputs, and inputs to check the exported copy against it."""

    name: str  # the file's name without its suffix: "model", "encoder", "decoder_step"
    model: object
    sample_inputs: dict  # input name -> array, a few rows
    description: str


@dataclass
class ExportPlan:
    """What a task exports: its artifacts, and what another runtime must do around them."""

    artifacts: list
    # How to prepare the inputs and read the outputs (ids, vocabularies by their place in
    # metadata.json ...), JSON-able; it goes into the manifest, export.json.
    processing: dict
    # What the artifacts leave to the caller (a beam search loop, say): printed and recorded.
    notes: list = field(default_factory=list)


class Task:
    name = ""
    monitor = "val_loss"  # what early stopping and checkpointing watch
    monitor_mode = "min"  # whether a lower or a higher `monitor` is better
    stateful = False  # stateful recurrent layers: training resets them each epoch and before validation
    # Extra `train` flags: name -> (config key path, click.option keyword arguments); the
    # extra keyword "off" names the negative flag of an on/off pair (--bidirectional/--unidirectional).
    train_flags = {}
    data_help = "Data directory (default $NNKIT_DATA_DIR)."
    data_metavar = "DIR"
    # Extra `evaluate` options that write a figure: option name -> help; see `write_figure`.
    evaluation_figures = {}
    # Extra `evaluate` options that override a config key, as train_flags do (a beam size, say).
    evaluation_options = {}

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        """Return `Splits` for `config`; only the splits named are read."""
        raise NotImplementedError

    def prepare(self, config, splits, work_dir, verbose):
        """Work done once before the model is built, such as pretraining part of it, freezing
        that part and caching its outputs in `splits`; returns the splits to train on.
        `work_dir` is for what a killed run can reuse when it resumes; it goes when training ends."""
        return splits

    def preparation_config(self, config):
        """The part of `config` that `prepare` depends on: tuning trials that agree on it share
        one prepared work dir."""
        return config

    def finish(self, config, model, splits):
        """The model to evaluate and save, made from the trained one (with the frozen part that
        `prepare` cut off put back in front, say)."""
        return model

    def build_model(self, config, info):
        """Return an uncompiled keras.Model that takes raw inputs (preprocessing inside)."""
        raise NotImplementedError

    def compile_options(self, config):
        """Loss and metrics for `model.compile`."""
        raise NotImplementedError

    def fit_arguments(self, splits, batch_size, seed):
        """What `model.fit` trains and validates on: by default the arrays, batched by Keras.
        A task can return its own batches instead (a `keras.utils.PyDataset`, say)."""
        return {"x": splits.train[0], "y": splits.train[1], "batch_size": batch_size,
                "validation_data": splits.validation}

    def epoch_metrics(self, model, splits):
        """Extra validation metrics computed after every epoch and added to Keras's logs, so that
        early stopping and checkpoints can watch them (say, span F1); {} when there are none."""
        return {}

    def evaluation_data(self, config, info, data_dir=None):
        """The (inputs, targets) `nnkit <task> evaluate` scores a saved model on."""
        return self.load_data(config, data_dir, splits=("test",)).test

    def evaluate(self, model, test, info):
        """Score `model` on the test arrays; returns a dict of JSON-able metrics."""
        raise NotImplementedError

    def format_report(self, metrics):
        """Human-readable text for what `evaluate` returned."""
        raise NotImplementedError

    def write_figure(self, figure, path, metrics, metadata):
        """Write the figure named in `evaluation_figures` for what `evaluate` returned."""
        raise NotImplementedError

    def make_predictor(self, model, metadata):
        """A Predictor whose `predict` takes raw user inputs."""
        raise NotImplementedError

    def export_plan(self, model, metadata):
        """The `ExportPlan` of a saved model, for `nnkit <task> export`."""
        raise NotImplementedError

    def commands(self):
        """Task-specific click commands (predict takes images for one task, text for another)."""
        return []
