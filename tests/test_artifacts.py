"""Atomic outputs and stamps: nothing half-written is ever taken as finished."""
import os

import pytest

from steps import artifacts as a


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.graph"
    with pytest.raises(RuntimeError):
        with a.atomic_path(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert os.listdir(tmp_path) == []


def test_atomic_path_replaces_whole(tmp_path):
    target = tmp_path / "x.graph"
    target.write_bytes(b"old")
    a.write_bytes(target, b"new bytes")
    assert target.read_bytes() == b"new bytes"
    assert sorted(os.listdir(tmp_path)) == ["x.graph"]
    assert oct(target.stat().st_mode & 0o777) == "0o644"


def test_canonical_json_is_order_independent():
    assert a.canonical_json({"b": 1, "a": [1, 2]}) == a.canonical_json({"a": [1, 2], "b": 1})
    assert a.digest({"b": 1, "a": 2}) == a.digest({"a": 2, "b": 1})


def test_stamp_current_until_key_or_file_changes(tmp_path):
    out = tmp_path / "f.pb"
    out.write_bytes(b"data")
    a.write_stamp(tmp_path, "freeze", "k1", [out])
    assert a.stamp_is_current(tmp_path, "freeze", "k1")
    assert not a.stamp_is_current(tmp_path, "freeze", "k2")
    assert a.verify_stamp(tmp_path, "freeze") == []
    out.write_bytes(b"data but longer")
    assert not a.stamp_is_current(tmp_path, "freeze", "k1")
    assert a.verify_stamp(tmp_path, "freeze") == ["freeze: f.pb does not match its sha256"]
    out.unlink()
    assert not a.stamp_is_current(tmp_path, "freeze", "k1")


def test_missing_or_corrupt_stamp_is_not_current(tmp_path):
    assert not a.stamp_is_current(tmp_path, "compile", "k")
    a.stamp_path(tmp_path, "compile").parent.mkdir(parents=True)
    a.stamp_path(tmp_path, "compile").write_text("{trunc")
    assert not a.stamp_is_current(tmp_path, "compile", "k")


def test_sha256_file_matches_hashlib(tmp_path):
    import hashlib
    p = tmp_path / "b"
    p.write_bytes(os.urandom(3_000_000))
    assert a.sha256_file(p) == hashlib.sha256(p.read_bytes()).hexdigest()
