"""The emulator's fast paths give the values of the plain ones.

The end of a stage (bias, postOp, fp16 rounding straight into the output
memory) rounds exactly like numpy's own float16 conversion and keeps the
sign of -0.0; buffers kept across runs leave nothing behind; depthwise by
whole rows (also split between two threads) and global pools by one reduce
give the same bits as the slower paths, and TensorFlow's values."""
import numpy as np
import pytest

from emulator.executor import Executor
from emulator.ops import native
from emulator.ops.finish import finish
from emulator.ops.fp16 import round_nonnegative_into
from emulator.reader import load_graph
from emulator_helpers import GraphBuilder, Op, PadStyle

rng = np.random.default_rng(5)
N = 300_000


@pytest.fixture(autouse=True, params=["numpy", "C"])
def loops(request, monkeypatch):
    """Every test twice: with numpy's kernels and with the C loops
    (emulator/ops/_native.c), which must give the same bits."""
    if request.param == "C":
        assert native.built(), "emulator/ops/_native.c was not compiled"
    monkeypatch.setenv("MVNC_EMULATOR_NATIVE",
                       "1" if request.param == "C" else "0")
    return request.param


def numpy_fp16(a):
    with np.errstate(all="ignore"):
        return np.asarray(a, np.float32).astype(np.float16).astype(np.float32)


def same_bits(got, want):
    np.testing.assert_array_equal(np.asarray(got).view(np.uint32),
                                  np.asarray(want).view(np.uint32))


NONNEGATIVE = [
    np.maximum(rng.standard_normal(N), 0).astype(np.float32),
    np.exp(rng.uniform(-104, 11, N)).astype(np.float32),  # float32 subnormals up
    rng.integers(0, 0x477FF000, N, dtype=np.uint32).view(np.float32),
    np.array([0, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -14 - 2 ** -25,
              2 ** -14, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 6, 65504, 65519.99,
              5.96e-8, 1e-45], np.float32),
]


@pytest.mark.parametrize("values", NONNEGATIVE,
                         ids=["relu", "wide", "all-bits", "edges"])
def test_nonnegative_rounding_matches_numpy_float16(values):
    out = np.empty_like(values)
    assert round_nonnegative_into(values.copy(), out)
    same_bits(out, numpy_fp16(values))


def test_nonnegative_rounding_writes_through_strides_only_its_slots():
    y = np.abs(rng.standard_normal((4, 5, 3))).astype(np.float32)
    memory = np.full((4, 5, 8), 7.0, np.float32)
    assert round_nonnegative_into(y.copy(), memory[:, :, 2:5])
    same_bits(memory[:, :, 2:5], numpy_fp16(y))
    assert (memory[:, :, :2] == 7).all() and (memory[:, :, 5:] == 7).all()


@pytest.mark.parametrize("bad", [np.nan, 65520, np.inf])
def test_nonnegative_rounding_declines_nan_and_overflow(bad):
    y = np.array([1.5, bad, 3.0], np.float32)
    before = y.copy()
    assert not round_nonnegative_into(y, np.empty_like(y))
    same_bits(y, before)


def reference_stage_end(y, bias, post_op, param):
    """What a stage stores, by the definition: fp16(postOp(y + bias))."""
    z = y if bias is None else y + bias
    if post_op == Op.RELU:
        z = np.maximum(z, 0)
    elif post_op == Op.RELU_X:
        z = np.clip(z, 0, param)
    elif post_op == Op.LEAKY_RELU:
        z = np.where(z > 0, z, z * np.float32(param))
    return numpy_fp16(z)


def kernel_result():
    y = (rng.standard_normal((6, 7, 16)) * np.exp(rng.uniform(-20, 5, 16))
         ).astype(np.float32)
    y[0, 0] = -0.0
    y[1, 1] = 0.0
    y[2, 2] = 1e-6
    y[3, 3, :4] = [np.nan, 70000, -70000, 65519]
    return y


BIASES = {
    "none": None,
    "plain": rng.standard_normal(16).astype(np.float32),
    "with -0": np.where(np.arange(16) % 3 == 0, -0.0,
                        rng.standard_normal(16)).astype(np.float32),
    "zeros": np.zeros(16, np.float32),
}


@pytest.mark.parametrize("bias", BIASES.values(), ids=BIASES.keys())
@pytest.mark.parametrize("post_op,param", [(Op.NONE, 0), (Op.RELU, 0),
                                           (Op.RELU_X, 6.0),
                                           (Op.LEAKY_RELU, 0.1)])
@pytest.mark.parametrize("nan", [False, True])
def test_stage_end_matches_its_definition(bias, post_op, param, nan):
    y = kernel_result()
    if not nan:
        y[3, 3, 0] = 2.0
    want = reference_stage_end(y, bias, post_op, param)
    out = np.full((6, 7, 16), 9.0, np.float32)
    finish(y.copy(), out, bias, post_op, param)
    nans = np.isnan(want)
    assert np.array_equal(np.isnan(out), nans)
    same_bits(out[~nans], want[~nans])


