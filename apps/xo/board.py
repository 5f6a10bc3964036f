"""Find the 3x3 tic-tac-toe grid in a photo, rectify it and cut its nine cells.

The geometry uses OpenCV (the headless wheel, imported inside the functions here, so that the
rest of nnkit never loads it): its morphology, probabilistic Hough transform, line fitting,
homography and perspective warp are maintained, fast C++, where hand-written line detection
would be slower and more fragile. Steps:

1. Ink: a morphological black-hat (a top-hat for light ink, tried only on a mostly dark photo)
   of the darkest colour channel: it keeps strokes a few pixels wide and drops what is wide (a
   shadow, a dark table, the paper's edge); coloured pen has most contrast in its darkest
   channel. The stroke threshold is a fraction of the strongest strokes and well above the
   paper's texture, which drops most of a squared notebook's faint ruling.
2. Long strokes: `cv2.HoughLinesP` on the thresholded ink, with a minimum length that X and O
   strokes seldom reach; the segments of one hand-drawn line are merged into one line
   (`cv2.fitLine`), ranked by length and ink strength.
3. The grid: of all pairs of roughly parallel lines crossed by another such pair, the one whose
   four crossings form a convex, near-square quadrilateral (in perspective), whose lines are
   inked between the crossings and beyond them, and whose weakest line is the darkest: faint
   ruling, X and O strokes, the notebook's edge or a pen seldom satisfy all of it.
   The few best such grids (within RIVAL of the best score) are all read, and the one whose
   cells the classifier is surest of wins: X strokes lined up across a board can out-score a
   faint grid, but the "cells" between them are grid pieces and half symbols.
4. The outer corners are the crossings extrapolated by one cell (a board has no outer lines),
   `cv2.getPerspectiveTransform` maps them to a 3x3-cell square, `cv2.warpPerspective` rectifies
   the board, and each cell is cut with a margin, so that it carries little grid line; an outer
   cell reaches OPEN_SIDE further out, where its symbol often overhangs the extrapolated border.
5. A mark much fainter than the board's own lines (GHOST) is an erased game or the page behind
   shining through: its cell is read as empty.

Orientation: the grid is turned by the smallest rotation that makes its lines upright, and
cells are numbered row by row from the top left, as a reader of the turned photo sees them.
"""

import numpy as np

from nnkit.errors import NnkitError

CELL_PIXELS = 64  # the side of a rectified cell: well above the classifier's input size
CELL_MARGIN = 0.05  # fraction of a cell cut away on each side: a little of the grid line (the classifier copes with some)
# An outer cell is cut this fraction of a cell wider on its open side: the board's crossings
# extrapolated by one cell often fall short of where the symbols of the outer cells end (the
# outer cells of a hand-drawn board are larger, the grid's lines shorter, than the centre cell).
OPEN_SIDE = 0.3
FINDING_SIDE = 1000  # photos are searched for the grid at most this large (a phone's 12 MP are not needed)
MAX_SIDE_RATIO = 1.8  # longest / shortest side of the centre cell as photographed
REACH = 0.6  # how far beyond its crossings, in cells, a grid line is looked for
MIN_INK = 20.0  # the weakest grid line's mean ink strength (0..255)
# A cell whose strongest ink is under this fraction of the grid lines' is empty (`faint_cells`);
# chosen on the development half of benchmarks/data/xo_boards.tsv (see benchmarks/xo.py).
GHOST = 0.4
RIVAL = 0.8  # grids scoring this fraction of the best one's are read too ...
RIVALS = 4  # ... up to this many
FAINT = 0.6  # a line's ends are often drawn lighter: there, this fraction of the stroke threshold is ink
NO_BOARD = "no tic-tac-toe grid found (two crossing pairs of long lines)"


def ink_strength(colour, light_ink=False):
    """Per-pixel ink evidence (float32, 0..255): strokes narrower than ~2% of the photo that are
    darker (or, with `light_ink`, lighter) than their surroundings."""
    import cv2

    channel = colour.min(axis=2) if not light_ink else colour.max(axis=2)
    side = odd(max(7, 0.02 * max(channel.shape)))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (side, side))
    operation = cv2.MORPH_TOPHAT if light_ink else cv2.MORPH_BLACKHAT
    return cv2.morphologyEx(channel, operation, kernel).astype(np.float32)


