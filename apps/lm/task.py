"""Word-level language modeling and text generation with recurrent networks (Penn Treebank).

    nnkit lm train --model lstm --layers 2 --units 200 --tie-weights --bptt 35
    nnkit lm evaluate                       # perplexity on the valid and test splits
    nnkit lm generate --prompt "the company said" --length 30 --temperature 0.8 --top-k 40
    nnkit lm score "the company said it expects higher earnings"
    nnkit lm predict "the stock market"     # the likeliest next words

The corpus is read as one long stream of words, `<eos>` at every line end, and trained on with
truncated backpropagation through time: consecutive windows of `bptt` words, the recurrent
state carried from one window to the next (stateful layers, reset at every epoch).
"""

import click
import numpy as np

from nnkit.apps.lm.data import LAYOUT
from nnkit.cli.predict import load_predictor_of, read_inputs
from nnkit.config_rules import Rule, at_least, one_of, within
from nnkit.data.tfds_source import is_tfds
from nnkit.errors import UsageError
from nnkit.models import CELL_TYPES
from nnkit.task import Splits, Task


def read_streams(config, data_dir, splits):
    """{split: word stream} for the splits asked for: from a TensorFlow Datasets entry (`data.source`
    tfds:NAME), from `data.text` files (their tail held out), from a folder with train.txt /
    valid.txt / test.txt, or from the data directory's ptb/."""
    from nnkit.apps.lm.data import corpus_files, hold_out, tfds_streams, word_stream
    from nnkit.data.files import read_lines

    data = config["data"]
    if is_tfds(data.get("source")):  # (configs saved before the key have none)
        return tfds_streams(data["source"], splits, data["text_feature"], data["lowercase"],
                            data["validation_fraction"], data["test_fraction"])
    if data["text"]:
        lines = [line for path in data["text"] for line in read_lines(path)]
        stream = word_stream(lines, data["lowercase"])
        if len(stream) < 2:
            raise UsageError(f"no words in {', '.join(data['text'])}")
        return hold_out(stream, data["validation_fraction"], data["test_fraction"])
    files = corpus_files(data_dir, splits)
    streams = {}
    for split in splits:
        streams[split] = word_stream(read_lines(files[split]), data["lowercase"])
        if len(streams[split]) < 2:
            raise UsageError(f"no words in '{files[split]}'")
    return streams


def limited(streams, data):
    """The streams cut to data.train_limit / data.test_limit words (the first word is context)."""
    limits = {"train": data["train_limit"], "valid": data["test_limit"], "test": data["test_limit"]}
    return {split: stream[: limits[split] + 1] if limits[split] else stream for split, stream in streams.items()}


