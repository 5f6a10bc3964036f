"""X-vs-O: the generator, the convolution teaching tool, training end to end on generated
cells and on a user's folder, and the bad inputs."""

import json

import keras
import numpy as np
import pytest

from nnkit.apps.xo.convolution import convolve, plain_number, read_matrix
from nnkit.apps.xo.drawing import CLASSES, draw_cell, generate, image_rng
from nnkit.errors import UsageError

from conftest import run_in_process
from tiny_models import TINY_XO

def test_generator_is_deterministic_per_seed_and_balanced(tmp_path):
    first = generate(tmp_path / "a", 5, seed=3)
    generate(tmp_path / "b", 5, seed=3)
    generate(tmp_path / "c", 5, seed=4)
    assert first == {"x": 5, "o": 5, "none": 5}
    for kind in CLASSES:
        files = sorted((tmp_path / "a" / kind).glob("*.png"))
        assert len(files) == 5
        assert all(f.read_bytes() == (tmp_path / "b" / kind / f.name).read_bytes() for f in files)
        assert any(f.read_bytes() != (tmp_path / "c" / kind / f.name).read_bytes() for f in files)


def test_generated_cells_vary_in_polarity_and_are_not_blank():
    cells = [draw_cell(kind, image_rng(0, kind, i), 28) for kind in ("x", "o") for i in range(60)]
    assert all(cell.shape == (28, 28) and cell.dtype == np.uint8 for cell in cells)
    assert all(cell.max() - cell.min() > 25 for cell in cells)  # ink is visible on every X and O, if faintly
    borders = [np.median(np.concatenate([c[0], c[-1], c[:, 0], c[:, -1]])) for c in cells]
    assert min(borders) < 100 < max(borders)  # both dark-on-light and light-on-dark


def test_generated_cells_cover_what_board_photos_show():
    """On a tiny scale: the variety real board photos need is there, and a seed fixes it."""
    notes = {kind: [] for kind in CLASSES}
    cells = {kind: [draw_cell(kind, image_rng(7, kind, i), 28, notes[kind].append({}) or notes[kind][-1])
                    for i in range(40)] for kind in CLASSES}
    again = draw_cell("o", image_rng(7, "o", 3), 28)
    assert np.array_equal(again, cells["o"][3]) and not np.array_equal(again, draw_cell("o", image_rng(8, "o", 3)))
    every = [note for kind in CLASSES for note in notes[kind]]

    def share(test, among=every):
        return np.mean([bool(test(note)) for note in among])

    assert 0.3 < share(lambda n: n["grid_lines"]) < 1 and share(lambda n: n["grid_lines"] >= 2) > 0.1
    assert 0.05 < share(lambda n: n["binarized"]) < 0.5 and 0.2 < share(lambda n: n["ruling"]) < 0.9
    assert share(lambda n: n["jpeg"]) > 0.1 and share(lambda n: n["ghost"]) > 0.1
    assert {note["look"] for note in every} == {"paper", "whiteboard", "dark board"}
    sizes = [note["symbol_half_size"] for kind in ("x", "o") for note in notes[kind]]
    assert min(sizes) < 0.2 and max(sizes) > 0.4  # small symbols and ones that fill the cell
    sides = [note["source_side"] for note in every]
    assert min(sides) < 36 and max(sides) > 50  # drawn at a photo's resolution, then resized
    # "none" is mostly the hard negatives: empty paper with grid lines, ruling, ghosts or intrusions.
    empty = [note for note in notes["none"] if note["strokes"] == 0]
    assert len(empty) > 20 and share(lambda n: n["grid_lines"] or n["ruling"] or n["intrusions"], empty) > 0.7


def test_generated_split_is_balanced():
    from nnkit.apps.xo.task import generated_split

    images, labels = generated_split(["x", "o", "none"], 4, 20, seed=1)
    assert images.shape == (12, 20, 20) and np.bincount(labels).tolist() == [4, 4, 4]


def normalized(images, **options):
    from nnkit.layers import ContrastNormalization

    layer = ContrastNormalization(**options)
    return keras.ops.convert_to_numpy(layer(np.asarray(images, np.float32)[..., None]))[..., 0]


def framed_cell(paper=200.0, ink=40.0, frame=3):
    """A cell whose whole border is thick grid-line ink, with a small X inside."""
    cell = np.full((28, 28), paper, np.float32)
    cell[:frame], cell[-frame:], cell[:, :frame], cell[:, -frame:] = ink, ink, ink, ink
    for offset in range(10, 18):
        cell[offset, offset] = cell[offset, 27 - offset] = ink
    return cell


