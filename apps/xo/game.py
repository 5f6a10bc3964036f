"""Tic-tac-toe from a board's nine labels ('x', 'o' or '' for empty, row by row from the top
left): whose turn it is, the winner, and the best next move by exact game search."""

from functools import lru_cache

from nnkit.errors import NnkitError

LINES = ((0, 1, 2), (3, 4, 5), (6, 7, 8), (0, 3, 6), (1, 4, 7), (2, 5, 8), (0, 4, 8), (2, 4, 6))
LINE_NAMES = ("top row", "middle row", "bottom row", "left column", "middle column", "right column",
              "diagonal from top left", "diagonal from top right")
CELL_NAMES = [f"{row} {column}" for row in ("top", "middle", "bottom") for column in ("left", "centre", "right")]


def cells_of(labels):
    """Nine labels -> a 9-character string of 'x', 'o' and '.' (anything else is empty)."""
    if len(labels) != 9:
        raise NnkitError(f"a board has 9 cells, got {len(labels)}")
    return "".join(label if label in ("x", "o") else "." for label in labels)


def winner(cells):
    """(player, line index) of a completed line, or (None, None)."""
    for index, (a, b, c) in enumerate(LINES):
        if cells[a] != "." and cells[a] == cells[b] == cells[c]:
            return cells[a], index
    return None, None


def turn(cells):
    """Whose turn it is: x starts, so with equal counts x plays, with one more x o plays; with
    one more o, o must have started and x plays. None when the game is over; a count that no
    game can reach (or two winners) raises NnkitError rather than guessing."""
    xs, os = cells.count("x"), cells.count("o")
    if abs(xs - os) > 1:
        raise NnkitError(f"impossible board: {xs} x and {os} o (players alternate)")
    winners = {cells[a] for a, b, c in LINES if cells[a] != "." and cells[a] == cells[b] == cells[c]}
    if len(winners) > 1:
        raise NnkitError("impossible board: both x and o have a line")
    if winners or "." not in cells:
        return None
    return "o" if xs > os else "x"


@lru_cache(maxsize=None)
def value(cells, player):
    """The game's value for `player` to move on `cells`, with perfect play: +1 win, 0 draw,
    -1 loss; quicker wins score higher (scaled by the empty cells left), slower losses too.
    Memoised: at most 3^9 positions."""
    mark, _ = winner(cells)
    empty = cells.count(".")
    if mark is not None:  # the previous player just won
        return -(1 + empty)
    if not empty:
        return 0
    other = "o" if player == "x" else "x"
    return max(-value(play(cells, index, player), other) for index in range(9) if cells[index] == ".")


def play(cells, index, player):
    return cells[:index] + player + cells[index + 1:]


def best_move(cells, player):
    """The cell index (0..8) that is best for `player` (the first of equals), or None."""
    if player is None or "." not in cells:
        return None
    other = "o" if player == "x" else "x"
    scores = {index: -value(play(cells, index, player), other) for index in range(9) if cells[index] == "."}
    return max(scores, key=lambda index: (scores[index], -index))


def analyse(labels, move=False):
    """{"turn", "winner", "winning_line"} of nine labels (and "move" with `move`): the
    turn is None when the game is over, the move None when there is none to make. An
    impossible board gives {"error": why} in place of turn and move."""
    cells = cells_of(labels)
    mark, line = winner(cells)
    result = {"winner": mark, "winning_line": LINE_NAMES[line] if line is not None else None}
    try:
        result["turn"] = turn(cells)
    except NnkitError as error:
        return {**result, "turn": None, "error": str(error), **({"move": None} if move else {})}
    if move:
        index = best_move(cells, result["turn"])
        result["move"] = None if index is None else {"index": index, "row": index // 3, "column": index % 3,
                                                     "cell": CELL_NAMES[index]}
    return result


def format_grid(labels):
    """The board as three text lines, ' x | o |   '."""
    rows = [" | ".join(label if label in ("x", "o") else " " for label in labels[r * 3:r * 3 + 3])
            for r in range(3)]
    return "\n---+---+---\n".join(f" {row} " for row in rows)


def board_text(result):
    """A board read from a photo (as nnkit.apps.xo.board.read_board gives it) as text: the
    photo's name, the grid, and the game's state."""
    lines = [f"{result['input']}:", format_grid([cell["label"] for cell in result["cells"]])]
    if result.get("error"):
        lines.append(result["error"])
    elif result["winner"]:
        lines.append(f"{result['winner']} wins ({result['winning_line']})")
    else:
        lines.append(f"{result['turn']} to play" if result["turn"] else "a draw")
    if result.get("move"):
        lines.append(f"best move for {result['turn']}: {result['move']['cell']}")
    return "\n".join(lines)
