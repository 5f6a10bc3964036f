"""X, O or empty tic-tac-toe cells (CNN), and convolution teaching tools.

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.xo.task import TASK  # noqa: F401
