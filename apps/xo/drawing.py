"""Procedural X, O and empty tic-tac-toe cells, as a camera sees them on a real board.

A cell is drawn at the size a phone photo gives it (26..64 pixels a side, each stroke
supersampled 4x so that it is anti-aliased), then brought to the model's side by the very
resize the predictor applies to a photographed cell (nnkit.apps.xo.cells.resize_cell). What
real board photos show, and so what is drawn:
- the symbol small or large, off-centre, thin or thick pen, sometimes with a pen lift, now
  and then running over the cell's edge;
- fragments of the board's grid lines along any border, thin or thick, whole or partial,
  tilted, sometimes well inside the cell (a cell cut from a photo is never cut exactly);
- squared notebook ruling (faint regular lines at any angle to the board), faint ghosts of
  erased games or of the page behind, and strokes of a neighbouring symbol poking in;
- paper or a whiteboard, dark ink or light ink, uneven light and shadows, blur, sensor
  noise, JPEG blocks, and a camera app's black-and-white "document" mode.
Most "none" cells are the hard negatives: empty paper with ruling, grid fragments, ghosts and
intrusions; a few are hatching or dots.

Everything random comes from a generator seeded by (seed, class, index): the same seed gives
the same images whatever the count.
"""

import io
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CLASSES = ("x", "o", "none")
SUPERSAMPLE = 4
SOURCE_SIDES = (26, 64)  # a cell's side in a phone photo of a board, in pixels


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
    """Two crossing strokes; now and then turned up to 40 degrees, towards a "+" (people draw
    it so, and a board drawn askew on the page turns its symbols against its grid)."""
    jitter = lambda: rng.normal(0, 0.12, 2)  # noqa: E731
    strokes = [_stroke(rng, np.array([-1, -1]) + jitter(), np.array([1, 1]) + jitter()),
               _stroke(rng, np.array([1, -1]) + jitter(), np.array([-1, 1]) + jitter())]
    if rng.uniform() < 0.25:
        angle = rng.uniform(-1, 1) * math.radians(40)
        turn = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
        strokes = [stroke @ turn.T for stroke in strokes]
    return strokes


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
    """Anything but an X or an O: mostly nothing at all (the cell's grid lines, ruling, ghosts
    and intrusions are added for every class), else a dense back-and-forth hatching that
    blots something out, or dots and ticks."""
    choice = rng.uniform()
    if choice < 0.8:
        return []
    if choice < 0.92:  # hatching: many short parallel back-and-forth strokes
        rows = rng.integers(6, 14)
        heights = np.linspace(-0.6, 0.6, rows) + rng.normal(0, 0.03, rows)
        sides = np.where(np.arange(rows) % 2 == 0, -1.0, 1.0) * rng.uniform(0.4, 0.8)
        points = np.stack([sides + rng.normal(0, 0.05, rows), heights], axis=1)
        return [points * rng.uniform(0.5, 1.0)]
    return [_stroke(rng, c, c + rng.normal(0, 0.06, 2), points=3) for c in rng.uniform(-0.8, 0.8, (rng.integers(1, 4), 2))]


DRAWERS = {"x": _x_strokes, "o": _o_strokes, "none": _none_strokes}


def _place(strokes, rng, canvas, size=(0.13, 0.5), spread=0.1, overflow=0.0):
    """Unit-square strokes -> (canvas pixels, the half-size as a fraction of the cell): size,
    aspect, rotation, offset. A small symbol may sit far off-centre; a large one mostly stays
    inside the cell, as people draw them, except (with probability `overflow`) one that runs
    over one or two sides: drawn across the grid line, or in an outer cell beyond where the board's
    crossings say the cell ends, so that a cut-out cell shows a C of an O or a V of an X."""
    half = rng.uniform(*size)
    aspect = math.exp(rng.normal(0, 0.25))  # people draw narrow ellipses and squashed crosses
    angle = math.radians(rng.normal(0, 15))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    room = max(0.5 - half, 0.0) + rng.uniform(0, 0.08)
    offset = np.clip(rng.normal(0, spread, 2), -room, room)
    if rng.uniform() < overflow:  # 5% to 60% of the symbol's width beyond a side, or two (a corner cell's)
        for axis in ([0, 1] if rng.uniform() < 0.4 else [rng.integers(2)]):
            offset[axis] = rng.choice([-1.0, 1.0]) * (0.5 - half + rng.uniform(0.05, 0.6) * 2 * half)
    centre = (0.5 + offset) * canvas
    return [stroke * np.array([aspect, 1 / aspect]) @ rotation.T * half * canvas + centre for stroke in strokes], half


