"""The commands every task has: train, evaluate, tune, info. A task adds its own (predict, ...).

Heavy modules are imported inside the command bodies, so `nnkit <task> --help` stays fast.
"""

import click

from nnkit.backend import import_keras_quietly
from nnkit.cli.export import export_command
from nnkit.cli.options import (nested, config_from_options, config_options, data_option, distribution_options,
                               model_path_option, split_data_option, start_distribution)
from nnkit.cli.predict import generic_predict_command
from nnkit.cli.tune import tune_command


def train_command(task):
    @click.command("train")
    @config_options(task)
    @distribution_options
    @click.option("--output", default=f"saved_models/{task.name}", show_default=True,
                  help="Where the model, checkpoints and logs go; a killed run resumes from here.")
    @click.option("--restart", is_flag=True, help="Discard an interrupted run's backup in --output and train afresh.")
    @click.option("--quiet", is_flag=True, help="No progress bar.")
    def train(model, epochs, batch_size, seed, config_file, overrides, data, strategy, devices, precision, jit,
              cluster, task_index, output, restart, quiet, **task_flags):
        """Train a model, evaluate it on the test split and save it."""
        # The whole config is checked first: a bad value is refused before any work.
        config, data_dir = config_from_options(task, model, epochs, batch_size, seed, config_file, overrides, data,
                                               task_flags)
        distribution = start_distribution(strategy, devices, precision, jit, cluster, task_index)
        from nnkit.training.run import train as run_training

        metadata = run_training(task, config, output, data_dir=data_dir, verbose=0 if quiet else "auto",
                                distribution=distribution, restart=restart)
        record = metadata["training"]
        if "metrics" not in metadata:  # a multi-worker run's other worker: the chief saves
            plan = record["distribution"]
            click.echo(f"Worker {plan['worker_index']} of {plan['workers']} finished "
                       f"(weights digest {record['weights_digest']}); the chief saves the model.")
            return
        held_out = metadata["data"].get("held_out")
        if held_out:  # splits carved out of the user's data: say how, so a run can be repeated
            sizes = ", ".join(f"{held_out[split]:,} {split}" for split in ("train", "valid", "test") if split in held_out)
            click.echo(f"Held out of your data: {sizes} ({held_out['sampling']} split, seed {held_out['seed']})")
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

        from nnkit.config import merge, validate
        from nnkit.errors import NnkitError
        from nnkit.training.reports import plot_learning_curves
        from nnkit.saving import load_model

        model, metadata = load_model(model_path, expected_task=task.name)
        source, data_dir = split_data_option(data)
        config = merge(metadata["config"], source) if source else metadata["config"]
        for option, (keys, _) in task.evaluation_options.items():
            if extra.get(option) is not None:
                config = merge(config, nested(keys, extra[option]))
        validate(task.name, config)
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
    own = task.commands()
    if not any(command.name == "predict" for command in own):
        own = [generic_predict_command(task), *own]
    group = click.Group(name=task.name, help=help_text)
    for command in (train_command(task), evaluate_command(task), *own, tune_command(task),
                    info_command(task), export_command(task)):
        group.add_command(command)
    return group
