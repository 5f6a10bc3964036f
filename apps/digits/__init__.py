"""Handwritten digit recognition (MNIST) with CNNs.

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.digits.task import TASK  # noqa: F401
