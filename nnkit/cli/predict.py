"""What every task's `predict` command does around its predictor: read the inputs it is given
('-' for one per line of stdin), load the saved model as its task's Predictor, and, for a task
without a predict command of its own, the generic one that prints the answers as JSON."""

import sys

import click

from nnkit.cli.options import model_path_option, runtime_option


def read_inputs(arguments):
    """The inputs given, or one per line of stdin for a single '-' (blank lines skipped)."""
    if tuple(arguments) == ("-",):
        return [line for line in sys.stdin.read().splitlines() if line.strip()]
    return list(arguments)


def load_predictor_of(task, model_path, runtime="auto"):
    """The saved model at `model_path` as `task`'s Predictor (refused if it is another task's),
    run by `runtime` (--runtime; nnkit.saving.open_predictor)."""
    from nnkit.saving import load_predictor

    return load_predictor(model_path, expected_task=task.name, runtime=runtime)


def parse_options(pairs):
    """('top_k=3', ...) -> {'top_k': 3}: each value read as YAML, as --set reads config values."""
    import yaml

    from nnkit.errors import UsageError

    options = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--option expects key=value, got '{pair}'")
        try:
            options[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise UsageError(f"--option {key.strip()}: cannot read value '{value}'")
    return options


def generic_predict_command(task):
    @click.command("predict")
    @click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--option", "options", multiple=True, metavar="KEY=VALUE",
                  help="An option of the task's predictor, read as YAML (repeatable).")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON list instead of a JSON line per input.")
    def predict(inputs, model_path, runtime, options, as_json):
        """Predict each INPUT ('-': one per line of stdin) with the saved model."""
        import json

        predictor = load_predictor_of(task, model_path, runtime)
        results = predictor.predict(read_inputs(inputs), **parse_options(options))
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        for result in results:
            click.echo(json.dumps(result))

    return predict
