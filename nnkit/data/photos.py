"""Photos in, fixed-size RGB arrays out: the one way captioning reads an image, in training and
in `predict`, so a user's photo looks to the model as the training photos did.

Any mode Pillow reads becomes RGB (grayscale repeated, CMYK converted, transparency laid on
white); EXIF rotation is applied; the photo is resized to a square without cropping (the
Flickr8k photos nnkit trains on were squashed the same way).
"""

import numpy as np

from nnkit.data.images import decoded_image
from nnkit.errors import NnkitError

MIN_SIDE = 16  # smaller than this there is nothing to describe


def read_photo(source, size, label=None):
    """A (size, size, 3) uint8 array from a path or a binary file object."""
    with decoded_image(source, label) as image:
        return photo_array(image, size, label or str(source))


def photo_array(image, size, label="the image"):
    """A PIL image (any mode, any size) as a (size, size, 3) uint8 array."""
    from PIL import Image

    if min(image.size) < MIN_SIDE:
        raise NnkitError(f"'{label}' is {image.width}x{image.height} pixels, too small to caption "
                         f"(at least {MIN_SIDE}x{MIN_SIDE})")
    return np.asarray(_rgb(image).resize((size, size), Image.LANCZOS), dtype=np.uint8)


def _rgb(image):
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, image).convert("RGB")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):  # 16-bit or float grayscale: stretch to 0..255
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
        return Image.fromarray(scaled.astype(np.uint8)).convert("RGB")
    return image.convert("RGB")

