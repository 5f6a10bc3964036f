"""The translation app: attention, the encoder-decoder, parallel files, and train -> predict -> BLEU."""

import json

import numpy as np
import pytest

from conftest import data_dir, run_in_process
from tiny_models import PAIRS, TINY_TRANSLATE
from nnkit.apps.translate.data import file_pairs, hold_out, pair_folder
from nnkit.errors import UsageError

# French to Japanese: Moses on one side, the Unicode fallback (a token per character) on the other.
FR_JA = [("Un homme lit.", "男は読む。"), ("Une femme mange.", "女は食べる。"), ("Deux chiens jouent.", "犬が遊ぶ。"),
         ("Un enfant dort.", "子供は寝る。"), ("Le chat court.", "猫は走る。")]

def tiny_config(**changes):
    return {"architecture": "gru", "attention": "bahdanau", "layers": 1, "units": 16, "embedding_dim": 8,
            "dropout": 0.0, "bidirectional_encoder": True, **changes}


@pytest.mark.parametrize("attention", ["AdditiveAttention", "MultiplicativeAttention"])
def test_attention_weights_sum_to_one_and_skip_padding(attention):
    import nnkit.layers

    layer = getattr(nnkit.layers, attention)(6)
    queries, keys = np.random.rand(2, 3, 5).astype("float32"), np.random.rand(2, 4, 7).astype("float32")
    mask = np.array([[True, True, False, False], [True, True, True, True]])
    context, weights = (np.asarray(x) for x in layer(queries, keys, mask))
    assert context.shape == (2, 3, 7) and weights.shape == (2, 3, 4)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
    assert weights[0, :, 2:].max() == 0.0
    np.testing.assert_allclose(context, weights @ keys, rtol=1e-5)  # the weighted sum of the keys


@pytest.mark.parametrize("cell, attention, layers", [("gru", "bahdanau", 1), ("lstm", "luong", 2), ("gru", "none", 2)])
def test_decoding_step_by_step_equals_teacher_forcing(cell, attention, layers):
    import keras

    from nnkit.models.decoding import log_softmax
    from nnkit.models.seq2seq import Seq2SeqDecoder, build_translator

    keras.utils.set_random_seed(0)
    config = tiny_config(architecture=cell, attention=attention, layers=layers)
    model = build_translator(config, 20, 25)
    source = np.array([[3, 4, 5, 0, 0], [6, 7, 8, 9, 10]], np.int32)  # the first has padding
    previous = np.array([[2, 5, 6, 7], [2, 8, 9, 4]], np.int32)
    expected = log_softmax(model.predict_on_batch({"source": source, "previous_words": previous})["words"])
    decoder = Seq2SeqDecoder(model, config)
    memory, mask, states = decoder.encode(source)
    for position in range(previous.shape[1]):
        logits, states, weights = decoder.step(previous[:, position], memory, mask, states)
        np.testing.assert_allclose(log_softmax(logits), expected[:, position], atol=1e-5)
        if attention != "none":
            np.testing.assert_allclose(weights.sum(axis=-1), 1.0, rtol=1e-5)
            assert weights[0, 3:].max() == 0.0
        else:
            assert weights is None


def write_pair_folder(folder, pairs, source="fr", target="ja", splits=("train",), gzipped=()):
    """`split.<language>` files of `pairs` (the training split repeated 20 times); the sides
    named in `gzipped` gzipped."""
    import gzip

    folder.mkdir(parents=True, exist_ok=True)
    for split in splits:
        for side, language in enumerate((source, target)):
            text = "\n".join(pair[side] for pair in pairs * (20 if split == "train" else 1)) + "\n"
            if language in gzipped:
                (folder / f"{split}.{language}.gz").write_bytes(gzip.compress(text.encode()))
            else:
                (folder / f"{split}.{language}").write_text(text, encoding="utf-8")
    return folder


def translate_config(*overrides):
    from nnkit.config import load_config

    return load_config("translate", overrides=list(overrides))


@pytest.mark.parametrize("sentence, tokens", [
    ("我爱北京。", ["我", "爱", "北", "京", "。"]),  # Chinese: Moses would leave it one token
    ("東京でPythonを学ぶ!", ["東", "京", "で", "Python", "を", "学", "ぶ", "!"]),
    ("ผมกินข้าว", ["ผ", "ม", "กิ", "น", "ข้", "า", "ว"]),  # Thai: a vowel mark stays with its letter
    ("나는 학교에 갑니다.", ["나는", "학교에", "갑니다", "."]),  # Korean has spaces: words
    ('Elle a dit "oui" (3,5%), l\'homme-orchestre ¿no?', ["Elle", "a", "dit", '"', "oui", '"', "(", "3,5", "%",
                                                         ")", ",", "l'homme-orchestre", "¿", "no", "?"]),
    ("مرحبا، كيف حالك؟", ["مرحبا", "،", "كيف", "حالك", "؟"]),
])
def test_the_unicode_fallback_splits_by_category_and_joins_back(sentence, tokens):
    from nnkit.apps.translate.text import detokenize, tokenize

    assert tokenize(sentence, "xx", "unicode") == tokens
    assert detokenize(tokens, "xx", "unicode") == sentence


