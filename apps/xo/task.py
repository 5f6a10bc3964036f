"""X-vs-O: read a hand-drawn tic-tac-toe cell (X, O, or empty/scribbled) with a small CNN,
plus two teaching tools: what the first convolutions see, and convolution by hand.

    nnkit xo generate --out cells --count 500     # procedural training data, no download
    nnkit xo train                                # on generated data (or --data my_folder)
    nnkit xo predict photo_of_cell.jpg
    nnkit xo explain cell.png --out explain.png
    nnkit xo convolve --image img.txt --kernel edge.txt --pool 2
    nnkit xo board photo_of_a_game.jpg --move      # find the 3x3 grid, read the nine cells, play
"""

from pathlib import Path

import click
import numpy as np

from nnkit.apps.xo.cells import resize_cell
from nnkit.cli.options import model_path_option
from nnkit.config_rules import Rule, at_least, within
from nnkit.errors import UsageError
from nnkit.families.image_classification import ImageClassificationTask, ImagePredictor
from nnkit.task import Splits


def parse_classes(text):
    """'x,o' -> ['x', 'o']; None stays None (all classes)."""
    if text is None:
        return None
    classes = [name.strip() for name in str(text).split(",") if name.strip()]
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise UsageError(f"config key 'data.classes' needs two or more distinct class names, got {text!r}")
    return classes


def generated_split(classes, per_class, size, seed):
    from nnkit.apps.xo.drawing import check_drawable, draw_cell, image_rng

    check_drawable(classes)
    images = [draw_cell(kind, image_rng(seed, kind, index), size) for kind in classes for index in range(per_class)]
    labels = np.repeat(np.arange(len(classes)), per_class)
    return np.stack(images), labels


class XoTask(ImageClassificationTask):
    name = "xo"
    train_flags = {"classes": (("data", "classes"), {"help": "Classes to learn, e.g. x,o (data.classes); "
                                                              "default x,o,none, or every class folder of --data."})}
    data_help = "Image folder of class_name/*.png|jpg (default: generated cells)."
    # --data names the folder itself: there is no canonical dataset to hold (nnkit.data.image_folder reads it).
    data_layout = "a folder of class folders of images, class_name/*.png|jpg (x/, o/, none/ ...)"
    config_rules = {
        **ImageClassificationTask.config_rules,
        "data.classes": Rule(kind=str),  # null: every class (see parse_classes)
        "data.image_size": within(8, 512),
        "data.generated_train_per_class": at_least(1),
        "data.generated_test_per_class": at_least(1),
    }

    def check_config(self, config):
        super().check_config(config)
        parse_classes(config["data"]["classes"])

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        from nnkit.data.image_folder import load_image_folder, stratified_split

        data, seed = config["data"], config["seed"]
        classes = parse_classes(data["classes"])
        size = data["image_size"]
        if data_dir:  # a user's folder: class_name/*.png, split here with the seed
            images, labels, classes = load_image_folder(data_dir, lambda gray: resize_cell(gray, size), classes)
            kept, test = stratified_split(labels, data["test_fraction"], seed)
            arrays = {"train": (images[kept], labels[kept]), "test": (images[test], labels[test])}
            source = str(Path(data_dir).resolve())
        else:  # generated: disjoint seeds for the training and test images
            from nnkit.apps.xo.drawing import CLASSES

            classes = classes or list(CLASSES)
            arrays = {split: generated_split(classes, data[f"generated_{split}_per_class"], size, seed + offset)
                      for split, offset in (("train", 0), ("test", 1_000_003)) if split in splits}
            source = "generated"
        train = validation = None
        if "train" in splits:
            images, labels = arrays["train"]
            kept, held_out = stratified_split(labels, data["validation_fraction"], seed)
            train = (images[kept], labels[kept])
            validation = (images[held_out], labels[held_out]) if len(held_out) else None
        info = {"source": source, "class_names": classes, "input_shape": [size, size, 1]}
        return Splits(train=train, validation=validation, test=arrays.get("test"), info=info)

    def evaluation_data(self, config, info, data_dir=None):
        """A folder other than the one trained on is scored whole; the training folder (or
        generated data) by its held-out test split."""
        from nnkit.data.image_folder import load_image_folder

        if data_dir and str(Path(data_dir).resolve()) != info["source"]:
            size = info["input_shape"][0]
            images, labels, names = load_image_folder(data_dir, lambda gray: resize_cell(gray, size))
            unknown = [name for name in names if name not in info["class_names"]]
            if unknown:
                raise UsageError(f"'{data_dir}' has class folder(s) {', '.join(unknown)} that the model does not "
                                 f"know (its classes: {', '.join(info['class_names'])})")
            # The folder may hold only some of the model's classes: label by the model's order.
            return images, np.array([info["class_names"].index(names[label]) for label in labels])
        return super().evaluation_data(config, info, data_dir)

    image_preparation = ("Luminance 0..255 of the cell, resized to the model's side with Lanczos filtering "
                         "(nnkit.apps.xo.cells.resize_cell), any polarity")

    def normalize(self, gray, info):
        return resize_cell(gray, info["input_shape"][0])

    def make_predictor(self, model, metadata):
        return XoPredictor(self, model, metadata)

    def commands(self):
        return [*super().commands(), generate_command, explain_command, convolve_command, board_command]


