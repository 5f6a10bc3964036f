"""Image captioning with a CNN encoder and an attention RNN decoder (Flickr8k).

    nnkit caption train --encoder small-cnn --cell lstm
    nnkit caption evaluate --beam-size 3         # BLEU-1..4 on the test photos, five references each
    nnkit caption predict photo.jpg --attention-plot where.png

The encoder turns a photo into a grid of feature vectors; the decoder writes the caption word
by word, attending over the grid. The encoder is trained first (or comes with ImageNet
weights) and then frozen, so its grids are computed once and every epoch trains the decoder.
"""

import sys
from pathlib import Path

import click
import numpy as np

from nnkit.apps.caption.data import LAYOUT
from nnkit.config_rules import FRACTION, above, at_least, one_of
from nnkit.errors import NnkitError, UsageError
from nnkit.models import ATTENTIONS, SEQ2SEQ_CELLS as CELLS
from nnkit.task import Splits, Task


def read_photos_and_captions(config, data_dir, splits):
    """({split: (photos (n, size, size, 3) uint8, photo names, captions as word lists per photo)},
    what was held out of the user's data or None). A photo with no captions, missing from the
    store or unreadable is skipped, with a note."""
    from nnkit.apps.caption.text import caption_words
    from nnkit.apps.caption.data import caption_splits, load_photos, tfds_caption_splits
    from nnkit.data.tfds_source import is_tfds

    data = config["data"]
    if is_tfds(data.get("source")):  # (configs saved before the key have none)
        named, held_out = tfds_caption_splits(data["source"], splits, data, config["seed"])
    else:
        named, held_out = caption_splits(data_dir, splits, data, config["seed"])
    limits = {"train": data["train_limit"], "valid": data["test_limit"], "test": data["test_limit"]}
    read = {}
    for split, (names, captions, store) in named.items():
        names = names[: limits[split] or None]
        uncaptioned = [name for name in names if name not in captions]
        photos, kept, skipped = load_photos(store, [name for name in names if name in captions], data["image_size"])
        problems = {"without captions": uncaptioned, **skipped}
        if any(problems.values()):
            counts = ", ".join(f"{len(found)} {problem}" for problem, found in problems.items() if found)
            print(f"note: skipped photos of the {split} split in '{store.where}': {counts}", file=sys.stderr)
        if not kept:
            raise NnkitError(f"no usable photos in the {split} split (of {len(names)} listed)")
        read[split] = (photos, kept, [[caption_words(caption) for caption in captions[name]] for name in kept])
    return read, held_out


class CaptionTest:
    """What `evaluate` scores: photos, their reference captions (word lists), how to decode."""

    def __init__(self, photos, names, references, decoding):
        self.photos, self.names, self.references, self.decoding = photos, names, references, decoding


