"""Reading real image files and normalising them the way MNIST digits look.

MNIST digits are white ink on black, the ink's bounding box scaled to fit 20x20 pixels and
the box placed in a 28x28 frame so that its centre of mass sits in the middle. A user's
scan or photo is brought to the same form: any mode, any size, either polarity.
"""

import os
import stat
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from nnkit.errors import NnkitError, UsageError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"}
# The most pixels an image may have, checked from its header before it is decoded: a few hundred
# kilobytes of PNG can hold an 81-megapixel white square that decodes to gigabytes. Enough for a
# 24-megapixel phone photo; $NNKIT_MAX_IMAGE_PIXELS changes it.
DEFAULT_MAX_IMAGE_PIXELS = 25_000_000


class ImageTooLarge(NnkitError):
    """An image with more pixels than the limit (the server answers 413)."""


def max_image_pixels():
    """The pixel limit in force: $NNKIT_MAX_IMAGE_PIXELS, else the default."""
    text = os.environ.get("NNKIT_MAX_IMAGE_PIXELS", "")
    if not text:
        return DEFAULT_MAX_IMAGE_PIXELS
    if not text.isdigit() or int(text) < 1:
        raise UsageError(f"NNKIT_MAX_IMAGE_PIXELS must be a whole number of pixels, got {text!r}")
    return int(text)


def expand_image_paths(paths):
    """Files stay as given; a directory stands for the image files directly inside it."""
    expanded = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise NnkitError(f"directory '{path}' has no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
            expanded.extend(found)
        elif path.exists():
            expanded.append(regular_file(path))
        else:
            raise NnkitError(f"no such file: '{path}'")
    return expanded


def regular_file(path):
    """`path` if it is a regular file: a FIFO or a device named like an image would block the
    reader for ever, or never end."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise NnkitError(f"no such file: '{path}'")
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise NnkitError(f"'{path}' is not a regular file")
    return path


@contextmanager
def decoded_image(source, label=None):
    """Open and decode an image (a path or a binary file object) with Pillow, EXIF rotation
    applied, after checking its size against `max_image_pixels()` from its header; every way
    that can fail becomes a one-line NnkitError naming `label`."""
    from PIL import Image, ImageOps, UnidentifiedImageError

    label = label or str(source)
    if isinstance(source, (str, os.PathLike)):
        regular_file(source)
    try:
        with Image.open(source) as image:
            limit = max_image_pixels()
            if image.width * image.height > limit:
                raise ImageTooLarge(f"'{label}' is {image.width}x{image.height} pixels, over the limit of "
                                    f"{limit / 1e6:g} megapixels (NNKIT_MAX_IMAGE_PIXELS)")
            image.load()  # decode now, so a truncated file fails here
            yield ImageOps.exif_transpose(image)
    except FileNotFoundError:
        raise NnkitError(f"no such file: '{label}'")
    except PermissionError:  # not a corrupt image: nnkit.cli.main says "permission denied for ..."
        raise
    except IsADirectoryError:
        raise NnkitError(f"'{label}' is a directory, not an image")
    except UnidentifiedImageError:
        raise NnkitError(f"'{label}' is not an image file Pillow can read")
    except Image.DecompressionBombError:
        raise ImageTooLarge(f"'{label}' is too large to decode safely")
    except (OSError, SyntaxError, ValueError) as error:
        raise NnkitError(f"'{label}' is a corrupt or truncated image ({error})")


def read_grayscale(path):
    """Decode an image file into a float32 array of luminance in 0..255, shape (height, width)."""
    with decoded_image(path) as image:
        return luminance(image)


def luminance(image):
    """Luminance (0..255, float32) of a PIL image of any mode; transparency is flattened."""
    if image.width == 0 or image.height == 0:
        raise ValueError("the image has no pixels")
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
        values = np.asarray(image, dtype=np.float32)
        low, high = float(values.min()), float(values.max())
        return (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    if has_alpha:
        rgba = np.asarray(image.convert("RGBA"), dtype=np.float32)
        gray = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
        alpha = rgba[..., 3] / 255.0
        # Ink drawn on a transparent canvas: put it on the background it contrasts with.
        opaque = alpha > 0.5
        ink_is_dark = opaque.any() and gray[opaque].mean() < 128
        background = 255.0 if ink_is_dark else 0.0
        return gray * alpha + background * (1.0 - alpha)
    return np.asarray(image.convert("L"), dtype=np.float32)


def mnist_style(gray, box=20, frame=28, ink_threshold=0.2):
    """Normalise a luminance array to a 28x28 uint8 MNIST-like digit (white on black)."""
    gray = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 127.5:  # dark ink on light paper: MNIST wants light on dark
        gray, border = 255.0 - gray, 255.0 - border
    background, peak = float(np.median(border)), float(gray.max())
    if peak - background < 16.0:
        raise NnkitError("no digit found: the image is blank or has almost no contrast")
    ink = np.clip((gray - background) / (peak - background), 0.0, 1.0)

    rows, cols = np.nonzero(ink > ink_threshold)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
    ink = _thicken_thin_strokes(_fit(ink, 5 * box))  # at 5x the box, stroke width is measurable
    ink = _fit(ink, box)
    height, width = ink.shape

    # Place the box so that the centre of mass lands in the middle of the frame.
    total = ink.sum()
    centre_row = (np.arange(height) @ ink.sum(axis=1)) / total
    centre_col = (np.arange(width) @ ink.sum(axis=0)) / total
    top = int(np.clip(round(frame / 2 - 0.5 - centre_row), 0, frame - height))
    left = int(np.clip(round(frame / 2 - 0.5 - centre_col), 0, frame - width))
    canvas = np.zeros((frame, frame), dtype=np.float32)
    canvas[top : top + height, left : left + width] = ink
    return np.round(canvas * 255.0).astype(np.uint8)


def _fit(ink, side):
    """Resize so that the longer side is `side` pixels, keeping the aspect ratio."""
    from PIL import Image

    scale = side / max(ink.shape)
    height, width = (max(1, round(length * scale)) for length in ink.shape)
    return np.clip(np.asarray(Image.fromarray(ink).resize((width, height), Image.LANCZOS)), 0.0, 1.0)


def stroke_width(ink):
    """Mean stroke width in pixels: ink area over half its boundary length."""
    mask = ink > 0.5
    padded = np.pad(mask, 1)
    inner = padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
    boundary = (mask & ~inner).sum()
    return mask.sum() / (boundary / 2) if boundary else 0.0


def _thicken_thin_strokes(ink, thinnest=9.0, typical=12.0):
    """Widen strokes thinner than MNIST's (measured on its test set at 100 px: 5th percentile
    about 8, median 12), as when a large photo of a pen line is shrunk to 20 pixels."""
    from PIL import Image, ImageFilter

    width = stroke_width(ink)
    if width == 0.0 or width >= thinnest:
        return ink
    size = 2 * round((typical - width) / 2) + 1
    return np.asarray(Image.fromarray(ink).filter(ImageFilter.MaxFilter(max(3, size))))


def write_png(array, path):
    """Save a 2-D uint8 array as a grayscale PNG."""
    from PIL import Image

    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)
