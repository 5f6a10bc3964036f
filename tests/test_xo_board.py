"""`nnkit xo board`: finding the 3x3 grid in rendered boards (rotated, in perspective, both
polarities, on squared paper) and in a few real photos, refusing photos without a board, the
game logic, the CLI, the Python API and the serving endpoint."""

import json

import numpy as np
import pytest

from nnkit.apps.xo import board as reader
from nnkit.apps.xo.game import analyse, best_move, format_grid, turn
from nnkit.errors import NnkitError

from conftest import data_dir, run_in_process

STATE = "xo." ".x." "o.x"  # row by row from the top left
SIDE = 360


def render(state=STATE, angle=0.0, tilt=0.0, light_ink=False, ruled=False, grid=True, size=SIDE, seed=0):
    """A photo-like RGB board: paper (or a dark board), maybe faint squared ruling, a hand-ish
    3x3 grid and the marks of `state`, turned by `angle` degrees and seen in perspective (`tilt`)."""
    import cv2

    rng = np.random.default_rng(seed)
    paper, ink, rule = ((40, 45, 50), (235, 235, 225), (60, 65, 70)) if light_ink else \
        ((225, 225, 218), (150, 60, 20), (200, 205, 210))  # BGR: blue pen on white paper
    image = np.zeros((size, size, 3), np.uint8) + np.array(paper, np.uint8)
    if ruled:
        for k in range(0, size, 12):
            cv2.line(image, (k, 0), (k, size), rule, 1)
            cv2.line(image, (0, k), (size, k), rule, 1)
    cell, left = size // 5, size // 2 - 3 * (size // 5) // 2
    if grid:
        for k in (1, 2):
            offset = left + k * cell
            cv2.line(image, (offset, left - 8), (offset + 4, left + 3 * cell + 6), ink, 4)
            cv2.line(image, (left - 6, offset), (left + 3 * cell + 8, offset - 3), ink, 4)
    for index, mark in enumerate(state):
        cx, cy = left + (index % 3) * cell + cell // 2, left + (index // 3) * cell + cell // 2
        r = int(cell * 0.28)
        if mark == "x":
            cv2.line(image, (cx - r, cy - r), (cx + r, cy + r), ink, 3)
            cv2.line(image, (cx + r, cy - r), (cx - r, cy + r), ink, 3)
        elif mark == "o":
            cv2.ellipse(image, (cx, cy), (r, int(r * 1.1)), 10, 0, 360, ink, 3)
    turned = cv2.getRotationMatrix2D((size / 2, size / 2), angle, 1.0)
    image = cv2.warpAffine(image, turned, (size, size), borderMode=cv2.BORDER_REPLICATE)
    if tilt:
        square = np.float32([[0, 0], [size, 0], [size, size], [0, size]])
        seen = np.float32([[tilt * size, 0], [size * (1 - tilt), 0], [size, size], [0, size]])
        image = cv2.warpPerspective(image, cv2.getPerspectiveTransform(square, seen), (size, size),
                                    borderMode=cv2.BORDER_REPLICATE)
    image = image.astype(np.float32) + rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)[..., ::-1].copy()  # RGB


def marks_in_cells(colour):
    """What the cut cells hold, read from their ink alone: 'x' (ink at the centre), 'o' (ink
    around an empty centre) or '.' -- the geometry checked without a trained classifier."""
    colour, gray = reader.photo_arrays(colour, "board")
    board, _ = reader.rectify(gray, reader.locate(colour)[0])
    marks = ""
    for cell in reader.cut_cells(board):
        paper = np.median(cell)
        ink = np.abs(cell - paper) > 40
        if ink.mean() < 0.03:
            marks += "."
            continue
        # The middle of the mark (an outer cell reaches further on its open side than the mark).
        rows, columns = np.nonzero(ink)
        y, x, reach = int(rows.mean()), int(columns.mean()), min(cell.shape) // 10
        centre = ink[y - reach:y + reach + 1, x - reach:x + reach + 1].mean()
        marks += "x" if centre > 0.15 else "o"
    return marks


@pytest.mark.parametrize("view", [
    {}, {"angle": 25}, {"angle": -35, "tilt": 0.15}, {"tilt": 0.2, "ruled": True},
    {"light_ink": True, "angle": 10}, {"light_ink": True, "tilt": 0.1, "ruled": True}])
def test_rendered_boards_are_found_and_cut_right(view):
    assert marks_in_cells(render(**view)) == STATE


def test_orientation_is_the_smallest_turn_that_makes_the_grid_upright():
    # Turned by 60 degrees, the grid is upright again after turning it back by 30 (not 60):
    # its rows are then the photo's columns, read from the top left.
    expected = "".join(STATE[row * 3 + column] for column in (2, 1, 0) for row in range(3))
    assert marks_in_cells(render(angle=60)) == expected


@pytest.mark.parametrize("photo", [
    lambda: render(grid=False, state="........."),  # blank paper
    lambda: render(grid=False, state=".........", ruled=True),  # squared paper only
    lambda: np.random.default_rng(1).integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8),  # noise
    lambda: render(grid=False),  # marks but no grid
])
def test_photos_without_a_board_are_one_clear_error(photo):
    with pytest.raises(NnkitError, match="no tic-tac-toe grid found"):
        reader.locate(photo())


