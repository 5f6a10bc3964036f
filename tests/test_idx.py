import gzip

import numpy as np
import pytest

from nnkit.data.idx import read_idx
from nnkit.errors import NnkitError


def write_idx(path, array, type_code=0x08):
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wb") as handle:
        handle.write(header + array.tobytes())


@pytest.mark.parametrize("name", ["x.idx", "x.idx.gz"])
def test_round_trip(tmp_path, name):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    write_idx(tmp_path / name, array)
    assert np.array_equal(read_idx(tmp_path / name), array)


def test_big_endian_int32(tmp_path):
    array = np.array([1, -2, 70000], dtype=">i4")
    write_idx(tmp_path / "x.idx", array, type_code=0x0C)
    assert read_idx(tmp_path / "x.idx").tolist() == [1, -2, 70000]


def test_truncated_and_bad_magic(tmp_path):
    write_idx(tmp_path / "x.idx", np.zeros((4, 4), np.uint8))
    data = (tmp_path / "x.idx").read_bytes()
    (tmp_path / "short.idx").write_bytes(data[:-3])
    with pytest.raises(NnkitError, match="truncated"):
        read_idx(tmp_path / "short.idx")
    (tmp_path / "magic.idx").write_bytes(b"PK\x03\x04" + data[4:])
    with pytest.raises(NnkitError, match="bad magic"):
        read_idx(tmp_path / "magic.idx")
    (tmp_path / "broken.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(NnkitError, match="cannot read"):
        read_idx(tmp_path / "broken.gz")


def test_real_mnist_test_split(mnist_dir):
    images = read_idx(mnist_dir / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(mnist_dir / "t10k-labels-idx1-ubyte.gz")
    assert images.shape == (10000, 28, 28) and images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