@pytest.mark.parametrize("paper, ink", [(200.0, 40.0), (30.0, 230.0), (160.0, 110.0)])
def test_a_border_of_grid_line_is_not_taken_for_paper(paper, ink):
    out = normalized(framed_cell(paper, ink)[None])[0]
    assert abs(out[6, 6]) < 1e-5 and abs(out[20, 14]) < 1e-5  # paper: 0 whatever its level
    assert out[0, 0] == pytest.approx(1.0) and out[13, 13] == pytest.approx(1.0)  # ink: +1, either polarity
    np.testing.assert_allclose(normalized((255.0 - framed_cell(paper, ink))[None])[0], out, atol=1e-5)


def test_the_border_statistic_stays_for_models_saved_before_it_changed():
    from nnkit.layers import ContrastNormalization

    saved = {"name": "contrast", "trainable": True, "dtype": "float32", "minimum_contrast": 16.0}  # no "background"
    old = ContrastNormalization.from_config(saved)
    assert old.background == "border" and ContrastNormalization().background == "median"
    assert ContrastNormalization.from_config(ContrastNormalization().get_config()).background == "median"
    cell = framed_cell()
    out = keras.ops.convert_to_numpy(old(cell[None, :, :, None]))[0, :, :, 0]
    # What the layer always computed: border mean as paper, polarity by the sign of the mean, RMS contrast.
    centred = cell - np.concatenate([cell[0], cell[-1], cell[:, 0], cell[:, -1]]).mean()
    expected = centred * (-1 if centred.mean() < 0 else 1) / max(np.sqrt(np.mean(centred**2)), 16.0)
    np.testing.assert_allclose(out, expected, atol=1e-4)
    assert out[6, 6] > 1 and abs(out[13, 13]) < 1e-5  # the frame fools it: paper comes out as ink, the X as paper
    with pytest.raises(ValueError, match="background must be one of"):
        ContrastNormalization(background="corners")


def write_rows(path, rows):
    path.write_text("\n".join(" ".join(str(v) for v in row) for row in rows) + "\n")
    return path


def test_convolve_matches_a_hand_computed_example(tmp_path, capsys):
    image = [[1, 2, 0, 1], [0, 1, 3, 1], [2, 0, 1, 0], [1, 1, 0, 2]]
    kernel = [[1, 0], [0, -1]]  # cross-correlation: top-left minus bottom-right
    expected = [[0, -1, -1], [0, 0, 3], [1, 0, -1]]
    maps, pooled = convolve(np.array(image, np.float32), [np.array(kernel, np.float32)], pool=2)
    assert maps[0].tolist() == expected
    assert pooled[0].tolist() == [[0]]  # 2x2 windows with stride 2 over the 3x3 map: one window

    done = run_in_process(capsys, "xo", "convolve", "--image", write_rows(tmp_path / "i.txt", image), "--kernel",
                          write_rows(tmp_path / "k.txt", kernel), "--kernel", write_rows(tmp_path / "k2.txt", [[0.5]]),
                          "--pool", "2", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["feature_maps"][0] == expected
    assert result["feature_maps"][1] == [[0.5, 1, 0, 0.5], [0, 0.5, 1.5, 0.5], [1, 0, 0.5, 0], [0.5, 0.5, 0, 1]]
    assert result["pooled"] == [[[0]], [[1, 1.5], [1, 1]]]


def test_convolve_same_padding_and_stride_agree_with_keras(tmp_path):
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(7, 6)).astype(np.float32), rng.normal(size=(3, 3)).astype(np.float32)
    maps, _ = convolve(image, [kernel], stride=2, padding="same")
    layer = keras.layers.Conv2D(1, 3, strides=2, padding="same", use_bias=False)
    layer.build((1, 7, 6, 1))
    layer.set_weights([kernel[:, :, None, None]])
    reference = keras.ops.convert_to_numpy(layer(image[None, :, :, None]))[0, :, :, 0]
    assert np.array_equal(maps[0], reference)
    assert all(np.float32(plain_number(v)) == v for v in maps[0].flat)  # JSON numbers read back exactly


@pytest.mark.parametrize("rows, message", [
    ("1 2 3\n4 5\n", "line 2 has 2 numbers"),
    ("1 2\n3 x\n", "'x' is not a number"),
    ("\n\n", "no rows of numbers"),
])
def test_bad_matrix_files(tmp_path, rows, message):
    (tmp_path / "m.txt").write_text(rows)
    with pytest.raises(UsageError, match=message):
        read_matrix(tmp_path / "m.txt")


