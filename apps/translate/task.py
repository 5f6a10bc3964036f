"""Machine translation with an attention encoder-decoder and beam search (Multi30k).

    nnkit translate train --source de --target en --cell gru --attention bahdanau
    nnkit translate train --data corpora/fr-ja --source fr --target ja   # train.fr, train.ja (+ valid, test)
    nnkit translate evaluate --beam-size 5          # corpus BLEU (sacrebleu) on the test split
    nnkit translate predict "Ein Mann fährt Fahrrad." --beam-size 5 --n-best 3 --attention-plot a.png

The encoder reads the source sentence's tokens (Moses's, or the Unicode fallback's for languages
sacremoses lacks: nnkit.text.sentences), the decoder writes the target's, attending over the
encoder outputs; training is teacher-forced, translating is a beam search.
"""

import re

import click
import numpy as np

from nnkit.apps.translate.data import LAYOUT
from nnkit.apps.translate.text import TOKENIZERS, VOCABULARIES
from nnkit.config_rules import Rule, above, at_least, one_of, within
from nnkit.data.tfds_source import is_tfds
from nnkit.errors import UsageError
from nnkit.models import ATTENTIONS, SEQ2SEQ_CELLS as CELLS
from nnkit.task import Splits, Task

# An ISO 639 code, then optionally a script or region (zh-Hant, pt_BR): it names files (train.<code>).
LANGUAGE_CODE = re.compile(r"[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*")


def read_pairs(config, data_dir, splits):
    """({split: [(source, target), ...]}, what was held out or None, (source, target) languages):
    from a TensorFlow Datasets entry (`data.source` tfds:NAME), from `data.files`, from a
    language pair's folder of train.xx/train.yy files (a split it lacks is held out of train), or
    from the data directory's multi30k/."""
    from functools import partial

    from nnkit.apps.translate.data import (LANGUAGES, file_pairs, folder_pairs, multi30k_pairs, nonempty,
                                           pair_folder, split_pairs, tfds_pairs)
    from nnkit.config import task_defaults
    from nnkit.data.files import data_dir as directory
    from nnkit.data.tfds_source import is_tfds

    data = config["data"]
    source, target = data["source_language"], data["target_language"]
    if is_tfds(data.get("source")):  # (configs saved before the key have none)
        defaults = task_defaults("translate")["data"]
        return tfds_pairs(data["source"], source, target, (defaults["source_language"], defaults["target_language"]),
                          splits, data["validation_fraction"], data["test_fraction"], config["seed"])
    if data["files"]:  # all in one: validation and test are held out of it
        read = {"train": nonempty(file_pairs(data["files"]), " and ".join(data["files"]))}.get
    elif folder := pair_folder(data_dir, source, target):
        read = partial(folder_pairs, folder, source, target)
    else:
        for key, language in (("source_language", source), ("target_language", target)):
            if language not in LANGUAGES:
                raise UsageError(f"config key 'data.{key}' is {language!r}, which Multi30k lacks (it has "
                                 f"{' and '.join(LANGUAGES)}), and no train.{source} and train.{target} files are "
                                 f"in '{directory(data_dir)}' or its {source}-{target}/; pass --data with their folder")
        return {split: nonempty(multi30k_pairs(data_dir, split, source, target), f"the Multi30k {split} split")
                for split in splits}, None, (source, target)
    return (*split_pairs(read, splits, data["validation_fraction"], data["test_fraction"], config["seed"]),
            (source, target))


def tokenizers(info):
    """The (source, target) tokenizers a model was trained with (Moses for models older than the choice)."""
    return info.get("source_tokenizer", "moses"), info.get("target_tokenizer", "moses")


class TranslationTest:
    """What `evaluate` scores: raw source sentences, raw references, and how to decode."""

    def __init__(self, pairs, decoding):
        self.sources = [source for source, _ in pairs]
        self.references = [target for _, target in pairs]
        self.decoding = decoding