def odd(value):
    return int(value) // 2 * 2 + 1


def ink_mask(strength):
    """The strokes: pixels whose ink strength is a good part of the strongest strokes', and well
    above the paper's texture (a squared notebook's ruling covers a tenth of it)."""
    strong, texture = np.percentile(strength, [99.5, 90])
    threshold = max(12.0, 0.35 * strong, 1.6 * texture)
    return (strength >= threshold).astype(np.uint8) * 255, threshold


def long_segments(mask, diagonal):
    import cv2

    length = max(12, int(0.06 * diagonal))
    # The gap bridged is generous: a faint stroke comes out of the threshold in dashes.
    found = cv2.HoughLinesP(mask, 1, np.pi / 180, threshold=length // 2, minLineLength=length,
                            maxLineGap=max(3, int(0.02 * diagonal)))
    if found is None:
        return np.zeros((0, 4), np.float32)
    return found.reshape(-1, 4).astype(np.float32)  # (n, 1, 4) in OpenCV 4, (n, 4) in 5


def merge_segments(segments, strength, diagonal, max_lines=20):
    """Hough segments -> lines (point, unit direction, support), one per hand-drawn stroke:
    segments of about the same direction and offset are one line, fitted through their ends.
    The support is the length weighted by the square of the ink's strength, so that the many
    long, faint lines of a notebook's ruling rank below the pen's."""
    import cv2

    if not len(segments):
        return []
    start, end = segments[:, :2], segments[:, 2:]
    lengths = np.linalg.norm(end - start, axis=1)
    samples = np.round(start[:, None] + np.linspace(0, 1, 9)[None, :, None] * (end - start)[:, None]).astype(int)
    ink = strength[samples[..., 1].clip(0, strength.shape[0] - 1), samples[..., 0].clip(0, strength.shape[1] - 1)]
    weights = lengths * ink.mean(axis=1) ** 2
    angles = np.arctan2(end[:, 1] - start[:, 1], end[:, 0] - start[:, 0]) % np.pi
    order = np.argsort(-lengths)
    used = np.zeros(len(segments), bool)
    lines = []
    for seed in order:
        if used[seed]:
            continue
        direction = np.array([np.cos(angles[seed]), np.sin(angles[seed])])
        normal = np.array([-direction[1], direction[0]])
        offset = start[seed] @ normal
        turn = np.abs((angles - angles[seed] + np.pi / 2) % np.pi - np.pi / 2)
        near = (~used & (turn < np.radians(20))
                & (np.abs(start @ normal - offset) < 0.035 * diagonal)
                & (np.abs(end @ normal - offset) < 0.035 * diagonal))
        used |= near
        points = np.concatenate([start[near], end[near]]).astype(np.float32)
        vx, vy, x0, y0 = cv2.fitLine(points, cv2.DIST_HUBER, 0, 0.01, 0.01).ravel()
        lines.append((np.array([x0, y0]), np.array([vx, vy]), float(weights[near].sum())))
    lines.sort(key=lambda line: -line[2])
    return lines[:max_lines]


def crossing(first, second):
    """The crossing of two lines (point, direction), and its position along each."""
    (p, u), (q, v) = first[:2], second[:2]
    matrix = np.array([[u[0], -v[0]], [u[1], -v[1]]])
    if abs(np.linalg.det(matrix)) < 1e-6:
        return None
    s, t = np.linalg.solve(matrix, q - p)
    return p + s * u, s, t


