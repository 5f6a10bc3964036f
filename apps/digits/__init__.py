"""Handwritten digits: MNIST with the CNN curriculum (MLP, LeNet-5, AlexNet, VGG, ResNet, CNN).

Files: task.py (the Task), and beside it what only this task uses."""

from nnkit.apps.digits.task import TASK  # noqa: F401
