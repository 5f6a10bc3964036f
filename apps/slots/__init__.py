"""Slot filling and intent detection (ATIS) with recurrent networks.

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.slots.task import TASK  # noqa: F401
