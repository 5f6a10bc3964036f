"""Slot filling and intent detection (ATIS) with recurrent networks.

    nnkit slots train --model lstm --bidirectional --layers 2 --encoding embedding+wordhash
    nnkit slots evaluate
    nnkit slots predict "i want to fly from boston to denver tomorrow"

Every word gets a BIO slot tag (B-fromloc.city_name, I-..., O) and the sentence an intent
(atis_flight). The model needs context: "leave boston" and "arrive boston" tag "boston"
differently. Data: `<split>/{seq.in,seq.out,label}` for train, valid (or dev) and test, or
CoNLL-style BIO files (see nnkit.apps.slots.data).
"""

import click
import numpy as np

from nnkit.apps.slots.data import LAYOUT
from nnkit.config_rules import Rule, at_least, one_of
from nnkit.data.splits import held_out_record, random_split
from nnkit.data.tfds_source import is_tfds
from nnkit.errors import UsageError
from nnkit.models import CELL_TYPES
from nnkit.task import Splits, Task
from nnkit.text.words import Vocabulary, hash_sentences, pad, tokenize

ENCODINGS = ("onehot", "embedding", "wordhash", "embedding+wordhash")
INTENT_DECISIONS = ("pool", "vote")  # nnkit.apps.slots.model.intent_head


def hold_out(utterances, fraction, seed):
    """Split a seeded random `fraction` off `utterances`, for data without a validation or test
    split (files are often sorted: their last sentences would be unlike the rest)."""
    parts = random_split(len(utterances), {"held": fraction}, seed)
    held_out = utterances.subset(parts["held"]) if len(parts["held"]) else None
    return utterances.subset(parts["train"]), held_out


def encode_inputs(sentences, info):
    """Tokenised sentences -> the model's named inputs (0-padded id arrays)."""
    inputs = {}
    parts = info["encoding"].split("+")
    if "onehot" in parts or "embedding" in parts:
        vocabulary = Vocabulary(info["words"])
        inputs["words"] = pad([vocabulary.ids(words) for words in sentences])
    if "wordhash" in parts:
        inputs["trigrams"] = hash_sentences(sentences, info["hash_buckets"], info["max_trigrams"])
    return inputs


def encode_targets(utterances, info):
    """Tag and intent ids. Labels unknown to the model get tag id 0, which the loss ignores;
    callers drop utterances with unknown intents before training on them."""
    tag_index = {tag: i for i, tag in enumerate(info["tags"])}
    intent_index = {intent: i for i, intent in enumerate(info["intents"])}
    slots = pad([[tag_index.get(tag, 0) for tag in tags] for tags in utterances.tags])
    intents = np.array([intent_index.get(intent, -1) for intent in utterances.intents], np.int32)
    return {"slots": slots, "intent": intents}


def decode(outputs, sentences, info):
    """Model outputs -> (tags per sentence, intent per sentence, intent probability)."""
    slot_ids = np.argmax(outputs["slots"][..., 1:], axis=-1) + 1  # never the padding tag
    tags = [[info["tags"][i] for i in row[: len(words)]] for row, words in zip(slot_ids, sentences)]
    intent_ids = np.argmax(outputs["intent"], axis=-1)
    intents = [info["intents"][i] for i in intent_ids]
    return tags, intents, outputs["intent"][np.arange(len(intent_ids)), intent_ids]


