"""`nnkit <task> tune`: the command line of `nnkit.tuning.search`."""

import re

import click

from nnkit.backend import import_keras_quietly
from nnkit.cli.options import config_from_options, config_options

DURATION = re.compile(r"(\d+(?:\.\d+)?)([hms]?)")
SECONDS = {"h": 3600, "m": 60, "s": 1, "": 1}


def parse_duration(text):
    """'90' or '90s', '30m', '2h', '1h30m' -> seconds."""
    if text is None:
        return None
    compact = text.replace(" ", "").lower()
    parts = DURATION.findall(compact)
    if not compact or "".join(number + unit for number, unit in parts) != compact:
        raise click.BadParameter(f"'{text}' is not a duration such as 90s, 30m, 2h or 1h30m", param_hint="--time-budget")
    seconds = sum(float(number) * SECONDS[unit] for number, unit in parts)
    if seconds <= 0:
        raise click.BadParameter("must be more than 0 seconds", param_hint="--time-budget")
    return seconds


def tune_command(task):
    @click.command("tune")
    @click.option("--tuner", type=click.Choice(["random", "bayesian", "hyperband", "grid"]), default="random",
                  show_default=True, help="Search algorithm.")
    @click.option("--max-trials", type=click.IntRange(min=1),
                  help="Trials at most (default 10; grid: the whole grid; hyperband: as its rounds need).")
    @click.option("--time-budget", metavar="DURATION", help="Stop the search after this long (90s, 30m, 2h) and "
                  "keep the best model so far; counted from this start, also when resuming.")
    @click.option("--executions-per-trial", type=click.IntRange(min=1), default=1, show_default=True,
                  help="Train each config this many times (different seeds) and average.")
    @click.option("--objective", metavar="METRIC[:min|max]",
                  help=f"Validation metric to optimize (default: {task.monitor}, {task.monitor_mode}).")
    @click.option("--directory", default=f"saved_models/{task.name}-tuning", show_default=True,
                  help="Where the search keeps its state and reports.")
    @click.option("--resume/--overwrite", default=True, show_default=True,
                  help="Continue the search in --directory, or start it afresh.")
    @config_options(task)
    @click.option("--output", default=f"saved_models/{task.name}", show_default=True,
                  help="Where the best model is saved.")
    @click.option("--retrain", is_flag=True, help="Train the best config afresh for the saved model, instead "
                  "of keeping the best trial's weights.")
    @click.option("--chief", "role", flag_value="chief", help="Serve the search to --worker processes.")
    @click.option("--worker", "role", flag_value="worker", help="Run trials for the --chief at --oracle-address.")
    @click.option("--oracle-address", default="127.0.0.1:8000", show_default=True, metavar="HOST:PORT",
                  help="The chief's address (distributed tuning; share --directory between all processes).")
    @click.option("--worker-id", help="This worker's name (default: its process id).")
    @click.option("--verbose", is_flag=True, help="Progress bars for each trial's training.")
    def tune(tuner, max_trials, time_budget, executions_per_trial, objective, directory, resume, model, epochs,
             batch_size, seed, config_file, overrides, data, output, retrain, role, oracle_address, worker_id,
             verbose, **task_flags):
        """Search the config space (search_space in the task's YAML) and save the best model.

        \b
        Narrow or widen the space with --set, e.g.
          --set search_space.training.learning_rate.max=0.003
          --set 'search_space.model.units={values: [64, 128, 256]}'
          --set search_space.model.layers=null      (stop searching a key)
        """
        budget = parse_duration(time_budget)
        import_keras_quietly()
        from nnkit.tuning.search_space import load_search_space
        from nnkit.tuning.search import tune as run_search

        space_overrides = [text for text in overrides if re.match(r"\s*search_space\s*[.=]", text)]
        config_overrides = [text for text in overrides if text not in space_overrides]
        config, data_dir = config_from_options(task, model, epochs, batch_size, seed, config_file,
                                               config_overrides, data, task_flags)
        space = load_search_space(task.name, config_file, space_overrides)
        summary = run_search(task, config, space, directory, output, tuner=tuner, max_trials=max_trials,
                             time_budget=budget, executions_per_trial=executions_per_trial, objective=objective,
                             overwrite=not resume, retrain=retrain, data_dir=data_dir, role=role,
                             oracle_address=oracle_address, worker_id=worker_id, verbose="auto" if verbose else 0)
        if role == "worker":
            click.echo(f"Worker {summary['tuner_id']}: the search has ended.")
            return
        metadata = summary["metadata"]
        click.echo(task.format_report(metadata["metrics"]["test"]))
        click.echo(f"Saved the best model (trial {metadata['training']['tuned']['trial']}) to {output}/model.keras")

    return tune