class TranslateTask(Task):
    name = "translate"
    architectures = CELLS
    data_help = ("A language pair's folder (train.xx and train.yy; valid or dev, test beside them; plain or .gz), or "
                 "a folder holding it as xx-yy/; else the Multi30k folder, or a folder holding multi30k/ "
                 "(default $NNKIT_DATA_DIR); or tfds:NAME[/CONFIG], a TensorFlow Datasets entry.")
    data_metavar = "DIR|tfds:NAME"
    data_layout = LAYOUT
    train_flags = {
        "source": (("data", "source_language"), {
            "help": "Source language code, the suffix of its files (train.xx); Multi30k: de or en."}),
        "target": (("data", "target_language"), {"help": "Target language code (Multi30k: en or de)."}),
        "pairs": (("data", "files"), {
            "multiple": True, "type": click.Path(dir_okay=False), "metavar": "FILE",
            "help": "Train on your own pairs instead: one tab-separated file, or --pairs SOURCE "
                    "--pairs TARGET for two aligned files; a seeded random sample is held out."}),
        "cell": (("model", "architecture"), {"type": click.Choice(CELLS), "help": "Recurrent cell (as --model)."}),
        "attention": (("model", "attention"), {"type": click.Choice(ATTENTIONS), "help": "Attention score."}),
        "bidirectional_encoder": (("model", "bidirectional_encoder"), {
            "off": "unidirectional-encoder", "default": None, "help": "Read the source both ways."}),
        "layers": (("model", "layers"), {"type": click.IntRange(min=1), "help": "Encoder and decoder layers."}),
        "vocabulary": (("data", "vocabulary"), {
            "type": click.Choice(VOCABULARIES),
            "help": "Whole words, or subwords: SentencePiece pieces of each language's words (data.subword_units)."}),
    }
    evaluation_options = {
        "beam_size": (("decoding", "beam_size"), {"type": click.IntRange(min=1), "help": "Beams (1: greedy)."}),
    }
    config_rules = {
        "data.files": Rule(kind=str),
        "data.tokenizer": one_of(("auto", *TOKENIZERS)),
        "data.vocabulary": one_of(VOCABULARIES),
        "data.subword_units": at_least(8),
        "data.validation_fraction": within(0, 0.5, low_open=True, high_open=True),  # of your own pairs
        "data.test_fraction": within(0, 0.5, low_open=True, high_open=True),
        "model.architecture": one_of(CELLS),
        "model.attention": one_of(ATTENTIONS),
        "decoding.beam_size": at_least(1),
        "decoding.length_penalty": at_least(0),
        "decoding.max_length_ratio": above(0),
    }

    def check_config(self, config):
        data = config["data"]
        if data.get("source", "multi30k") != "multi30k" and not is_tfds(data["source"]):
            raise UsageError(f"config key 'data.source' must be multi30k (the data directory, --data DIR or --pairs) "
                             f"or tfds:NAME[/CONFIG], got {data['source']!r}")
        source, target = data["source_language"], data["target_language"]
        for key, language in (("source_language", source), ("target_language", target)):
            if not LANGUAGE_CODE.fullmatch(language):  # it names files: train.<code>
                raise UsageError(f"config key 'data.{key}' must be a language code such as de, en, fr, pt_BR or "
                                 f"zh-Hant, got {language!r}")
        if source == target:
            raise UsageError(f"config keys 'data.source_language' and 'data.target_language' are both {source!r}")

    def load_data(self, config, data_dir=None, splits=("train", "test")):
        from nnkit.apps.translate.text import subword_pieces, tokenize, tokenizer_for, train_subwords
        from nnkit.text.sentences import build_vocabulary, encode

        data = config["data"]
        wanted = (*splits, "valid") if "train" in splits else splits
        pairs, held_out, (source, target) = read_pairs(config, data_dir, wanted)
        limits = {"train": data["train_limit"], "valid": data["test_limit"], "test": data["test_limit"]}
        pairs = {split: split_pairs[: limits[split]] if limits[split] else split_pairs
                 for split, split_pairs in pairs.items()}
        test = TranslationTest(pairs["test"], config["decoding"]) if "test" in pairs else None
        if "train" not in splits:
            return Splits(train=None, validation=None, test=test)

        chosen = [tokenizer_for(language, data["tokenizer"]) for language in (source, target)]
        tokens = {split: ([tokenize(s, source, chosen[0]) for s, _ in split_pairs],
                          [tokenize(t, target, chosen[1]) for _, t in split_pairs])
                  for split, split_pairs in pairs.items() if split != "test"}
        longest = data["max_length"]
        keep = [i for i, (s, t) in enumerate(zip(*tokens["train"])) if len(s) <= longest and len(t) <= longest]
        if not keep:
            raise UsageError(f"no training pair has at most data.max_length = {longest} tokens on each side")
        tokens["train"] = tuple([side[i] for i in keep] for side in tokens["train"])
        info = {"source_language": source, "target_language": target,  # predict tokenizes as training did
                "source_tokenizer": chosen[0], "target_tokenizer": chosen[1], "vocabulary": data["vocabulary"]}
        min_count, size = data["min_count"], data["max_vocabulary"]
        # With subwords (a SentencePiece model per language, of its training tokens), data.max_length
        # has counted the words above, and every piece the models have is in the vocabulary.
        if data["vocabulary"] == "subwords":
            for side, name in enumerate(("source", "target")):
                info[f"{name}_subwords"] = model = train_subwords(tokens["train"][side], data["subword_units"])
                for split, sides in tokens.items():
                    tokens[split] = tuple([subword_pieces(sentence, model) for sentence in part] if number == side
                                          else part for number, part in enumerate(sides))
            min_count, size = 1, data["subword_units"] + 4  # the specials too
        info.update(source_words=build_vocabulary(tokens["train"][0], min_count, size),
                    target_words=build_vocabulary(tokens["train"][1], min_count, size),
                    longest_training_source=max(len(s) for s in tokens["train"][0]), model=config["model"])
        if held_out:  # what was held out of the user's pairs, and how: recorded and printed
            info["held_out"] = held_out

        def arrays(source_tokens, target_tokens):  # teacher forcing: read <bos> y1..yn, predict y1..yn <eos>
            inputs = {"source": encode(source_tokens, info["source_words"]),
                      "previous_words": encode(target_tokens, info["target_words"], add_bos=True)}
            return inputs, {"words": encode(target_tokens, info["target_words"], add_eos=True)}

        return Splits(train=arrays(*tokens["train"]), validation=arrays(*tokens["valid"]), test=test, info=info)

    def fit_arguments(self, splits, batch_size, seed):
        from nnkit.data.batching import PaddedBatches

        def batches(arrays, shuffle):
            inputs, targets = arrays
            # One time axis for the batch: the longer of its source and target.
            lengths = np.maximum((inputs["source"] != 0).sum(axis=1), (targets["words"] != 0).sum(axis=1))
            return PaddedBatches(inputs, targets, lengths, batch_size, shuffle=shuffle, seed=seed)

        return {"x": batches(splits.train, shuffle=True), "validation_data": batches(splits.validation, shuffle=False)}

    def build_model(self, config, info):
        from nnkit.models.seq2seq import build_translator

        return build_translator(config["model"], len(info["source_words"]), len(info["target_words"]),
                                name=self.name)

    def compile_options(self, config):
        import keras

        # Padding (id 0) is no word to predict.
        return {"loss": {"words": keras.losses.SparseCategoricalCrossentropy(from_logits=True, ignore_class=0)}}

    def evaluate(self, model, test, info):
        import sacrebleu

        from nnkit.apps.translate.text import tokenize

        translator = Translator(self, self.keras_decoder(model, info), info, test.decoding)
        hypotheses = [result["translations"][0]["text"] for result in translator.translate(test.sources)]
        scored, references = hypotheses, test.references
        unicode_target = tokenizers(info)[1] == "unicode"
        if unicode_target:
            # sacrebleu's own tokenizer leaves a sentence without spaces whole: score the fallback's
            # tokens (characters of such scripts), on hypotheses and references alike.
            def spaced(texts):
                return [" ".join(tokenize(text, info["target_language"], "unicode")) for text in texts]

            scored, references = spaced(hypotheses), spaced(references)
        metric = sacrebleu.BLEU(tokenize="none" if unicode_target else None)
        bleu = metric.corpus_score(scored, [references])
        return {"bleu": round(bleu.score, 2), "beam_size": test.decoding["beam_size"], "sentences": len(hypotheses),
                "bleu_signature": str(metric.get_signature()), "examples": [
                    {"source": s, "reference": r, "translation": h}
                    for s, r, h in list(zip(test.sources, test.references, hypotheses))[:5]]}

    def format_report(self, metrics):
        lines = [f"BLEU {metrics['bleu']:.2f} on {metrics['sentences']:,} sentences, beam size "
                 f"{metrics['beam_size']} (sacrebleu {metrics['bleu_signature']})"]
        for example in metrics.get("examples", [])[:3]:
            lines += [f"  source:      {example['source']}", f"  reference:   {example['reference']}",
                      f"  translation: {example['translation']}"]
        return "\n".join(lines)

    def make_predictor(self, model, metadata):
        info = metadata["data"]
        return Translator(self, self.keras_decoder(model, info), info, metadata["config"]["decoding"])

    def make_onnx_predictor(self, artifacts, metadata):
        from nnkit.runtime.onnx import OnnxStepDecoder

        decoder = OnnxStepDecoder(artifacts["encoder"], artifacts["decoder_step"])
        return Translator(self, decoder, metadata["data"], metadata["config"]["decoding"])

    def keras_decoder(self, model, info):
        from nnkit.models.seq2seq import Seq2SeqDecoder

        return Seq2SeqDecoder(model, info["model"])

    def export_plan(self, model, metadata):
        from nnkit.export.graphs import BEAM_SEARCH_NOTE, decoder_step_artifact, named, state_names
        from nnkit.models.seq2seq import Seq2SeqDecoder
        from nnkit.task import ExportArtifact, ExportPlan
        from nnkit.text.sentences import BOS, EOS, encode

        info = metadata["data"]
        decoder = Seq2SeqDecoder(model, info["model"])
        known = info["source_words"][4:] or ["."]
        # Sentences of different lengths (so the mask is checked too), one with a word the model lacks.
        sources = encode([known[:7], [*known[2:4], "Zyzzyva"], known[4:5] or known[:1]], info["source_words"])
        encoder = ExportArtifact(
            "encoder", named(decoder.encoder, ["memory", "memory_mask", *state_names(decoder.state_count)]),
            {"source": sources}, "Source ids (n, length), int32, 0-padded -> the memory the decoder attends over "
            "(n, length, features), its mask (n, length; false on padding) and the decoder's first states.")
        step = decoder_step_artifact(decoder, decoder.encode(sources), len(info["target_words"]),
                                     info["target_words"].index(BOS))
        source_tokenizer, target_tokenizer = tokenizers(info)
        described = {"moses": "Moses {} (sacremoses, language '{}', escape=False)",
                     "unicode": "the Unicode fallback's {} (nnkit.text.sentences, language '{}': a character each in "
                                "scripts without spaces, else words and punctuation)"}
        processing = {
            "source": described[source_tokenizer].format("tokens of the sentence", info["source_language"])
                      + " -> ids of metadata.json data.source_words (id = position, 1: unknown)",
            "target": "ids of metadata.json data.target_words -> tokens -> "
                      + described[target_tokenizer].format("detokenizer", info["target_language"])
                      + "; nnkit replaces <unk> by the source token it attends to most",
            "bos": info["target_words"].index(BOS), "eos": info["target_words"].index(EOS),
            "decoding": metadata["config"]["decoding"],
            "beam_search": "hypotheses ranked by log-probability / ((5 + length) / 6) ** length_penalty (GNMT), at "
                           "most max_length_ratio x source length + 10 words (nnkit.models.decoding.beam_search)",
        }
        return ExportPlan([encoder, step], processing, [BEAM_SEARCH_NOTE])

    def commands(self):
        return [predict_command(self)]