class Profiles:
    """Ink along each candidate line: the strongest ink within a few pixels across it, sampled
    every pixel along it, so that a candidate grid is scored by looking up intervals."""

    def __init__(self, lines, strength, threshold, diagonal):
        import cv2

        self.reach = int(np.ceil(diagonal))
        steps = np.arange(-self.reach, self.reach + 1, dtype=np.float32)
        width = max(2, int(0.01 * diagonal))  # a hand-drawn line bends
        near = cv2.dilate(strength, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * width + 1,) * 2))
        self.values, self.threshold = [], threshold
        height, wide = strength.shape
        for point, direction, _ in lines:
            xs, ys = point[0] + steps * direction[0], point[1] + steps * direction[1]
            inside = (xs >= 0) & (xs <= wide - 1) & (ys >= 0) & (ys <= height - 1)
            values = np.full(len(steps), -1.0, np.float32)  # -1: outside the photo
            values[inside] = near[np.round(ys[inside]).astype(int), np.round(xs[inside]).astype(int)]
            self.values.append(values)

    def interval(self, line, start, stop, faint=1.0):
        """(fraction inked, fraction inside the photo, mean ink) of line `line` from `start` to
        `stop`, inked meaning at least `faint` times the stroke threshold."""
        low, high = sorted((int(round(start)) + self.reach, int(round(stop)) + self.reach))
        values = self.values[line][max(0, low):max(0, min(len(self.values[line]), high + 1))]
        if not len(values):
            return 0.0, 0.0, 0.0
        seen = values[values >= 0]
        if not len(seen):
            return 0.0, 0.0, 0.0
        return float((seen >= faint * self.threshold).mean()), len(seen) / len(values), float(seen.mean())


def score_grid(lines, profiles, pair_a, pair_b, min_cell):
    """How much lines pair_a x pair_b look like a tic-tac-toe grid (0: not at all), and the four
    crossings, [[a0 x b0, a0 x b1], [a1 x b0, a1 x b1]]."""
    crossings = [[crossing(lines[a], lines[b]) for b in pair_b] for a in pair_a]
    if any(c is None for row in crossings for c in row):
        return 0.0, None
    points = np.array([[c[0] for c in row] for row in crossings])
    corners = np.array([points[0, 0], points[0, 1], points[1, 1], points[1, 0]])  # around the quad
    edges = np.roll(corners, -1, axis=0) - corners
    sides = np.linalg.norm(edges, axis=1)
    if sides.min() < min_cell or sides.max() > MAX_SIDE_RATIO * sides.min():
        return 0.0, None
    following = np.roll(edges, -1, axis=0)
    cross = edges[:, 0] * following[:, 1] - edges[:, 1] * following[:, 0]
    if not (np.all(cross > 0) or np.all(cross < 0)):  # not convex
        return 0.0, None
    sines = np.abs(cross) / (sides * np.roll(sides, -1))
    if sines.min() < 0.55:  # a corner sharper than ~33 degrees: no square seen in perspective
        return 0.0, None
    weakest = np.inf
    for index, line in enumerate(pair_a):  # along a line of pair_a, its crossings are at s
        weakest = min(weakest, line_score(profiles, line, [crossings[index][0][1], crossings[index][1][1]]))
    for index, line in enumerate(pair_b):
        weakest = min(weakest, line_score(profiles, line, [crossings[0][index][2], crossings[1][index][2]]))
    # The weakest line decides: a faint ruling line or a short stroke of an X or O fails it;
    # between grids of equally dark lines, the squarer centre cell is the board's.
    if weakest < MIN_INK:
        return 0.0, None
    return weakest * np.sqrt(sides.min() / sides.max()), corners


def line_score(profiles, line, positions):
    """A grid line is inked between its two crossings and for some way beyond them (beyond the
    photo's edge counts as unknown, not as missing); its score is its mean ink there, so that a
    faint ruling line loses to a pen stroke."""
    low, high = sorted(positions)
    cell = high - low
    inner, _, _ = profiles.interval(line, low, high)
    if inner < 0.75:
        return 0.0
    beyond = []
    for start, stop in ((low - REACH * cell, low - 0.1 * cell), (high + 0.1 * cell, high + REACH * cell)):
        inked, seen, _ = profiles.interval(line, start, stop, faint=FAINT)
        beyond.append(inked if seen > 0.5 else 1.0)
    if sum(beyond) < 1.0:  # one end may stop at its crossing (or bend away), not both
        return 0.0
    return profiles.interval(line, low - 0.5 * cell, high + 0.5 * cell)[2]


