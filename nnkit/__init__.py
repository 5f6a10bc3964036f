"""nnkit: ready deep-learning applications built from Keras 3 layers.

    import nnkit
    predictor = nnkit.load("saved_models/digits")
    predictor.predict(["seven.png"])

Heavy modules (Keras, TensorFlow) are imported on first use, not here.
"""

__version__ = "0.1.0"


def load(path):
    """Load a model saved by `nnkit <task> train`; returns the task's Predictor."""
    from nnkit.saving import load_predictor

    return load_predictor(path)


__all__ = ["load", "__version__"]
