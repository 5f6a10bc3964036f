"""Output folders never get stuck: one run at a time holds a folder, a damaged or stale backup
says how to clear it, a failed run keeps the model that was there, and the system's own
refusals (a full disk, a read-only folder, an --output that is a file) are one line."""

import contextlib
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import zipfile

import keras
import pytest

from conftest import ROOT, TINY_TRAINING, run_in_process, run_nnkit

TINY = [*TINY_TRAINING, "--set", "data.train_limit=300"]

# Holds a folder as a run does, from another process, until it is killed.
HOLD = """import sys, time
from nnkit.training.output import output_lock
with output_lock(sys.argv[1]):
    print("held", flush=True)
    time.sleep(600)
"""


def one_line(done):
    return len(done.stderr.strip().splitlines()) == 1


def raising(error):
    def fail(*_, **__):
        raise error

    return fail


def files_of(folder):
    return {name: (folder / name).read_bytes() for name in ("model.keras", "metadata.json")}


@contextlib.contextmanager
def tmpfs(folder, options):
    """A small file system of its own at `folder`, to meet a full or read-only disk for real."""
    folder.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    if subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


@pytest.fixture
def read_only_folder(tmp_path):
    """A folder nobody may write in: a read-only mount for root (who ignores permissions), else 0555."""
    folder = tmp_path / "read-only"
    if os.geteuid() == 0:
        with tmpfs(folder, "ro,size=64k"):
            yield folder
    else:
        folder.mkdir(mode=0o555)
        yield folder
        folder.chmod(0o755)


@pytest.fixture
def old_model(trained_digits, tmp_path):
    """A folder holding a finished model, for runs that fail in it."""
    shutil.copytree(trained_digits, tmp_path / "model")
    return tmp_path / "model"


def test_a_second_run_is_refused_while_the_first_holds_the_folder_and_a_kill_frees_it(tmp_path, capsys, mnist_dir):
    output = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(output)], stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert holder.stdout.readline().strip() == "held"
        for command in (["train"], ["tune", "--max-trials", "1", "--directory", tmp_path / "search"]):
            done = run_in_process(capsys, "digits", *command, "--output", output, *TINY)
            assert done.returncode == 1 and one_line(done), done.stderr
            assert f"'{output}' is in use by another run (process {holder.pid} on {socket.gethostname()}, started" \
                   in done.stderr and "choose another --output" in done.stderr
        # Refused before anything was read or written: no backup, no search.
        assert [path.name for path in output.iterdir()] == [".lock"] and not (tmp_path / "search").exists()
    finally:
        holder.kill()
        holder.communicate()
    assert (output / ".lock").exists()  # a killed run cannot remove its lock file, but the system let go of it
    done = run_in_process(capsys, "digits", "train", "--quiet", "--output", output, *TINY)
    assert done.returncode == 0, done.stderr
    assert (output / "model.keras").is_file() and not (output / ".lock").exists()  # a finished run leaves none


def test_the_lock_is_held_once_per_process(tmp_path):
    """tune holds its output folder and trains the best config in it (--retrain) in the same process."""
    from nnkit.training.output import output_lock

    with output_lock(tmp_path / "out"):
        with output_lock(tmp_path / "out"):
            assert (tmp_path / "out" / ".lock").is_file()
        assert (tmp_path / "out" / ".lock").is_file()  # still held by the outer one
    assert list((tmp_path / "out").iterdir()) == []


def test_a_damaged_backup_names_the_way_out_and_restart_clears_it(old_model, capsys):
    backup = old_model / "backup"
    # The config the command that trained the old model makes (TINY_TRAINING, as trained_digits).
    config = json.loads((old_model / "metadata.json").read_text())["config"]
    backup.mkdir()
    (backup / "training_metadata.json").write_text('{"epoch": 0, "batch": -1}')
    way_out = f"run again with --restart (or delete '{backup}') to start afresh"
    (backup / "config.json").write_text('{"seed": 4')  # cut short by a kill, say
    (backup / "latest.keras").write_bytes(b"PK\x03\x04 truncated")
    for problem in ("config.json cannot be read", "latest.keras is missing or incomplete"):
        done = run_in_process(capsys, "digits", "train", "--output", old_model, *TINY_TRAINING)
        assert done.returncode == 1 and one_line(done), done.stderr
        assert f"holds an interrupted run whose backup is damaged ({problem}" in done.stderr and way_out in done.stderr
        (backup / "config.json").write_text(json.dumps(config))
    with zipfile.ZipFile(backup / "latest.keras", "w"):  # a whole zip, but no model in it
        pass
    done = run_in_process(capsys, "digits", "train", "--output", old_model, *TINY_TRAINING)
    assert done.returncode == 1 and one_line(done) and f"cannot resume from '{backup}'" in done.stderr
    assert way_out in done.stderr

    done = run_in_process(capsys, "digits", "train", "--quiet", "--restart", "--output", old_model, *TINY_TRAINING)
    assert done.returncode == 0, done.stderr
    assert "Resuming" not in done.stdout and not backup.exists()


