"""Writer details on hand-built IR: names, data blocks, atomic writes."""
import os

import numpy as np
import pytest

import ncsformat as nf
from compiler import compile_graph, ir, write_graph
from compiler_helpers import Blob


def N(name, op, inputs, shape, **attrs):
    return ir.Node(name, op, list(inputs), tuple(shape), attrs)


def tiny(name="c"):
    w = np.arange(2 * 3, dtype=np.float32).reshape(1, 1, 2, 3) / 8
    nodes = [N("in", "input", [], (1, 2, 2, 2)),
             N(name, "conv", ["in"], (1, 2, 2, 3), weights=w, stride=(1, 1),
               padding="VALID", pads=(0, 0),
               bias=np.array([0.5, 1.0, 2.0], np.float32))]
    return ir.Graph(nodes, "in", name)


def test_data_blocks_padded_to_64_bytes_exact_values():
    res = compile_graph(tiny())
    b = Blob(res.blob)
    s = b.stages[0]
    assert (s.taps.index, s.taps.pointer) == (3, 0)
    assert (s.bias.index, s.bias.pointer) == (3, 64)
    start = b.header.data_start
    raw = res.blob[start:]
    assert len(raw) == 128
    expect_w = (np.arange(6, dtype=np.float16) / 8).astype("<f2").tobytes()
    assert raw[:12] == expect_w and raw[12:64] == b"\0" * 52
    assert raw[64:70] == np.array([0.5, 1, 2], "<f2").tobytes()
    assert raw[70:] == b"\0" * 58
    assert s.post_op == nf.Op.BIAS and s.tap_strides == (6, 6, 2)


def test_long_and_non_ascii_names_are_truncated_safely():
    name = "ü" + "x" * 150
    res = compile_graph(tiny(name), name="é" * 200)
    b = Blob(res.blob)
    assert b.stages[0].name == "?" + "x" * 99
    rec = res.blob[264:264 + 100]
    assert len(rec) == 100 and rec.decode("ascii")
    assert b.header.name == "?" * 100


def test_shaves_in_header():
    for shaves in (1, 7, 12):
        h = Blob(compile_graph(tiny(), shaves=shaves).blob).header
        assert (h.first_shave, h.last_shave) == (0, shaves - 1)


def test_write_graph_is_atomic(tmp_path, monkeypatch):
    res = compile_graph(tiny())
    target = tmp_path / "graph"
    write_graph(res, target)
    assert target.read_bytes() == res.blob
    assert os.listdir(tmp_path) == ["graph"]
    assert target.stat().st_mode & 0o777 == 0o644

    def broken(fd):
        raise OSError("disk full")
    monkeypatch.setattr(os, "fsync", broken)
    other = tmp_path / "other"
    with pytest.raises(OSError):
        write_graph(res, other)
    assert os.listdir(tmp_path) == ["graph"]      # no temp file, no target


def test_constants_beyond_fp16_are_refused_not_written_as_inf():
    from compiler.errors import CompileError
    g = tiny("big")
    g.node("big").attrs["weights"] = g.node("big").attrs["weights"] * 1e6
    with pytest.raises(CompileError) as err:
        compile_graph(g)
    assert err.value.number == 5
    assert "big" in str(err.value) and "fp16" in str(err.value)