def test_moses_for_the_languages_sacremoses_has_tables_for_the_fallback_elsewhere():
    from sacremoses.corpus import NonbreakingPrefixes

    from nnkit.apps.translate.text import moses_languages, tokenizer_for

    assert {"de", "en", "fr", "ru", "hi", "ta"} <= moses_languages() <= set(NonbreakingPrefixes().available_langs)
    assert [tokenizer_for(code) for code in ("fr", "pt_BR", "zh", "zh-Hant", "ja", "th", "ko", "tr")] == \
        ["moses"] * 2 + ["unicode"] * 6
    assert tokenizer_for("fr", "unicode") == "unicode" and tokenizer_for("tr", "moses") == "moses"


def test_a_language_pair_folder_plain_or_gzipped_holds_out_what_it_lacks(tmp_path):
    from nnkit.registry import load_task

    task, config = load_task("translate"), translate_config("data.source_language=fr", "data.target_language=ja")
    write_pair_folder(tmp_path / "data" / "ja-fr", FR_JA, splits=("train", "dev"), gzipped=("ja",))
    for data in (tmp_path / "data", tmp_path / "data" / "ja-fr"):  # holding it (either order) or the folder itself
        splits = task.load_data(config, data)
        assert splits.info["held_out"] == {"sampling": "seeded random", "seed": 1337, "train": 95, "test": 5}
        assert len(splits.validation[0]["source"]) == 5  # dev.*: none held out for validation
        assert (splits.info["source_tokenizer"], splits.info["target_tokenizer"]) == ("moses", "unicode")
        assert {"chiens", "犬", "遊"} <= set(splits.info["source_words"] + splits.info["target_words"])
    # evaluate reads the same test pairs back: the seeded sample of train.*
    assert task.load_data(config, tmp_path / "data", splits=("test",)).test.sources == splits.test.sources
    write_pair_folder(tmp_path / "data" / "ja-fr", FR_JA[:2], splits=("test",))
    assert task.load_data(config, tmp_path / "data", splits=("test",)).test.sources == [FR_JA[0][0], FR_JA[1][0]]
    assert "held_out" not in task.load_data(config, tmp_path / "data").info  # it has every split


def test_a_language_pair_folder_refuses_a_lone_side_and_unknown_pairs_name_the_key(tmp_path, capsys):
    from nnkit.registry import load_task

    task = load_task("translate")
    folder = write_pair_folder(tmp_path / "fr-ja", FR_JA)
    (folder / "valid.fr").write_text("Un homme lit.\n")
    with pytest.raises(UsageError, match=r"valid.fr has no ja side: expected valid.ja or valid.ja.gz or dev.ja"):
        task.load_data(translate_config("data.source_language=fr", "data.target_language=ja"), tmp_path)
    done = run_in_process(capsys, "translate", "train", "--data", tmp_path, "--source", "fr", "--target", "de")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "config key 'data.source_language' is 'fr', which Multi30k lacks" in done.stderr
    done = run_in_process(capsys, "translate", "train", "--data", tmp_path, "--source", "fr.x", "--target", "ja")
    assert done.returncode == 2 and "'data.source_language' must be a language code" in done.stderr


def test_multi30k_holds_train_files_too_but_is_read_as_multi30k(tmp_path):
    import gzip

    for name in ("train.de.gz", "train.en.gz", "val.de.gz"):
        (tmp_path / name).write_bytes(gzip.compress(b"x\n"))
    assert pair_folder(tmp_path, "de", "en") is None
    (tmp_path / "val.de.gz").unlink()
    assert pair_folder(tmp_path, "de", "en") == tmp_path


def test_train_predict_and_evaluate_on_a_french_japanese_folder(tmp_path, capsys):
    """The one training run on a pair folder: the Unicode fallback's tokens are saved and used."""
    from nnkit.saving import load_predictor

    data = write_pair_folder(tmp_path / "fr-ja", FR_JA, splits=("train", "valid", "test"))
    output = tmp_path / "model"
    run_in_process(capsys, "translate", "train", "--quiet", "--data", data, "--source", "fr", "--target", "ja",
                   "--output", output, *TINY_TRANSLATE, check=True)
    assert json.loads((output / "metadata.json").read_text())["data"]["target_tokenizer"] == "unicode"
    results = load_predictor(output).translate([source for source, _ in FR_JA], beam_size=2)
    assert sum(r["translations"][0]["text"] == target for r, (_, target) in zip(results, FR_JA)) >= 4
    done = run_in_process(capsys, "translate", "evaluate", "--model-path", output, "--data", data, "--json")
    scored = json.loads(done.stdout)
    assert scored["sentences"] == 5 and "tok:none" in scored["bleu_signature"]  # BLEU on characters


