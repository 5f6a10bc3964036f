"""What every image-classification app shares: model, metrics, and a predictor that reads
real image files. An app adds its data and the way a raw image is normalised."""

from pathlib import Path

import click
import numpy as np

from nnkit.cli.options import model_path_option, runtime_option
from nnkit.config_rules import FRACTION, at_least, one_of
from nnkit.errors import NnkitError, UsageError
from nnkit.models import FILL_MODES, INPUT_NORMALIZATIONS, PADDINGS, POOLINGS
from nnkit.task import Task

# The names of models.vision.ARCHITECTURES, spelled out so that `--help` needs no Keras.
ARCHITECTURES = ("mlp", "lenet5", "alexnet", "vgg", "resnet", "cnn")


class ImageClassificationTask(Task):
    architectures = ARCHITECTURES
    config_rules = {
        "model.architecture": one_of(ARCHITECTURES),
        "model.input_normalization": one_of(INPUT_NORMALIZATIONS),
        "model.width": at_least(1),
        "model.padding": one_of(PADDINGS),
        "model.stride": at_least(1),
        "model.pooling": one_of(POOLINGS),
        "model.dense_units": at_least(1),
        "augmentation.rotation_degrees": at_least(0),  # 0: no rotation
        "augmentation.shift": FRACTION,
        "augmentation.zoom": FRACTION,
        "augmentation.fill_mode": one_of(FILL_MODES),
    }
    evaluation_figures = {"confusion_matrix": "Write a confusion-matrix PNG here."}
    # How a raw image becomes the model's input, for other runtimes (see `export_plan`).
    image_preparation = ""

    def normalize(self, gray, info):
        """Turn a luminance array (0..255, any size) into the model's input image (uint8);
        `info` is what the model recorded about its data (input shape, classes ...)."""
        raise NotImplementedError

    def check_config(self, config):
        """Keras names the activations and initializers it knows: ask it (training loads it anyway)."""
        from nnkit.backend import import_keras_quietly

        keras = import_keras_quietly()
        known = {"activation": keras.activations, "kernel_initializer": keras.initializers}
        for key, names in known.items():
            try:
                names.get(config["model"][key])
            except (ValueError, TypeError):
                raise UsageError(f"config key 'model.{key}' must be a name in {names.__name__}, "
                                 f"got {config['model'][key]!r}")

    def build_model(self, config, info):
        from nnkit.models.vision import build_image_classifier

        return build_image_classifier(
            tuple(info["input_shape"]), len(info["class_names"]), config["model"],
            config["augmentation"], config["seed"], name=self.name,
        )

    def compile_options(self, config):
        return {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]}

    def evaluate(self, model, test, info):
        from nnkit.training.reports import classification_metrics

        images, labels = test
        probabilities = model.predict(images, batch_size=512, verbose=0)
        return classification_metrics(labels, probabilities.argmax(axis=1), info["class_names"])

    def format_report(self, metrics):
        from nnkit.training.reports import format_classification_report

        return format_classification_report(metrics)

    def write_figure(self, figure, path, metrics, metadata):
        from nnkit.training.reports import plot_confusion_matrix

        plot_confusion_matrix(metrics["confusion_matrix"], metadata["data"]["class_names"], path)

    def make_predictor(self, model, metadata):
        return ImagePredictor(self, model, metadata)

    def make_onnx_predictor(self, artifacts, metadata):
        # The predictors call the "model" artifact as they call the Keras model: uint8 images in,
        # probabilities out.
        return self.make_predictor(artifacts["model"], metadata)

    def export_plan(self, model, metadata):
        from nnkit.export.graphs import uint8_images
        from nnkit.task import ExportArtifact, ExportPlan

        height, width, channels = model.inputs[0].shape[1:]
        samples = np.random.default_rng(0).integers(0, 256, (4, height, width, channels), dtype=np.uint8)
        artifact = ExportArtifact("model", uint8_images(model, "image", ["probabilities"]), {"image": samples},
                                  f"A prepared grayscale image, uint8 (n, {height}, {width}, {channels}) -> "
                                  "class probabilities (n, classes), in the order of class_names.")
        processing = {"image": f"{self.image_preparation} (nnkit's predictor does this in Python before the "
                               "model; the model does its own scaling).",
                      "class_names": metadata["data"]["class_names"]}
        return ExportPlan([artifact], processing)

    def commands(self):
        return [predict_command(self)]

    def default_routes(self, serving):
        from nnkit.families.image_classification_serving import image_classification_routes

        return image_classification_routes(self, serving)