class SlotsTask(Task):
    name = "slots"
    architectures = CELL_TYPES
    monitor, monitor_mode = "val_slot_f1", "max"
    data_help = ("Data directory holding atis/ (default $NNKIT_DATA_DIR), a folder with train/ valid/ test/ "
                 "in the ATIS layout or with CoNLL-style BIO files train.txt, dev.txt, test.txt, or one such file; "
                 "or tfds:NAME[/CONFIG], a TensorFlow Datasets entry with tokens and BIO tags.")
    data_metavar = "DIR|FILE|tfds:NAME"
    data_layout = LAYOUT
    config_rules = {
        "data.tag_feature": Rule(kind=str),
        "model.architecture": one_of(CELL_TYPES),
        "model.encoding": one_of(ENCODINGS),
        "model.hash_buckets": at_least(2),  # id 0 is padding
        "model.max_trigrams": at_least(1),
        "model.attention_heads": at_least(0),  # 0: no self-attention
        "model.intent_decision": one_of(INTENT_DECISIONS),
        "training.intent_loss_weight": at_least(0),
    }
    train_flags = {
        "bidirectional": (("model", "bidirectional"), {
            "off": "unidirectional", "default": None, "help": "Bidirectional or one-way RNN layers."}),
        "layers": (("model", "layers"), {"type": click.IntRange(min=1), "help": "Stacked recurrent layers."}),
        "units": (("model", "units"), {"type": click.IntRange(min=1), "help": "Units per layer and direction."}),
        "encoding": (("model", "encoding"), {"type": click.Choice(ENCODINGS), "help": "Word representation."}),
        "joint_intent": (("model", "joint_intent"), {
            "off": "no-joint-intent", "default": None,
            "help": "One encoder shared by slots and intent, or one each."}),
    }

    def check_config(self, config):
        source = config["data"]["source"]
        if source != "atis" and not is_tfds(source):  # --data DIR names a folder in the same layout instead
            raise UsageError(f"config key 'data.source' must be atis (the data directory or --data DIR|FILE) or "
                             f"tfds:NAME[/CONFIG], got {source!r}")

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        from nnkit.apps.slots.data import read_corpus, tfds_corpus

        data, model, seed = config["data"], config["model"], config["seed"]
        wanted = (*splits, "valid") if "train" in splits else splits
        read = (tfds_corpus(data["source"], wanted, data["tag_feature"]) if is_tfds(data["source"])
                else read_corpus(data_dir, wanted))
        held_out = {}
        if "test" in wanted and "test" not in read:  # of the whole train file, so that evaluate finds it again
            read["train"], read["test"] = hold_out(read["train"], data["test_fraction"], seed)
            if read["test"] is None:
                raise UsageError(f"no test split to hold out of {len(read['train'])} sentences "
                                 f"(data.test_fraction {data['test_fraction']}): add a test file or raise it")
            held_out["test"] = len(read["test"])
        limits = {"train": data["train_limit"], "test": data["test_limit"]}
        read = {split: utterances.head(limits.get(split)) for split, utterances in read.items()}
        if "train" not in splits:
            return Splits(train=None, validation=None, test=read["test"])
        train, validation = read["train"], read.get("valid")
        if validation is None:
            train, validation = hold_out(train, data["validation_fraction"], seed)
            held_out["valid"] = len(validation.words) if validation else 0
        if held_out:
            held_out = held_out_record(seed, train=len(train.words), **held_out)
        info = {
            "encoding": model["encoding"],
            "words": Vocabulary.build(train.words, model["min_count"]).symbols,
            "tags": ["<pad>", *sorted({tag for tags in train.tags for tag in tags})],
            "intents": sorted(set(train.intents)),
            "hash_buckets": model["hash_buckets"],
            "max_trigrams": model["max_trigrams"],
            **({"held_out": held_out} if held_out else {}),
        }
        splits_out = Splits(train=self.arrays(train, info), validation=None, test=None, info=info)
        if validation is not None:
            # Keras's validation loss needs known intents; epoch_metrics scores them all.
            known = [i for i, intent in enumerate(validation.intents) if intent in info["intents"]]
            splits_out.validation = self.arrays(validation.subset(known), info)
            splits_out.extras["validation"] = validation
        if "test" in read:
            splits_out.test = read["test"]
        return splits_out

    def arrays(self, utterances, info):
        return encode_inputs(utterances.words, info), encode_targets(utterances, info)

    def fit_arguments(self, splits, batch_size, seed):
        from nnkit.data.batching import PaddedBatches

        def batches(arrays, shuffle):
            inputs, targets = arrays
            ids = inputs["words"] if "words" in inputs else inputs["trigrams"].max(axis=-1)
            lengths = (ids != 0).sum(axis=1)  # every real word has a non-zero id
            return PaddedBatches(inputs, targets, lengths, batch_size, shuffle=shuffle, seed=seed)

        validation = batches(splits.validation, shuffle=False) if splits.validation else None
        return {"x": batches(splits.train, shuffle=True), "validation_data": validation}

    def build_model(self, config, info):
        from nnkit.apps.slots.model import build_slot_filler

        return build_slot_filler(config["model"], info, name=self.name)

    def compile_options(self, config):
        import keras

        return {
            # Tag id 0 is padding (and tags the model does not know): no loss there.
            "loss": {"slots": keras.losses.SparseCategoricalCrossentropy(ignore_class=0),
                     "intent": keras.losses.SparseCategoricalCrossentropy()},
            "loss_weights": {"slots": 1.0, "intent": config["training"]["intent_loss_weight"]},
        }

    def predict_utterances(self, model, sentences, info):
        from nnkit.models.prediction import pad_length, predict_rows

        inputs = {name: pad_length(ids) for name, ids in encode_inputs(sentences, info).items()}
        outputs = predict_rows(model, inputs)
        return decode(outputs, sentences, info)

    def evaluate(self, model, test, info):
        from nnkit.apps.slots.metrics import slot_metrics

        tags, intents, _ = self.predict_utterances(model, test.words, info)
        return slot_metrics(test.tags, tags, test.intents, intents, info["tags"][1:], info["intents"])

    def epoch_metrics(self, model, splits):
        validation = splits.extras.get("validation")
        if validation is None:
            return {}
        metrics = self.evaluate(model, validation, splits.info)
        return {f"val_{name}": metrics[name] for name in ("slot_f1", "intent_accuracy", "sentence_accuracy")}

    def format_report(self, metrics):
        from nnkit.apps.slots.metrics import format_slot_report

        return format_slot_report(metrics)

    def make_predictor(self, model, metadata):
        return SlotPredictor(self, model, metadata)

    def make_onnx_predictor(self, artifacts, metadata):
        return SlotPredictor(self, artifacts["model"], metadata)  # named inputs, {slots, intent} out, as Keras's

    def export_plan(self, model, metadata):
        from nnkit.export.graphs import named
        from nnkit.task import ExportArtifact, ExportPlan

        info = metadata["data"]
        known = info["words"][2:] or ["flight"]
        # Sentences of different lengths (so padding is checked too), one with a word the model lacks.
        sentences = [known[:7], [*known[3:5], "zyzzyva"], known[5:6] or known[:1]]
        inputs = encode_inputs(sentences, info)
        described = {"words": "(n, words) ids of metadata.json data.words (1: unknown)",
                     "trigrams": f"(n, words, {info['max_trigrams']}) hashed letter trigrams of each word"}
        artifact = ExportArtifact("model", named(model), inputs,
                                  " and ".join(described[name] for name in inputs) + ", int32, 0-padded -> "
                                  "slots (n, words, tags) and intent (n, intents) probabilities.")
        processing = {
            "tokenize": "NFKC, lower case, words as nnkit.text.words.tokenize finds them (letters and digits, inner "
                        "apostrophes and dots; a final dot only where data.words has the word with it)",
            "encoding": info["encoding"], "words": "metadata.json data.words: id = position, 0 padding, 1 unknown",
            "trigrams": f"per word, its distinct letter trigrams of '#word#' in order, each crc32(utf-8) % "
                        f"{info['hash_buckets'] - 1} + 1, at most {info['max_trigrams']}, 0-padded "
                        "(nnkit.text.words.trigram_ids)",
            "slots": "per word, the arg-max over data.tags leaving out index 0 (padding): BIO tags",
            "intent": "the arg-max over data.intents",
            "tags": info["tags"], "intents": info["intents"],
        }
        return ExportPlan([artifact], processing)

    def commands(self):
        return [predict_command(self)]