class LanguageModelTask(Task):
    name = "lm"
    architectures = CELL_TYPES
    stateful = True  # training resets the recurrent state at each epoch and before validation
    data_help = ("Data directory holding ptb/ (default $NNKIT_DATA_DIR), or a folder with "
                 "train.txt, valid.txt and test.txt, or tfds:NAME[/CONFIG], a TensorFlow Datasets entry with text.")
    data_metavar = "DIR|tfds:NAME"
    data_layout = LAYOUT
    config_rules = {
        "data.text": Rule(kind=str),
        "data.text_feature": Rule(kind=str),
        "data.validation_fraction": within(0, 0.5, low_open=True, high_open=True),  # of a --text corpus
        "data.test_fraction": within(0, 0.5, low_open=True, high_open=True),
        "data.max_vocabulary": at_least(3),  # <eos>, <unk> and a word
        "model.architecture": one_of(CELL_TYPES),
        "training.bptt": at_least(1),
    }
    train_flags = {
        "text": (("data", "text"), {
            "multiple": True, "type": click.Path(dir_okay=False), "metavar": "FILE",
            "help": "Train on these UTF-8 text files instead (their last words are held out for "
                    "validation and test); repeatable."}),
        "layers": (("model", "layers"), {"type": click.IntRange(min=1), "help": "Stacked recurrent layers."}),
        "units": (("model", "units"), {"type": click.IntRange(min=1), "help": "Units per recurrent layer."}),
        "tie_weights": (("model", "tie_weights"), {
            "off": "untied", "default": None, "help": "Share the embedding and output matrices."}),
        "dropout": (("model", "dropout"), {"type": click.FloatRange(0, 1, max_open=True),
                                           "help": "Dropout on embeddings, between layers and before the output."}),
        "bptt": (("training", "bptt"), {"type": click.IntRange(min=1),
                                        "help": "Words per window of truncated backpropagation through time."}),
    }

    def check_config(self, config):
        source = config["data"].get("source", "ptb")  # (configs saved before the key have none)
        if source != "ptb" and not is_tfds(source):
            raise UsageError(f"config key 'data.source' must be ptb (the data directory, --data DIR or --text) or "
                             f"tfds:NAME[/CONFIG], got {source!r}")

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        from nnkit.apps.lm.data import build_vocabulary, bptt_windows, stream_ids

        wanted = ("train", "valid", "test") if "train" in splits else splits
        streams = read_streams(config, data_dir, wanted)
        data, training = config["data"], config["training"]
        if "train" not in splits:
            return Splits(train=None, validation=None, test=limited(streams, data))
        # The vocabulary comes from the whole training split, whatever data.train_limit keeps.
        vocabulary = build_vocabulary(streams["train"], data["max_vocabulary"], data["min_count"])
        streams = limited(streams, data)
        info = {"vocabulary": vocabulary, "lowercase": data["lowercase"], "number_token": data["number_token"],
                "model": config["model"]}
        index = {word: position for position, word in enumerate(vocabulary)}
        ids = {split: stream_ids(stream, index) for split, stream in streams.items()}
        windows = {split: bptt_windows(ids[split], training["batch_size"], training["bptt"])
                   for split in ("train", "valid")}
        return Splits(train=windows["train"], validation=windows["valid"],
                      test={"valid": ids["valid"], "test": ids["test"]}, info=info)

    def fit_arguments(self, splits, batch_size, seed):
        # Batch k continues batch k-1 row by row (see bptt_windows): never shuffle.
        return {"x": splits.train[0], "y": splits.train[1], "batch_size": batch_size, "shuffle": False,
                "validation_data": splits.validation, "validation_batch_size": batch_size}

    def build_model(self, config, info):
        from nnkit.apps.lm.model import build_language_model

        return build_language_model(config["model"], len(info["vocabulary"]), config["training"]["batch_size"],
                                    name=self.name)

    def compile_options(self, config):
        import keras

        from nnkit.apps.lm.model import Perplexity

        return {"loss": keras.losses.SparseCategoricalCrossentropy(from_logits=True), "metrics": [Perplexity()]}

    def inference_model(self, model, info):
        """The trained `model` rebuilt for one stream at a time, any number of words per call."""
        from nnkit.apps.lm.model import build_language_model, copy_weights

        inference = build_language_model(info["model"], len(info["vocabulary"]), batch_size=1, name=self.name)
        copy_weights(model, inference)
        return inference

    def evaluation_data(self, config, info, data_dir=None):
        from nnkit.apps.lm.data import stream_ids

        index = {word: position for position, word in enumerate(info["vocabulary"])}
        streams = limited(read_streams(config, data_dir, ("valid", "test")), config["data"])
        return {split: stream_ids(stream, index) for split, stream in streams.items()}

    def evaluate(self, model, test, info):
        """Per-word perplexity of each split, `<eos>` counted, the state carried through it all."""
        from nnkit.apps.lm.generation import perplexity, stream_log_probabilities

        from nnkit.apps.lm.generation import KerasStream

        inference = KerasStream(self.inference_model(model, info))
        metrics = {}
        for split, ids in test.items():
            scores = stream_log_probabilities(inference, ids)
            metrics[f"{split}_perplexity"] = round(perplexity(scores), 3)
            metrics[f"{split}_words"] = len(scores)
        return metrics

    def format_report(self, metrics):
        return "\n".join(f"{split} perplexity: {metrics[f'{split}_perplexity']:.2f} "
                         f"({metrics[f'{split}_words']:,} words, <eos> included)"
                         for split in ("valid", "test") if f"{split}_perplexity" in metrics)

    def make_predictor(self, model, metadata):
        from nnkit.apps.lm.generation import KerasStream

        return LanguageModelPredictor(self, KerasStream(self.inference_model(model, metadata["data"])),
                                      metadata["data"])

    def make_onnx_predictor(self, artifacts, metadata):
        from nnkit.runtime.onnx import RecurrentStream

        return LanguageModelPredictor(self, RecurrentStream(artifacts["step"]), metadata["data"])

    def export_plan(self, model, metadata):
        from nnkit.apps.lm.data import EOS, UNK
        from nnkit.export.graphs import state_names
        from nnkit.apps.lm.model import build_language_model, copy_weights
        from nnkit.task import ExportArtifact, ExportPlan

        info = metadata["data"]
        vocabulary = info["vocabulary"]
        # The recurrent states in and out, as nnkit's stateful layers carry them from call to call:
        # generating feeds one word per step, and nothing is read twice.
        step = build_language_model(info["model"], len(vocabulary), batch_size=None, stateful=False, state_io=True,
                                    name="lm_step")
        copy_weights(model, step)
        rng = np.random.default_rng(0)
        tokens = rng.integers(0, len(vocabulary), (3, 12)).astype(np.int32)
        tokens[:, 0] = vocabulary.index(EOS)
        states = state_names(len(step.input) - 1)
        samples = {"tokens": tokens, **{name: rng.normal(0, 0.5, (3, step.input[name].shape[1])).astype(np.float32)
                                        for name in states}}
        artifact = ExportArtifact("step", step, samples,
                                  "Word ids (n, words), int32, and the recurrent states state_0.. (n, units) -> "
                                  "logits (n, words, vocabulary): at each position the scores of the next word; and "
                                  "next_state_0.., the states after the last word, to feed back as state_0.. .")
        processing = {
            "words": "split on whitespace, lower-cased when data.lowercase, as nnkit.text.words.words_for_vocabulary does "
                     "(edge punctuation and clitics split off, numbers as data.number_token)",
            "vocabulary": "metadata.json data.vocabulary: id = position; a word it lacks is <unk>",
            "eos": vocabulary.index(EOS), "unk": vocabulary.index(UNK),
            "logits": "softmax gives the next word's probabilities",
            "states": "zeros at the start of a stream; then each call's next_state_* as the next call's state_*",
        }
        note = ("The language model is exported as a step model with its recurrent states as inputs and outputs: "
                "begin a stream with zero states and <eos> (a sentence start), feed the words so far in one call, "
                "then one word per call with the states the last call returned (nnkit.runtime.onnx.RecurrentStream).")
        return ExportPlan([artifact], processing, [note])

    def commands(self):
        return [predict_command(self), generate_command(self), score_command(self)]