class ImagePredictor:
    """A saved image classifier that takes raw inputs: file paths, PIL images or arrays.
    `model` is the Keras model or its ONNX artifact (nnkit.runtime.onnx.OnnxModel)."""

    def __init__(self, task, model, metadata):
        self.task, self.model, self.metadata = task, model, metadata
        self.class_names = metadata["data"]["class_names"]

    def preprocess(self, inputs):
        """Raw inputs -> a batch of normalised images, shape (n, height, width, 1)."""
        from nnkit.data.images import luminance, read_grayscale
        from nnkit.raw_inputs import image_array

        batch = []
        for index, item in enumerate(inputs):
            name = str(item)
            if isinstance(item, (str, Path)):
                gray = read_grayscale(item)
            elif hasattr(item, "mode") and hasattr(item, "size"):  # a PIL image
                gray = luminance(item)
            else:
                gray = image_array(item, f"inputs[{index}]")
                name = f"array {gray.shape}"
                if gray.ndim == 3:
                    gray = gray[..., :3].mean(axis=-1) if gray.shape[-1] != 1 else gray[..., 0]
            batch.append(self.prepare(gray, name))
        return np.stack(batch)

    def prepare(self, gray, name):
        """A luminance array -> the model's input image (height, width, 1); `name` says which
        input an error is about."""
        try:
            return self.task.normalize(gray, self.metadata["data"])[..., None]
        except NnkitError as error:
            raise NnkitError(f"{name}: {error}")

    def predict(self, inputs, top_k=1, **unknown):
        """One dict per input (a file path, a PIL image or an array; one alone needs no list):
        the label, its probability and the `top_k` best classes."""
        from PIL import Image

        from nnkit.raw_inputs import input_list, no_other_options, positive_integer

        no_other_options(unknown, "top_k")
        top_k = positive_integer("top_k", top_k)
        inputs = input_list(inputs, single=(str, Path, Image.Image, np.ndarray))
        return self.classify(self.preprocess(inputs), inputs, top_k)

    def classify(self, batch, inputs, top_k=1):
        """`predict` for a batch that `preprocess` already made from `inputs`."""
        from nnkit.models.prediction import predict_rows

        probabilities = predict_rows(self.model, batch)
        top_k = max(1, min(top_k, len(self.class_names)))
        results = []
        for item, row in zip(inputs, probabilities):
            best = np.argsort(-row)[:top_k]
            ranked = [{"label": self.class_names[i], "probability": float(row[i])} for i in best]
            source = str(item) if isinstance(item, (str, Path)) else None
            results.append({"input": source, **ranked[0], "top_k": ranked})
        return results


def predict_command(task):
    @click.command("predict")
    @click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--top-k", default=1, show_default=True, type=click.IntRange(min=1),
                  help="Show the K most likely classes.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
    def predict(images, model_path, runtime, top_k, as_json):
        """Classify image files (PNG/JPEG, any size, colour or gray, either polarity).
        A directory stands for the images inside it."""
        import json

        from nnkit.cli.predict import load_predictor_of
        from nnkit.data.images import expand_image_paths

        paths = expand_image_paths(images)
        predictor = load_predictor_of(task, model_path, runtime)
        results = predictor.predict(paths, top_k=top_k)
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        for result in results:
            ranked = ", ".join(f"{r['label']} ({r['probability']:.3f})" for r in result["top_k"])
            click.echo(f"{result['input']}: {ranked}")

    return predict
