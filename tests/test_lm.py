"""The language-model app: corpus layout, perplexity, generation, and train -> score through the CLI."""

import json
import math

import numpy as np
import pytest

from conftest import data_dir, run_in_process
from tiny_models import SENTENCES, TINY_LM
from nnkit.apps.lm.data import EOS, bptt_windows, build_vocabulary, hold_out, word_stream
from nnkit.data.files import read_lines
from nnkit.errors import UsageError

def tiny_model_config(**changes):
    return {"architecture": "lstm", "layers": 1, "units": 8, "embedding_dim": 8, "tie_weights": False,
            "dropout": 0.0, **changes}


# --- the stream and its layout -------------------------------------------------------------

def test_word_stream_starts_with_and_ends_every_line_with_eos():
    assert word_stream(["The cat", "", "  sat  "], lowercase=True) == [EOS, "the", "cat", EOS, "sat", EOS]


def test_bptt_windows_lose_or_repeat_no_word_and_continue_each_row():
    ids = np.arange(103, dtype=np.int32)
    inputs, targets = bptt_windows(ids, batch_size=4, bptt=5)
    # (102 predictions // 4 rows) = 25 per row: 5 windows of 5, batch after batch.
    assert inputs.shape == targets.shape == (20, 5)
    np.testing.assert_array_equal(targets, inputs + 1)  # each target is the next word
    rows = [np.concatenate([inputs[window * 4 + row] for window in range(5)]) for row in range(4)]
    for row, words in enumerate(rows):  # row r of batch k+1 continues row r of batch k
        np.testing.assert_array_equal(words, np.arange(row * 25, row * 25 + 25))
    assert sorted(inputs.ravel().tolist()) == list(range(100))  # each word once; 100-102 left out


def test_bptt_windows_shorten_for_a_short_split_and_refuse_an_empty_one():
    inputs, _ = bptt_windows(np.arange(9, dtype=np.int32), batch_size=4, bptt=35)
    assert inputs.shape == (4, 2)
    with pytest.raises(UsageError, match="too short for batch_size 4"):
        bptt_windows(np.arange(4, dtype=np.int32), batch_size=4, bptt=35)


def test_hold_out_predicts_every_word_once_even_without_line_breaks():
    stream = word_stream([" ".join(f"w{i}" for i in range(100))], lowercase=False)  # one line
    parts = hold_out(stream, 0.1, 0.1)
    predicted = parts["train"][1:] + parts["valid"][1:] + parts["test"][1:]
    assert predicted == stream[1:]
    assert len(parts["test"]) - 1 == 102 - int(102 * 0.9)  # the stream's last 10%: 11 of its 102 words
    assert parts["test"][-1] == EOS


def test_vocabulary_keeps_eos_and_unk_first_and_cuts_rare_words():
    stream = word_stream(["b b b a a c <unk>"], lowercase=False)
    assert build_vocabulary(stream, max_size=10) == [EOS, "<unk>", "b", "a", "c"]
    assert build_vocabulary(stream, max_size=4) == [EOS, "<unk>", "b", "a"]
    assert build_vocabulary(stream, max_size=10, min_count=2) == [EOS, "<unk>", "b", "a"]