def find_grids(colour):
    """The likeliest grids in `colour` (an RGB uint8 photo), best first: for each, its four inner
    crossings ordered top-left, top-right, bottom-right, bottom-left after the smallest rotation
    that makes the grid upright. Every grid scoring at least RIVAL of the best is kept (at most
    RIVALS, no two alike): long strokes of symbols lined up across a board can out-score its
    faint or bent grid by a little, and the classifier, which sees the cells, decides between
    them (`read_board`). Raises NnkitError when there is no grid."""
    found = []
    # Light ink (chalk, a white pen) is looked for only where most of the photo is dark: the
    # bright paper between a notebook's ruling lines would pass for light strokes.
    for light_ink in (False, True) if np.median(colour.max(axis=2)) < 128 else (False,):
        found += grid_candidates(colour, light_ink)
    if not found:
        raise NnkitError(NO_BOARD)
    found.sort(key=lambda candidate: -candidate[0])
    kept = []
    for score, corners in found:
        if score < RIVAL * found[0][0] or len(kept) == RIVALS:
            break
        corners = upright_order(corners)
        cell = np.linalg.norm(corners[1] - corners[0])
        if all(np.abs(corners - other).max() > 0.2 * cell for other in kept):
            kept.append(corners)
    return kept


def grid_candidates(colour, light_ink):
    """Every pair of line pairs that passes for a grid: [(score, crossings)]."""
    import itertools

    height, width = colour.shape[:2]
    diagonal = float(np.hypot(height, width))
    strength = ink_strength(colour, light_ink)
    mask, threshold = ink_mask(strength)
    lines = merge_segments(long_segments(mask, diagonal), strength, diagonal)
    profiles = Profiles(lines, strength, threshold, diagonal)
    found = []
    parallel = [(i, j) for i, j in itertools.combinations(range(len(lines)), 2)
                if abs(lines[i][1] @ lines[j][1]) > np.cos(np.radians(25))]
    for pair_a, pair_b in itertools.combinations(parallel, 2):
        if set(pair_a) & set(pair_b) or abs(lines[pair_a[0]][1] @ lines[pair_b[0]][1]) > np.cos(np.radians(45)):
            continue
        score, corners = score_grid(lines, profiles, pair_a, pair_b, 0.04 * diagonal)
        if score > 0:
            found.append((score, corners))
    return found


def upright_order(corners):
    """The four crossings ordered top-left, top-right, bottom-right, bottom-left once the grid is
    turned by the smallest rotation that makes its sides upright (at exactly 45 degrees either
    way is as small: the result is one of the two)."""
    corners = np.asarray(corners, np.float64)
    sides = np.roll(corners, -1, axis=0) - corners
    # The grid's turn modulo 90 degrees: the circular mean of four times each side's direction.
    fourfold = 4 * np.arctan2(sides[:, 1], sides[:, 0])
    turn = np.arctan2(np.sin(fourfold).sum(), np.cos(fourfold).sum()) / 4
    relative = corners - corners.mean(axis=0)
    # Each corner's direction from the centre, in the upright grid (y down: -135 degrees is the top left).
    bearing = np.arctan2(relative[:, 1], relative[:, 0]) - turn
    # Clockwise from the top left, which is at 45 degrees of this (so noise cannot wrap it round).
    clockwise = np.argsort(np.mod(bearing + np.pi, 2 * np.pi))
    return corners[clockwise]


def rectify(gray, crossings):
    """The board in `gray` (luminance) rectified, 3 * CELL_PIXELS square plus OPEN_SIDE of a cell
    on every side, and the photo positions of its outer corners (the crossings extrapolated by
    one cell)."""
    import cv2

    corners = outer_corners(crossings)
    cell, pad = CELL_PIXELS, open_side_pixels()
    square = np.float32([[0, 0], [3 * cell, 0], [3 * cell, 3 * cell], [0, 3 * cell]]) + pad
    homography = cv2.getPerspectiveTransform(corners, square)
    side = 3 * cell + 2 * pad
    board = cv2.warpPerspective(np.asarray(gray, np.float32), homography, (side, side),
                                flags=cv2.INTER_AREA, borderMode=cv2.BORDER_REPLICATE)
    return board, corners


def open_side_pixels():
    return int(round(OPEN_SIDE * CELL_PIXELS))


