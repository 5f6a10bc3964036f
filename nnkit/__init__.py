"""nnkit: ready deep-learning applications built from Keras 3 layers.

    import nnkit
    predictor = nnkit.load("saved_models/digits")
    predictor.predict(["seven.png"], top_k=3)   # one dict per input, for every task

Every task's predictor takes the same call, `predict(inputs: list, **options) -> list[dict]`
(nnkit.task.Predictor); bad inputs raise nnkit.errors.UsageError with one line.

Heavy modules (Keras, TensorFlow) are imported on first use, not here.
"""

__version__ = "0.1.0"


def load(path):
    """Load a model saved by `nnkit <task> train` (its directory or its model.keras); returns
    the task's Predictor. What is no saved model raises NnkitError (UsageError) with one line."""
    from nnkit.saving import load_predictor

    return load_predictor(path)


__all__ = ["load", "__version__"]
