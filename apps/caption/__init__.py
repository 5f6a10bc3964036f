"""Image captioning (Flickr8k) with a CNN encoder and an attention RNN decoder.

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.caption.task import TASK  # noqa: F401
