"""The convolution teaching tool behind `nnkit xo convolve`: hand-written kernels applied to a
hand-written image by a real Keras Conv2D, then P x P max pooling by a real MaxPooling2D.

Files hold rows of whitespace-separated numbers, one row per line. Keras convolution is
cross-correlation: the kernel is slid over the image as written, not flipped.
"""

from pathlib import Path

import numpy as np

from nnkit.errors import NnkitError, UsageError


def read_matrix(path):
    """A 2-D float32 array from a text file of rows; ragged rows or non-numbers are errors.
    Blank lines and lines starting with '#' are skipped."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NnkitError(f"no such file: '{path}'")
    except (OSError, UnicodeDecodeError) as error:
        raise NnkitError(f"cannot read '{path}' as text ({error})")
    rows, width = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        row = []
        for value in line.split():
            try:
                row.append(float(value))
            except ValueError:
                raise UsageError(f"{path}: line {number}: '{value}' is not a number")
        if width is not None and len(row) != width:
            raise UsageError(f"{path}: line {number} has {len(row)} numbers, the rows before it {width}")
        width = len(row)
        rows.append(row)
    if not rows:
        raise UsageError(f"{path}: no rows of numbers")
    matrix = np.array(rows, dtype=np.float32)
    if not np.isfinite(matrix).all():
        raise UsageError(f"{path}: numbers must be finite")
    return matrix


def convolve(image, kernels, stride=1, padding="valid", pool=None):
    """Feature map of each kernel (Keras Conv2D, no bias) and, with `pool`, its max-pooled map."""
    import keras

    if padding not in ("valid", "same"):
        raise UsageError(f"padding must be 'valid' or 'same', got '{padding}'")
    if stride < 1 or (pool is not None and pool < 1):
        raise UsageError("stride and pool must be at least 1")
    batch = image[None, :, :, None]
    feature_maps, pooled = [], []
    for index, kernel in enumerate(kernels, start=1):
        if padding == "valid" and (kernel.shape[0] > image.shape[0] or kernel.shape[1] > image.shape[1]):
            raise UsageError(f"kernel {index} is {kernel.shape[0]}x{kernel.shape[1]}, larger than the "
                             f"{image.shape[0]}x{image.shape[1]} image (use --padding same)")
        layer = keras.layers.Conv2D(1, kernel.shape, strides=stride, padding=padding, use_bias=False)
        layer.build(batch.shape)
        layer.set_weights([kernel[:, :, None, None]])
        feature_map = layer(batch)
        feature_maps.append(keras.ops.convert_to_numpy(feature_map)[0, :, :, 0])
        if pool is not None:
            if pool > feature_map.shape[1] or pool > feature_map.shape[2]:
                raise UsageError(f"pool {pool} is larger than kernel {index}'s {feature_map.shape[1]}x"
                                 f"{feature_map.shape[2]} feature map")
            pooled_map = keras.layers.MaxPooling2D(pool_size=pool, strides=pool)(feature_map)
            pooled.append(keras.ops.convert_to_numpy(pooled_map)[0, :, :, 0])
    return feature_maps, pooled


def plain_number(value):
    """A float32 result as the shortest JSON number that reads back to the same float32."""
    value = np.float32(value)
    if value == np.round(value) and abs(value) < 2**24:  # whole numbers print without ".0"
        return int(value)
    return float(str(value))  # numpy's str is the shortest text that reads back exactly


def as_json_lists(maps):
    return [[[plain_number(v) for v in row] for row in matrix] for matrix in maps]


def format_map(matrix):
    cells = [[str(plain_number(v)) for v in row] for row in matrix]
    width = max(len(cell) for row in cells for cell in row)
    return "\n".join(" ".join(cell.rjust(width) for cell in row) for row in cells)
