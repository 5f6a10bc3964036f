"""Translation with subword vocabularies (--vocabulary subwords): SentencePiece models trained on
each language's tokens, saved inside the model, used again by a fresh process."""

import json

import pytest

from conftest import run_in_process, run_nnkit
from tiny_models import PAIRS, TINY_TRANSLATE


def test_pieces_come_back_as_the_same_text():
    from nnkit.apps.translate.text import detokenize, tokenize, train_subwords

    german = [tokenize(source, "de") for source, _ in PAIRS] * 4
    model = train_subwords(german, 40)
    pieces = tokenize("Ein Kind fährt ein Buch & läuft.", "de", "moses", model)
    assert pieces[0] == "\u2581Ein" and len(pieces) > 8  # unseen words fall apart into smaller pieces
    assert detokenize(pieces, "de", "moses", model) == "Ein Kind fährt ein Buch & läuft."
    # An <unk> replaced by the source piece it attended to joins like any other piece.
    assert detokenize(["\u2581A", "\u2581man", "\u2581rid", "es", "\u2581."], "en", "moses", model) == "A man rides."


def test_load_data_builds_a_vocabulary_of_pieces_per_language(pairs_file):
    from nnkit.config import load_config
    from nnkit.registry import load_task

    config = load_config("translate", overrides=[f"data.files=[{pairs_file}]", "data.vocabulary=subwords",
                                                 "data.subword_units=40"])
    splits = load_task("translate").load_data(config)
    info = splits.info
    assert info["vocabulary"] == "subwords" and info["source_subwords"] != info["target_subwords"]
    assert "\u2581." in info["target_words"] and "bike" not in info["target_words"]  # pieces, not words
    assert len(info["target_words"]) <= 40 + 4
    inputs, targets = splits.train
    assert (targets["words"] == 1).sum() == 0  # no <unk>: the pieces cover every training word


@pytest.mark.slow
def test_a_subword_model_trains_saves_its_pieces_and_translates_in_a_fresh_process(tmp_path, capsys, pairs_file):
    output = tmp_path / "model"
    run_in_process(capsys, "translate", "train", "--quiet", "--pairs", pairs_file, "--output", output,
                   "--vocabulary", "subwords", "--set", "data.subword_units=40", *TINY_TRANSLATE, check=True)
    info = json.loads((output / "metadata.json").read_text())["data"]
    assert info["vocabulary"] == "subwords" and info["source_subwords"] and info["target_subwords"]
    assert info["source_words"][4:] and all(" " not in piece for piece in info["source_words"])
    done = run_nnkit("translate", "predict", "--model-path", output, "--json", *[source for source, _ in PAIRS],
                     check=True)
    results = json.loads(done.stdout)
    assert all(piece.startswith("\u2581") or piece.isalpha() or piece == "."
               for result in results for piece in result["source_tokens"])
    assert sum(result["translations"][0]["text"] == target for result, (_, target) in zip(results, PAIRS)) >= 4


def test_vocabulary_is_checked_before_the_data_is_read(tmp_path, capsys):
    done = run_in_process(capsys, "translate", "train", "--set", "data.vocabulary=pieces", "--pairs", tmp_path / "none")
    assert done.returncode == 2 and "config key 'data.vocabulary' must be one of words, subwords" in done.stderr