class Translator:
    """A saved translation model that takes raw sentences and returns detokenized text. Its
    `decoder` encodes and steps (nnkit.models.decoding): the Keras model's or the ONNX artifacts'."""

    def __init__(self, task, decoder, info, decoding):
        self.task, self.info, self.decoding, self.decoder = task, info, decoding, decoder

    def check_languages(self, source=None, target=None):
        """Refuse a language pair the model was not trained for."""
        trained = (self.info["source_language"], self.info["target_language"])
        if (source or trained[0], target or trained[1]) != trained:
            raise UsageError(f"this model translates {trained[0]} to {trained[1]}, "
                             f"not {source or trained[0]} to {target or trained[1]}")

    def predict(self, inputs, beam_size=None, n_best=1, **unknown):
        """What `translate` returns for a list of sentences (one alone needs no list)."""
        from nnkit.raw_inputs import no_other_options, positive_integer, text_list

        no_other_options(unknown, "beam_size", "n_best")
        return self.translate(text_list(inputs), beam_size=positive_integer("beam_size", beam_size, optional=True),
                              n_best=positive_integer("n_best", n_best))

    def translate(self, sentences, beam_size=None, n_best=1, batch_size=64):
        """One dict per sentence: its tokens and `n_best` translations (text, tokens,
        log-probability, length-normalised score, attention rows), best first."""
        from nnkit.models.decoding import beam_search
        from nnkit.models.prediction import pad_length
        from nnkit.apps.translate.text import detokenize, tokenize
        from nnkit.text.sentences import BOS, EOS, decode, encode

        beam_size = beam_size or self.decoding["beam_size"]
        if n_best > beam_size:
            raise UsageError(f"--n-best {n_best} needs at least as many beams (--beam-size {beam_size})")
        source, target = self.info["source_language"], self.info["target_language"]
        source_tokenizer, target_tokenizer = tokenizers(self.info)
        tokens = [tokenize(sentence, source, source_tokenizer, self.info.get("source_subwords"))
                  for sentence in sentences]
        for sentence, sentence_tokens in zip(sentences, tokens):
            if not sentence_tokens:
                raise UsageError(f"nothing to translate in {sentence!r}")
        target_words = self.info["target_words"]
        results = [None] * len(sentences)
        by_length = sorted(range(len(sentences)), key=lambda i: len(tokens[i]))  # little padding per batch
        for start in range(0, len(by_length), batch_size):
            batch = by_length[start: start + batch_size]
            ids = encode([tokens[i] for i in batch], self.info["source_words"])
            ids = pad_length(ids)  # few distinct shapes to compile
            max_length = int(self.decoding["max_length_ratio"] * ids.shape[1]) + 10
            found = beam_search(self.decoder, ids, target_words.index(BOS), target_words.index(EOS), max_length,
                                beam_size=beam_size, alpha=self.decoding["length_penalty"], n_best=n_best)
            for i, hypotheses in zip(batch, found):
                translations = []
                for hypothesis in hypotheses:
                    attention = [row[: len(tokens[i])] for row in hypothesis.attention]
                    words = decode(hypothesis.words, target_words, tokens[i], attention or None)
                    text = detokenize(words, target, target_tokenizer, self.info.get("target_subwords"))
                    translations.append({"text": text, "tokens": words,
                                         "log_probability": hypothesis.log_probability, "score": hypothesis.score,
                                         "attention": [[float(w) for w in row] for row in attention]})
                results[i] = {"source": sentences[i], "source_tokens": tokens[i], "translations": translations,
                              "longer_than_training": len(tokens[i]) > self.info["longest_training_source"]}
        return results


