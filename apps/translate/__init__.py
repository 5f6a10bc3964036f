"""Machine translation (Multi30k) with an attention encoder-decoder and beam search.

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.translate.task import TASK  # noqa: F401