class CaptionTask(Task):
    name = "caption"
    architectures = CELLS
    data_help = ("The Flickr8k folder, or a data directory holding flickr8k/ (default $NNKIT_DATA_DIR), or a folder "
                 "of images with a captions file (image<TAB>caption lines, CSV or COCO JSON), or that file; or "
                 "tfds:NAME[/CONFIG], a TensorFlow Datasets entry with images and captions.")
    data_metavar = "DIR|FILE|tfds:NAME"
    data_layout = LAYOUT
    train_flags = {
        "encoder": (("model", "encoder"), {
            "help": "small-cnn or resnet (pretrained by nnkit on the training photos, offline), or "
                    "keras-app:NAME (a keras.applications network with ImageNet weights, e.g. keras-app:ResNet50)."}),
        "image_size": (("data", "image_size"), {"type": click.IntRange(min=16), "help": "Photos are resized to N x N."}),
        "cell": (("model", "architecture"), {"type": click.Choice(CELLS), "help": "Decoder cell (as --model)."}),
        "attention": (("model", "attention"), {"type": click.Choice(ATTENTIONS), "help": "Attention score."}),
    }
    evaluation_options = {
        "beam_size": (("decoding", "beam_size"), {"type": click.IntRange(min=1), "help": "Beams (1: greedy)."}),
    }
    config_rules = {
        "data.image_size": at_least(16),
        "model.encoder_width": at_least(1),
        "model.architecture": one_of(CELLS),
        "model.attention": one_of(ATTENTIONS),
        "pretraining.epochs": at_least(1),
        "pretraining.batch_size": at_least(1),
        "pretraining.learning_rate": above(0),
        "pretraining.concepts": at_least(1),
        "pretraining.min_photos": at_least(1),
        "pretraining.shift": FRACTION,
        "pretraining.dropout": FRACTION,
        "pretraining.early_stopping_patience": at_least(0),
        "decoding.beam_size": at_least(1),
        "decoding.length_penalty": at_least(0),
        "decoding.max_length": at_least(1),
    }

    def check_config(self, config):
        """The data source, and the encoder: one nnkit pretrains (on photos of 32 px or more), or a
        keras.applications network."""
        from nnkit.backend import import_keras_quietly
        from nnkit.data.tfds_source import is_tfds

        source = config["data"].get("source", "flickr8k")  # (configs saved before the key have none)
        if source != "flickr8k" and not is_tfds(source):
            raise UsageError(f"config key 'data.source' must be flickr8k (the data directory or --data DIR|FILE) or "
                             f"tfds:NAME[/CONFIG], got {source!r}")
        keras = import_keras_quietly()  # before the model module imports it, so that TensorFlow's notices stay quiet
        from nnkit.apps.caption.model import ENCODERS, KERAS_APPLICATION

        encoder, size = config["model"]["encoder"], config["data"]["image_size"]
        if encoder.startswith(KERAS_APPLICATION):
            name = encoder[len(KERAS_APPLICATION):]
            if not (name[:1].isupper() and callable(getattr(keras.applications, name, None))):
                raise UsageError(f"config key 'model.encoder': {encoder!r} names no network of keras.applications "
                                 "(keras-app:ResNet50, keras-app:MobileNetV2, ...)")
        elif encoder not in ENCODERS:
            raise UsageError(f"config key 'model.encoder' must be one of {', '.join(ENCODERS)}, got {encoder!r}")
        elif size < 32:
            raise UsageError(f"config key 'data.image_size' must be at least 32 for the {encoder} encoder, got {size}")

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        from nnkit.apps.caption.text import SPECIALS
        from nnkit.text.sentences import build_vocabulary, encode

        wanted = (*splits, "valid") if "train" in splits else splits
        read, held_out = read_photos_and_captions(config, data_dir, wanted)
        test = CaptionTest(*read["test"], config["decoding"]) if "test" in read else None
        if "train" not in splits:
            return Splits(train=None, validation=None, test=test)

        data = config["data"]
        words = build_vocabulary([caption for per_photo in read["train"][2] for caption in per_photo],
                                 data["min_count"], data["max_vocabulary"], SPECIALS)
        info = {"words": words, "image_size": data["image_size"], "model": config["model"],
                "train_photos": len(read["train"][1]), **({"held_out": held_out} if held_out else {})}

        def arrays(captions_per_photo):  # teacher forcing: read <start> w1..wn, predict w1..wn <end>
            pairs = [(row, caption) for row, captions in enumerate(captions_per_photo) for caption in captions
                     if 0 < len(caption) <= data["max_length"]]
            rows, captions = [row for row, _ in pairs], [caption for _, caption in pairs]
            return ({"previous_words": encode(captions, words, add_bos=True), "photo_row": np.asarray(rows)},
                    {"words": encode(captions, words, add_eos=True)})

        photos = {split: read[split][0] for split in ("train", "valid")}
        captions = {split: read[split][2] for split in ("train", "valid")}
        return Splits(train=arrays(captions["train"]), validation=arrays(captions["valid"]), test=test, info=info,
                      extras={"photos": photos, "captions": captions})

    def prepare(self, config, splits, work_dir, verbose):
        """Pretrain the encoder (or reuse the one a killed run pretrained), freeze it, and
        cache its grids of the training and validation photos."""
        import json

        import keras

        from nnkit.apps.caption.pretraining import pretrain_encoder
        from nnkit.apps.caption.model import build_image_encoder, needs_pretraining
        from nnkit.saving import atomic_path, write_json

        encoder_file, summary_file = work_dir / "image_encoder.keras", work_dir / "pretraining.json"
        if encoder_file.is_file() and summary_file.is_file():
            encoder = keras.saving.load_model(encoder_file, compile=False)
            summary = json.loads(summary_file.read_text())
        else:
            encoder = build_image_encoder(config["model"], config["data"]["image_size"])
            summary = None
            if needs_pretraining(config["model"]["encoder"]):
                summary = pretrain_encoder(encoder, config["pretraining"], splits.extras["photos"],
                                           splits.extras["captions"], config["seed"], verbose)
            work_dir.mkdir(parents=True, exist_ok=True)
            with atomic_path(encoder_file) as temporary:
                encoder.save(temporary)
            write_json(summary, summary_file)
        encoder.trainable = False
        features = {split: encoder.predict(photos, batch_size=64, verbose=0)
                    for split, photos in splits.extras["photos"].items()}
        splits.extras.update(encoder=encoder, features=features)
        splits.info.update(feature_shape=list(features["train"].shape[1:]), encoder_pretraining=summary)
        return splits

    def preparation_config(self, config):
        model = config["model"]
        return {"seed": config["seed"], "data": config["data"], "pretraining": config["pretraining"],
                "encoder": model["encoder"], "encoder_width": model["encoder_width"]}

    def fit_arguments(self, splits, batch_size, seed):
        from nnkit.data.batching import LookupBatches

        def batches(split, arrays, shuffle):  # each caption looks its photo's grid up
            inputs, targets = arrays
            return LookupBatches(splits.extras["features"][split], "photo_row", "image_features", inputs, targets,
                                 (targets["words"] != 0).sum(axis=1), batch_size, shuffle=shuffle, seed=seed)

        return {"x": batches("train", splits.train, True), "validation_data": batches("valid", splits.validation, False)}

    def build_model(self, config, info):
        from nnkit.apps.caption.model import build_caption_trainer

        return build_caption_trainer(config["model"], info["feature_shape"], len(info["words"]))

    def finish(self, config, model, splits):
        from nnkit.apps.caption.model import build_captioner

        return build_captioner(model, splits.extras["encoder"], config["model"], name=self.name)

    def compile_options(self, config):
        import keras

        # Padding (id 0) is no word to predict.
        return {"loss": {"words": keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)}}

    def evaluate(self, model, test, info):
        from nnkit.apps.caption.text import corpus_bleu

        results = Captioner(self, self.keras_decoder(model, info), info, test.decoding).caption(test.photos)
        hypotheses = [result["captions"][0]["text"] for result in results]
        bleu = corpus_bleu([hypothesis.split() for hypothesis in hypotheses], test.references)
        return {**bleu, "beam_size": test.decoding["beam_size"], "photos": len(hypotheses),
                "references": max(len(references) for references in test.references),
                "distinct_captions": len(set(hypotheses)), "examples": [
                    {"photo": name, "caption": hypothesis, "reference": " ".join(references[0])}
                    for name, hypothesis, references in list(zip(test.names, hypotheses, test.references))[:5]]}

    def format_report(self, metrics):
        scores = " ".join(f"BLEU-{n} {metrics[f'bleu_{n}']:.3f}" for n in (1, 2, 3, 4))
        lines = [f"{scores} on {metrics['photos']:,} photos ({metrics['references']} references each), beam size "
                 f"{metrics['beam_size']}; {metrics['distinct_captions']:,} distinct captions"]
        for example in metrics.get("examples", [])[:3]:
            lines += [f"  {example['photo']}: {example['caption']}", f"  {'reference:':>{len(example['photo']) + 1}} "
                      f"{example['reference']}"]
        return "\n".join(lines)

    def make_predictor(self, model, metadata):
        info = metadata["data"]
        return Captioner(self, self.keras_decoder(model, info), info, metadata["config"]["decoding"])

    def make_onnx_predictor(self, artifacts, metadata):
        from nnkit.runtime.onnx import OnnxStepDecoder

        # As CaptionDecoder.step: never <pad>, <unk> or <start> (ids 0-2).
        decoder = OnnxStepDecoder(artifacts["encoder"], artifacts["decoder_step"], never_written=range(3))
        return Captioner(self, decoder, metadata["data"], metadata["config"]["decoding"])

    def keras_decoder(self, model, info):
        from nnkit.apps.caption.model import CaptionDecoder

        return CaptionDecoder(model, info["model"])

    def export_plan(self, model, metadata):
        from nnkit.apps.caption.text import END, START
        from nnkit.export.graphs import BEAM_SEARCH_NOTE, decoder_step_artifact, state_names, uint8_images
        from nnkit.apps.caption.model import CaptionDecoder
        from nnkit.task import ExportArtifact, ExportPlan

        info = metadata["data"]
        decoder = CaptionDecoder(model, info["model"])
        size, words = info["image_size"], info["words"]
        photos = np.random.default_rng(0).integers(0, 256, (3, size, size, 3), dtype=np.uint8)
        encoder = ExportArtifact(
            "encoder", uint8_images(decoder.encoder, "image", ["memory", *state_names(decoder.state_count)]),
            {"image": photos}, f"An RGB photo, uint8 (n, {size}, {size}, 3) -> the memory the decoder attends "
            "over (n, grid cells, features) and the decoder's first states.")
        step = decoder_step_artifact(decoder, decoder.encode(photos), len(words), words.index(START))
        processing = {
            "image": f"RGB, resized to {size}x{size} with Lanczos filtering (nnkit.data.photos.photo_array)",
            "memory_mask": "all true: every cell of the grid is real",
            "words": "metadata.json data.words: id = position; a caption is its words joined by spaces",
            "start": words.index(START), "end": words.index(END),
            "never_written": "nnkit sets the logits of ids 0-2 (<pad>, <unk>, <start>) to -1e9 before choosing, "
                             "and does not let <end> be the first word",
            "decoding": metadata["config"]["decoding"],
            "beam_search": "hypotheses ranked by log-probability / ((5 + length) / 6) ** length_penalty (GNMT), at "
                           "most max_length words (nnkit.models.decoding.beam_search)",
        }
        return ExportPlan([encoder, step], processing, [BEAM_SEARCH_NOTE])

    def commands(self):
        return [predict_command(self)]


