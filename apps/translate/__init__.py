"""Machine translation with an attention encoder-decoder and beam search (Multi30k).

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.translate.task import TASK  # noqa: F401
