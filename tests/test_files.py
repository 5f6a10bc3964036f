"""Fetching dataset files: the data directory first, then a checked download."""

import gzip
import hashlib

import pytest

from nnkit.data.files import data_dir, fetch
from nnkit.errors import NnkitError


def test_data_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("NNKIT_DATA_DIR", str(tmp_path / "env"))
    assert data_dir() == tmp_path / "env"
    assert data_dir(tmp_path / "flag") == tmp_path / "flag"
    monkeypatch.delenv("NNKIT_DATA_DIR")
    assert data_dir().name == "data"


def test_present_file_is_used_as_is(tmp_path):
    (tmp_path / "a.gz").write_bytes(b"x")
    assert fetch(tmp_path, "a.gz", "https://example.invalid/a.gz", "0" * 32) == tmp_path / "a.gz"


def test_missing_file_is_downloaded_and_checked(tmp_path, monkeypatch):
    monkeypatch.delenv("NNKIT_OFFLINE", raising=False)
    upstream = tmp_path / "upstream" / "labels.gz"
    upstream.parent.mkdir()
    upstream.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x01\x07"))
    md5 = hashlib.md5(upstream.read_bytes()).hexdigest()
    local = tmp_path / "data"
    local.mkdir()
    fetched = fetch(local, "labels.gz", upstream.as_uri(), md5)
    assert fetched.read_bytes() == upstream.read_bytes() and fetched.parent == local
    with pytest.raises(NnkitError, match="downloading it from .* failed"):
        fetch(local, "other.gz", upstream.as_uri(), "0" * 32)  # wrong checksum


def test_offline_switch_skips_the_download(tmp_path, monkeypatch):
    monkeypatch.setenv("NNKIT_OFFLINE", "1")
    with pytest.raises(NnkitError, match="NNKIT_OFFLINE is set"):
        fetch(tmp_path, "x.gz", "https://example.invalid/x.gz", "0" * 32)