def plot_attention(result, path):
    """A heatmap of the best translation's attention: a row per output word, a column per source word."""
    from nnkit.training.reports import _pyplot, _save

    best = result["translations"][0]
    if not best["attention"]:
        raise UsageError("this model has no attention to plot (it was trained with --attention none)")
    plt = _pyplot()
    rows = [*best["tokens"], "<eos>"][: len(best["attention"])]
    figure, axis = plt.subplots(figsize=(1 + 0.45 * len(result["source_tokens"]), 1 + 0.35 * len(rows)))
    axis.imshow(np.asarray(best["attention"]), cmap="Greys", vmin=0, vmax=1, aspect="auto")
    axis.set_xticks(range(len(result["source_tokens"])), result["source_tokens"], rotation=60, ha="right")
    axis.set_yticks(range(len(rows)), rows)
    axis.set_title(best["text"], fontsize=8)
    _save(figure, path)


def predict_command(task):
    from nnkit.cli.options import model_path_option, runtime_option

    @click.command("predict")
    @click.argument("sentences", nargs=-1, required=True, metavar="SENTENCE...")
    @model_path_option(task.name)
    @runtime_option
    @click.option("--beam-size", type=click.IntRange(min=1), help="Beams (default: the model's decoding.beam_size; 1 is greedy).")
    @click.option("--n-best", type=click.IntRange(min=1), default=1, show_default=True, help="Translations per sentence.")
    @click.option("--source", help="Check that the model translates from this language.")
    @click.option("--target", help="Check that the model translates into this language.")
    @click.option("--attention-plot", type=click.Path(dir_okay=False), help="Draw the first sentence's attention (PNG).")
    @click.option("--json", "as_json", is_flag=True, help="Print JSON, with tokens, scores and attention.")
    def predict(sentences, model_path, runtime, beam_size, n_best, source, target, attention_plot, as_json):
        """Translate each SENTENCE ('-': one per line of stdin)."""
        import json

        from nnkit.cli.predict import load_predictor_of, read_inputs

        translator = load_predictor_of(task, model_path, runtime)
        translator.check_languages(source, target)
        results = translator.predict(read_inputs(sentences), beam_size=beam_size, n_best=n_best)
        if attention_plot:
            plot_attention(results[0], attention_plot)
        if as_json:
            click.echo(json.dumps(results, indent=2, ensure_ascii=False))
            return
        for result in results:
            if result["longer_than_training"]:
                click.echo(f"note: {len(result['source_tokens'])} words, longer than any training sentence "
                           f"({translator.info['longest_training_source']}); the translation may suffer", err=True)
            if len(results) > 1 or n_best > 1:
                click.echo(result["source"])
            for translation in result["translations"]:
                score = f"  ({translation['score']:.2f})" if n_best > 1 else ""
                click.echo(("  " if len(results) > 1 or n_best > 1 else "") + translation["text"] + score)

    return predict


TASK = TranslateTask()
