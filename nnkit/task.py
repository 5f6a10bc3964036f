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


class Task:
    name = ""
    monitor = "val_loss"  # what early stopping and checkpointing watch
    # Extra `train` flags: name -> (config key path, click.option keyword arguments).
    train_flags = {}
    data_help = "Data directory (default $NNKIT_DATA_DIR)."
    data_metavar = "DIR"

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        """Return `Splits` for `config`; only the splits named are read."""
        raise NotImplementedError

    def build_model(self, config, info):
        """Return an uncompiled keras.Model that takes raw inputs (preprocessing inside)."""
        raise NotImplementedError

    def compile_options(self, config):
        """Loss and metrics for `model.compile`."""
        raise NotImplementedError

    def evaluation_data(self, config, info, data_dir=None):
        """The (inputs, targets) `nnkit <task> evaluate` scores a saved model on."""
        return self.load_data(config, data_dir, splits=("test",)).test

    def evaluate(self, model, test, info):
        """Score `model` on the test arrays; returns a dict of JSON-able metrics."""
        raise NotImplementedError

    def format_report(self, metrics):
        """Human-readable text for what `evaluate` returned."""
        raise NotImplementedError

    def make_predictor(self, model, metadata):
        """A Predictor whose `predict` takes raw user inputs."""
        raise NotImplementedError

    def commands(self):
        """Task-specific click commands (predict takes images for one task, text for another)."""
        return []
