"""The contract every task implements, in one place.

A task is a folder, `apps/<name>/` (or a package of its own, registered through the `nnkit.tasks`
entry point group): a `Task` subclass and what only it uses. It declares its name, description,
architectures, the data layout it reads and the rules of its config; it knows how to read its
data, build, score and export its model, and turn raw user input into predictions (a
`Predictor`); it may add CLI commands, HTTP endpoints and a web panel. Everything else (configs,
training, tuning, saving, export, serving, the CLI) is shared, so knowing one task means knowing
them all. tests/test_contract.py checks every registered task against this file.
"""

import importlib
import importlib.util
import sys
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Protocol, runtime_checkable


@runtime_checkable
class Predictor(Protocol):
    """A saved model that takes raw user inputs. The same call for every task, in the Python
    API, the CLI and the server: a list of inputs (file paths, images, arrays or texts, as the
    task reads them) and the task's options (top_k, beam_size, count ...), one JSON-able dict
    per input, in order. Bad inputs raise nnkit.errors.UsageError with one line."""

    def predict(self, inputs: list, **options) -> list: ...


@dataclass
class Splits:
    """Arrays for training. `info` carries what the model and predictor need to know about
    the data (class names, input shape, vocabulary ...); it is saved in the model's metadata."""

    train: object  # what `fit_arguments` batches: by default (inputs, targets) arrays
    validation: object | None  # the same, or None
    # What this task's `evaluate` scores, in whatever form it needs (arrays, the raw utterances
    # with their gold tags, the pairs with their reference texts ...); only `evaluate` reads it.
    test: object
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
    architectures = ()  # the choices of model.architecture (--model), spelled out so --help needs no Keras
    # What `--data DIR` must hold, for help texts and for the one line that says what is missing:
    # DIR may be the dataset's own folder or a folder that holds it (nnkit.data.files.locate).
    data_layout = ""

    @property
    def description(self):
        """One line, as `nnkit --help` lists it: the first line of the docstring of the task's
        package (apps/<task>/__init__.py), which the registry reads without importing it. A
        task may also set `description` as a class attribute."""
        package = sys.modules[type(self).__module__.rpartition(".")[0] or type(self).__module__]
        return (package.__doc__ or "").strip().split("\n")[0]
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
    # What this task's own config keys may be: dotted key -> nnkit.config_rules.Rule (a range,
    # choices, null allowed ...), over the shared keys' rules there; see also `check_config`.
    config_rules = {}

    def defaults_file(self):
        """The task's YAML defaults and search space (a path or importlib.resources Traversable)."""
        return resources.files("nnkit.configs").joinpath(f"{self.name}.yaml")

    def check_config(self, config):
        """Reject what the config's types cannot say: ranges, choices, rules across keys. Raise
        nnkit.errors.UsageError naming the key; runs before any data is read or model built."""

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
        """A `Predictor` (see above) for a loaded model and its metadata."""
        raise NotImplementedError

    def export_plan(self, model, metadata):
        """The `ExportPlan` of a saved model, for `nnkit <task> export`."""
        raise NotImplementedError

    def make_onnx_predictor(self, artifacts, metadata):
        """A `Predictor`, as `make_predictor` makes, that runs the ONNX artifacts of the export
        plan (`artifacts`: nnkit.runtime.onnx.Artifacts, artifact name -> runner) with ONNX
        Runtime and imports neither Keras nor TensorFlow. A task without one runs in Keras."""
        raise NotImplementedError

    def commands(self):
        """The task's own click commands, usually a `predict` (files for one task, texts for
        another); a task without one gets the generic predict (inputs as given, answers as JSON)."""
        return []

    def routes(self, serving):
        """This task's endpoints for `nnkit serve`, POST /v1/<name>/<action>, as a
        fastapi.APIRouter built with the helpers of nnkit.serving.app passed as `serving`: by
        default `routes(task, serving)` of the `serving.py` beside the task's module, else the
        generic route, POST /v1/<name>/predict with a JSON body {"inputs": [...], "options":
        {...}} answered by `Predictor.predict`."""
        module = self.own_module("serving")
        return module.routes(self, serving) if module else self.default_routes(serving)

    def default_routes(self, serving):
        """The routes of a task without a serving.py: the generic one (a family may have its own)."""
        return serving.generic_routes(self)

    @property
    def web_panel(self):
        """The web page's panel for this task: `panel.js` beside the task's module (it calls the
        page's definePanel), or None for the generic panel (a text box, the answer as JSON)."""
        panel = Path(sys.modules[type(self).__module__].__file__).with_name("panel.js")
        return panel if panel.is_file() else None

    def own_module(self, name):
        """The module `name` beside this task's own (apps/<task>/serving.py, a plugin's
        <package>/layers.py), imported; None where the task has none."""
        package = type(self).__module__.rpartition(".")[0]
        if not package or importlib.util.find_spec(f"{package}.{name}") is None:
            return None
        return importlib.import_module(f"{package}.{name}")
