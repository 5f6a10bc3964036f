"""What every Predictor checks of the raw inputs and options it is given (see nnkit.task.Predictor).

A Python caller gets the same one-line UsageError for a bad input as the CLI's user, never a
TypeError from deep inside NumPy or Keras. Light: no Keras, and NumPy only when an array is checked.
"""

from nnkit.errors import UsageError


def input_list(inputs, single=(str,)):
    """`inputs` as a list: a list or tuple as it is, one input of a `single` type as a list of
    it (a text, say, for convenience). None, another type, an empty list or a None item is refused."""
    if isinstance(inputs, single):
        return [inputs]
    if inputs is None:
        raise UsageError("nothing to predict: inputs is None (pass a list of inputs)")
    if not isinstance(inputs, (list, tuple)):
        raise UsageError(f"inputs must be a list, got {type(inputs).__name__}")
    if not inputs:
        raise UsageError("nothing to predict: the list of inputs is empty")
    for index, item in enumerate(inputs):
        if item is None:
            raise UsageError(f"inputs[{index}] is None")
    return list(inputs)


def text_list(inputs):
    """`input_list` for a task that reads texts: each input must be a str of valid Unicode."""
    texts = input_list(inputs)
    for index, text in enumerate(texts):
        if not isinstance(text, str):
            raise UsageError(f"inputs[{index}] must be a text (str), got {type(text).__name__}")
        unicode_text(text, f"inputs[{index}]")
    return texts


def unicode_text(text, name):
    """`text` if it can be written as UTF-8: a lone surrogate (JSON's "\\ud800", a broken
    decode) would otherwise fail deep inside a tokenizer."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        raise UsageError(f"{name} is not valid Unicode text (a lone surrogate at character {error.start})")
    return text


def no_other_options(unknown, *known):
    """Refuse the options a predictor does not take (its `**unknown`), naming those it does."""
    if unknown:
        names = ", ".join(sorted(unknown))
        raise UsageError(f"unknown option{'s' if len(unknown) > 1 else ''} {names} "
                         f"(this predictor takes: {', '.join(known) or 'no options'})")


def positive_integer(name, value, optional=False):
    """`value` if it is an int >= 1 (or None, when `optional`), else a UsageError naming it."""
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UsageError(f"{name} must be a whole number of at least 1, got {value!r}")
    return value


def image_array(item, name):
    """An array-like image as a float32 array (height, width) or (height, width, 1|3|4), finite:
    one image, never a batch (a (28, 28, 2) array is refused, not read as 28 images)."""
    import numpy as np

    try:
        array = np.asarray(item, dtype=np.float32)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: not an image (a file path, a PIL image or an array of numbers), "
                         f"got {type(item).__name__}")
    if not (array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3, 4))) or min(array.shape) < 1:
        raise UsageError(f"{name}: expected one image, (height, width) or (height, width, 1|3|4 channels), "
                         f"got shape {array.shape} (pass several images as a list)")
    if not np.isfinite(array).all():
        raise UsageError(f"{name}: the image holds NaN or infinite values")
    return array