class XoPredictor(ImagePredictor):
    """The cell classifier, and whole boards read from photos with it (nnkit.apps.xo.board)."""

    def read_board(self, photos, move=False):
        """One dict per photo (a path, a PIL image or an array; one alone needs no list): the
        board, each cell's label ('x', 'o' or '' for empty) and probability, the grid's corners
        and crossings in the photo, whose turn it is, the winner, and with `move` the best move.
        A photo without a grid raises NnkitError."""
        from PIL import Image

        from nnkit.apps.xo.board import read_board
        from nnkit.raw_inputs import input_list

        photos = input_list(photos, single=(str, Path, Image.Image, np.ndarray))
        return [read_board(self, photo, photo_name(photo, index), bool(move)) for index, photo in enumerate(photos)]


def photo_name(photo, index):
    return str(photo) if isinstance(photo, (str, Path)) else f"photos[{index}]"


@click.command("generate")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write DIR/<class>/*.png into.")
@click.option("--count", required=True, type=click.IntRange(min=1), help="Images per class.")
@click.option("--size", default=28, show_default=True, type=click.IntRange(min=8, max=512), help="Side in pixels.")
@click.option("--seed", default=0, show_default=True, type=int, help="Same seed, same images.")
@click.option("--classes", default="x,o,none", show_default=True, help="Which classes to draw.")
def generate_command(out, count, size, seed, classes):
    """Draw hand-drawn-looking X, O and empty/scribbled cells as a labelled image folder."""
    from nnkit.apps.xo.drawing import generate

    written = generate(out, count, size=size, seed=seed, classes=parse_classes(classes))
    click.echo(f"Wrote {sum(written.values())} images to {out}: "
               + ", ".join(f"{name} {n}" for name, n in written.items()))


@click.command("explain")
@click.argument("image", type=click.Path())
@model_path_option("xo")
@click.option("--out", type=click.Path(dir_okay=False), help="PNG to write (default: IMAGE_explain.png).")
def explain_command(image, model_path, out):
    """Picture what the first convolution layers respond to: the input, the learned 3x3
    kernels and their feature maps."""
    from nnkit.backend import import_keras_quietly

    import_keras_quietly()
    from nnkit.saving import load_predictor
    from nnkit.apps.xo.visualize import plot_first_convolutions

    predictor = load_predictor(model_path, expected_task="xo", runtime="keras")  # it draws the Keras layers' maps
    batch = predictor.preprocess([image])
    out = out or str(Path(image).with_name(Path(image).stem + "_explain.png"))
    result = predictor.classify(batch, [image])[0]
    plot_first_convolutions(predictor.model, batch, out, title=f"{Path(image).name}: {result['label']} ({result['probability']:.3f})")
    click.echo(f"{image}: {result['label']} ({result['probability']:.3f}); wrote {out}")


@click.command("convolve")
@click.option("--image", "image_file", required=True, type=click.Path(dir_okay=False), help="Text file: rows of numbers.")
@click.option("--kernel", "kernel_files", required=True, multiple=True, type=click.Path(dir_okay=False),
              help="Text file: rows of numbers (repeatable).")
@click.option("--stride", default=1, show_default=True, type=click.IntRange(min=1))
@click.option("--padding", default="valid", show_default=True, type=click.Choice(["valid", "same"]))
@click.option("--pool", type=click.IntRange(min=1), help="Also max-pool each feature map, P x P with stride P.")
@click.option("--json", "as_json", is_flag=True, help='Print {"feature_maps": [...], "pooled": [...]}.')
def convolve_command(image_file, kernel_files, stride, padding, pool, as_json):
    """Apply hand-written kernels to a hand-written image with a Keras Conv2D (and MaxPooling2D)."""
    import json

    from nnkit.backend import import_keras_quietly
    from nnkit.apps.xo.convolution import as_json_lists, convolve, format_map, read_matrix

    image = read_matrix(image_file)
    kernels = [read_matrix(path) for path in kernel_files]
    import_keras_quietly()
    feature_maps, pooled = convolve(image, kernels, stride=stride, padding=padding, pool=pool)
    if as_json:
        click.echo(json.dumps({"feature_maps": as_json_lists(feature_maps), "pooled": as_json_lists(pooled)}))
        return
    for index, path in enumerate(kernel_files):
        click.echo(f"kernel {index + 1} ({path}): feature map {feature_maps[index].shape[0]}x{feature_maps[index].shape[1]}")
        click.echo(format_map(feature_maps[index]))
        if pool:
            click.echo(f"max-pooled {pool}x{pool}:")
            click.echo(format_map(pooled[index]))


@click.command("board")
@click.argument("photos", nargs=-1, required=True, type=click.Path(dir_okay=False), metavar="PHOTO...")
@model_path_option("xo")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: each cell's label and probability, the grid's "
                                                       "corners, turn, winner (and move).")
@click.option("--move", is_flag=True, help="Also give the best next move (exact game search).")
@click.option("--debug-image", type=click.Path(dir_okay=False),
              help="Draw the grid found and the labels on the photo, into this PNG (with several photos: "
                   "OUT_<photo name>.png).")
def board_command(photos, model_path, as_json, move, debug_image):
    """Read a tic-tac-toe board from a photo: find the 3x3 grid (at an angle, in perspective, on
    squared paper or a whiteboard), classify its nine cells, say whose turn it is and who won."""
    import json

    from nnkit.apps.xo.board import write_debug_image
    from nnkit.apps.xo.game import board_text
    from nnkit.cli.predict import load_predictor_of

    predictor = load_predictor_of(TASK, model_path)
    results = []
    for photo in photos:
        result = predictor.read_board([photo], move=move)[0]
        if debug_image:
            out = Path(debug_image)
            if len(photos) > 1:
                out = out.with_name(f"{out.stem}_{Path(photo).stem}{out.suffix or '.png'}")
            write_debug_image(photo, photo, result, out)
        results.append(result)
        if not as_json:
            click.echo(board_text(result))
    if as_json:
        click.echo(json.dumps(results, indent=2))


TASK = XoTask()