@pytest.mark.parametrize("post_op,param", [(Op.RELU, 0), (Op.RELU_X, 6.0)])
def test_stage_end_band_by_band_matches_its_definition(post_op, param,
                                                       monkeypatch):
    """Rows finished one band at a time (here one row a band, one of them
    holding a NaN and overflows) give the same values as all at once."""
    import emulator.ops.finish as finish_module
    monkeypatch.setattr(finish_module, "BAND", 1)
    y, bias = kernel_result(), BIASES["plain"]
    want = reference_stage_end(y, bias, post_op, param)
    out = np.full((6, 7, 16), 9.0, np.float32)
    finish(y.copy(), out, bias, post_op, param)
    nans = np.isnan(want)
    assert nans.any() and np.array_equal(np.isnan(out), nans)
    same_bits(out[~nans], want[~nans])


def test_relu_x_without_bias_keeps_negative_zero():
    """A scale by -1 makes 0 into -0.0; ReLU-X (a clip) keeps it, and so
    must the rounding (a bias would have made it +0.0)."""
    b = GraphBuilder()
    b.stage(Op.SCALE, b.input(4, 4, 2), b.output(4, 4, 2),
            taps=b.const(-np.ones(2)), tap_dims=(1, 1, 2),
            post_op=Op.RELU_X, post_param=6.0)
    got = Executor(load_graph(b.build())).run(bytes(2 * 4 * 4 * 2))
    assert (got == 0).all() and np.signbit(got).all()


def two_branch_graph():
    """Two depthwise stages of one geometry (one shared padded buffer) and
    two convolutions writing channel slices of one output (strided)."""
    b = GraphBuilder()
    x = b.input(9, 8, 4)
    mid = [b.buffer(9, 8, 4) for _ in range(2)]
    out = b.output(9, 8, 6)
    for m in mid:
        w = rng.standard_normal((3, 3, 4)).astype(np.float16)
        b.stage(Op.DEPTH_CONV, x, m, taps=b.const(w), radix=(3, 3),
                stride=(1, 1), pad_style=PadStyle.TF_SAME, tap_dims=(9, 4, 4),
                bias=b.const(rng.standard_normal(4)), post_op=Op.RELU)
    for k, m in enumerate(mid):
        w = rng.standard_normal((1, 4, 3)).astype(np.float16)
        b.stage(Op.CONV, m, out.channels(3 * k, 3 * k + 3), taps=b.const(w),
                radix=(1, 1), stride=(1, 1), pad_style=PadStyle.TF_VALID,
                tap_dims=(1, 4, 3), bias=b.const(rng.standard_normal(3)),
                post_op=Op.RELU_X, post_param=6.0)
    return b.build()


def test_runs_leave_nothing_behind():
    """Buffers kept across runs (padded inputs) never leak into a result:
    one executor running inputs a, b, a gives what fresh ones give."""
    graph = load_graph(two_branch_graph())
    inputs = [rng.standard_normal((8, 9, 4)).astype(np.float16).tobytes()
              for _ in range(2)]
    fresh = [Executor(graph).run(t) for t in inputs]
    reused = Executor(graph)
    for t, want in zip(inputs + inputs[:1], fresh + fresh[:1]):
        np.testing.assert_array_equal(reused.run(t).view(np.uint16),
                                      want.view(np.uint16))
    assert not np.array_equal(fresh[0], fresh[1])


