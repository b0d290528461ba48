"""The emulator's C loops (emulator/ops/_native.c) give numpy's bits.

Each graph runs twice, MVNC_EMULATOR_NATIVE=0 (numpy's kernels) and the
default (C), and the two results must be the same fp16 bit patterns; the
TensorFlow-padded ones are also checked against TensorFlow itself. The
stage end's portable rounding (no F16C) is checked in a subprocess, since
the choice is made once, at import.
"""
import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from emulator.executor import Executor
from emulator.ops import native
from emulator.reader import load_graph
from emulator_helpers import GraphBuilder, Op, PadStyle, f16, tf_eval

rng = np.random.default_rng(11)
REPO = Path(__file__).resolve().parent.parent


def run_both(blob, x, monkeypatch):
    """(numpy's result, C's result) of one graph on input x."""
    graph = load_graph(blob)
    data = np.asarray(x, np.float16).tobytes()
    monkeypatch.setenv("MVNC_EMULATOR_NATIVE", "0")
    slow = Executor(graph).run(data)
    monkeypatch.setenv("MVNC_EMULATOR_NATIVE", "1")
    fast = Executor(graph).run(data)
    return slow, fast


def same_bits(a, b):
    np.testing.assert_array_equal(a.view(np.uint16), b.view(np.uint16))


def depthwise_graph(h, w, c, k, s, style, pad=(0, 0), taps=None, bias=None,
                    post_op=Op.NONE, post_param=0.0):
    from emulator.ops.padding import geometry
    from ncsformat import Stage
    probe = Stage(name="p", op=Op.DEPTH_CONV, radix=k[::-1], stride=s[::-1],
                  pad=pad[::-1], pad_style=style, input_dims=(w, h, c))
    (oh, _, _), (ow, _, _) = geometry(probe)
    b = GraphBuilder()
    if taps is None:
        taps = rng.standard_normal((k[0], k[1], c)).astype(np.float16)
    b.stage(Op.DEPTH_CONV, b.input(w, h, c), b.output(ow, oh, c),
            taps=b.const(taps), radix=k[::-1], stride=s[::-1], pad=pad[::-1],
            pad_style=style, tap_dims=(k[0] * k[1], c, c),
            bias=None if bias is None else b.const(bias), post_op=post_op,
            post_param=post_param)
    return b.build(), (oh, ow, c)


def test_the_c_loops_are_built():
    """`make venv` / `pip install` compiled them, and on a CPU with F16C
    the stage end uses it."""
    assert native.built()
    from emulator.ops import _native
    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() \
        else ""
    if " f16c" in flags and " avx2" in flags:
        assert _native.F16C == 1


GEOMETRIES = [
    # (h, w, c, (kh, kw), (sy, sx), style)
    (9, 11, 8, (3, 3), (1, 1), PadStyle.TF_SAME),
    (9, 11, 8, (3, 3), (2, 2), PadStyle.TF_SAME),
    (10, 10, 32, (3, 3), (2, 2), PadStyle.TF_SAME),
    (12, 7, 40, (3, 3), (1, 1), PadStyle.TF_VALID),
    (13, 13, 33, (5, 5), (2, 2), PadStyle.TF_VALID),   # cropped last row
    (6, 9, 3, (1, 3), (2, 2), PadStyle.TF_SAME),
    (7, 5, 64, (5, 5), (1, 1), PadStyle.TF_SAME),       # taps past 2 edges
    (2, 2, 1, (3, 3), (1, 1), PadStyle.TF_SAME),
    (4, 6, 72, (3, 3), (3, 3), PadStyle.TF_SAME),
    (57, 57, 16, (3, 3), (2, 2), PadStyle.TF_SAME),
]


