"""The options several commands share: how a config is made from flags (train, tune), where a
saved model is, which devices train. Heavy modules are imported inside the functions."""

import click

from nnkit.backend import import_keras_quietly

# CLI flag -> config key it sets; the same across tasks.
FLAG_KEYS = {"model": ("model", "architecture"), "epochs": ("training", "epochs"),
             "batch_size": ("training", "batch_size"), "seed": ("seed",)}


def nested(keys, value):
    for key in reversed(keys):
        value = {key: value}
    return value


def model_path_option(task_name):
    return click.option("--model-path", default=f"saved_models/{task_name}", show_default=True,
                        help="Saved model directory or .keras file.")


def runtime_option(command):
    """--runtime: what runs a saved model for predict and serve (nnkit.runtime)."""
    return click.option("--runtime", type=click.Choice(["auto", "onnx", "keras"]), default="auto", show_default=True,
                        help="onnx: the model's ONNX artifacts with ONNX Runtime, without loading TensorFlow "
                             "(quick to start); keras: the .keras file; auto: onnx where the model has the "
                             "artifacts and onnxruntime is installed.")(command)


def data_option(task):
    return click.option("--data", "data", default=None, metavar=task.data_metavar, help=task.data_help)


def split_data_option(data):
    """--data is a directory, or tfds:NAME, which sets the config's data.source instead."""
    if data and data.startswith("tfds:"):
        return {"data": {"source": data}}, None
    return None, data


def config_options(task):
    """The options that make a config, shared by train and tune: the usual flags, the task's
    own flags, --config, --set and --data."""

    def decorate(command):
        for flag, (_, option) in reversed(list(task.train_flags.items())):
            option = dict(option)
            name = f"--{flag.replace('_', '-')}"
            if "off" in option:  # an on/off pair such as --bidirectional/--unidirectional
                name = f"{name}/--{option.pop('off')}"
            command = click.option(name, flag, **option)(command)
        for option in reversed([
            click.option("--model", type=click.Choice(task.architectures), help="Architecture (model.architecture)."),
            click.option("--epochs", type=click.IntRange(min=1), help="Number of epochs (training.epochs)."),
            click.option("--batch-size", type=click.IntRange(min=1), help="Batch size (training.batch_size)."),
            click.option("--seed", type=int, help="Seed for every random source."),
            click.option("--config", "config_file", type=click.Path(dir_okay=False), help="YAML file of config overrides."),
            click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
                         help="Override one config key, e.g. --set training.learning_rate=0.001 (repeatable)."),
            data_option(task),
        ]):
            command = option(command)
        return command

    return decorate


def config_from_options(task, model, epochs, batch_size, seed, config_file, overrides, data, task_flags):
    """(config, data directory) from what `config_options` collected."""
    from nnkit.config import load_config

    given = {"model": model, "epochs": epochs, "batch_size": batch_size, "seed": seed}
    options = [nested(FLAG_KEYS[flag], value) for flag, value in given.items() if value is not None]
    # A repeatable flag gives a tuple, () when absent; config lists are lists.
    options += [nested(task.train_flags[flag][0], list(value) if isinstance(value, tuple) else value)
                for flag, value in task_flags.items() if value not in (None, ())]
    source, data_dir = split_data_option(data)
    options += [source] if source else []
    return load_config(task.name, config_file, overrides, options), data_dir


def distribution_options(command):
    """Which devices train: see nnkit/distribution/__init__.py for what each strategy means."""
    for option in reversed([
        click.option("--strategy", type=click.Choice(["auto", "default", "mirrored", "multiworker"]), default="auto",
                     show_default=True, help="auto: several workers or GPUs if there are, else one device."),
        click.option("--devices", metavar="LIST", help="Devices to train on, e.g. gpu:0,gpu:1 "
                     "(cpu:0,cpu:1 splits the CPU, to test mirrored training without GPUs)."),
        click.option("--precision", type=click.Choice(["float32", "mixed_float16", "mixed_bfloat16"]),
                     default="float32", show_default=True, help="Mixed precision computes in 16 bits, keeps weights in 32."),
        click.option("--jit/--no-jit", default=None, help="Force XLA compilation on or off (default: Keras decides)."),
        click.option("--cluster", metavar="HOST:PORT,...", help="Multi-worker: every worker's address, the same on "
                     "each (writes TF_CONFIG)."),
        click.option("--task-index", type=click.IntRange(min=0), help="Multi-worker: this worker's place in --cluster."),
    ]):
        command = option(command)
    return command


def start_distribution(strategy, devices, precision, jit, cluster, task_index):
    """Set up the devices before anything else runs: TensorFlow and JAX fix them at their start."""
    from nnkit import distribution

    devices = distribution.parse_devices(devices)
    distribution.write_cluster(cluster, task_index)
    import_keras_quietly()
    return distribution.start(strategy, devices, precision, jit)
