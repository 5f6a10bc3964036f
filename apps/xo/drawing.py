"""Procedural hand-drawn X, O and empty/scribbled cells, as a camera sees a paper grid.

Each image is drawn at 4x resolution and shrunk, so strokes are anti-aliased like a real
photo. Everything random comes from a generator seeded by (seed, class, index): the same seed
gives the same images whatever the count.
"""

import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("x", "o", "none")
SUPERSAMPLE = 4


def _stroke(rng, start, end, bend=0.1, tremor=0.012, points=14):
    """A hand-drawn line: a quadratic curve from start to end with a little tremor."""
    start, end = np.asarray(start, float), np.asarray(end, float)
    direction = end - start
    normal = np.array([-direction[1], direction[0]])
    control = (start + end) / 2 + normal * rng.normal(0, bend)
    t = np.linspace(0, 1, points)[:, None]
    curve = (1 - t) ** 2 * start + 2 * (1 - t) * t * control + t**2 * end
    return curve + rng.normal(0, tremor, curve.shape)


def _x_strokes(rng):
    jitter = lambda: rng.normal(0, 0.12, 2)  # noqa: E731
    return [_stroke(rng, np.array([-1, -1]) + jitter(), np.array([1, 1]) + jitter()),
            _stroke(rng, np.array([1, -1]) + jitter(), np.array([-1, 1]) + jitter())]


def _o_strokes(rng):
    """An ellipse drawn in one go: wobbly radius, a start anywhere, an overlap or a gap."""
    start = rng.uniform(0, 2 * math.pi)
    sweep = 2 * math.pi + rng.uniform(-0.5, 0.7)
    t = np.linspace(start, start + sweep, 48)
    wobble = 1 + sum(rng.normal(0, 0.05) * np.sin(k * t + rng.uniform(0, 6.3)) for k in (2, 3))
    drift = np.linspace(0, rng.normal(0, 0.1), len(t))  # the pen does not come back exactly
    radius = wobble + drift
    curve = np.stack([radius * np.cos(t), radius * np.sin(t)], axis=1)
    return [curve + rng.normal(0, 0.012, curve.shape)]


def _none_strokes(rng):
    """Anything but an X or an O: mostly an empty cell (lighting, noise and grid lines still
    vary), else a dense back-and-forth hatching that blots something out, or dots and ticks."""
    choice = rng.uniform()
    if choice < 0.6:
        return []
    if choice < 0.85:  # hatching: many short parallel back-and-forth strokes
        rows = rng.integers(6, 14)
        heights = np.linspace(-0.6, 0.6, rows) + rng.normal(0, 0.03, rows)
        sides = np.where(np.arange(rows) % 2 == 0, -1.0, 1.0) * rng.uniform(0.4, 0.8)
        points = np.stack([sides + rng.normal(0, 0.05, rows), heights], axis=1)
        return [points * rng.uniform(0.5, 1.0)]
    return [_stroke(rng, c, c + rng.normal(0, 0.06, 2), points=3) for c in rng.uniform(-0.8, 0.8, (rng.integers(1, 4), 2))]


DRAWERS = {"x": _x_strokes, "o": _o_strokes, "none": _none_strokes}


def _place(strokes, rng, canvas):
    """Unit-square strokes -> canvas pixels: scale, aspect, rotation, offset."""
    scale = canvas * rng.uniform(0.2, 0.42)
    aspect = math.exp(rng.normal(0, 0.15))
    angle = math.radians(rng.normal(0, 15))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    centre = canvas / 2 + rng.normal(0, 0.06, 2) * canvas
    placed = []
    for stroke in strokes:
        points = stroke * np.array([aspect, 1 / aspect]) @ rotation.T * scale + centre
        placed.append(points)
    return placed


def _break(stroke, rng):
    """Lift the pen for a moment: split a stroke with a small gap."""
    if len(stroke) < 6:
        return [stroke]
    cut = rng.integers(2, len(stroke) - 3)
    return [stroke[:cut], stroke[cut + 2 :]]