def test_read_lines_names_the_line_of_a_non_utf8_byte(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("fine\ncaf\xe9\n".encode("latin-1"))
    with pytest.raises(UsageError, match=r"latin1.txt line 2: not UTF-8 text \(byte 0xe9\)"):
        read_lines(path)


# --- perplexity and generation with known probabilities ------------------------------------

def fixed_distribution_model(probabilities, batch_size=1):
    """A model that predicts `probabilities` whatever it has read: zero output kernel, log-p bias."""
    from nnkit.apps.lm.model import build_language_model

    model = build_language_model(tiny_model_config(), len(probabilities), batch_size)
    kernel, _ = model.get_layer("logits").get_weights()
    model.get_layer("logits").set_weights([np.zeros_like(kernel), np.log(probabilities).astype("float32")])
    return model


def test_perplexity_of_a_hand_made_corpus_with_known_probabilities():
    from nnkit.apps.lm.generation import perplexity, stream_log_probabilities

    model = fixed_distribution_model([0.5, 0.25, 0.125, 0.125])
    ids = [0, 1, 2, 3, 0, 0]  # predicted: 1, 2, 3, 0, 0
    expected = (0.25 * 0.125 * 0.125 * 0.5 * 0.5) ** (-1 / 5)  # = 4.0 * 2 ** 0.2
    for window in (1, 2, 128):  # the same across window boundaries
        scores = stream_log_probabilities(model, ids, window=window)
        np.testing.assert_allclose(scores, np.log([0.25, 0.125, 0.125, 0.5, 0.5]), rtol=1e-5)
        assert perplexity(scores) == pytest.approx(expected, rel=1e-5)


def test_windowed_scoring_carries_the_state_across_windows():
    from nnkit.apps.lm.generation import stream_log_probabilities
    from nnkit.apps.lm.model import build_language_model

    import keras

    keras.utils.set_random_seed(3)
    model = build_language_model(tiny_model_config(), 20, batch_size=1)
    ids = np.random.default_rng(0).integers(0, 20, 40)
    whole = stream_log_probabilities(model, ids, window=64)
    np.testing.assert_allclose(stream_log_probabilities(model, ids, window=7), whole, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("tie_weights, units", [(True, 8), (True, 12), (False, 8)])
def test_language_model_saves_reloads_and_predicts_identically(tmp_path, tie_weights, units):
    import keras

    from nnkit.apps.lm.model import build_language_model, copy_weights
    from nnkit.layers.stateful import reset_states
    from nnkit.saving import load_model, save_model

    keras.utils.set_random_seed(0)
    config = tiny_model_config(tie_weights=tie_weights, units=units, dropout=0.1)
    model = build_language_model(config, 30, batch_size=2)
    model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    ids = np.random.default_rng(0).integers(0, 30, (4, 6))
    model.fit(ids, ids, batch_size=2, shuffle=False, verbose=0)
    reset_states(model)
    before = model.predict_on_batch(ids[:2])
    save_model(model, tmp_path, {"task": "lm"})
    reloaded, _ = load_model(tmp_path, expected_task="lm")
    reset_states(reloaded)
    np.testing.assert_array_equal(reloaded.predict_on_batch(ids[:2]), before)
    single = build_language_model(config, 30, batch_size=1)  # the inference copy: one stream, any length
    copy_weights(reloaded, single)
    np.testing.assert_allclose(single.predict_on_batch(ids[:1]), before[:1], rtol=1e-5, atol=1e-6)
    assert ("projection" in [layer.name for layer in model.layers]) == (tie_weights and units != 8)


def test_choose_next_is_greedy_at_temperature_zero_and_respects_top_k():
    from nnkit.apps.lm.generation import choose_next

    logits = np.log([0.1, 0.6, 0.3])
    rng = np.random.default_rng(0)
    assert choose_next(logits, 0, None, rng) == 1
    assert {choose_next(logits, 1.0, 2, rng) for _ in range(200)} == {1, 2}


class CountingModel:
    """Stands in for the stateful model: records the shape of every call."""

    def __init__(self, vocabulary_size):
        self.shapes, self.layers, self.vocabulary_size = [], [], vocabulary_size

    def predict_on_batch(self, ids):
        self.shapes.append(ids.shape)
        logits = np.zeros((*ids.shape, self.vocabulary_size), np.float32)
        logits[..., (ids[0, -1] + 1) % self.vocabulary_size] = 5.0  # prefers the next id
        return logits


def test_generation_feeds_one_word_per_step_after_the_prompt():
    from nnkit.apps.lm.generation import generate

    model = CountingModel(10)
    generated = generate(model, [0, 4, 5, 6], length=5, temperature=0)
    assert generated == [7, 8, 9, 0, 1]
    assert model.shapes == [(1, 4)] + [(1, 1)] * 4  # the prompt once, never again


# --- the app through the CLI ----------------------------------------------------------------

def test_train_evaluate_score_generate_on_a_text_corpus(trained_lm, capsys):
    metadata = json.loads((trained_lm / "metadata.json").read_text())
    test = metadata["metrics"]["test"]
    assert set(metadata["data"]["vocabulary"][:2]) == {EOS, "<unk>"}
    assert test["test_perplexity"] < 12  # 12 word types; a trained model beats uniform guessing
    evaluated = json.loads(run_in_process(capsys, "lm", "evaluate", "--model-path", trained_lm, "--json",
                                          check=True).stdout)
    assert evaluated["test_perplexity"] == pytest.approx(test["test_perplexity"], rel=1e-4)

    likely, unlikely = json.loads(run_in_process(capsys, "lm", "score", "--model-path", trained_lm, "--json",
                                                 "The cat sat on the mat.", "mat the on sat cat the",
                                                 check=True).stdout)
    assert likely["words"] == ["the", "cat", "sat", "on", "the", "mat", EOS]
    assert likely["log_probability"] > unlikely["log_probability"]
    assert likely["perplexity"] == pytest.approx(math.exp(-likely["log_probability"] / 7), rel=1e-4)


@pytest.fixture(scope="module")
def predictor(trained_lm):
    from nnkit.saving import load_predictor

    return load_predictor(trained_lm)


def test_reloaded_model_scores_identically(trained_lm, predictor, capsys):
    first = predictor.score("a dog sat on the mat")
    cli = json.loads(run_in_process(capsys, "lm", "score", "--model-path", trained_lm, "--json", "a dog sat on the mat",
                                    check=True).stdout)[0]
    np.testing.assert_allclose(cli["word_log_probabilities"], first["word_log_probabilities"], rtol=1e-5)
    assert predictor.score("a dog sat on the mat") == first  # scoring again starts from a fresh state


def test_generation_is_deterministic_per_seed_and_greedy_at_temperature_zero(predictor):
    def generate(**options):
        return predictor.generate("the cat", 12, **options)["words"]

    assert generate(seed=5) == generate(seed=5)
    assert len({tuple(generate(seed=seed)) for seed in range(4)}) > 1
    assert generate(temperature=0, seed=1) == generate(temperature=0, seed=2)


def test_prompt_of_unknown_words_still_generates_with_a_note(trained_lm, capsys):
    done = run_in_process(capsys, "lm", "generate", "--model-path", trained_lm, "--prompt", "zebra quokka",
                          "--length", "3", "--seed", "0")
    assert done.returncode == 0 and done.stdout.startswith("zebra quokka")
    assert len(done.stdout.split()) >= 3  # an <eos> among the 3 new words becomes a line break
    assert "read as <unk> (all of them): zebra quokka" in done.stderr


def test_bad_generation_options_get_one_line(trained_lm, predictor, capsys):
    done = run_in_process(capsys, "lm", "generate", "--model-path", trained_lm, "--length", "0")
    assert done.returncode == 2 and "--length must be at least 1, got 0" in done.stderr
    assert "Traceback" not in done.stderr
    with pytest.raises(UsageError, match="--length must be at least 1, got -3"):
        predictor.generate("the", -3)
    with pytest.raises(UsageError, match=r"--temperature must be 0 \(greedy\) or more"):
        predictor.generate("the", 3, temperature=-1)


def test_empty_text_cannot_be_scored(predictor):
    for text in ("", "  "):
        with pytest.raises(UsageError, match="nothing to score"):
            predictor.score(text)


def test_predict_lists_the_likeliest_next_words(trained_lm, capsys):
    done = run_in_process(capsys, "lm", "predict", "--model-path", trained_lm, "--count", "3",
                          "the cat sat on", check=True)
    guesses = done.stdout.strip().removeprefix("the cat sat on -> ").split(", ")
    assert len(guesses) == 3
    assert guesses[0].startswith("the (")  # every "sat on" is followed by "the"


def test_bad_corpora_get_one_line(tmp_path, capsys):
    from nnkit.apps.lm.task import TASK
    from nnkit.config import load_config

    empty = tmp_path / "empty.txt"
    empty.write_text("\n  \n")
    done = run_in_process(capsys, "lm", "train", "--text", empty, "--output", tmp_path / "out", *TINY_LM)
    assert done.returncode == 2 and "no words in" in done.stderr and "Traceback" not in done.stderr
    latin = tmp_path / "latin.txt"
    latin.write_bytes(b"ok\n\xff\xfe\n")
    with pytest.raises(UsageError, match="latin.txt line 2: not UTF-8 text"):
        TASK.load_data(load_config("lm", options=[{"data": {"text": [str(latin)]}}]))


def test_a_corpus_without_line_breaks_trains(tmp_path, capsys):
    one_line = tmp_path / "one_line.txt"
    one_line.write_text(" ".join(SENTENCES * 30))  # no line break at all
    done = run_in_process(capsys, "lm", "train", "--quiet", "--text", one_line, "--output", tmp_path / "out",
                          *TINY_LM, "--epochs", "1")
    assert done.returncode == 0, done.stderr
    assert "test perplexity" in done.stdout


def test_a_folder_with_split_files_and_a_model_of_another_task(tmp_path, trained_lm, capsys):
    for split, copies in (("train", 30), ("valid", 4), ("test", 4)):
        (tmp_path / f"{split}.txt").write_text("\n".join(SENTENCES * copies) + "\n")
    done = run_in_process(capsys, "lm", "train", "--quiet", "--data", tmp_path, "--output", tmp_path / "out", *TINY_LM,
                          "--epochs", "1")
    assert done.returncode == 0, done.stderr
    wrong = run_in_process(capsys, "slots", "predict", "--model-path", trained_lm, "to denver")
    assert wrong.returncode == 2 and "task 'lm', not 'slots'" in wrong.stderr


@pytest.fixture(scope="module")
def ptb_dir():
    if not (data_dir() / "ptb" / "ptb.test.txt.gz").is_file():
        pytest.skip(f"PTB not found under {data_dir()} (set NNKIT_DATA_DIR)")
    return data_dir()


def test_ptb_keeps_its_10000_word_vocabulary_and_trains_on_a_slice(ptb_dir, tmp_path, capsys):
    done = run_in_process(capsys, "lm", "train", "--quiet", "--output", tmp_path, "--epochs", "1", "--batch-size", "8",
                          "--bptt", "10", "--units", "16", "--set", "model.embedding_dim=16",
                          "--set", "data.train_limit=4000", "--set", "data.test_limit=500")
    assert done.returncode == 0, done.stderr
    metadata = json.loads((tmp_path / "metadata.json").read_text())
    assert len(metadata["data"]["vocabulary"]) == 10000
    assert metadata["metrics"]["test"]["test_words"] == 500
    result = json.loads(run_in_process(capsys, "lm", "score", "--model-path", tmp_path, "--json",
                                       "the company's 1,200 shares", check=True).stdout)[0]
    assert result["words"] == ["the", "company", "'s", "n", "shares", EOS]  # PTB spells numbers N