class Captioner:
    """A saved captioning model that takes photos (uint8 arrays or image files)."""

    def __init__(self, task, decoder, info, decoding):
        # `decoder` encodes photos and steps (nnkit.models.decoding): the Keras model's or the ONNX artifacts'.
        self.task, self.info, self.decoding, self.decoder = task, info, decoding, decoder

    def read(self, images):
        """Image files, PIL images or arrays (any size and mode) -> (n, size, size, 3) uint8."""
        from PIL import Image

        from nnkit.data.photos import photo_array, read_photo
        from nnkit.raw_inputs import image_array

        size = self.info["image_size"]

        def photo(index, image):
            if isinstance(image, Image.Image):
                return photo_array(image, size)
            if isinstance(image, (str, Path)):
                return read_photo(image, size)
            array = image_array(image, f"inputs[{index}]")
            array = array[..., 0] if array.ndim == 3 and array.shape[-1] == 1 else array  # Pillow has no (h, w, 1)
            return photo_array(Image.fromarray(np.clip(array, 0, 255).astype(np.uint8)), size)

        return np.stack([photo(index, image) for index, image in enumerate(images)])

    def predict(self, inputs, beam_size=None, n_best=1, **unknown):
        """[{"input", "caption", "captions"}] per image: a file path, a PIL image or an array
        (one alone needs no list)."""
        from PIL import Image

        from nnkit.raw_inputs import input_list, no_other_options, positive_integer

        no_other_options(unknown, "beam_size", "n_best")
        images = input_list(inputs, single=(str, Path, Image.Image, np.ndarray))
        results = self.caption(self.read(images), beam_size=positive_integer("beam_size", beam_size, optional=True),
                               n_best=positive_integer("n_best", n_best))
        return [{"input": str(image) if isinstance(image, (str, Path)) else None,
                 "caption": result["captions"][0]["text"], **result} for image, result in zip(images, results)]

    def caption(self, photos, beam_size=None, n_best=1, batch_size=64):
        """One dict per photo: its `n_best` captions (text, words, log-probability,
        length-normalised score, attention over the grid per word), best first."""
        from nnkit.apps.caption.text import END, START
        from nnkit.models.decoding import beam_search

        beam_size = beam_size or self.decoding["beam_size"]
        if n_best > beam_size:
            raise UsageError(f"--n-best {n_best} needs at least as many beams (--beam-size {beam_size})")
        words, results = self.info["words"], []
        for start in range(0, len(photos), batch_size):
            found = beam_search(self.decoder, photos[start: start + batch_size], words.index(START),
                                words.index(END), self.decoding["max_length"], beam_size=beam_size,
                                alpha=self.decoding["length_penalty"], n_best=n_best, min_length=1)
            results += [{"captions": [{"text": " ".join(words[i] for i in h.words), "words": [words[i] for i in h.words],
                                       "log_probability": h.log_probability, "score": h.score,
                                       "attention": [[round(float(w), 5) for w in row] for row in h.attention]}
                                      for h in hypotheses]} for hypotheses in found]
        return results