def _lighting(rng, canvas):
    """Uneven light: a gradient in a random direction plus a soft vignette, in -1..1."""
    ys, xs = np.mgrid[0:canvas, 0:canvas] / canvas - 0.5
    angle = rng.uniform(0, 2 * math.pi)
    gradient = xs * math.cos(angle) + ys * math.sin(angle)
    vignette = -(xs**2 + ys**2)
    return gradient * rng.uniform(0, 1.2) + vignette * rng.uniform(0, 1.5)


def draw_cell(kind, rng, size=28):
    """One grayscale cell image (uint8, size x size) of class `kind`."""
    canvas = size * SUPERSAMPLE
    ink = Image.new("L", (canvas, canvas), 0)
    pen = ImageDraw.Draw(ink)
    width = max(1, int(canvas * rng.uniform(0.035, 0.13)))
    strokes = _place(DRAWERS[kind](rng), rng, canvas)
    if kind != "none" and rng.uniform() < 0.15:
        index = rng.integers(len(strokes))
        strokes = strokes[:index] + _break(strokes[index], rng) + strokes[index + 1 :]
    for stroke in strokes:
        pen.line([tuple(p) for p in stroke], fill=255, width=width, joint="curve")
    # Fragments of the tic-tac-toe grid lines along the cell's borders.
    for side in range(4):
        if rng.uniform() < 0.3:
            offset = rng.uniform(0, 0.07) * canvas
            a, b = sorted(rng.uniform(0, 1, 2) * canvas)
            line = [(a, offset), (b, offset)] if side % 2 == 0 else [(offset, a), (offset, b)]
            if side >= 2:
                line = [(canvas - 1 - x, canvas - 1 - y) if side % 2 == 0 else (canvas - 1 - x, y) for x, y in line]
            pen.line(line, fill=255, width=max(1, int(canvas * rng.uniform(0.02, 0.06))))
    coverage = np.asarray(ink.resize((size, size), Image.LANCZOS), dtype=np.float32) / 255.0
    coverage = np.clip(coverage * rng.uniform(0.8, 1.0), 0, 1)  # pen pressure

    # Ink stands at least 90 grey levels from the paper, as a pen stroke does in a photo; an
    # invisible stroke would teach the model that noise alone can be an X.
    if rng.uniform() < 0.3:  # chalk or a light pen on a dark board
        paper = rng.uniform(0, 80)
        pen_tone = paper + rng.uniform(90, 255 - paper)
    else:
        paper = rng.uniform(140, 250)
        pen_tone = paper - rng.uniform(90, paper)
    light = _lighting(rng, size) * rng.uniform(0, 40)
    image = paper + light + (pen_tone - paper) * coverage
    focus = ImageFilter.GaussianBlur(rng.uniform(0, 0.9))
    image = np.asarray(Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(focus), dtype=np.float32)
    image = image + rng.normal(0, rng.uniform(0, 12), image.shape)
    if rng.uniform() < 0.2:  # a camera app's black-and-white "document" mode
        level = paper + (pen_tone - paper) * rng.uniform(0.25, 0.45)  # nearer the paper: faint ink survives
        image = np.where((image > level) == (pen_tone > paper), pen_tone, paper)
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def image_rng(seed, kind, index):
    return np.random.default_rng([seed, CLASSES.index(kind), index])


def check_drawable(classes):
    """Refuse class names the generator cannot draw, before anything is drawn."""
    from nnkit.errors import UsageError

    unknown = [kind for kind in classes if kind not in CLASSES]
    if unknown:
        raise UsageError(f"cannot draw class(es) {', '.join(unknown)}: the generator draws {', '.join(CLASSES)} "
                         "(train on your own folder with --data DIR)")


def generate(directory, count, size=28, seed=0, classes=CLASSES):
    """Write `count` images per class to directory/<class>/<index>.png; returns the counts."""
    from pathlib import Path

    check_drawable(classes)
    written = {}
    for kind in classes:
        folder = Path(directory) / kind
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            Image.fromarray(draw_cell(kind, image_rng(seed, kind, index), size)).save(folder / f"{index:06d}.png")
        written[kind] = count
    return written
