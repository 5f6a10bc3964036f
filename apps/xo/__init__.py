"""X-vs-O: read a hand-drawn tic-tac-toe cell (X, O, or empty/scribbled) with a small CNN,

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.xo.task import TASK  # noqa: F401