def outer_corners(crossings):
    """The board's outer corners: the four crossings (top left first) extrapolated by one cell.
    Hand-drawn lines are seldom parallel even on paper seen square-on, so the homography of the
    four crossings alone exaggerates the perspective a cell away from them; the mean of its
    corners and those of the best affine map (which has no perspective) damps that."""
    import cv2

    inner = np.asarray(crossings, np.float32)
    unit = np.float32([[1, 1], [2, 1], [2, 2], [1, 2]])
    outer = np.float32([[[0, 0], [3, 0], [3, 3], [0, 3]]])
    homography, _ = cv2.findHomography(unit, inner)
    if homography is None or not np.isfinite(homography).all():
        raise NnkitError(NO_BOARD)
    perspective = cv2.perspectiveTransform(outer, homography)[0]
    affine = np.linalg.lstsq(np.hstack([unit, np.ones((4, 1), np.float32)]), inner, rcond=None)[0]
    flat = np.hstack([outer[0], np.ones((4, 1), np.float32)]) @ affine
    return ((perspective + flat) / 2).astype(np.float32)


def cut_cells(board):
    """The nine cells of a rectified board, row by row, each without its margin, the outer ones
    reaching OPEN_SIDE further on their open sides."""
    cell, margin, pad = CELL_PIXELS, int(round(CELL_MARGIN * CELL_PIXELS)), open_side_pixels()

    def span(index):  # pixels of row or column `index` (0, 1, 2)
        start, stop = pad + index * cell + margin, pad + (index + 1) * cell - margin
        return slice(start - pad if index == 0 else start, stop + pad if index == 2 else stop)

    return [board[span(row), span(column)] for row in range(3) for column in range(3)]


def photo_arrays(item, name):
    """A photo (a path, a PIL image or an RGB/gray array) -> (RGB uint8, luminance float32)."""
    from PIL import Image

    from nnkit.data.images import decoded_image, luminance
    from nnkit.raw_inputs import image_array

    if isinstance(item, Image.Image):
        return np.asarray(item.convert("RGB")), luminance(item)
    if not hasattr(item, "__array__") and not isinstance(item, (list, tuple)):
        with decoded_image(item, name) as image:
            return np.asarray(image.convert("RGB")), luminance(image)
    array = image_array(item, name)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    colour = np.repeat(array[..., None], 3, axis=2) if array.ndim == 2 else array[..., :3]
    colour = np.clip(colour, 0, 255).astype(np.uint8)
    gray = array if array.ndim == 2 else colour.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32)
    return colour, gray


