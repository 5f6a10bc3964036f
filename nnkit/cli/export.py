"""`nnkit <task> export`: a saved model written for other runtimes, and checked there.

The work is in nnkit/export/formats.py (what is exported is the task's `export_plan`); here
are the command line, the refusals that need no TensorFlow, and the report.
"""

import click

from nnkit.cli.options import model_path_option


def export_command(task):
    from nnkit.export.formats import FORMATS, TOLERANCE  # light: Keras and TensorFlow load in the command

    @click.command("export")
    @click.option("--format", "format_name", required=True, type=click.Choice(sorted(FORMATS)),
                  help="savedmodel: TensorFlow SavedModel; onnx: ONNX (ONNX Runtime); litert: LiteRT (.tflite).")
    @click.option("--out", type=click.Path(file_okay=False),
                  help="Directory to write (refused if it holds files, unless --force).")
    @click.option("--into-model", is_flag=True,
                  help="Instead of --out: add the ONNX artifacts to the saved model itself (its onnx/ directory), "
                       "so that predict and serve run it without Keras (models saved before nnkit made them).")
    @model_path_option(task.name)
    @click.option("--force", is_flag=True, help="Replace --out if it holds files (only once the export succeeded).")
    @click.option("--batch-size", type=click.IntRange(min=1),
                  help="Fix the batch size of every artifact (default: any, except in LiteRT models with "
                       "recurrent layers, which need one and get 1).")
    @click.option("--tolerance", type=click.FloatRange(min=0), default=TOLERANCE, show_default=True,
                  help="Largest absolute difference allowed between the exported model's outputs and Keras's.")
    @click.option("--json", "as_json", is_flag=True, help="Print the manifest (export.json) instead.")
    def export(format_name, out, into_model, model_path, force, batch_size, tolerance, as_json):
        """Write the model for other runtimes and check that they compute what Keras does.

        What cannot be one graph (a beam search loop) is exported in parts, with notes on how to
        use them; export.json in --out describes inputs, outputs and pre- and post-processing."""
        import json
        from pathlib import Path

        from nnkit.backend import import_keras_quietly
        from nnkit.errors import NnkitError, UsageError
        from nnkit.runtime import onnx_directory
        from nnkit.saving import resolve_model_file

        if (out is None) == (not into_model):
            raise UsageError("give either --out DIR or --into-model")
        if into_model and (format_name != "onnx" or batch_size):
            raise UsageError("--into-model writes the ONNX artifacts that predict runs: --format onnx, "
                             "without --batch-size")
        out = str(onnx_directory(resolve_model_file(model_path))) if into_model else out
        if not into_model and Path(out).resolve() in resolve_model_file(model_path).resolve().parents:
            raise UsageError(f"--out '{out}' holds the saved model itself: export to another directory")
        keras = import_keras_quietly()
        from nnkit.saving import atomic_directory, load_model
        from nnkit.export.formats import export_plan_to, missing_packages

        if keras.backend.backend() != "tensorflow":
            raise NnkitError(f"export traces TensorFlow graphs and needs the TensorFlow backend, not "
                             f"{keras.backend.backend()}: run it with KERAS_BACKEND=tensorflow")
        missing = missing_packages(format_name)
        if missing:
            raise NnkitError(f"--format {format_name} needs {', '.join(missing)}: pip install 'nnkit[export]'")

        if into_model:
            from nnkit.export.inference import add_to_saved_model

            manifest = add_to_saved_model(task, model_path, tolerance)
        else:
            with atomic_directory(out, replace=force) as directory:
                model, metadata = load_model(model_path, expected_task=task.name)
                manifest = export_plan_to(directory, task, model, metadata, format_name, tolerance, batch_size)
        if as_json:
            click.echo(json.dumps(manifest, indent=2))
            return
        click.echo(f"Exported {task.name} as {format_name} to {out}, checked in {manifest['runtime']} on sample "
                   f"inputs (tolerance {tolerance:g}):")
        for artifact in manifest["artifacts"]:
            batch = f", batch size fixed to {artifact['batch_size']}" if artifact["batch_size"] else ""
            click.echo(f"  {artifact['file']}: max |difference| {artifact['max_abs_difference']:.2g} over "
                       f"{artifact['samples_checked']} samples{batch}")
        for note in manifest["notes"]:
            click.echo(f"note: {note}")
        click.echo(f"Inputs, outputs and how to prepare and read them: {out}/export.json")

    return export