class LanguageModelPredictor:
    """A saved language model that takes raw text: it scores, continues and predicts words.
    `stream` runs the model over one stream of words, carrying its state from call to call
    (nnkit.apps.lm.generation): the Keras model's or the ONNX step model's."""

    def __init__(self, task, stream, info):
        self.task, self.stream, self.vocabulary = task, stream, info["vocabulary"]
        self.index = {word: position for position, word in enumerate(self.vocabulary)}
        self.lowercase, self.number_token = info["lowercase"], info["number_token"]
        if self.lowercase and self.number_token:  # the corpus was lowercased, PTB's "N" too
            self.number_token = self.number_token.lower()

    def words(self, text):
        """(words as the vocabulary spells them, the ones it lacks, which read as <unk>)."""
        from nnkit.text.words import words_for_vocabulary

        words = words_for_vocabulary(text, self.index, self.lowercase, self.number_token)
        return words, [word for word in words if word not in self.index]

    def context(self, words):
        """Ids of a sentence start (`<eos>`) followed by `words`."""
        return [self.index["<eos>"], *(self.index.get(word, self.index["<unk>"]) for word in words)]

    def score(self, text):
        """The log-probability (natural log) of `text` as a whole sentence, its end included."""
        from nnkit.apps.lm.generation import perplexity, stream_log_probabilities

        words, unknown = self.words(text)
        if not words:
            raise UsageError(f"nothing to score in {text!r}: no words")
        scores = stream_log_probabilities(self.stream, [*self.context(words), self.index["<eos>"]])
        return {"text": text, "log_probability": float(scores.sum()), "perplexity": perplexity(scores),
                "words": [*words, "<eos>"], "word_log_probabilities": [float(s) for s in scores],
                "unknown_words": unknown}

    def predict(self, inputs, count=5, **unknown):
        """One dict per text (one alone needs no list): the `count` likeliest next words after
        it (after a sentence start, for an empty text)."""
        from nnkit.raw_inputs import no_other_options, positive_integer, text_list

        no_other_options(unknown, "count")
        count = positive_integer("count", count)
        return [self.next_words(text, count) for text in text_list(inputs)]

    def next_words(self, text, count):
        """`predict` for one text."""
        from nnkit.models.decoding import log_softmax

        words, unknown = self.words(text)
        self.stream.reset()
        logits = self.stream.predict_on_batch(np.asarray([self.context(words)], np.int32))[0, -1]
        probabilities = np.exp(log_softmax(logits))
        best = np.argsort(-probabilities)[:count]
        return {"text": text, "words": words, "unknown_words": unknown,
                "next_words": [{"word": self.vocabulary[i], "probability": float(probabilities[i])} for i in best]}

    def generate(self, prompt, length, temperature=1.0, top_k=None, seed=None):
        """`length` words continuing `prompt` (a new sentence when empty)."""
        from nnkit.apps.lm.generation import generate

        if length < 1:
            raise UsageError(f"--length must be at least 1, got {length}")
        if temperature < 0:
            raise UsageError(f"--temperature must be 0 (greedy) or more, got {temperature}")
        if seed is not None and seed < 0:
            raise UsageError(f"--seed must be 0 or more, got {seed}")
        from nnkit.raw_inputs import unicode_text

        words, unknown = self.words(unicode_text(prompt, "the prompt"))
        ids = generate(self.stream, self.context(words), length, temperature, top_k, seed)
        return {"prompt": prompt, "prompt_words": words, "unknown_words": unknown,
                "words": [self.vocabulary[i] for i in ids]}