def test_a_failed_run_keeps_the_model_that_was_there_and_blocks_nothing(old_model, tmp_path, capsys, monkeypatch):
    before = files_of(old_model)
    refused = run_in_process(capsys, "digits", "train", "--output", old_model, *TINY,
                             "--set", "training.learning_rate=-1")
    assert refused.returncode == 2 and files_of(old_model) == before

    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("NNKIT_OFFLINE", "1")  # no data, and no download
    no_data = run_in_process(capsys, "digits", "train", "--output", old_model, *TINY, "--data", tmp_path / "empty")
    assert no_data.returncode == 1 and one_line(no_data) and files_of(old_model) == before
    monkeypatch.delenv("NNKIT_OFFLINE")

    from nnkit.errors import UsageError
    from nnkit.registry import load_task
    from nnkit.training.run import EpochTimer

    with monkeypatch.context() as patched:  # a config refused only once trained: its backup is of no use
        patched.setattr(type(load_task("digits")), "evaluate", raising(UsageError("refused")))
        late = run_in_process(capsys, "digits", "train", "--output", old_model, *TINY, "--seed", "5")
    assert late.returncode == 2 and late.stderr == "nnkit: error: refused\n" and files_of(old_model) == before
    assert not (old_model / "backup").exists()

    with monkeypatch.context() as patched:  # an error in the first epoch (no memory left, say)
        patched.setattr(EpochTimer, "on_epoch_end", raising(RuntimeError("boom")))
        failed = run_in_process(capsys, "digits", "train", "--output", old_model, *TINY, "--seed", "3")
    assert failed.returncode == 1 and one_line(failed) and files_of(old_model) == before

    save = keras.Model.save

    def disk_full_for_the_model(model, path, *args, **kwargs):
        if os.path.basename(path).startswith(".model-"):
            raise OSError(errno.ENOSPC, "No space left on device")
        return save(model, path, *args, **kwargs)

    with monkeypatch.context() as patched:  # a full disk while saving the trained model
        patched.setattr(keras.Model, "save", disk_full_for_the_model)
        full = run_in_process(capsys, "digits", "train", "--output", old_model, *TINY)
    assert full.returncode == 1
    assert full.stderr == f"nnkit: error: no space left on device while writing '{old_model / 'model.keras'}'\n"
    assert files_of(old_model) == before
    assert not [path.name for path in old_model.iterdir() if path.name.startswith((".model-", ".metadata-", ".lock"))]

    # The same command again (space freed) saves the run it trained, without training it again.
    done = run_in_process(capsys, "digits", "train", "--quiet", "--output", old_model, *TINY)
    assert done.returncode == 0, done.stderr
    assert "Resuming the interrupted run" in done.stdout and files_of(old_model) != before
    assert not (old_model / "backup").exists()


def test_an_output_that_is_a_file_is_refused_before_anything_runs(tmp_path, capsys):
    taken = tmp_path / "taken"
    taken.write_text("mine")
    for command in (["train"], ["tune", "--directory", tmp_path / "search"]):
        done = run_in_process(capsys, "digits", *command, "--output", taken, *TINY)
        assert done.returncode == 2 and done.stderr == f"nnkit: error: --output '{taken}' is a file, not a folder\n"
    done = run_in_process(capsys, "digits", "train", "--output", taken / "model", *TINY)
    assert done.returncode == 2 and "a part of its path is a file" in done.stderr and one_line(done)
    assert taken.read_text() == "mine" and not (tmp_path / "search").exists()


def test_a_read_only_output_is_one_line(read_only_folder, capsys):
    for output in (read_only_folder, read_only_folder / "model"):
        done = run_in_process(capsys, "digits", "train", "--output", output, *TINY)
        assert done.returncode == 1 and one_line(done), done.stderr
        assert f"'{output}'" in done.stderr
        assert "read-only file system" in done.stderr or "permission denied" in done.stderr


def test_a_full_disk_is_one_line_and_no_crash(tmp_path):
    """HDF5 writing to a full disk left its library broken, and the process crashed as it exited
    (exit 139): a fresh process, so that its exit is seen."""
    with tmpfs(tmp_path / "small", "size=64k") as small:
        done = run_nnkit("digits", "train", "--quiet", "--output", small / "model", *TINY)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith("nnkit: error: no space left on device while writing '") and one_line(done)


def test_an_image_that_cannot_be_read_is_one_line(trained_digits, mnist_pngs, tmp_path, capsys, monkeypatch):
    image = tmp_path / "secret.png"
    shutil.copy(mnist_pngs[0][0], image)
    if os.geteuid() == 0:  # root reads every file: refuse it as the system would for anyone else
        from PIL import Image

        real_open = Image.open

        def refusing_open(source, *args, **kwargs):
            if str(source) == str(image):
                raise PermissionError(errno.EACCES, "Permission denied", str(image))
            return real_open(source, *args, **kwargs)

        monkeypatch.setattr(Image, "open", refusing_open)
    else:
        image.chmod(0)
    done = run_in_process(capsys, "digits", "predict", image, "--model-path", trained_digits)
    assert done.returncode == 1 and done.stderr == f"nnkit: error: permission denied for '{image}'\n"
