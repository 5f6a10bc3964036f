"""What every image-classification app shares: model, metrics, and a predictor that reads
real image files. An app adds its data and the way a raw image is normalised."""

from pathlib import Path

import click
import numpy as np

from nnkit.cli.options import model_path_option
from nnkit.errors import NnkitError, UsageError
from nnkit.task import Task


class ImageClassificationTask(Task):
    # The names of models.vision.ARCHITECTURES, spelled out so that `--help` needs no Keras.
    architectures = ("mlp", "lenet5", "alexnet", "vgg", "resnet", "cnn")
    evaluation_figures = {"confusion_matrix": "Write a confusion-matrix PNG here."}
    # How a raw image becomes the model's input, for other runtimes (see `export_plan`).
    image_preparation = ""

    def normalize(self, gray, info):
        """Turn a luminance array (0..255, any size) into the model's input image (uint8);
        `info` is what the model recorded about its data (input shape, classes ...)."""
        raise NotImplementedError

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


class ImagePredictor:
    """A saved image classifier that takes raw inputs: file paths, PIL images or arrays."""

    def __init__(self, task, model, metadata):
        self.task, self.model, self.metadata = task, model, metadata
        self.class_names = metadata["data"]["class_names"]

    def preprocess(self, inputs):
        """Raw inputs -> a batch of normalised images, shape (n, height, width, 1)."""
        from nnkit.data.images import read_grayscale

        batch = []
        for item in inputs:
            name = str(item)
            if isinstance(item, (str, Path)):
                gray = read_grayscale(item)
            elif hasattr(item, "mode") and hasattr(item, "size"):  # a PIL image
                from nnkit.data.images import luminance

                gray = luminance(item)
            else:
                gray = np.asarray(item, dtype=np.float32)
                name = f"array {gray.shape}"
                if gray.ndim == 3 and gray.shape[-1] in (1, 3, 4):
                    gray = gray[..., :3].mean(axis=-1) if gray.shape[-1] != 1 else gray[..., 0]
                if gray.ndim != 2 or min(gray.shape) < 1:
                    raise UsageError(f"expected a 2-D grayscale or an RGB image array, got shape {gray.shape}")
            batch.append(self.prepare(gray, name))
        return np.stack(batch)

    def prepare(self, gray, name):
        """A luminance array -> the model's input image (height, width, 1); `name` says which
        input an error is about."""
        try:
            return self.task.normalize(gray, self.metadata["data"])[..., None]
        except NnkitError as error:
            raise NnkitError(f"{name}: {error}")

    def predict(self, inputs, top_k=1):
        """One dict per input: the label, its probability and the `top_k` best classes."""
        if isinstance(inputs, (str, Path)) or (isinstance(inputs, np.ndarray) and inputs.ndim == 2):
            inputs = [inputs]
        inputs = list(inputs)
        if not inputs:
            raise UsageError("nothing to predict: no inputs given")
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
    @click.option("--top-k", default=1, show_default=True, type=click.IntRange(min=1),
                  help="Show the K most likely classes.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
    def predict(images, model_path, top_k, as_json):
        """Classify image files (PNG/JPEG, any size, colour or gray, either polarity).
        A directory stands for the images inside it."""
        from nnkit.backend import import_keras_quietly

        import_keras_quietly()
        import json

        from nnkit.data.images import expand_image_paths
        from nnkit.saving import load_predictor

        paths = expand_image_paths(images)
        predictor = load_predictor(model_path, expected_task=task.name)
        results = predictor.predict(paths, top_k=top_k)
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        for result in results:
            ranked = ", ".join(f"{r['label']} ({r['probability']:.3f})" for r in result["top_k"])
            click.echo(f"{result['input']}: {ranked}")

    return predict