def test_game_turn_winner_and_best_move():
    assert turn(".........") == "x" and turn("x........") == "o" and turn("o........") == "x"
    assert analyse(list("xxxoo....")) == {"winner": "x", "winning_line": "top row", "turn": None}
    assert analyse(list("xo.xo.x.."))["winning_line"] == "left column"
    assert "impossible board: 3 x and 0 o" in analyse(list("xx.x.....")).get("error")
    assert best_move("xx.oo....", "x") == 2  # x wins at once
    assert best_move("xx.o.....", "o") == 2  # o blocks
    assert best_move("oo.x.....", "x") == 2  # x must block o
    assert analyse(list("xoxxoooxx"), move=True) == {"winner": None, "winning_line": None, "turn": None, "move": None}
    assert format_grid(list("xo.......")).splitlines()[0] == " x | o |   "


def test_cli_json_text_and_debug_image(trained_xo, tmp_path, capsys):
    from PIL import Image

    photo = tmp_path / "board.jpg"
    Image.fromarray(render(angle=15, tilt=0.1)).save(photo)
    debug = tmp_path / "debug.png"
    done = run_in_process(capsys, "xo", "board", photo, "--model-path", trained_xo, "--json", "--move",
                          "--debug-image", debug)
    assert done.returncode == 0, done.stderr
    result, = json.loads(done.stdout)
    assert len(result["cells"]) == 9 and all(cell["label"] in ("x", "o", "") for cell in result["cells"])
    assert {"corners", "crossings", "turn", "winner", "move"} <= set(result) and len(result["corners"]) == 4
    assert debug.read_bytes()[:4] == b"\x89PNG"
    done = run_in_process(capsys, "xo", "board", photo, "--model-path", trained_xo)
    assert done.returncode == 0 and "---+---+---" in done.stdout


def test_cli_refuses_a_photo_without_a_board_and_a_non_image(trained_xo, tmp_path, capsys):
    from PIL import Image

    Image.fromarray(render(grid=False, state=".........", ruled=True)).save(tmp_path / "paper.png")
    (tmp_path / "notes.txt").write_text("hello")
    for name, text in (("paper.png", "no tic-tac-toe grid found"), ("notes.txt", "not an image"),
                       ("absent.png", "no such file")):
        done = run_in_process(capsys, "xo", "board", tmp_path / name, "--model-path", trained_xo)
        assert done.returncode == 1 and text in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_python_api_reads_boards(trained_xo):
    from nnkit.saving import load_predictor

    predictor = load_predictor(trained_xo, expected_task="xo")
    result, = predictor.read_board([render(tilt=0.1)], move=True)
    assert result["input"] == "photos[0]" and len(result["board"]) == 3 and "move" in result


def test_serving_board_endpoint(trained_xo):
    import io

    from fastapi.testclient import TestClient
    from PIL import Image

    from nnkit.serving.app import create_app

    def png(array):
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG")
        return buffer.getvalue()

    with TestClient(create_app(trained_xo)) as client:
        answer = client.post("/v1/xo/board", files=[("photo", ("b.png", png(render(angle=-20)), "image/png"))],
                             data={"move": "true"})
        assert answer.status_code == 200, answer.text
        board = answer.json()["boards"][0]
        assert len(board["cells"]) == 9 and len(board["corners"]) == 4 and "move" in board
        refused = client.post("/v1/xo/board", files=[("photo", ("n.txt", b"hello", "text/plain"))])
        assert refused.status_code == 422 and "not an image" in refused.json()["error"]["message"]
        blank = client.post("/v1/xo/board", files=[("images", ("p.png", png(render(grid=False)), "image/png"))])
        assert blank.status_code == 400 and "no tic-tac-toe grid" in blank.json()["error"]["message"]
        assert client.post("/v1/xo/predict", files=[("images", ("c.png", png(render()[:60, :60]), "image/png"))]) \
            .status_code == 200  # the family's endpoint is still there


REAL = ["phone/photo_2023-09-03_13-40-24.jpg", "phone/photo_2023-09-03_13-42-47.jpg", "whiteboard/tic_08.jpg"]


@pytest.mark.parametrize("name", REAL)
def test_the_grid_is_found_in_real_photos(name):
    path = data_dir() / "xo_boards" / name
    if not path.is_file():
        pytest.skip(f"{path} not found (the xo_boards photos of ../shared/data; set NNKIT_DATA_DIR)")
    colour, _ = reader.photo_arrays(path, name)
    crossings = reader.locate(colour)[0]  # the likeliest grid
    height, width = colour.shape[:2]
    assert ((crossings >= 0) & (crossings < [width, height])).all()
    sides = np.linalg.norm(np.roll(crossings, -1, axis=0) - crossings, axis=1)
    assert 0.05 * max(height, width) < sides.min() and sides.max() < 1.5 * sides.min()


def test_a_mark_much_fainter_than_the_grid_is_a_ghost():
    # An erased O (a quarter of the ink's contrast) in the empty top-right cell of STATE.
    board = render().astype(np.float32)
    ghost = render(state="..o......", grid=False).astype(np.float32)
    paper = np.median(ghost, axis=(0, 1))
    board = np.where(np.abs(ghost - paper).max(axis=-1, keepdims=True) > 40, paper + 0.25 * (ghost - paper), board)
    colour, gray = reader.photo_arrays(board.astype(np.uint8), "board")
    rectified, _ = reader.rectify(gray, reader.locate(colour)[0])
    faint = reader.faint_cells(rectified)
    assert [index for index, is_faint in enumerate(faint) if not is_faint] == \
        [index for index, mark in enumerate(STATE) if mark != "."]  # the drawn marks, not the ghost at 2
    assert faint[2]