def plot_attention(photo, result, path):
    """The photo once per word of the best caption, left bright where the model looked."""
    from PIL import Image

    from nnkit.training.reports import _pyplot, _save

    best = result["captions"][0]
    if not best["attention"]:
        raise UsageError("this model has no attention to plot (it was trained with --attention none)")
    plt = _pyplot()
    labels = [*best["words"], "<end>"][: len(best["attention"])]
    columns = min(5, len(labels))
    rows = -(-len(labels) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    side = int(round(len(best["attention"][0]) ** 0.5))  # the grid is square, as the photo is
    for axis in axes.flat:
        axis.axis("off")
    for axis, label, weights in zip(axes.flat, labels, best["attention"]):
        heat = np.asarray(weights, np.float32).reshape(side, side)
        heat = Image.fromarray(heat / (heat.max() or 1.0)).resize(photo.shape[1::-1], Image.BILINEAR)
        shade = np.zeros((*photo.shape[:2], 4), np.float32)
        shade[..., 3] = 0.8 * (1.0 - np.asarray(heat))  # darken where the model did not look
        axis.imshow(photo)
        axis.imshow(shade)
        axis.set_title(label, fontsize=9)
    _save(figure, path)


def predict_command(task):
    from nnkit.cli.options import model_path_option, runtime_option

    @click.command("predict")
    @click.argument("images", nargs=-1, required=True, metavar="IMAGE...")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--beam-size", type=click.IntRange(min=1), help="Beams (default: the model's decoding.beam_size; 1 is greedy).")
    @click.option("--n-best", type=click.IntRange(min=1), default=1, show_default=True, help="Captions per photo.")
    @click.option("--attention-plot", type=click.Path(dir_okay=False), help="Draw where the model looked for each word of the first photo (PNG).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON, with scores and attention.")
    def predict(images, model_path, runtime, beam_size, n_best, attention_plot, as_json):
        """Caption each IMAGE (a directory: every image file in it)."""
        import json

        from nnkit.cli.predict import load_predictor_of
        from nnkit.data.images import expand_image_paths

        paths = expand_image_paths(images)
        captioner = load_predictor_of(task, model_path, runtime)
        results = captioner.predict(paths, beam_size=beam_size, n_best=n_best)
        if attention_plot:
            plot_attention(captioner.read(paths[:1])[0], results[0], attention_plot)
        if as_json:
            click.echo(json.dumps([{"image": str(path), **result} for path, result in zip(paths, results)], indent=2))
            return
        for path, result in zip(paths, results):
            if n_best == 1:
                click.echo(f"{path}: {result['captions'][0]['text']}")
                continue
            click.echo(str(path))
            for caption in result["captions"]:
                click.echo(f"  {caption['text']}  ({caption['score']:.2f})")

    return predict


TASK = CaptionTask()
