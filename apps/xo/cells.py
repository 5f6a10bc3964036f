"""How a cell image of any size becomes the model's input: the one resize that photographed cells
(prediction, a user's folder) and generated ones (drawing.py) both go through."""

import numpy as np


def resize_cell(gray, size):
    """A cell photo or scan of any size -> size x size uint8: the model learned to cope with
    polarity, lighting, position and grid lines from the generated cells."""
    from PIL import Image

    resized = Image.fromarray(np.asarray(gray, dtype=np.float32)).resize((size, size), Image.LANCZOS)
    return np.clip(np.round(np.asarray(resized)), 0, 255).astype(np.uint8)
