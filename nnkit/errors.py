"""Errors a user can act on.

Everything the user can cause (a missing file, a bad config key, a model of the wrong task)
is raised as one of these; the CLI prints the message as one line and exits with the code,
never with a traceback.
"""


class NnkitError(Exception):
    """A runtime problem with a clear one-line message (exit code 1)."""

    exit_code = 1


class UsageError(NnkitError):
    """The command line or config asks for something invalid (exit code 2)."""

    exit_code = 2