def chunks(tags):
    """(slot, first word, last word) of every chunk of BIO (or IOBES) `tags`, exactly as
    seqeval.metrics.sequence_labeling.get_entities finds them: importing seqeval imports
    scikit-learn, seconds that predicting a sentence should not wait (tests/test_onnx_runtime.py
    checks the two agree)."""
    found, previous, previous_type, start = [], "O", "", 0
    for index, tag in enumerate([*tags, "O"]):
        prefix, kind = tag[0], tag[1:].split("-", maxsplit=1)[-1] or "_"
        changed = previous_type != kind
        if previous in "ES" or (previous in "BI" and prefix in "BSO") or (previous not in "O." and changed):
            found.append((previous_type, start, index - 1))
        if prefix in "BS" or (previous in "ESO" and prefix in "EI") or (prefix not in "O." and changed):
            start = index
        previous, previous_type = prefix, kind
    return found


class SlotPredictor:
    """A saved slot filler that takes raw text: any case, punctuation, unknown words."""

    def __init__(self, task, model, metadata):
        self.task, self.model, self.info = task, model, metadata["data"]
        self.known_words = set(self.info["words"])

    def tokenize(self, text):
        words = tokenize(text, self.known_words)
        if not words:
            shown = text if len(text) <= 40 else text[:37] + "..."
            raise UsageError(f"no words to tag in {shown!r}")
        return words

    def predict(self, inputs, **unknown):
        """One dict per text (one alone needs no list): intent, its probability, the filled
        slots and every word's tag."""
        from nnkit.raw_inputs import no_other_options, text_list

        no_other_options(unknown)
        texts = text_list(inputs)
        sentences = [self.tokenize(text) for text in texts]
        tags, intents, probabilities = self.task.predict_utterances(self.model, sentences, self.info)
        results = []
        for text, words, sentence_tags, intent, probability in zip(texts, sentences, tags, intents, probabilities):
            slots = [{"slot": slot, "value": " ".join(words[start:end + 1]), "start": start, "end": end + 1}
                     for slot, start, end in chunks(sentence_tags)]
            results.append({"text": text, "intent": intent, "intent_probability": float(probability),
                            "slots": slots, "words": words, "tags": sentence_tags,
                            "unknown_words": [word for word in words if word not in self.known_words]})
        return results


def predict_command(task):
    from nnkit.cli.options import model_path_option, runtime_option

    @click.command("predict")
    @click.argument("texts", nargs=-1, required=True, metavar="TEXT...")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--json", "as_json", is_flag=True, help="Print JSON, with every word's tag.")
    def predict(texts, model_path, runtime, as_json):
        """Tag each TEXT with its slots and intent; a single '-' reads one text per line from stdin."""
        import json

        from nnkit.cli.predict import load_predictor_of, read_inputs

        results = load_predictor_of(task, model_path, runtime).predict(read_inputs(texts))
        if as_json:
            click.echo(json.dumps(results, indent=2))
            return
        for number, result in enumerate(results):
            if len(results) > 1:
                click.echo(("\n" if number else "") + result["text"])
            click.echo(f"intent: {result['intent']} ({result['intent_probability']:.3f})")
            for slot in result["slots"]:
                click.echo(f"{slot['slot']}: {slot['value']}")

    return predict


TASK = SlotsTask()
