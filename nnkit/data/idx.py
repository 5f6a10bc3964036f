"""Reader for the IDX format of MNIST-like datasets (optionally gzip-compressed)."""

import gzip
from pathlib import Path

import numpy as np

from nnkit.errors import NnkitError

# Third byte of the magic number -> element type.
_IDX_TYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def read_idx(path):
    """Read an IDX file into a numpy array with the shape its header gives."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            content = handle.read()
    except (OSError, EOFError) as error:
        raise NnkitError(f"cannot read IDX file '{path}': {error}")
    if len(content) < 4 or content[0:2] != b"\x00\x00" or content[2] not in _IDX_TYPES:
        raise NnkitError(f"'{path}' is not an IDX file (bad magic number)")
    dtype = np.dtype(_IDX_TYPES[content[2]])
    rank = content[3]
    header_size = 4 + 4 * rank
    shape = tuple(int.from_bytes(content[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank))
    expected = header_size + int(np.prod(shape)) * dtype.itemsize
    if len(content) != expected:
        raise NnkitError(f"'{path}' is truncated or corrupt: {len(content)} bytes, header promises {expected}")
    return np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape).astype(dtype.newbyteorder("="))