def as_text(words):
    """Words joined by spaces, a line break for every `<eos>`."""
    return "\n".join(line.strip() for line in " ".join(words).split("<eos>"))


def warn_unknown(unknown, words):
    if unknown:
        everything = " (all of them)" if len(unknown) == len(words) else ""
        click.echo(f"note: not in the vocabulary, read as <unk>{everything}: {' '.join(unknown)}", err=True)


def predict_command(task):
    from nnkit.cli.options import model_path_option, runtime_option

    @click.command("predict")
    @click.argument("texts", nargs=-1, required=True, metavar="TEXT...")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--count", type=click.IntRange(min=1), default=5, show_default=True, help="Next words to list.")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def predict(texts, model_path, runtime, count, as_json):
        """The likeliest next words after each TEXT ('-': one text per line of stdin)."""
        import json

        predictor = load_predictor_of(task, model_path, runtime)
        results = predictor.predict(read_inputs(texts), count=count)
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        for result in results:
            warn_unknown(result["unknown_words"], result["words"])
            guesses = ", ".join(f"{w['word']} ({w['probability']:.3f})" for w in result["next_words"])
            click.echo(f"{result['text']} -> {guesses}")

    return predict


def generate_command(task):
    from nnkit.cli.options import model_path_option, runtime_option

    @click.command("generate")
    @click.option("--prompt", default="", help="Text to continue (default: start a new sentence).")
    @click.option("--length", type=int, default=30, show_default=True, help="Words to generate.")
    @click.option("--temperature", type=float, default=1.0, show_default=True,
                  help="Sampling temperature; 0 always picks the likeliest word.")
    @click.option("--top-k", type=click.IntRange(min=1), help="Sample only among the K likeliest words.")
    @click.option("--seed", type=int, help="Seed for the sampling: the same seed, the same text.")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON.")
    def generate(prompt, length, temperature, top_k, seed, model_path, runtime, as_json):
        """Continue --prompt word by word; an <eos> starts a new line."""
        import json

        predictor = load_predictor_of(task, model_path, runtime)
        result = predictor.generate(prompt, length, temperature, top_k, seed)
        if as_json:
            click.echo(json.dumps(result, indent=2))
            return
        warn_unknown(result["unknown_words"], result["prompt_words"])
        click.echo(as_text([prompt.strip(), *result["words"]]).strip())

    return generate


def score_command(task):
    from nnkit.cli.options import model_path_option, runtime_option

    @click.command("score")
    @click.argument("texts", nargs=-1, required=True, metavar="TEXT...")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON, with every word's log-probability.")
    def score(texts, model_path, runtime, as_json):
        """Log-probability and perplexity of each TEXT as a sentence ('-': one per line of stdin)."""
        import json

        predictor = load_predictor_of(task, model_path, runtime)
        results = [predictor.score(text) for text in read_inputs(texts)]
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        for result in results:
            warn_unknown(result["unknown_words"], result["words"][:-1])
            click.echo(f"{result['text']}\n  log-probability {result['log_probability']:.2f} (natural log), "
                       f"perplexity {result['perplexity']:.1f} over {len(result['words'])} words (<eos> included)")

    return score


TASK = LanguageModelTask()
