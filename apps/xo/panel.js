// The xo panel of the `nnkit serve` page: draw a tic-tac-toe cell, see it classified; or upload
// (or, on a phone, take) a photo of a whole board, see the grid found and the board read. It
// uses the page's shared helpers (nnkit/serving/web/app.js): sketchArea, sketchPanel, resultArea.
"use strict";

(() => {
  definePanel("xo", {
    title: "X or O",
    build(section) {
      section.append(
        element("p", { className: "hint" },
          "Draw an X, an O, or leave the cell empty: pen on paper, as in a photo of a tic-tac-toe cell."),
        sketchArea("xo", "Drawing area for a tic-tac-toe cell"),
        resultArea("xo"),
        element("form", { id: "xo-board-form" },
          element("label", { htmlFor: "xo-board-file" }, "Photo of a whole board"),
          // capture: a phone offers its camera; a desktop browser ignores it and opens files.
          element("input", { type: "file", id: "xo-board-file", accept: "image/*", capture: "environment" }),
          element("button", { type: "submit", id: "xo-board-submit" }, "Read the board")),
        element("canvas", { id: "xo-board-canvas", className: "photo-preview", hidden: true,
                            "aria-label": "The photo, with the grid found drawn over it" }),
        element("div", { id: "xo-board-result", className: "result", "aria-live": "polite" }));
      // The xo model was trained on cells of either polarity and normalises the contrast itself;
      // dark pen on white paper is what a photo of a real cell looks like.
      sketchPanel("xo", { ink: "#1a1a1a", paper: "#ffffff", width: 18 });
      boardPanel();
    },
  });

  function boardPanel() {
    const file = byId("xo-board-file");
    const canvas = byId("xo-board-canvas");
    const result = byId("xo-board-result");
    let photo = null;  // the chosen photo, decoded, to draw the grid over
    const read = () => {
      const chosen = file.files[0];
      if (!chosen) {
        complain(result, "Choose or take a photo of a board first.");
        return;
      }
      const form = new FormData();
      form.append("photo", chosen, chosen.name);
      form.append("move", "true");
      show(result, () => api("POST", taskPath("xo", "board"), form), (answer) => {
        const board = answer.boards[0];
        drawPhoto(canvas, photo, board.corners);
        return boardView(board);
      });
    };
    file.addEventListener("change", async () => {
      const chosen = file.files[0];
      canvas.hidden = !chosen;
      if (!chosen) {
        return;
      }
      try {
        photo = await createImageBitmap(chosen);
        drawPhoto(canvas, photo, null);
      } catch (error) {
        photo = null;  // not an image the browser can show: the server says why
        canvas.hidden = true;
      }
      read();
    });
    byId("xo-board-form").addEventListener("submit", (event) => {
      event.preventDefault();
      read();
    });
  }

  // The photo scaled to at most 480 pixels wide, and the grid found (its outer corners,
  // top-left first, in the photo's pixels) as the border and the four lines of a 3x3 board.
  function drawPhoto(canvas, photo, corners) {
    if (!photo) {
      return;
    }
    const scale = Math.min(1, 480 / photo.width);
    canvas.width = Math.round(photo.width * scale);
    canvas.height = Math.round(photo.height * scale);
    const context = canvas.getContext("2d");
    context.drawImage(photo, 0, 0, canvas.width, canvas.height);
    if (!corners) {
      return;
    }
    // A point at (u, v) in cells (0..3) of the board, by bilinear interpolation of the corners:
    // close enough to the perspective mapping for a picture.
    const at = (u, v) => {
      const [a, b, c, d] = corners;
      const s = u / 3, t = v / 3;
      const x = (1 - s) * (1 - t) * a[0] + s * (1 - t) * b[0] + s * t * c[0] + (1 - s) * t * d[0];
      const y = (1 - s) * (1 - t) * a[1] + s * (1 - t) * b[1] + s * t * c[1] + (1 - s) * t * d[1];
      return [x * scale, y * scale];
    };
    context.lineWidth = 3;
    for (let k = 0; k <= 3; k++) {
      context.strokeStyle = k === 1 || k === 2 ? "#d00000" : "#00a000";
      for (const [from, to] of [[at(k, 0), at(k, 3)], [at(0, k), at(3, k)]]) {
        context.beginPath();
        context.moveTo(...from);
        context.lineTo(...to);
        context.stroke();
      }
    }
  }

  function boardView(board) {
    const rows = [0, 1, 2].map((row) => element("tr", {},
      ...board.cells.slice(3 * row, 3 * row + 3).map((cell, column) => {
        const best = board.move && board.move.index === 3 * row + column;
        return element("td", {
          title: `${cell.label || "empty"} (${percent(cell.probability)})`,
          style: { border: "1px solid #888", width: "2.2em", height: "2.2em", "text-align": "center",
                   "font-size": "1.3em", background: best ? "#e3f0d8" : "transparent" },
        }, cell.label || (best ? "·" : " "));
      })));
    let state;
    if (board.error) {
      state = board.error;
    } else if (board.winner) {
      state = `${board.winner} wins (${board.winning_line})`;
    } else if (board.turn) {
      state = `${board.turn} to play` + (board.move ? `; best move: ${board.move.cell}` : "");
    } else {
      state = "a draw";
    }
    return [element("table", { id: "xo-board-grid", style: { "border-collapse": "collapse" } },
              element("tbody", {}, ...rows)),
            element("p", { className: "answer-text", id: "xo-board-state" }, state)];
  }
})();