def _break(stroke, rng):
    """Lift the pen for a moment: split a stroke with a small gap."""
    if len(stroke) < 6:
        return [stroke]
    cut = rng.integers(2, len(stroke) - 3)
    return [stroke[:cut], stroke[cut + 2 :]]


def _on_side(side, along, depth):
    """Points given along the top border (along, depth from it), on any of the four sides (unit square)."""
    return {0: (along, depth), 1: (depth, along), 2: (along, 1 - depth), 3: (1 - depth, along)}[side]


def _grid_fragments(rng):
    """The board's grid lines where the cell was cut: on each side or not, at the edge or a
    little inside (or half outside), whole or partial, slightly tilted and bowed; unit square."""
    lines = []
    for side in range(4):
        if rng.uniform() >= 0.5:
            continue
        depth = rng.uniform(-0.04, 0.14) if rng.uniform() < 0.85 else rng.uniform(0.14, 0.26)
        start, end = (-0.1, 1.1) if rng.uniform() < 0.55 else sorted(rng.uniform(-0.1, 1.1, 2))
        tilt = rng.normal(0, 0.025, 2)
        points = _stroke(rng, _on_side(side, start, depth + tilt[0]), _on_side(side, end, depth + tilt[1]),
                         bend=0.03, tremor=0.002)
        lines.append((points, rng.uniform(0.012, 0.11)))
    return lines


def _intrusion(rng):
    """A neighbour's stroke poking in at an edge: part of a big arc or a line from outside, unit square."""
    side = rng.integers(4)
    reach = rng.uniform(0.04, 0.22)
    if rng.uniform() < 0.5:  # the arc of a neighbouring O
        radius = rng.uniform(0.3, 0.7)
        centre = np.array(_on_side(side, rng.uniform(0.1, 0.9), reach - radius))
        t = np.linspace(0, 2 * math.pi, 60)
        return centre + radius * np.stack([np.cos(t), np.sin(t)], axis=1)
    along = rng.uniform(0.1, 0.9)
    return _stroke(rng, _on_side(side, along + rng.normal(0, 0.2), -0.3),
                   _on_side(side, along, reach), tremor=0.003)


def _ruling(rng, side):
    """Squared notebook paper: two sets of faint parallel lines, 3.5 to 9 squares across the
    cell, at a small angle to it or any angle (a board drawn askew on the page); 0..1."""
    period = side / rng.uniform(3.5, 9)
    angle = rng.normal(0, math.radians(4)) if rng.uniform() < 0.7 else rng.uniform(0, math.pi / 2)
    half_width = rng.uniform(0.25, 0.7)  # pixels at the cell's photographed size
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    coverage = np.zeros((side, side), np.float32)
    for direction in (angle, angle + math.pi / 2):
        along = xs * math.cos(direction) + ys * math.sin(direction) + rng.uniform(0, period)
        distance = np.abs((along % period) - period / 2)  # lines at the middle of each period
        coverage = np.maximum(coverage, np.clip(half_width + 0.5 - distance, 0, 1))
    return coverage


def _lighting(rng, side):
    """Uneven light: a gradient in a random direction, a soft vignette and now and then the
    soft edge of a shadow, in grey levels (negative: darker)."""
    ys, xs = np.mgrid[0:side, 0:side] / side - 0.5
    angle = rng.uniform(0, 2 * math.pi)
    gradient = xs * math.cos(angle) + ys * math.sin(angle)
    light = (gradient * rng.uniform(0, 1.2) - (xs**2 + ys**2) * rng.uniform(0, 1.5)) * rng.uniform(0, 40)
    if rng.uniform() < 0.25:
        angle = rng.uniform(0, 2 * math.pi)
        across = xs * math.cos(angle) + ys * math.sin(angle) - rng.uniform(-0.4, 0.4)
        light = light - rng.uniform(10, 60) / (1 + np.exp(-across / rng.uniform(0.02, 0.15)))
    return light


def _coverage(drawn, canvas, side):
    """Strokes (canvas pixels, with widths) -> ink coverage 0..1 at the photographed side."""
    layer = Image.new("L", (canvas, canvas), 0)
    pen = ImageDraw.Draw(layer)
    for points, width in drawn:
        pen.line([tuple(p) for p in points], fill=255, width=max(1, int(round(width))), joint="curve")
    return np.asarray(layer.resize((side, side), Image.BOX), dtype=np.float32) / 255.0


