"""One run at a time in an output folder.

A run (train, or tune saving its best model) holds an exclusive lock on `<output>/.lock` from
before it reads any data until it has saved: two runs on one folder would otherwise overwrite
each other's backup and checkpoints and both fail at the end. The lock is `flock`, which the
operating system releases when the process ends, however it ends, so a killed run never leaves
a folder locked. The file says who holds it, for the message a second run gets.

A multi-worker run does not lock itself out: the chief holds the output folder, every other
worker its own `workers/<index>/` folder in it (nnkit.training.run).
"""

import contextlib
import json
import os
import socket
from datetime import datetime, timezone
from pathlib import Path

from nnkit.errors import NnkitError, UsageError

LOCK_FILE = ".lock"
_held = {}  # folder -> lock file descriptor, for the folders this process holds (tune's retrain trains inside tune)


@contextlib.contextmanager
def output_lock(folder):
    """Hold `folder` (made if missing) for the block; refuse at once if another run holds it."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _held:  # this process holds it already
        yield
        return
    _held[key] = _acquire(folder)
    try:
        yield
    finally:
        _release(folder / LOCK_FILE, _held.pop(key))


def _acquire(folder):
    import fcntl

    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--output '{folder}' is a file, not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise UsageError(f"cannot make the output folder '{folder}': a part of its path is a file")
    path = folder / LOCK_FILE
    while True:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            error.filename = str(folder)  # the folder is what the user named and must fix
            raise
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _holder(handle)
            os.close(handle)
            raise NnkitError(f"'{folder}' is in use by another run ({holder}); wait for it to end, "
                             "or choose another --output")
        # The run that held it removes the file as it lets go: if that happened between our
        # open and our lock, we hold a file nobody else will look at, so take the new one.
        if _is_file_at(handle, path):
            break
        os.close(handle)
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    os.ftruncate(handle, 0)
    os.write(handle, json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "started": started}).encode())
    return handle


def _holder(handle):
    """Who holds the lock, as its file says (empty while the holder has not yet written it)."""
    try:
        found = json.loads(os.pread(handle, 4096, 0))
        return f"process {found['pid']} on {found['host']}, started {found['started']}"
    except (OSError, ValueError, TypeError, KeyError):
        return "a process that has just started"


def _is_file_at(handle, path):
    try:
        return os.path.samestat(os.fstat(handle), os.stat(path))
    except OSError:
        return False


def _release(path, handle):
    # Removed while still held, so that nobody locks a file on its way out; only if it is still
    # ours (a worker's folder, lock file included, is removed when the worker finishes).
    with contextlib.suppress(OSError):
        if _is_file_at(handle, path):
            os.unlink(path)
    os.close(handle)