@pytest.mark.parametrize("h,w,c,k,s,style", GEOMETRIES)
def test_depthwise_same_bits_as_numpy_and_values_of_tensorflow(
        h, w, c, k, s, style, monkeypatch):
    taps = rng.standard_normal((k[0], k[1], c)).astype(np.float16)
    blob, shape = depthwise_graph(h, w, c, k, s, style, taps=taps)
    x = rng.standard_normal((h, w, c)).astype(np.float16)
    slow, fast = run_both(blob, x, monkeypatch)
    same_bits(slow, fast)
    import tensorflow as tf
    padding = "SAME" if style == PadStyle.TF_SAME else "VALID"
    want = tf_eval(lambda a, b: tf.nn.depthwise_conv2d(
        a[None], b[..., None], [1, s[0], s[1], 1], padding)[0], x,
        taps.astype(np.float32))
    assert want.shape == shape
    np.testing.assert_allclose(fast.reshape(shape).astype(np.float32), want,
                               rtol=2e-3, atol=4e-3)


@pytest.mark.parametrize("pad,k,s", [((1, 1), (3, 3), (1, 1)),
                                     ((2, 1), (5, 3), (2, 1)),
                                     ((0, 2), (3, 3), (2, 2))])
@pytest.mark.parametrize("post_op,param", [(Op.NONE, 0.0), (Op.RELU, 0.0),
                                           (Op.RELU_X, 6.0),
                                           (Op.LEAKY_RELU, 0.1)])
def test_caffe_padded_depthwise_with_bias_and_post_ops(pad, k, s, post_op,
                                                       param, monkeypatch):
    """Caffe's explicit pads, every stage end the C loop finishes itself
    (and leaky ReLU, which it leaves to numpy)."""
    blob, _ = depthwise_graph(11, 10, 24, k, s, PadStyle.CAFFE, pad=pad,
                              bias=rng.standard_normal(24), post_op=post_op,
                              post_param=param)
    x = rng.standard_normal((11, 10, 24)).astype(np.float16)
    same_bits(*run_both(blob, x, monkeypatch))


def test_infinite_tap_pads_for_real(monkeypatch):
    """0 x inf is NaN: with an inf tap the C loop must not skip the
    padding, or the border would differ from numpy's (and the stick's)."""
    taps = rng.standard_normal((3, 3, 8)).astype(np.float16)
    taps[0, 0, 2] = np.inf
    taps[2, 1, 5] = -np.inf
    blob, shape = depthwise_graph(6, 7, 8, (3, 3), (1, 1), PadStyle.TF_SAME,
                                  taps=taps)
    x = rng.standard_normal((6, 7, 8)).astype(np.float16)
    slow, fast = run_both(blob, x, monkeypatch)
    assert np.isnan(slow.reshape(shape)[0, :, 2]).all()    # top border
    same_bits(slow, fast)


def test_outputs_through_strides_and_a_chain(monkeypatch):
    """A small MobileNet: conv 3x3/2, depthwise + 1x1 pairs (ReLU6), two
    branches written as channel slices of one concat buffer, average pool;
    the kernels cannot write densely there, so the C stage end stores
    through strides."""
    b = GraphBuilder()
    x = b.input(15, 13, 3)
    a = b.buffer(8, 7, 16)
    b.stage(Op.CONV, x, a, taps=b.const(rng.standard_normal((9, 3, 16))),
            radix=(3, 3), stride=(2, 2), pad_style=PadStyle.TF_SAME,
            tap_dims=(9, 3, 16), bias=b.const(rng.standard_normal(16)),
            post_op=Op.RELU_X, post_param=6.0)
    cat = b.buffer(8, 7, 24)
    for first, stop in ((0, 16), (16, 24)):
        d = b.buffer(8, 7, 16)
        b.stage(Op.DEPTH_CONV, a, d, taps=b.const(rng.standard_normal(
            (9, 16)) * 0.5), radix=(3, 3), stride=(1, 1),
            pad_style=PadStyle.TF_SAME, tap_dims=(9, 16, 16),
            bias=b.const(rng.standard_normal(16)), post_op=Op.RELU_X,
            post_param=6.0)
        n = stop - first
        b.stage(Op.DEPTH_CONV if n == 16 else Op.CONV, d,
                cat.channels(first, stop),
                taps=b.const(rng.standard_normal((9, 16)) if n == 16 else
                             rng.standard_normal((1, 16, n)) * 0.3),
                radix=(3, 3) if n == 16 else (1, 1), stride=(1, 1),
                pad_style=PadStyle.TF_SAME, tap_dims=(9, 16, 16) if n == 16
                else (1, 16, n), bias=b.const(rng.standard_normal(n)),
                post_op=Op.RELU)
    b.stage(Op.AVG_POOL, cat, b.output(1, 1, 24), radix=(8, 7),
            stride=(1, 1), pad_style=PadStyle.TF_VALID)
    x = rng.standard_normal((13, 15, 3)).astype(np.float16)
    slow, fast = run_both(b.build(), x, monkeypatch)
    same_bits(slow, fast)
    assert np.count_nonzero(fast) > 12


