"""The CLI as a user meets it: fast help, and one clear line with the right exit code for
every mistake."""

import subprocess
import sys

import pytest

from conftest import SAMPLES, data_dir, run_in_process, run_nnkit


def test_help_lists_tasks_without_importing_tensorflow():
    code = ("import sys; from nnkit.cli import main\n"
            "try: main(['--help'])\n"
            "except SystemExit: pass\n"
            "print('LOADED' if {'tensorflow', 'keras'} & set(sys.modules) else 'CLEAN')")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert "digits" in done.stdout and done.stdout.strip().endswith("CLEAN")


def test_task_help_lists_its_commands():
    done = run_nnkit("digits", "--help")
    assert done.returncode == 0
    for command in ("train", "evaluate", "predict", "tune", "info", "export"):
        assert f"  {command} " in done.stdout


def assert_one_line_error(done, code, text):
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert text in lines[0], lines[0]


@pytest.mark.parametrize("args, code, text", [
    (["digits", "train", "--set", "model.widht=4"], 2, "did you mean 'width'"),
    (["digits", "train", "--set", "training.epochs=many"], 2, "expects int"),
    (["digits", "train", "--model", "densenet"], 2, "'densenet' is not one of"),
    (["digits", "train", "--epochs", "0"], 2, "0 is not in the range"),
    (["digits", "train", "--set", "training.epochs=0"], 2, "config key 'training.epochs' must be at least 1"),
    (["digits", "train", "--set", "training.learning_rate=-1"], 2, "'training.learning_rate' must be above 0"),
    (["digits", "train", "--set", "data.train_limit=0"], 2, "config key 'data.train_limit' must be at least 1"),
    (["digits", "predict"], 2, "Missing argument"),
    (["nosuchtask"], 2, "No such command"),
    (["digits", "predict", "missing.png"], 1, "no such file: 'missing.png'"),
    (["digits", "info", "--model-path", "no/such/dir"], 1, "no saved model"),
])
def test_usage_and_missing_files(args, code, text, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NNKIT_DATA_DIR", str(data_dir()))  # absolute: the test runs elsewhere
    monkeypatch.chdir(tmp_path)  # default outputs land in tmp_path
    assert_one_line_error(run_in_process(capsys, *args), code, text)


def test_a_mistake_is_one_line_in_a_fresh_process_too(tmp_path):
    """What a user's shell shows, TensorFlow's own start-up logging included."""
    done = run_nnkit("digits", "train", "--set", "data.train_limit=0", cwd=tmp_path)
    assert_one_line_error(done, 2, "config key 'data.train_limit' must be at least 1")


def test_bad_images_and_wrong_task(tmp_path, trained_digits, capsys):
    (tmp_path / "text.png").write_text("hello")
    (tmp_path / "cut.png").write_bytes((SAMPLES / "seven.png").read_bytes()[:100])
    from PIL import Image

    Image.new("L", (30, 30), 255).save(tmp_path / "blank.png")
    (tmp_path / "empty").mkdir()
    cases = [("text.png", "not an image file"), ("cut.png", "corrupt or truncated"),
             ("blank.png", "no digit found"), ("empty", "has no image files")]
    for name, text in cases:
        assert_one_line_error(run_in_process(capsys, "digits", "predict", tmp_path / name, "--model-path", trained_digits),
                              1, text)

    from nnkit.saving import read_metadata, save_model
    import keras

    inputs = keras.Input((2,))
    save_model(keras.Model(inputs, keras.layers.Dense(1)(inputs)), tmp_path / "lm", {"task": "lm"})
    assert read_metadata(tmp_path / "lm")["task"] == "lm"
    assert_one_line_error(run_in_process(capsys, "digits", "predict", SAMPLES / "seven.png", "--model-path", tmp_path / "lm"),
                          2, "holds a model of task 'lm', not 'digits'")