def test_memory_read_before_it_is_written_reads_zero_every_run():
    """Stage 0 adds a work buffer that only stage 1 writes: every run must
    see it zeroed again, as on a fresh stick (not last run's values)."""
    b = GraphBuilder()
    x = b.input(5, 3, 4)
    first, second = b.buffer(5, 3, 4), b.buffer(5, 3, 4)
    b.stage(Op.SUM, x, first, taps=second)
    b.stage(Op.RELU, x, second)
    b.stage(Op.SUM, first, b.output(5, 3, 4), taps=second)
    ex = Executor(load_graph(b.build()))
    data = rng.standard_normal((3, 5, 4)).astype(np.float16)
    want = (data.astype(np.float32) + np.maximum(data, 0)).astype(np.float16)
    for _ in range(3):
        got = ex.run(data.tobytes()).reshape(3, 5, 4)
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("padding,width", [("SAME", 97), ("VALID", 96)])
def test_wide_stride_two_depthwise_matches_tensorflow_and_the_einsum(
        padding, width, monkeypatch):
    """Large stride-2 depthwise layers compute every column and keep every
    other one: TensorFlow's values, and bit for bit the einsum path's."""
    from emulator_helpers import f16, tf_eval
    from tfcompat import tf
    import emulator.ops.conv as conv
    x = f16(rng.standard_normal((96, width, 8)))
    wt = f16(rng.standard_normal((3, 3, 8, 1)))
    want = tf_eval(lambda a, b: tf.nn.depthwise_conv2d(
        a[None], b, [1, 2, 2, 1], padding)[0], x, wt)
    oh, ow, _ = want.shape
    assert oh * ow >= conv.WIDE_STRIDE2
    b = GraphBuilder()
    style = PadStyle.TF_SAME if padding == "SAME" else PadStyle.TF_VALID
    b.stage(Op.DEPTH_CONV, b.input(width, 96, 8), b.output(ow, oh, 8),
            taps=b.const(wt), radix=(3, 3), stride=(2, 2), pad_style=style,
            tap_dims=(9, 8, 8))
    graph = load_graph(b.build())
    got = Executor(graph).run(x.astype(np.float16).tobytes())
    np.testing.assert_allclose(got.reshape(oh, ow, 8).astype(np.float32),
                               want, rtol=2e-3, atol=2e-3)
    monkeypatch.setattr(conv, "WIDE_STRIDE2", 1 << 30)
    einsum = Executor(graph).run(x.astype(np.float16).tobytes())
    np.testing.assert_array_equal(got.view(np.uint16), einsum.view(np.uint16))


def test_depthwise_rows_split_between_two_threads_give_the_same_bits(
        monkeypatch, loops):
    """Large depthwise layers run their two halves of rows on two threads;
    the result is bit for bit the one-thread result (and fails loudly if
    the helper half raises)."""
    import emulator.ops.parallel as parallel
    b = GraphBuilder()
    w = rng.standard_normal((3, 3, 16)).astype(np.float16)
    b.stage(Op.DEPTH_CONV, b.input(21, 13, 16), b.output(21, 13, 16),
            taps=b.const(w), radix=(3, 3), stride=(1, 1),
            pad_style=PadStyle.TF_SAME, tap_dims=(9, 16, 16),
            bias=b.const(rng.standard_normal(16)), post_op=Op.RELU)
    graph = load_graph(b.build())
    x = rng.standard_normal((13, 21, 16)).astype(np.float16).tobytes()
    monkeypatch.setenv("MVNC_EMULATOR_BLAS_THREADS", "1")
    one = Executor(graph).run(x)
    monkeypatch.setenv("MVNC_EMULATOR_BLAS_THREADS", "2")
    monkeypatch.setattr(parallel, "MIN_VALUES", 0)
    halves = []
    real = parallel.split_rows

    def spy(fn, rows, values):
        halves.append(rows)
        real(fn, rows, values)
    monkeypatch.setattr(parallel, "split_rows", spy)
    two = Executor(graph).run(x)
    # the C loop takes all rows in one thread (a second one competed
    # with BLAS's): only numpy's einsum splits them
    assert halves == ([] if loops == "C" else [13])
    np.testing.assert_array_equal(one.view(np.uint16), two.view(np.uint16))

    def boom(lo, hi):
        if lo:
            raise ValueError("helper half")
    with pytest.raises(ValueError, match="helper half"):
        real(boom, 4, 1 << 20)


@pytest.mark.parametrize("op", [Op.AVG_POOL, Op.MAX_POOL])
@pytest.mark.parametrize("size,k,s,style", [(7, 7, 2, PadStyle.TF_VALID),
                                            (5, 3, 3, PadStyle.TF_SAME),
                                            (3, 3, 2, PadStyle.CAFFE)])
def test_pools_with_few_windows_reduce_in_tap_order(op, size, k, s, style,
                                                    monkeypatch):
    """Pools with at most FEW_WINDOWS outputs sum (or max) each window in
    one reduce: bit for bit the tap-by-tap loop's values."""
    import emulator.ops.pool as pool
    from emulator.ops.geometry import window
    caffe = style == PadStyle.CAFFE
    out_hw = window(size, k, s, style, 1, caffe_pool=caffe)[0]
    assert out_hw * out_hw <= pool.FEW_WINDOWS
    b = GraphBuilder()
    b.stage(op, b.input(size, size, 40), b.output(out_hw, out_hw, 40),
            radix=(k, k), stride=(s, s), pad=(1, 1), pad_style=style)
    graph = load_graph(b.build())
    x = (rng.standard_normal((size, size, 40)) * 100).astype(np.float16)
    one_reduce = Executor(graph).run(x.tobytes())
    monkeypatch.setattr(pool, "FEW_WINDOWS", 0)
    tap_loop = Executor(graph).run(x.tobytes())
    np.testing.assert_array_equal(one_reduce.view(np.uint16),
                                  tap_loop.view(np.uint16))
