"""Word-level language modeling and text generation (Penn Treebank) with RNNs.

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.lm.task import TASK  # noqa: F401
