"""Where dataset files come from: the data directory first, then the canonical upstream file.

The data directory is `--data`, else `$NNKIT_DATA_DIR`, else `~/.nnkit/data`. It may be a
dataset's own folder or a folder that holds it under its usual name (`mnist/`, `atis/` ...):
`locate` finds it in either place, the same way for every task. A file missing there is
downloaded with `keras.utils.get_file` and checked against its published hash; on a machine
without internet that fails at once and the user is told where to put the file.
`NNKIT_OFFLINE=1` skips the download attempt altogether.
"""

import gzip
import os
from pathlib import Path

from nnkit.errors import NnkitError, UsageError

DEFAULT_DATA_DIR = Path.home() / ".nnkit" / "data"


def data_dir(explicit=None):
    """The data directory a loader reads: `--data`, `$NNKIT_DATA_DIR`, or the default."""
    chosen = explicit or os.environ.get("NNKIT_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


def locate(explicit, folder_name, required, layout, sources=None):
    """The folder that holds a dataset: the data directory itself (`explicit`, see `data_dir`)
    when it is the dataset's own folder, else its `folder_name`/. `required` lists what the
    dataset's folder must hold, each entry a relative path or a tuple of alternative ones (a
    file plain or gzipped, a split called valid or dev). Where neither place holds it all and
    `sources` ({relative path: (url, md5)}, the first alternative of each required entry, and
    optional files beside them) can download what is missing, the files of `sources` missing
    there are fetched into `folder_name`/; otherwise, or offline, one line names `layout` and
    both places."""
    directory = data_dir(explicit)
    places = (directory, directory / folder_name)
    entries = [entry if isinstance(entry, tuple) else (entry,) for entry in required]

    def missing(place):
        return [entry for entry in entries if not any((place / path).exists() for path in entry)]

    for place in places:
        if place.is_dir() and not missing(place):
            return place
    absent = missing(places[1])
    where = f"in '{places[0]}' or in '{places[1]}'"
    if not sources or any(entry[0] not in sources for entry in absent):
        raise NnkitError(f"no {layout} {where}; pass --data DIR or set NNKIT_DATA_DIR")
    if os.environ.get("NNKIT_OFFLINE"):
        raise NnkitError(f"no {layout} {where}, and NNKIT_OFFLINE is set (no download); "
                         "pass --data DIR or set NNKIT_DATA_DIR")
    folder = places[1]
    for path, (origin, md5) in sources.items():  # into the default data directory where `folder` is read-only
        fetched = fetch(places[1], path, origin, md5, looked=where)
        folder = fetched.parents[len(Path(path).parts) - 1]
    return folder


def fetch(directory, relative_path, origin, md5, looked=None):
    """Return the path of `directory/relative_path`, downloading it from `origin` if absent.

    Downloads go into `directory` when it can be written (or made), else into the default data
    directory's folder of the same name (shared data folders are read-only). `looked` says where
    `locate` looked, for the message when the download fails.
    """
    local = Path(directory) / relative_path
    if local.is_file():
        return local
    looked = looked or f"in the data directory '{directory}'"
    if os.environ.get("NNKIT_OFFLINE"):
        raise NnkitError(f"'{relative_path}' is not {looked} and NNKIT_OFFLINE is set; "
                         "pass --data DIR or set NNKIT_DATA_DIR")
    target = Path(directory) if _writable(directory) else DEFAULT_DATA_DIR / Path(directory).name
    target.mkdir(parents=True, exist_ok=True)  # Keras downloads into /tmp/.keras where it is not there
    import keras

    try:
        downloaded = keras.utils.get_file(
            fname=Path(relative_path).name,
            origin=origin,
            file_hash=md5,
            hash_algorithm="md5",
            cache_dir=str(target),
            cache_subdir=str(Path(relative_path).parent),
        )
    except Exception as error:  # offline, refused, or a bad checksum: all say the same to a user
        raise NnkitError(
            f"'{relative_path}' is not {looked} and downloading it from {origin} failed "
            f"({type(error).__name__}: offline?); pass --data DIR or set NNKIT_DATA_DIR"
        )
    return Path(downloaded)


def _writable(directory):
    """Whether `directory` can be written, or made where it does not exist yet."""
    existing = Path(directory).absolute()
    while not existing.exists():
        existing = existing.parent
    return existing.is_dir() and os.access(existing, os.W_OK)


def read_lines(path):
    """The lines of a UTF-8 text file, gzip-compressed or not; errors name the file and line."""
    path = Path(path)
    try:
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read '{path}': {error.strerror or error}")
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise UsageError(f"{path} line {line}: not UTF-8 text (byte 0x{data[error.start]:02x}); "
                         "convert the file to UTF-8")
