"""The slots app: ATIS files, span metrics, and train -> evaluate -> predict through the CLI."""

import json

import numpy as np
import pytest

from conftest import run_in_process
from nnkit.apps.slots.data import read_split
from nnkit.errors import UsageError
from nnkit.apps.slots.metrics import slot_metrics

def write_split(folder, words, tags, intents):
    folder.mkdir(parents=True, exist_ok=True)
    for name, lines in (("seq.in", words), ("seq.out", tags), ("label", intents)):
        (folder / name).write_text("".join(line + "\n" for line in lines))


def small_corpus(root, test_tags="O B-toloc.city_name"):
    """A corpus in the ATIS layout, small enough to learn in seconds."""
    for split, copies in (("train", 40), ("valid", 4)):
        write_split(root / split, ["to denver", "from boston", "fares to boston"] * copies,
                    ["O B-toloc.city_name", "O B-fromloc.city_name", "O O B-toloc.city_name"] * copies,
                    ["atis_flight", "atis_flight", "atis_airfare"] * copies)
    write_split(root / "test", ["to denver", "from boston"], [test_tags, "O B-fromloc.city_name"],
                ["atis_flight", "atis_day_name"])
    return root


def test_read_split_reports_file_and_line_of_a_mismatch(tmp_path):
    write_split(tmp_path, ["to denver", "from boston please"], ["O B-toloc.city_name", "O B-fromloc.city_name"],
                ["atis_flight", "atis_flight"])
    with pytest.raises(UsageError, match=r"seq.out line 2: 2 tags for the 3 words"):
        read_split(tmp_path)


def test_read_split_rejects_bad_tags_and_misaligned_files(tmp_path):
    write_split(tmp_path, ["to denver"], ["O X-city"], ["atis_flight"])
    with pytest.raises(UsageError, match=r"seq.out line 1: 'X-city' is not a BIO tag"):
        read_split(tmp_path)
    write_split(tmp_path, ["to denver"], ["O B-city"], ["atis_flight", "atis_airfare"])
    with pytest.raises(UsageError, match="seq.in has 1 lines, seq.out 1, label 2"):
        read_split(tmp_path)


def test_read_split_reads_atis(atis_dir):
    test = read_split(atis_dir / "test")
    assert len(test) == 893 and all(len(w) == len(t) for w, t in zip(test.words, test.tags))