def test_convolve_bad_inputs_from_the_cli(tmp_path, capsys):
    image = write_rows(tmp_path / "i.txt", [[1, 2], [3, 4]])
    big = write_rows(tmp_path / "big.txt", [[1, 1, 1]] * 3)
    ragged = tmp_path / "r.txt"
    ragged.write_text("1 2\n3\n")
    for kernel, text in ((big, "larger than the 2x2 image"), (ragged, "line 2 has 1 numbers"),
                         (tmp_path / "none.txt", "no such file")):
        done = run_in_process(capsys, "xo", "convolve", "--image", image, "--kernel", kernel)
        assert done.returncode != 0 and text in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_train_on_generated_cells_then_predict_and_explain(trained_xo, tmp_path, capsys):
    metadata = json.loads((trained_xo / "metadata.json").read_text())
    assert metadata["data"]["class_names"] == ["x", "o", "none"] and metadata["data"]["source"] == "generated"
    assert metadata["metrics"]["test"]["accuracy"] > 0.5  # 6 epochs of a tiny model on 600 cells: well above a third
    generate(tmp_path / "cells", 3, size=64, seed=99)
    done = run_in_process(capsys, "xo", "predict", *sorted((tmp_path / "cells").glob("*/*.png")),
                          "--model-path", trained_xo, "--json")
    assert done.returncode == 0, done.stderr
    assert {r["label"] for r in json.loads(done.stdout)} <= {"x", "o", "none"}
    picture = tmp_path / "explain.png"
    done = run_in_process(capsys, "xo", "explain", tmp_path / "cells" / "x" / "000000.png", "--model-path",
                          trained_xo, "--out", picture)
    assert done.returncode == 0, done.stderr
    assert picture.read_bytes()[:4] == b"\x89PNG"


def test_train_on_any_folder_of_class_folders(tmp_path, capsys):
    from PIL import Image

    for name in ("cross", "circle"):
        (tmp_path / "mine" / name).mkdir(parents=True)
        for index, cell in enumerate(generate_cells("x" if name == "cross" else "o", 10)):
            Image.fromarray(cell).convert("RGB").save(tmp_path / "mine" / name / f"{index}.jpg")
    output = tmp_path / "model"
    done = run_in_process(capsys, "xo", "train", "--quiet", "--data", tmp_path / "mine", "--output", output, *TINY_XO)
    assert done.returncode == 0, done.stderr
    assert json.loads((output / "metadata.json").read_text())["data"]["class_names"] == ["circle", "cross"]


def generate_cells(kind, count):
    return [draw_cell(kind, image_rng(11, kind, index), 32) for index in range(count)]


def test_train_on_a_user_folder_with_two_classes(tmp_path, capsys):
    generate(tmp_path / "mine", 30, size=40, seed=5, classes=["x", "o"])
    (tmp_path / "mine" / "x" / "notes.txt").write_text("ignored: not an image")
    output = tmp_path / "model"
    done = run_in_process(capsys, "xo", "train", "--quiet", "--data", tmp_path / "mine", "--classes", "x,o",
                          "--output", output, *TINY_XO)
    assert done.returncode == 0, done.stderr
    metadata = json.loads((output / "metadata.json").read_text())
    assert metadata["data"]["class_names"] == ["x", "o"]
    assert metadata["metrics"]["test"]["examples"] == 12  # 20% of 30 per class


def test_generate_refuses_unknown_classes(tmp_path, capsys):
    done = run_in_process(capsys, "xo", "generate", "--out", tmp_path, "--count", "2", "--classes", "x,triangle")
    assert done.returncode == 2 and "cannot draw class(es) triangle" in done.stderr
    assert not (tmp_path / "x").exists()  # refused before drawing anything


def test_bad_folders(tmp_path, capsys):
    (tmp_path / "data" / "x").mkdir(parents=True)
    (tmp_path / "data" / "o").mkdir()
    generate(tmp_path / "data", 2, seed=1, classes=["x"])
    for args, text in (([tmp_path / "nowhere"], "no such directory"),
                       ([tmp_path / "data"], "class folder"),  # o/ is empty
                       ([tmp_path / "data", "--classes", "x,o,none"], "no class folder 'none'")):
        done = run_in_process(capsys, "xo", "train", "--data", *args, *TINY_XO)
        assert done.returncode != 0 and text in done.stderr and len(done.stderr.strip().splitlines()) == 1
