"""Where dataset files come from: the data directory first, then the canonical upstream file.

The data directory is `--data`, else `$NNKIT_DATA_DIR`, else `~/.nnkit/data`. A file missing
there is downloaded with `keras.utils.get_file` and checked against its published hash; on a
machine without internet that fails at once and the user is told where to put the file.
`NNKIT_OFFLINE=1` skips the download attempt altogether.
"""

import os
from pathlib import Path

from nnkit.errors import NnkitError

DEFAULT_DATA_DIR = Path.home() / ".nnkit" / "data"


def data_dir(explicit=None):
    """The data directory a loader reads: `--data`, `$NNKIT_DATA_DIR`, or the default."""
    chosen = explicit or os.environ.get("NNKIT_DATA_DIR") or DEFAULT_DATA_DIR
    return Path(chosen).expanduser()


def fetch(directory, relative_path, origin, md5):
    """Return the path of `directory/relative_path`, downloading it from `origin` if absent.

    Downloads go into the data directory when it is writable, else into the default one
    (shared data folders are read-only).
    """
    local = Path(directory) / relative_path
    if local.is_file():
        return local
    if os.environ.get("NNKIT_OFFLINE"):
        raise NnkitError(
            f"'{relative_path}' is not in the data directory '{directory}' and NNKIT_OFFLINE is set; "
            "pass --data DIR or set NNKIT_DATA_DIR"
        )
    target = Path(directory) if os.access(directory, os.W_OK) else DEFAULT_DATA_DIR
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
            f"'{relative_path}' is not in the data directory '{directory}' and downloading it "
            f"from {origin} failed ({type(error).__name__}); pass --data DIR or set NNKIT_DATA_DIR"
        )
    return Path(downloaded)