def test_metrics_match_a_hand_checked_example():
    gold = [["B-fromloc.city_name", "O", "B-toloc.city_name", "I-toloc.city_name"], ["O", "B-depart_date.day_name"]]
    predicted = [["B-fromloc.city_name", "O", "B-toloc.city_name", "O"], ["O", "B-depart_date.day_name"]]
    metrics = slot_metrics(gold, predicted, ["atis_flight", "atis_airfare"], ["atis_flight", "atis_flight"],
                           known_tags=["B-fromloc.city_name", "B-toloc.city_name", "O"], known_intents=["atis_flight"])
    # Gold spans: fromloc, toloc (2 words), day_name; predicted toloc has 1 word, so 2 of 3 right.
    assert metrics["slot_precision"] == pytest.approx(2 / 3, abs=1e-6)
    assert metrics["slot_recall"] == pytest.approx(2 / 3, abs=1e-6)
    assert metrics["slot_f1"] == pytest.approx(2 / 3, abs=1e-6)
    assert metrics["intent_accuracy"] == 0.5
    assert metrics["sentence_accuracy"] == 0.0  # one sentence has a wrong span, the other a wrong intent
    assert metrics["per_slot"]["toloc.city_name"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert metrics["unseen"] == {"tags": ["B-depart_date.day_name", "I-toloc.city_name"], "intents": ["atis_airfare"]}


def test_evaluate_reports_spans_intent_sentences_and_per_slot(trained_slots, capsys):
    done = run_in_process(capsys, "slots", "evaluate", "--model-path", trained_slots, "--json", check=True)
    metrics = json.loads(done.stdout)
    assert metrics["sentences"] == 100  # the saved config's data.test_limit
    assert 0 <= metrics["slot_f1"] <= 1 and 0 <= metrics["intent_accuracy"] <= 1
    assert "fromloc.city_name" in metrics["per_slot"]
    curves = trained_slots / "curves.png"
    text = run_in_process(capsys, "slots", "evaluate", "--model-path", trained_slots, "--learning-curves",
                          curves).stdout
    assert "never seen in training count as misses" in text and "support" in text
    assert curves.read_bytes().startswith(b"\x89PNG")
    info = run_in_process(capsys, "slots", "info", "--model-path", trained_slots).stdout
    assert "architecture: gru" in info and "slot_f1" in info
    # Image tasks' confusion matrix is not a slots option.
    assert run_in_process(capsys, "slots", "evaluate", "--confusion-matrix", "x.png").returncode == 2


def test_predict_tags_every_word_of_raw_text(trained_slots, capsys):
    text = "I want to fly from Boston to Denver, tomorrow!"
    done = run_in_process(capsys, "slots", "predict", text, "--model-path", trained_slots, "--json", check=True)
    [result] = json.loads(done.stdout)
    assert result["words"] == ["i", "want", "to", "fly", "from", "boston", "to", "denver", "tomorrow"]
    assert len(result["tags"]) == 9 and result["intent"].startswith("atis_")
    assert all(slot["value"] == " ".join(result["words"][slot["start"]:slot["end"]]) for slot in result["slots"])
    plain = run_in_process(capsys, "slots", "predict", text, "--model-path", trained_slots, check=True).stdout
    assert plain.startswith(f"intent: {result['intent']}")


def test_predictor_handles_long_and_unknown_input(trained_slots):
    import nnkit

    predictor = nnkit.load(trained_slots)
    long_text = " ".join(["from boston to denver"] * 250)  # 1,000 words
    [result] = predictor.predict(long_text)
    assert len(result["tags"]) == 1000
    [odd] = predictor.predict("zzyzx qwrtp 12345")
    assert odd["unknown_words"] == ["zzyzx", "qwrtp", "12345"] and len(odd["tags"]) == 3
    # Batched and one by one agree: padding must not change a sentence's tags.
    together = predictor.predict(["to denver", long_text])
    assert together[0]["tags"] == predictor.predict("to denver")[0]["tags"]


def test_train_and_evaluate_any_corpus_in_the_atis_layout(tmp_path, capsys):
    corpus = small_corpus(tmp_path / "corpus", test_tags="O B-toloc.airport_name")
    output = tmp_path / "model"
    run_in_process(capsys, "slots", "train", "--quiet", "--data", corpus, "--output", output, "--epochs", "1",
                   "--encoding", "onehot", "--model", "elman", "--unidirectional", "--no-joint-intent",
                   "--set", "model.units=8", check=True)
    done = run_in_process(capsys, "slots", "evaluate", "--model-path", output, "--data", corpus)
    assert done.returncode == 0, done.stderr
    assert "1 gold tags never seen in training count as misses: B-toloc.airport_name" in done.stdout
    assert "1 gold intents never seen in training count as misses: atis_day_name" in done.stdout


def test_training_files_with_mismatched_counts_fail_clearly(tmp_path, capsys):
    corpus = small_corpus(tmp_path / "corpus")
    (corpus / "train" / "seq.out").write_text("O B-toloc.city_name\nO\n")
    (corpus / "train" / "seq.in").write_text("to denver\nfrom boston\n")
    (corpus / "train" / "label").write_text("atis_flight\natis_flight\n")
    done = run_in_process(capsys, "slots", "train", "--data", corpus, "--output", tmp_path / "model")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert f"{corpus / 'train' / 'seq.out'} line 2: 1 tags for the 2 words of seq.in" in done.stderr


@pytest.mark.parametrize("cell_type, encoding, bidirectional, joint, attention, decision", [
    ("elman", "onehot", False, True, 0, "pool"),
    ("jordan", "embedding", True, False, 0, "vote"),
    ("gru", "wordhash", False, True, 2, "pool"),
    ("lstm", "embedding+wordhash", True, True, 2, "vote"),
])
def test_every_slot_filler_saves_reloads_and_predicts_alike(tmp_path, cell_type, encoding, bidirectional,
                                                            joint, attention, decision):
    from nnkit.apps.slots.task import encode_inputs, encode_targets
    from task_harness import check_save_reload_predict
    from nnkit.apps.slots.data import Utterances
    from nnkit.apps.slots.model import build_slot_filler

    info = {"encoding": encoding, "words": ["<pad>", "<unk>", "to", "denver", "from"], "hash_buckets": 64,
            "max_trigrams": 8, "tags": ["<pad>", "O", "B-toloc.city_name"], "intents": ["atis_flight", "atis_city"]}
    model = {"architecture": cell_type, "units": 4, "layers": 2, "bidirectional": bidirectional, "encoding": encoding,
             "embedding_dim": 4, "dropout": 0.1, "joint_intent": joint, "attention_heads": attention,
             "intent_decision": decision}
    utterances = Utterances([["to", "denver"], ["from", "paris", "to", "denver"]],
                            [["O", "B-toloc.city_name"], ["O", "O", "O", "B-toloc.city_name"]],
                            ["atis_flight", "atis_city"])
    network = build_slot_filler(model, info)
    inputs, targets = encode_inputs(utterances.words, info), encode_targets(utterances, info)
    reloaded = check_save_reload_predict(network, inputs, targets, "sparse_categorical_crossentropy",
                                         tmp_path, task="slots")
    outputs = reloaded.predict(inputs, verbose=0)
    assert outputs["slots"].shape == (2, 4, 3) and outputs["intent"].shape == (2, 2)
    np.testing.assert_allclose(outputs["intent"].sum(axis=-1), 1.0, rtol=1e-5)
    # The short sentence's tags do not depend on the padding its batch needed.
    alone = reloaded.predict(encode_inputs(utterances.words[:1], info), verbose=0)
    np.testing.assert_allclose(alone["slots"][0], outputs["slots"][0, :2], atol=1e-5)
    np.testing.assert_allclose(alone["intent"][0], outputs["intent"][0], atol=1e-5)


@pytest.mark.slow  # two trainings; tests/test_digits_e2e.py checks same seed, same metrics in the default run
def test_same_seed_same_model(tmp_path, capsys):
    corpus = small_corpus(tmp_path / "corpus")
    outputs = []
    for run in ("a", "b"):
        outputs.append(tmp_path / run)
        run_in_process(capsys, "slots", "train", "--quiet", "--data", corpus, "--output", outputs[-1], "--epochs", "2",
                       "--model", "lstm", "--seed", "7", "--set", "model.units=8", "--set",
                       "model.embedding_dim=8", "--set", "model.hash_buckets=128", check=True)
    first, second = (json.loads((output / "metadata.json").read_text()) for output in outputs)
    assert first["history"] == second["history"]
    assert first["metrics"] == second["metrics"]


CONLL = """-DOCSTART- -X- O O

i\tO
want\tO
boston\tB-fromloc.city_name
atis_flight

to O
new B-toloc.city_name
york I-toloc.city_name
atis_airfare
"""


def write_conll(path, sentences, intents=True):
    """CoNLL-style sentences, `word tag` lines, an intent line after each when `intents`."""
    blocks = ["\n".join([*(f"{word} {tag}" for word, tag in zip(words.split(), tags.split())),
                         *([intent] if intents else [])]) for words, tags, intent in sentences]
    path.write_text("\n\n".join(blocks) + "\n")
    return path


SENTENCES = [(f"to city{i % 7}", "O B-toloc.city_name", "atis_flight") for i in range(40)]


def test_conll_files_read_with_intents_tabs_spaces_and_more_columns(tmp_path):
    from nnkit.apps.slots.data import read_conll

    (tmp_path / "a.txt").write_text(CONLL)
    read = read_conll(tmp_path / "a.txt")
    assert read.words == [["i", "want", "boston"], ["to", "new", "york"]]
    assert read.tags[1] == ["O", "B-toloc.city_name", "I-toloc.city_name"]
    assert read.intents == ["atis_flight", "atis_airfare"]
    # CoNLL-2003's four columns: the word first, the tag last; no intent lines: every intent is "none".
    (tmp_path / "b.conll").write_text("EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\nPeter NNP B-NP B-PER\n")
    assert read_conll(tmp_path / "b.conll").intents == ["none", "none"]
    assert read_conll(tmp_path / "b.conll").tags == [["B-ORG", "O"], ["B-PER"]]


@pytest.mark.parametrize("text, problem", [
    ("to O\ndenver X-city\n", "line 2: 'X-city' is not a BIO tag"),
    ("to O\ndenver\nB-city\n", "line 2: expected a word and its tag, found 'denver' alone"),
    ("to O\natis_flight\n\nfrom O\n", "line 4: this sentence has no intent line but the one at line 1 has one"),
    ("\n\n", "has no sentences"),
])
def test_bad_conll_files_name_the_file_and_line(tmp_path, text, problem):
    from nnkit.apps.slots.data import read_conll

    (tmp_path / "bad.bio").write_text(text)
    with pytest.raises(UsageError, match=f"{tmp_path / 'bad.bio'}.*{problem}"):
        read_conll(tmp_path / "bad.bio")


def test_a_conll_folder_is_read_and_its_missing_valid_split_held_out(tmp_path):
    from nnkit.config import load_config
    from nnkit.registry import load_task

    (tmp_path / "atis").mkdir()
    write_conll(tmp_path / "atis" / "train.txt", SENTENCES)
    write_conll(tmp_path / "atis" / "test.conll", SENTENCES[:3])
    task = load_task("slots")
    splits = task.load_data(load_config("slots"), tmp_path)  # the folder holding atis/, as for ATIS
    assert splits.info["held_out"] == {"sampling": "seeded random", "seed": 1337, "train": 36, "valid": 4}
    assert len(splits.test) == 3 and splits.info["intents"] == ["atis_flight"]


def test_one_conll_file_holds_out_valid_and_test_by_seed(tmp_path):
    from nnkit.config import load_config
    from nnkit.registry import load_task

    path = write_conll(tmp_path / "corpus.iob", SENTENCES, intents=False)
    task = load_task("slots")
    splits = task.load_data(load_config("slots"), path)
    assert splits.info["held_out"] == {"sampling": "seeded random", "seed": 1337, "train": 32, "valid": 4, "test": 4}
    assert splits.info["intents"] == ["none"]
    # evaluate finds the same test sentences again; another seed holds out others.
    again = task.load_data(load_config("slots"), path, splits=("test",)).test
    assert again.words == splits.test.words
    other = task.load_data(load_config("slots", overrides=["seed=2"]), path, splits=("test",)).test
    assert other.words != splits.test.words
    with pytest.raises(UsageError, match="no test split to hold out of 40 sentences"):
        task.load_data(load_config("slots", overrides=["data.test_fraction=0"]), path)


def test_train_and_evaluate_on_one_conll_file(tmp_path, capsys):
    fares = [("from boston", "O B-fromloc.city_name", "atis_fare")] * 20
    path = write_conll(tmp_path / "corpus.txt", SENTENCES + fares)
    output = tmp_path / "model"
    done = run_in_process(capsys, "slots", "train", "--quiet", "--data", path, "--output", output, "--epochs", "1",
                          "--encoding", "onehot", "--model", "elman", "--unidirectional", "--layers", "1",
                          "--set", "model.units=8", "--set", "model.attention_heads=0", check=True)
    assert "Held out of your data: 49 train, 5 valid, 6 test (seeded random split, seed 1337)" in done.stdout
    evaluated = run_in_process(capsys, "slots", "evaluate", "--model-path", output, "--data", path, "--json",
                               check=True)
    assert json.loads(evaluated.stdout)["sentences"] == 6
