"""Thousands of mutated graph files: the reader raises only GraphFileError,
and whatever it accepts runs without any other exception, fast."""
import struct
import time

import numpy as np

import ncsformat as nf
from emulator.executor import Executor
from emulator.reader import GraphFileError, load_graph
from emulator_helpers import GraphBuilder, Op, PadStyle

MUTANTS = 3000


def seed_graph():
    """Small but varied: conv, concat by layout, pools, LRN, eltwise, deconv,
    crop, reshape, FC, softmax."""
    rng = np.random.default_rng(0)
    c = lambda *s: b.const(rng.standard_normal(s))  # noqa: E731
    b = GraphBuilder(shaves=6)
    inp = b.input(6, 6, 2)
    cat, pool, lrn = b.buffer(6, 6, 4), b.buffer(4, 4, 4), b.buffer(4, 4, 4)
    up, crop, flat = b.buffer(8, 8, 2), b.buffer(4, 4, 2), b.buffer(1, 1, 32)
    fc = b.buffer(1, 1, 3)
    b.stage(Op.CONV, inp, cat.channels(0, 2), taps=c(3, 3, 2, 2), bias=c(2),
            tap_dims=(9, 2, 2), radix=(3, 3), pad_style=PadStyle.TF_SAME,
            post_op=Op.RELU)
    b.stage(Op.DEPTH_CONV, inp, cat.channels(2, 4), taps=c(3, 3, 2, 1),
            tap_dims=(9, 2, 2), radix=(3, 3), pad_style=PadStyle.CAFFE,
            pad=(1, 1))
    b.stage(Op.MAX_POOL, cat, pool, radix=(3, 3), stride=(2, 2), pad=(1, 1),
            pad_style=PadStyle.CAFFE)
    b.stage(Op.LRN, pool, lrn, bias=b.const([1, 0.5, 0.75, 0]), radix=(3, 3))
    b.stage(Op.SUM, pool, lrn, taps=lrn)
    b.stage(Op.DECONV, lrn, up, taps=c(2, 2, 4, 2), tap_dims=(4, 4, 2),
            radix=(2, 2), stride=(2, 2), pad_style=PadStyle.CAFFE)
    b.stage(Op.CROP, up, crop,
            op_params=b.raw(np.array([1, 1, 0], "<u4").tobytes()))
    b.stage(Op.RESHAPE, crop, flat)
    b.stage(Op.FC, flat, fc, taps=c(32, 3), tap_dims=(1, 32, 3))
    b.stage(Op.SOFTMAX, fc, b.output(1, 1, 3))
    return b.build()


def mutate(blob, rng):
    out = bytearray(blob)
    kind = rng.integers(6)
    if kind == 0:                                  # truncate
        return bytes(out[:rng.integers(len(out))])
    if kind == 1:                                  # extend
        return bytes(out) + bytes(rng.integers(0, 256, rng.integers(1, 200),
                                               dtype=np.uint8))
    span = min(nf.data_start(10), len(out)) if kind < 5 else len(out)
    for _ in range(rng.integers(1, 6)):
        pos = rng.integers(span)
        if kind == 4:                              # a whole u32 field
            pos -= pos % 4
            val = int(rng.choice([0, 1, 2, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF,
                                  rng.integers(1 << 32)]))
            out[pos:pos + 4] = val.to_bytes(4, "little")[:len(out) - pos]
        else:
            out[pos] = rng.integers(256)
    return bytes(out[:len(blob)])


def test_seed_graph_is_valid_and_runs():
    g = load_graph(seed_graph())
    out = Executor(g, debug=True).run(b"\0" * g.input_bytes)
    assert out.shape == (3,) and abs(float(out.astype(np.float32).sum()) - 1) < 1e-2


def runs_or_is_refused(blob, rng):
    """1 if the reader takes blob and it runs to a result of the host's
    size, 0 if it is refused with a GraphFileError; anything else fails."""
    try:
        g = load_graph(blob)
    except GraphFileError:
        return 0
    assert isinstance(g.warnings, list)
    n = g.input_bytes // 2
    x = rng.standard_normal(min(n, 4096)).astype(np.float16).tobytes()
    out = Executor(g).run(x + bytes(2 * n - len(x)))
    assert out.shape == (g.output_count,)
    return 1


def test_mutated_files_raise_only_graph_file_error():
    seed = seed_graph()
    rng = np.random.default_rng(2024)
    accepted, started = 0, time.monotonic()
    for _ in range(MUTANTS):
        accepted += runs_or_is_refused(mutate(seed, rng), rng)
    assert 0 < accepted < MUTANTS      # both paths exercised
    assert time.monotonic() - started < 60


# NCSDK-made files (tests/ncsdk_made.py, small sizes) mutated where NCSDK's
# habits live: storage order, copy channel offsets (dataPointer), the FC's
# 1x1xN input strides, oversize output dims, indices and tap dims.
NCSDK_MUTANTS = 600
_U32_FIELDS = tuple(range(112, 184, 4)) + (187, 193, 199, 205, 211)
_U16_FIELDS = (191, 197, 203, 209, 215)
_BYTE_FIELDS = (100, 105, 107, 111, 186, 218)


def ncsdk_seeds():
    from ncsdk_made import (caffe_net, tf_deconv_net, tf_slice_net,
                            tf_transposed_net)
    return [caffe_net("net", "producer")[0], tf_slice_net(5, size=5)[0],
            tf_deconv_net(size=9)[0], tf_transposed_net(4, 6)[0]]


def mutate_field(blob, rng):
    """One to three record fields nudged: +-1/2/64, doubled, halved, or set
    to a small value; or a random storage order; or dataPointer moved by
    a few channels (copy offsets, slices)."""
    out = bytearray(blob)
    n = nf.Header.unpack(blob).stage_count
    for _ in range(rng.integers(1, 4)):
        base = nf.HEADER_LENGTH + nf.STAGE_LENGTH * int(rng.integers(n))
        kind = rng.integers(8)
        if kind == 7:
            out[base + 186] = int(rng.integers(7))
            continue
        if kind == 6:
            ptr = struct.unpack_from("<I", out, base + 187)[0]
            shift = 2 * int(rng.integers(-8, 9))
            struct.pack_into("<I", out, base + 187, max(ptr + shift, 0))
            continue
        kind %= 3
        off, fmt = [(_U32_FIELDS, "<I"), (_U16_FIELDS, "<H"),
                    (_BYTE_FIELDS, "<B")][kind]
        pos = base + int(rng.choice(off))
        old = struct.unpack_from(fmt, out, pos)[0]
        new = int(rng.choice([old + 2, old - 2, old + 1, old - 1, old + 64,
                              old * 2, old // 2, rng.integers(0, 6)]))
        new %= 1 << (8 * struct.calcsize(fmt))
        struct.pack_into(fmt, out, pos, new)
    return bytes(out)


def test_ncsdk_seeds_are_valid_and_run():
    for blob in ncsdk_seeds():
        g = load_graph(blob)
        Executor(g).run(b"\0" * g.input_bytes)


def test_mutated_ncsdk_files_raise_only_graph_file_error():
    rng = np.random.default_rng(1717)
    accepted, started = 0, time.monotonic()
    for seed in ncsdk_seeds():
        for _ in range(NCSDK_MUTANTS):
            blob = mutate_field(seed, rng) if rng.integers(4) else \
                mutate(seed, rng)
            accepted += runs_or_is_refused(blob, rng)
    assert 0 < accepted < 4 * NCSDK_MUTANTS
    assert time.monotonic() - started < 90