def locate(colour):
    """The likeliest grids' inner crossings in `colour` (`find_grids`), found on a copy no larger
    than FINDING_SIDE."""
    import cv2

    scale = min(1.0, FINDING_SIDE / max(colour.shape[:2]))
    if scale < 1.0:
        colour = cv2.resize(colour, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return [crossings / scale for crossings in find_grids(colour)]


def read_board(predictor, item, name, move=False):
    """One photo -> the board read: each cell's label ('x', 'o' or '' for empty) and probability,
    the grid's outer corners and inner crossings in the photo's pixels, and the game's state."""
    from nnkit.apps.xo.game import analyse

    colour, gray = photo_arrays(item, name)
    if min(gray.shape) < 32:
        raise NnkitError(f"{name}: {NO_BOARD}: the image is only {gray.shape[1]}x{gray.shape[0]} pixels")
    try:
        grids = [(crossings, *rectify(gray, crossings)) for crossings in locate(colour)]
    except NnkitError as error:
        raise NnkitError(f"{name}: {error}")
    readings = [(crossings, board, corners, classify_cells(predictor, board, name)) for crossings, board, corners in grids]
    # The grid whose cells the classifier is surest of: a "grid" of lined-up symbol strokes cuts
    # cells of grid pieces and half symbols, which it is not sure of.
    crossings, board, corners, results = max(readings, key=lambda reading: confidence(reading[3]))
    cells = [{"label": mark(result["label"]), "probability": round(result["probability"], 4)} for result in results]
    for cell, faint in zip(cells, faint_cells(board)):
        if faint and cell["label"]:  # a ghost: an erased game, or the page behind shining through
            cell.update(label="", faint=True)
    labels = [cell["label"] for cell in cells]
    return {"input": name, "board": ["".join(label or "." for label in labels[row * 3:row * 3 + 3]) for row in range(3)],
            "cells": cells, "corners": np.round(np.asarray(corners, float), 1).tolist(),
            "crossings": np.round(np.asarray(crossings, float), 1).tolist(),
            **analyse(labels, move)}


def classify_cells(predictor, board, name):
    """The classifier's nine results for the cells of a rectified board."""
    batch = np.stack([predictor.prepare(cell, f"{name} cell {index + 1}") for index, cell in enumerate(cut_cells(board))])
    return predictor.classify(batch, [None] * 9)


def faint_cells(board):
    """For each of the nine cells, whether its strongest ink is under GHOST of the grid lines':
    the classifier sees each cell with its contrast stretched, so a mark erased or shining
    through from the page behind looks to it as bold as a drawn one, while next to the board's
    own lines (drawn with the same pen as its marks) it is faint."""
    cell, pad = CELL_PIXELS, open_side_pixels()
    deviation = np.abs(board - np.median(board))
    band, middle = int(0.1 * cell), slice(pad + cell // 4, pad + 3 * cell - cell // 4)
    # Along each inner grid line, the strongest ink across it; the median over the four lines.
    across = []
    for line in (pad + cell, pad + 2 * cell):
        across += [deviation[middle, line - band:line + band + 1].max(axis=1),
                   deviation[line - band:line + band + 1, middle].max(axis=0)]
    grid = np.median(np.concatenate(across))
    inset = int(0.15 * cell)  # the grid-line pieces along a cell's sides are not its mark
    strongest = [np.percentile(np.abs(part[inset:-inset, inset:-inset] - np.median(part)), 98)
                 for part in cut_cells(board)]
    return [value < GHOST * grid for value in strongest]


def confidence(results):
    """The mean log-probability of the labels given: how sure the classifier is of a grid's cells."""
    return float(np.mean([np.log(max(result["probability"], 1e-9)) for result in results]))


def mark(label):
    """A class name as a board mark: 'x', 'o', or '' (none, or any class that is not a mark)."""
    return label if label in ("x", "o") else ""


def draw_debug(colour, result):
    """The photo (BGR, for cv2.imwrite) with the grid found and each cell's label drawn on it."""
    import cv2

    image = np.ascontiguousarray(colour[..., ::-1])
    corners = np.asarray(result["corners"], np.float32)
    square = np.array([[0, 0], [3, 0], [3, 3], [0, 3]], np.float32)
    to_photo = cv2.getPerspectiveTransform(square, corners)
    thickness = max(2, int(max(image.shape[:2]) / 300))
    for k in range(4):  # the four grid lines and the (extrapolated) outer border
        for line in (np.float32([[k, 0], [k, 3]]), np.float32([[0, k], [3, k]])):
            ends = cv2.perspectiveTransform(line[None], to_photo)[0].astype(np.int32)
            colour_bgr = (0, 0, 255) if k in (1, 2) else (0, 200, 0)
            cv2.line(image, tuple(map(int, ends[0])), tuple(map(int, ends[1])), colour_bgr, thickness)
    for index, cell in enumerate(result["cells"]):
        centre = cv2.perspectiveTransform(np.float32([[[index % 3 + 0.5, index // 3 + 0.5]]]), to_photo)[0, 0]
        text = f"{cell['label'] or '-'} {cell['probability']:.2f}"
        scale = thickness / 3
        (width, height), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        origin = (int(centre[0] - width / 2), int(centre[1] + height / 2))
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness + 2)
        cv2.putText(image, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (200, 0, 200), thickness)
    return image


def write_debug_image(item, name, result, path):
    """`draw_debug` of the photo, written atomically to `path` (PNG or JPEG, by its suffix)."""
    import cv2

    from nnkit.saving import atomic_path

    image = draw_debug(photo_arrays(item, name)[0], result)
    with atomic_path(path) as temporary:
        try:
            written = cv2.imwrite(temporary, image)
        except cv2.error:  # OpenCV knows no format for the name's suffix
            written = False
        if not written:
            raise NnkitError(f"cannot write '{path}' (use a .png or .jpg name)")
