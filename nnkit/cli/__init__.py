"""The `nnkit` command. Task groups are built from the registry on demand, so `nnkit --help`
imports neither the apps nor TensorFlow."""

import errno
import os
import sys

import click

from nnkit import __version__
from nnkit.registry import TASKS, load_task
from nnkit.cli.serve import serve


@click.command("env")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
def environment(as_json):
    """Backend, devices, versions, and the strategy `train --strategy auto` would pick here."""
    import json

    from nnkit.backend import import_keras_quietly

    import_keras_quietly()
    from nnkit.distribution import describe_system

    found = describe_system()
    if as_json:
        click.echo(json.dumps(found, indent=2))
        return
    versions = found.pop("versions")
    click.echo(f"backend: {versions.pop('backend')}")
    click.echo("versions: " + ", ".join(f"{name} {version}" for name, version in versions.items()))
    fastest = found.pop("fastest_backend")
    for key, value in found.items():
        click.echo(f"{key}: {value}")
    click.echo("fastest backend for training, by kind of model (benchmarks/peers.py):")
    for device, answer in fastest.items():
        lines = answer.items() if isinstance(answer, dict) else [("every task", answer)]
        click.echo("\n".join(f"  {device}: {task}: {backend}" for task, backend in lines))


COMMANDS = {"env": environment, "serve": serve}


class TaskGroups(click.Group):
    def list_commands(self, ctx):
        return sorted(TASKS) + sorted(COMMANDS)

    def get_command(self, ctx, name):
        if name in COMMANDS:
            return COMMANDS[name]
        if name not in TASKS:
            return None
        from nnkit.cli.task_commands import task_group

        return task_group(load_task(name), TASKS[name][1])

    def format_commands(self, ctx, formatter):
        with formatter.section("Tasks"):
            formatter.write_dl([(name, TASKS[name][1]) for name in sorted(TASKS)])
        with formatter.section("Other commands"):
            formatter.write_dl([(name, COMMANDS[name].get_short_help_str(limit=90)) for name in sorted(COMMANDS)])


@click.group(cls=TaskGroups, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="nnkit")
def cli():
    """nnkit: ready deep-learning applications. Each task has train, evaluate, predict, tune, info and export.

    Example: nnkit digits train && nnkit digits predict my_digit.png
    """


# What the system said (an OSError's errno) -> the line the user reads, naming the file it was about.
SYSTEM_ERRORS = {
    errno.ENOSPC: "no space left on device while writing {file}",
    errno.EDQUOT: "disk quota exceeded while writing {file}",
    errno.EACCES: "permission denied for {file}",
    errno.EPERM: "operation not permitted on {file}",
    errno.EROFS: "{file} is on a read-only file system",
    errno.ENOTDIR: "{file}: a part of the path is a file, not a folder",
    errno.EISDIR: "{file} is a folder, not a file",
    errno.ENOENT: "{file} does not exist",
}


def system_error(error):
    """The OSError that `error` is, or the system error (one with an errno) it was raised from
    or while handling (libraries wrap some), or None."""
    if isinstance(error, OSError):
        return error
    for _ in range(10):  # a chain is short; never loop on a cycle
        error = error.__cause__ or error.__context__
        if error is None or isinstance(error, OSError) and error.errno:
            return error
    return None


def describe_system_error(error):
    """One line for an OSError: a full disk, a folder that cannot be written, a file that cannot be read."""
    file = f"'{error.filename}'" if error.filename else "a file"
    if error.errno in SYSTEM_ERRORS:
        return SYSTEM_ERRORS[error.errno].format(file=file)
    text = error.strerror or (str(error).strip().splitlines() or [type(error).__name__])[0]
    return f"{text} ({file})" if error.filename else text


def main(argv=None):
    """Entry point: user errors become one line on stderr and exit code 1 (runtime) or 2
    (usage), and so do system errors (a full disk, a folder that cannot be written: exit 1);
    set NNKIT_DEBUG=1 to see tracebacks."""
    from nnkit.errors import NnkitError

    try:
        cli.main(args=argv, prog_name="nnkit", standalone_mode=False)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        context = getattr(error, "ctx", None)
        hint = f" (see '{context.command_path} --help')" if context else ""
        click.echo(f"nnkit: error: {error.format_message()}{hint}", err=True)
        sys.exit(error.exit_code)
    except click.Abort:
        click.echo("nnkit: aborted", err=True)
        sys.exit(130)
    except NnkitError as error:
        click.echo(f"nnkit: error: {error}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        click.echo("nnkit: interrupted", err=True)
        sys.exit(130)
    except Exception as error:
        if os.environ.get("NNKIT_DEBUG"):
            raise
        cause = system_error(error)
        if cause is not None:
            click.echo(f"nnkit: error: {describe_system_error(cause)}", err=True)
            sys.exit(1)
        message = str(error).strip().splitlines()[0] if str(error).strip() else ""
        click.echo(f"nnkit: internal error: {type(error).__name__}: {message} "
                   "(set NNKIT_DEBUG=1 for the traceback)", err=True)
        sys.exit(1)


if __name__ == "__main__":
    main()
