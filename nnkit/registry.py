"""The task registry: task name -> where its app lives, and a one-line description.

Kept free of heavy imports so that `nnkit --help` lists the tasks without loading
TensorFlow or even the app modules.
"""

TASKS = {
    "digits": ("nnkit.apps.digits", "Handwritten digit recognition (MNIST) with CNNs."),
    "xo": ("nnkit.apps.xo", "X, O or empty tic-tac-toe cells (CNN), and convolution teaching tools."),
    "slots": ("nnkit.apps.slots", "Slot filling and intent detection (ATIS) with recurrent networks."),
    "translate": ("nnkit.apps.translate", "Machine translation (Multi30k) with an attention encoder-decoder and beam search."),
    "caption": ("nnkit.apps.caption", "Image captioning (Flickr8k) with a CNN encoder and an attention RNN decoder."),
    "lm": ("nnkit.apps.lm", "Word-level language modeling and text generation (Penn Treebank) with RNNs."),
}


def task_names():
    return sorted(TASKS)


def load_task(name):
    """Import the app module of `name` and return its Task instance."""
    import importlib

    from nnkit.errors import UsageError

    if name not in TASKS:
        raise UsageError(f"unknown task '{name}' (known: {', '.join(task_names())})")
    module = importlib.import_module(TASKS[name][0])
    return module.TASK
