"""nnkit: ready deep-learning applications built from Keras 3 layers.

    import nnkit
    predictor = nnkit.load("saved_models/digits")
    predictor.predict(["seven.png"], top_k=3)   # one dict per input, for every task
    nnkit.load("saved_models/digits", runtime="onnx")   # ONNX Runtime, without Keras or TensorFlow

Every task's predictor takes the same call, `predict(inputs: list, **options) -> list[dict]`
(nnkit.task.Predictor); bad inputs raise nnkit.errors.UsageError with one line.

Heavy modules (Keras, TensorFlow) are imported on first use, not here.
"""

__version__ = "0.1.0"


def load(path, runtime="auto"):
    """Load a model saved by `nnkit <task> train` (its directory or its model.keras); returns
    the task's Predictor. What is no saved model raises NnkitError (UsageError) with one line.

    `runtime`: "onnx" runs the model's ONNX artifacts with ONNX Runtime (neither Keras nor
    TensorFlow is imported; a model without them raises NnkitError), "keras" the .keras file,
    "auto" (the default) ONNX where the artifacts and onnxruntime are present, else Keras."""
    from nnkit.saving import load_predictor

    return load_predictor(path, runtime=runtime)


__all__ = ["load", "__version__"]