def test_parallel_files_report_mismatched_counts_and_bad_lines(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\ndrei\n")
    (tmp_path / "a.en").write_text("one\ntwo\n")
    with pytest.raises(UsageError, match=r"a.de has 3 lines but .*a.en has 2"):
        file_pairs([tmp_path / "a.de", tmp_path / "a.en"])
    (tmp_path / "pairs.tsv").write_text("eins\tone\nzwei two\n")
    with pytest.raises(UsageError, match="pairs.tsv line 2: expected 'source<TAB>target', found 1 fields"):
        file_pairs([tmp_path / "pairs.tsv"])


def test_pairs_held_out_are_a_seeded_random_sample_not_the_files_end():
    """A corpus sorted by length would otherwise be tested on its longest sentences only."""
    pairs = list(range(1000))  # sorted, as Tatoeba/Anki exports sort by length
    parts = hold_out(pairs, 0.1, 0.05, seed=7)
    assert [len(parts[split]) for split in ("train", "valid", "test")] == [850, 100, 50]
    assert sorted(parts["train"] + parts["valid"] + parts["test"]) == pairs  # a partition
    assert parts["test"] != pairs[-50:] and min(parts["test"]) < 500 < max(parts["test"])  # from all over
    assert all(part == sorted(part) for part in parts.values())  # each keeps the file's order
    assert hold_out(pairs, 0.1, 0.05, seed=7) == parts and hold_out(pairs, 0.1, 0.05, seed=8) != parts
    with pytest.raises(UsageError, match="too few"):
        hold_out(pairs[:2], 0.1, 0.05, seed=7)


def test_training_on_a_pairs_file_records_and_prints_what_it_held_out(trained_translator):
    held_out = json.loads((trained_translator / "metadata.json").read_text())["data"]["held_out"]
    assert held_out["sampling"] == "seeded random" and held_out["seed"] == 1337
    assert held_out["train"] + held_out["valid"] + held_out["test"] == len(PAIRS) * 40


def test_train_predict_and_bleu_on_tiny_pairs(trained_translator):
    import sacrebleu

    from nnkit.saving import load_predictor

    metadata = json.loads((trained_translator / "metadata.json").read_text())
    test = metadata["metrics"]["test"]
    translator = load_predictor(trained_translator)
    results = translator.translate([source for source, _ in PAIRS], beam_size=3)
    hypotheses = [result["translations"][0]["text"] for result in results]
    assert sum(h == target for h, (_, target) in zip(hypotheses, PAIRS)) >= 4  # learnt the five pairs
    # evaluate's BLEU is sacrebleu's, on detokenized text against the raw references
    sources = [source for source, _ in (PAIRS * 40)[-10:]]
    references = [target for _, target in (PAIRS * 40)[-10:]]
    ours = [r["translations"][0]["text"] for r in translator.translate(sources)]
    assert test["bleu"] == pytest.approx(sacrebleu.corpus_bleu(ours, [references]).score, abs=0.01)


def test_beam_one_equals_greedy_and_n_best_is_ranked(trained_translator):
    from nnkit.saving import load_predictor

    translator = load_predictor(trained_translator)
    greedy = translator.translate(["Ein Kind isst."], beam_size=1)[0]["translations"][0]
    assert greedy == translator.translate(["Ein Kind isst."], beam_size=1)[0]["translations"][0]
    three = translator.translate(["Ein Kind isst."], beam_size=3, n_best=3)[0]["translations"]
    assert len(three) == 3 and [t["score"] for t in three] == sorted((t["score"] for t in three), reverse=True)
    assert three[0]["score"] >= greedy["score"] - 1e-9


def test_predict_cli_plots_attention_and_handles_odd_input(trained_translator, tmp_path, capsys):
    plot = tmp_path / "attention.png"
    done = run_in_process(capsys, "translate", "predict", "--model-path", trained_translator, "--json",
                          "--attention-plot", plot, "Ein Mann fährt Fahrrad.", "Ein 🚲 und Ωμέγα " + "Hund " * 30)
    assert done.returncode == 0, done.stderr
    first, odd = json.loads(done.stdout)
    assert plot.stat().st_size > 0
    assert len(first["translations"][0]["attention"][0]) == len(first["source_tokens"])
    assert odd["longer_than_training"] and odd["source_tokens"][1] == "🚲"


def test_evaluate_takes_a_beam_size(trained_translator, capsys):
    done = run_in_process(capsys, "translate", "evaluate", "--model-path", trained_translator, "--beam-size",
                          "1", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["beam_size"] == 1


def test_multi30k_slice_trains(tmp_path, capsys):
    if not (data_dir() / "multi30k" / "test_2016_flickr.de.gz").is_file():
        pytest.skip(f"Multi30k not found under {data_dir()} (set NNKIT_DATA_DIR)")
    done = run_in_process(capsys, "translate", "train", "--quiet", "--output", tmp_path, "--source", "en",
                          "--target", "de", "--epochs", "1", "--set", "data.train_limit=300",
                          "--set", "data.test_limit=20", "--set", "model.units=16", "--set", "model.embedding_dim=8",
                          "--set", "decoding.beam_size=2")
    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert (metadata["data"]["source_language"], metadata["data"]["target_language"]) == ("en", "de")
    assert metadata["metrics"]["test"]["sentences"] == 20 and "." in metadata["data"]["target_words"]
