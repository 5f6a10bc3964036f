"""The commands every task has: train, evaluate, tune, info. A task adds its own (predict, ...).

Heavy modules are imported inside the command bodies, so `nnkit <task> --help` stays fast.
"""

import click

from nnkit.backend import import_keras_quietly

# CLI flag -> config key it sets; the same across tasks.
FLAG_KEYS = {"model": ("model", "architecture"), "epochs": ("training", "epochs"),
             "batch_size": ("training", "batch_size"), "seed": ("seed",)}


def _nested(keys, value):
    for key in reversed(keys):
        value = {key: value}
    return value


def model_path_option(task_name):
    return click.option("--model-path", default=f"saved_models/{task_name}", show_default=True,
                        help="Saved model directory or .keras file.")


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
    options = [_nested(FLAG_KEYS[flag], value) for flag, value in given.items() if value is not None]
    # A repeatable flag gives a tuple, () when absent; config lists are lists.
    options += [_nested(task.train_flags[flag][0], list(value) if isinstance(value, tuple) else value)
                for flag, value in task_flags.items() if value not in (None, ())]
    source, data_dir = split_data_option(data)
    options += [source] if source else []
    return load_config(task.name, config_file, overrides, options), data_dir


def distribution_options(command):
    """Which devices train: see nnkit/distribution.py for what each strategy means."""
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


def train_command(task):
    @click.command("train")
    @config_options(task)
    @distribution_options
    @click.option("--output", default=f"saved_models/{task.name}", show_default=True,
                  help="Where the model, checkpoints and logs go; a killed run resumes from here.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def train(model, epochs, batch_size, seed, config_file, overrides, data, strategy, devices, precision, jit,
              cluster, task_index, output, quiet, **task_flags):
        """Train a model, evaluate it on the test split and save it."""
        distribution = start_distribution(strategy, devices, precision, jit, cluster, task_index)
        from nnkit.training import train as run_training

        config, data_dir = config_from_options(task, model, epochs, batch_size, seed, config_file, overrides, data,
                                               task_flags)
        metadata = run_training(task, config, output, data_dir=data_dir, verbose=0 if quiet else "auto",
                                distribution=distribution)
        record = metadata["training"]
        if "metrics" not in metadata:  # a multi-worker run's other worker: the chief saves
            plan = record["distribution"]
            click.echo(f"Worker {plan['worker_index']} of {plan['workers']} finished "
                       f"(weights digest {record['weights_digest']}); the chief saves the model.")
            return
        click.echo(task.format_report(metadata["metrics"]["test"]))
        click.echo(f"Saved model to {output}/model.keras ({record['wall_time_s']:.0f} s of training on "
                   f"{record['distribution']['replicas']} replica(s), weights digest {record['weights_digest']})")

    return train


def evaluate_command(task):
    @click.command("evaluate")
    @model_path_option(task.name)
    @data_option(task)
    @click.option("--learning-curves", type=click.Path(dir_okay=False), help="Write learning-curve PNG here.")
    @click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
    def evaluate(model_path, data, learning_curves, as_json, **extra):
        """Score a saved model on the test split."""
        import_keras_quietly()
        import json

        from nnkit.config import merge
        from nnkit.errors import NnkitError
        from nnkit.reports import plot_learning_curves
        from nnkit.saving import load_model

        model, metadata = load_model(model_path, expected_task=task.name)
        source, data_dir = split_data_option(data)
        config = merge(metadata["config"], source) if source else metadata["config"]
        for option, (keys, _) in task.evaluation_options.items():
            if extra.get(option) is not None:
                config = merge(config, _nested(keys, extra[option]))
        metrics = task.evaluate(model, task.evaluation_data(config, metadata["data"], data_dir), metadata["data"])
        for figure, path in extra.items():
            if figure in task.evaluation_figures and path:
                task.write_figure(figure, path, metrics, metadata)
        if learning_curves:
            if not metadata.get("history"):
                raise NnkitError(f"'{model_path}' has no training history to plot")
            plot_learning_curves(metadata["history"], learning_curves)
        click.echo(json.dumps(metrics, indent=2) if as_json else task.format_report(metrics))

    for figure, help_text in task.evaluation_figures.items():
        evaluate = click.option(f"--{figure.replace('_', '-')}", figure, type=click.Path(dir_okay=False),
                                help=help_text)(evaluate)
    for option, (_, settings) in task.evaluation_options.items():
        evaluate = click.option(f"--{option.replace('_', '-')}", option, **settings)(evaluate)
    return evaluate


def info_command(task):
    @click.command("info")
    @model_path_option(task.name)
    @click.option("--json", "as_json", is_flag=True, help="Print the metadata as JSON.")
    def info(model_path, as_json):
        """Show a saved model's metadata and layer summary."""
        import_keras_quietly()
        import json

        from nnkit.saving import load_model

        model, metadata = load_model(model_path, expected_task=task.name)
        if as_json:
            click.echo(json.dumps(metadata, indent=2))
            return
        test = metadata.get("metrics", {}).get("test", {})
        scores = ", ".join(f"{name} {value:.4f}" for name, value in test.items() if isinstance(value, float))
        lines = [f"task: {metadata['task']}", f"created: {metadata['created']}",
                 f"architecture: {metadata['config']['model']['architecture']}",
                 f"test: {scores}" if scores else None,
                 f"training: {metadata['training']}", f"versions: {metadata['versions']}",
                 f"config: {json.dumps(metadata['config'])}"]
        click.echo("\n".join(line for line in lines if line))
        model.summary(print_fn=lambda line, **_: click.echo(line))

    return info


def task_group(task, help_text):
    from nnkit.export_command import export_command  # here, as tune_command: it imports this module
    from nnkit.tune_command import tune_command  # here: it builds on this module's options

    group = click.Group(name=task.name, help=help_text)
    for command in (train_command(task), evaluate_command(task), *task.commands(), tune_command(task),
                    info_command(task), export_command(task)):
        group.add_command(command)
    return group
