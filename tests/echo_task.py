"""A task with no endpoint and no web panel of its own, registered for one test: what the
generic route and the generic panel of `nnkit serve` are for (a plugin's task, say)."""

from nnkit.raw_inputs import input_list, no_other_options
from nnkit.task import Task


class EchoPredictor:
    def __init__(self, task):
        self.task = task

    def predict(self, inputs, scale=1, **unknown):
        no_other_options(unknown, "scale")
        return [{"input": item, "length": len(str(item)) * scale} for item in input_list(inputs)]


class EchoTask(Task):
    name = "echo"
    description = "Echoes each input with its length."

    def make_predictor(self, model, metadata):
        return EchoPredictor(self)


TASK = EchoTask()


def register(monkeypatch):
    """Add the echo task to nnkit's registry until `monkeypatch` undoes it."""
    from nnkit.registry import TASKS

    monkeypatch.setattr(TASKS, "entries", {**TASKS.entries, TASK.name: (TASK, TASK.description)})


def save_echo_model(directory):
    """A saved model of the echo task (its predictor never calls it)."""
    import keras

    from nnkit.saving import save_model

    inputs = keras.Input((2,))
    save_model(keras.Model(inputs, keras.layers.Dense(1)(inputs)), directory, {"task": TASK.name})
    return directory