def test_several_sticks_at_once_give_one_sticks_bits(monkeypatch):
    """The C loops release the GIL: four executors in four threads give
    what each gives alone."""
    monkeypatch.setenv("MVNC_EMULATOR_NATIVE", "1")
    blob, _ = depthwise_graph(40, 40, 32, (3, 3), (1, 1), PadStyle.TF_SAME,
                              bias=rng.standard_normal(32),
                              post_op=Op.RELU_X, post_param=6.0)
    graph = load_graph(blob)
    inputs = [rng.standard_normal((40, 40, 32)).astype(np.float16).tobytes()
              for _ in range(4)]
    alone = [Executor(graph).run(t) for t in inputs]
    got = [None] * 4

    def work(i):
        ex = Executor(graph)
        for _ in range(5):
            got[i] = ex.run(inputs[i])
    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for a, b in zip(alone, got):
        same_bits(a, b)


def test_bad_arrays_are_refused_not_read():
    """The C functions check what they are given: wrong dtype, rank,
    shapes or row ranges raise instead of reading out of bounds."""
    from emulator.ops import _native
    x = np.zeros((5, 5, 8), np.float32)
    w = np.zeros((3, 3, 8), np.float32)
    out = np.zeros((5, 5, 8), np.float32)
    end = (None, -1, 0.0, 0.0)
    _native.depthwise(x, w, out, 1, 1, 1, 1, 0, 5, *end)
    bad = [
        ((x.astype(np.float64), w, out, 1, 1, 1, 1, 0, 5) + end, TypeError),
        ((x, w[..., :4], out, 1, 1, 1, 1, 0, 5) + end, ValueError),
        ((x, w, out, 1, 1, 1, 1, 0, 6) + end, ValueError),
        ((x, w, out, 0, 1, 1, 1, 0, 5) + end, ValueError),
        ((x, w, out, 1, 1, -1, 1, 0, 5) + end, ValueError),
        ((x, w, out[:, :, ::2], 1, 1, 1, 1, 0, 5) + end, ValueError),
        ((x, w, np.zeros((5, 5), np.float32), 1, 1, 1, 1, 0, 5) + end,
         TypeError),
        ((x, w, out, 1, 1, 1, 1, 0, 5, np.zeros(3, np.float32), 1, 0.0, 0.0),
         ValueError),
        ((x, w, out.copy(), 1, 1, 1, 1, 0, 5, None, 7, 0.0, 0.0), ValueError),
    ]
    for args, error in bad:
        with pytest.raises(error):
            _native.depthwise(*args)
    with pytest.raises(ValueError):
        _native.finish(x, out[:4], None, 0, 0.0, 0.0, 0, 4)
    with pytest.raises(ValueError):
        _native.finish(x, out, None, 0, 0.0, 0.0, 2, 1)
    with pytest.raises(ValueError, match="read-only"):
        ro = out.copy()
        ro.flags.writeable = False
        _native.finish(x, ro, None, 0, 0.0, 0.0, 0, 5)


def test_stage_end_without_f16c_rounds_the_same():
    """The portable rounding (the C build for CPUs without F16C, chosen
    here with MVNC_EMULATOR_F16C=0) passes the stage-end tests too."""
    env = dict(os.environ, MVNC_EMULATOR_F16C="0", MVNC_EMULATOR_NATIVE="1")
    probe = ("from emulator.ops import _native; assert _native.F16C == 0; "
             "import pytest, sys; sys.exit(pytest.main(['-q', '-p', "
             "'no:cacheprovider', '-k', 'stage_end or rounding', "
             "'tests/test_emulator_fast_paths.py']))")
    res = subprocess.run([sys.executable, "-c", probe], cwd=REPO, env=env,
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert " passed" in res.stdout
