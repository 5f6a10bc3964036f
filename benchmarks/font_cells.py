"""X and O cells typeset from the DejaVu fonts that ship with matplotlib: not hand-drawn, but
not drawn by nnkit's training generator either, so a check of how far its cells generalise."""

from pathlib import Path

import matplotlib
import numpy as np
from PIL import Image, ImageDraw, ImageFont

GLYPHS = {"x": "Xx\u00d7", "o": "Oo"}


def write_font_cells(folder, per_class=150, seed=0):
    fonts = [font for font in sorted(Path(matplotlib.get_data_path(), "fonts", "ttf").glob("DejaVu*.ttf"))
             if "Display" not in font.name]  # the Display faces hold almost no glyphs
    rng = np.random.default_rng(seed)
    for kind, glyphs in GLYPHS.items():
        (Path(folder) / kind).mkdir(parents=True, exist_ok=True)
        for index in range(per_class):
            side = int(rng.integers(40, 200))
            light = rng.uniform() < 0.7
            paper = int(rng.uniform(150, 250) if light else rng.uniform(0, 80))
            ink = int(rng.uniform(0, paper - 90) if light else rng.uniform(paper + 90, 255))
            cell = Image.new("L", (side, side), paper)
            font = ImageFont.truetype(str(fonts[rng.integers(len(fonts))]), int(side * rng.uniform(0.55, 0.95)))
            centre = (side / 2 + rng.normal(0, side * 0.05), side / 2 + rng.normal(0, side * 0.05))
            ImageDraw.Draw(cell).text(centre, glyphs[rng.integers(len(glyphs))], font=font, fill=ink, anchor="mm")
            cell = cell.rotate(rng.normal(0, 10), resample=Image.BICUBIC, fillcolor=paper)
            cell.save(Path(folder) / kind / f"{index:04d}.jpg", quality=int(rng.integers(60, 95)))
    return folder