def _surface(rng):
    """(look, paper level, signed ink contrast): pen on paper, marker on a whiteboard, or
    light ink on a dark board. Ink stands at least 30 grey levels from the paper (a thin
    ballpoint line in a phone photo may stand no more than that)."""
    look = rng.uniform()
    if look < 0.55:
        paper = rng.uniform(110, 250)
        return "paper", paper, -rng.uniform(30, paper - 10)
    if look < 0.75:  # whiteboard marker: light board, paler ink, thick strokes
        paper = rng.uniform(150, 245)
        return "whiteboard", paper, -rng.uniform(30, min(150, paper - 10))
    paper = rng.uniform(0, 90)
    return "dark board", paper, rng.uniform(30, 255 - paper)


def draw_cell(kind, rng, size=28, notes=None):
    """One grayscale cell image (uint8, size x size) of class `kind`. `notes`, a dict, is
    filled with what was drawn (to check the generator's variety, or to look at it)."""
    from nnkit.apps.xo.cells import resize_cell

    notes = {} if notes is None else notes
    side = int(rng.integers(SOURCE_SIDES[0], SOURCE_SIDES[1] + 1))
    canvas = side * SUPERSAMPLE
    look, paper, contrast = _surface(rng)
    marker = look == "whiteboard"
    pen_width = canvas * (rng.uniform(0.06, 0.13) if marker else rng.uniform(0.02, 0.1))
    overflow = 0.0 if kind == "none" else 0.35
    strokes, notes["symbol_half_size"] = _place(DRAWERS[kind](rng), rng, canvas, overflow=overflow)
    notes.update(source_side=side, look=look, strokes=len(strokes))
    if kind != "none" and rng.uniform() < 0.15:
        index = rng.integers(len(strokes))
        strokes = strokes[:index] + _break(strokes[index], rng) + strokes[index + 1 :]
    symbol = [(stroke, pen_width) for stroke in strokes]
    notes["intrusions"] = int(rng.integers(1, 3)) if rng.uniform() < (0.45 if kind == "none" else 0.12) else 0
    symbol += [(_intrusion(rng) * canvas, pen_width) for _ in range(notes["intrusions"])]
    darkness = _coverage(symbol, canvas, side) * rng.uniform(0.8, 1.0)  # pen pressure
    # Ruling and ghosts are faint in grey levels, whatever the ink: a few to 35 levels off the paper.
    faint = lambda low, high: min(rng.uniform(low, high) / abs(contrast), 0.7)  # noqa: E731
    # The board's lines: usually the same pen as the symbols, sometimes another one.
    fragments = _grid_fragments(rng)
    grid = _coverage([(points * canvas, width * canvas) for points, width in fragments], canvas, side)
    layers = [(grid, 1.0 if rng.uniform() < 0.75 else rng.uniform(0.5, 1.0))]
    notes.update(grid_lines=len(fragments), ghost=bool(rng.uniform() < 0.3))
    if notes["ghost"]:  # an erased game or the page behind shining through
        ghost, _ = _place(DRAWERS[["x", "o"][rng.integers(2)]](rng), rng, canvas, size=(0.2, 0.6), spread=0.3)
        layers.append((_coverage([(stroke, pen_width) for stroke in ghost], canvas, side), faint(5, 35)))
    notes["ruling"] = bool(not marker and rng.uniform() < 0.6)
    if notes["ruling"]:
        layers.append((_ruling(rng, side), faint(4, 30)))
    for coverage, strength in layers:  # ink over ink darkens no further than full ink
        darkness = 1 - (1 - darkness) * (1 - coverage * strength)
    notes["binarized"] = bool(rng.uniform() < 0.2)
    if notes["binarized"]:  # a camera app's black-and-white "document" mode: faint lines vanish
        darkness = (darkness > rng.uniform(0.2, 0.5)).astype(np.float32)
    image = paper + _lighting(rng, side) + contrast * darkness
    focus = ImageFilter.GaussianBlur(rng.uniform(0, 1.1))
    image = np.asarray(Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).filter(focus), dtype=np.float32)
    image = np.clip(image + rng.normal(0, rng.uniform(0, 10), image.shape), 0, 255).astype(np.uint8)
    notes["jpeg"] = bool(rng.uniform() < 0.4)
    if notes["jpeg"]:  # the photo was a JPEG
        buffer = io.BytesIO()
        Image.fromarray(image).save(buffer, format="JPEG", quality=int(rng.integers(25, 90)))
        image = np.asarray(Image.open(buffer).convert("L"))
    return resize_cell(image, size)


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
