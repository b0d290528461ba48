"""Memory semantics: concatenation by layout, channel-slice consumers,
guarded work buffers (debug guard check), multi-stage chains and the fp16
rounding of every stage output."""
import numpy as np
import pytest

from emulator.executor import GuardBandError
from emulator_helpers import GraphBuilder, Op, PadStyle, Region, f16, run, tf_eval
from tfcompat import tf

rng = np.random.default_rng(7)


def rand(*shape, scale=1.0):
    return f16(rng.standard_normal(shape) * scale)


def close(got, want, rel=3e-3):
    want = np.asarray(want, np.float32)
    tol = rel * float(np.abs(want).max())
    np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=rel,
                               atol=tol)


def conv1x1(b, src, dst, w):
    cin, cout = w.shape
    b.stage(Op.CONV, src, dst, taps=b.const(w), tap_dims=(1, cin, cout),
            pad_style=PadStyle.TF_VALID)


def test_concat_by_layout_two_producers_one_consumer():
    """Producers write channel slices [0:3) and [3:8) of one buffer with
    full-buffer strides; a consumer reads the whole 8-channel buffer."""
    x, w1, w2, w3 = rand(5, 6, 4), rand(4, 3), rand(4, 5), rand(8, 2)
    b = GraphBuilder()
    inp, cat = b.input(6, 5, 4), b.buffer(6, 5, 8)
    conv1x1(b, inp, cat.channels(0, 3), w1)
    conv1x1(b, inp, cat.channels(3, 8), w2)
    conv1x1(b, cat, b.output(6, 5, 2), w3)
    got = run(b.build(), x).reshape(5, 6, 2)
    want = tf_eval(lambda a, p, q, r: tf.nn.conv2d(tf.concat(
        [tf.nn.conv2d(a[None], p[None, None], 1, "VALID"),
         tf.nn.conv2d(a[None], q[None, None], 1, "VALID")], -1),
        r[None, None], 1, "VALID")[0], x, w1, w2, w3)
    close(got, want)


def test_consumer_of_a_channel_slice():
    """A stage reads channels [2:5) of a 6-channel buffer (pointer + 4 bytes,
    strides of the whole buffer) and pools them."""
    x = rand(4, 4, 6)
    b = GraphBuilder()
    inp, buf = b.input(4, 4, 6), b.buffer(4, 4, 6)
    b.stage(Op.RELU, inp, buf)
    b.stage(Op.MAX_POOL, buf.channels(2, 5), b.output(2, 2, 3), radix=(2, 2),
            stride=(2, 2), pad_style=PadStyle.TF_VALID)
    got = run(b.build(), x).reshape(2, 2, 3)
    want = tf_eval(lambda a: tf.nn.max_pool2d(
        tf.nn.relu(a[None, :, :, 2:5]), 2, 2, "VALID")[0], x)
    close(got, want)


def test_output_written_with_strides_into_a_concat_output():
    """Two stages write the two halves (channels) of the network output."""
    x = rand(3, 3, 2)
    b = GraphBuilder()
    inp, out = b.input(3, 3, 2), b.output(3, 3, 4)
    b.stage(Op.RELU, inp, out.channels(0, 2))
    b.stage(Op.TANH, inp, out.channels(2, 4))
    got = run(b.build(), x).reshape(3, 3, 4)
    close(got, np.concatenate([np.maximum(x, 0), np.tanh(x)], -1))


def test_guard_bands_stay_zero_in_a_valid_chain():
    """SAME 3x3 convs into guarded buffers pass the debug guard check."""
    x = rand(8, 8, 3)
    b = GraphBuilder()
    a, c = b.buffer(8, 8, 4), b.buffer(8, 8, 4)
    for src, dst, cin in ((b.input(8, 8, 3), a, 3), (a, c, 4)):
        b.stage(Op.CONV, src, dst, taps=b.const(rand(3, 3, cin, 4)),
                tap_dims=(9, cin, 4), radix=(3, 3),
                pad_style=PadStyle.TF_SAME, post_op=Op.RELU)
    b.stage(Op.AVG_POOL, c, b.output(1, 1, 4), radix=(8, 8),
            pad_style=PadStyle.TF_VALID)
    out = run(b.build(), x, debug=True)
    assert out.shape == (4,) and np.all(np.isfinite(out))


def test_debug_mode_catches_a_write_into_a_guard_band():
    """A buffer placed over another's trailing guard band is reported."""
    x = rand(2, 2, 2)
    b = GraphBuilder()
    a = b.buffer(2, 2, 2)
    b.stage(Op.RELU, b.input(2, 2, 2), a)
    from emulator_helpers import T, compact
    bad = T(a.index + 1, a.pointer + 2 * 8 + 4, (2, 2, 2), compact(2, 2, 2))
    b.stage(Op.RELU, a, bad)
    b.stage(Op.RELU, bad, b.output(2, 2, 2))
    blob = b.build()
    run(blob, x, debug=False)                     # runs without the check
    with pytest.raises(GuardBandError):
        run(blob, x, debug=True)


def test_multi_stage_chain_matches_tensorflow():
    """conv+relu -> maxpool -> depthwise+relu6 -> conv -> global avg -> FC
    -> softmax, with TF's result rounded to fp16 after every stage."""
    x = rand(16, 16, 3)
    w1, b1 = rand(3, 3, 3, 8, scale=0.5), rand(8, scale=0.1)
    dw, w2 = rand(3, 3, 8, 1, scale=0.5), rand(8, 12, scale=0.5)
    fc = rand(12, 5, scale=0.5)
    b = GraphBuilder()
    c1, p1 = b.buffer(8, 8, 8), b.buffer(4, 4, 8)
    d1, c2, g = b.buffer(4, 4, 8), b.buffer(4, 4, 12), b.buffer(1, 1, 12)
    f = b.buffer(1, 1, 5)
    b.stage(Op.CONV, b.input(16, 16, 3), c1, taps=b.const(w1),
            bias=b.const(b1), tap_dims=(9, 3, 8), radix=(3, 3), stride=(2, 2),
            pad_style=PadStyle.TF_SAME, post_op=Op.RELU)
    b.stage(Op.MAX_POOL, c1, p1, radix=(3, 3), stride=(2, 2),
            pad_style=PadStyle.TF_SAME)
    b.stage(Op.DEPTH_CONV, p1, d1, taps=b.const(dw), tap_dims=(9, 8, 8),
            radix=(3, 3), pad_style=PadStyle.TF_SAME, post_op=Op.RELU_X,
            post_param=6.0)
    b.stage(Op.CONV, d1, c2, taps=b.const(w2), tap_dims=(1, 8, 12),
            pad_style=PadStyle.TF_VALID)
    b.stage(Op.AVG_POOL, c2, g, radix=(4, 4), pad_style=PadStyle.TF_VALID)
    b.stage(Op.FC, g, f, taps=b.const(fc), tap_dims=(1, 12, 5))
    b.stage(Op.SOFTMAX, f, b.output(1, 1, 5))
    got = run(b.build(), x)

    def net(a, w1_, b1_, dw_, w2_, fc_):
        r = lambda t: tf.cast(tf.cast(t, tf.float16), tf.float32)  # noqa
        t = r(tf.nn.relu(tf.nn.conv2d(a[None], w1_, 2, "SAME") + b1_))
        t = r(tf.nn.max_pool2d(t, 3, 2, "SAME"))
        t = r(tf.nn.relu6(tf.nn.depthwise_conv2d(t, dw_, [1] * 4, "SAME")))
        t = r(tf.nn.conv2d(t, w2_[None, None], 1, "VALID"))
        t = r(tf.reduce_mean(t, axis=[1, 2]))
        t = r(tf.matmul(t, fc_))
        return tf.nn.softmax(t)[0]
    want = tf_eval(net, x, w1, b1, dw, w2, fc)
    close(got, want)


def test_every_stage_output_is_rounded_to_fp16():
    """1 + 2^-11 is a tie in fp16 and rounds to even (1.0): two bias stages
    adding 2^-11 each give 1.0, one stage adding 2^-10 gives 1 + 2^-10."""
    x = np.ones((1, 1, 1), np.float16)
    tiny = 2.0 ** -11
    b = GraphBuilder()
    mid = b.buffer(1, 1, 1)
    b.stage(Op.BIAS, b.input(1, 1, 1), mid, bias=b.const([tiny]))
    b.stage(Op.BIAS, mid, b.output(1, 1, 1), bias=b.const([tiny]))
    assert run(b.build(), x)[0] == np.float16(1.0)
    b = GraphBuilder()
    b.stage(Op.BIAS, b.input(1, 1, 1), b.output(1, 1, 1),
            bias=b.const([2 * tiny]))
    assert run(b.build(), x)[0] == np.float16(1 + 2 * tiny)


def test_fp16_overflow_saturates_to_inf_like_the_device_storage():
    x = np.full((1, 1, 1), 60000, np.float16)
    b = GraphBuilder()
    b.stage(Op.SCALE, b.input(1, 1, 1), b.output(1, 1, 1),
            taps=b.const([2.0]), tap_dims=(1, 1, 1))
    assert np.isinf(run(b.build(), x)[0])


def test_reused_scratch_bytes_between_inferences_do_not_leak():
    """Two inferences on one Executor give the results of fresh ones."""
    from emulator.executor import Executor
    from emulator.reader import load_graph
    b = GraphBuilder()
    mid = b.buffer(3, 3, 2)
    b.stage(Op.RELU, b.input(3, 3, 2), mid)
    b.stage(Op.SIGMOID, mid, b.output(3, 3, 2))
    ex = Executor(load_graph(b.build()))
    x1, x2 = rand(3, 3, 2), rand(3, 3, 2)
    first = ex.run(x1.astype(np.float16).tobytes())
    ex.run(x2.astype(np.float16).tobytes())
    again = ex.run(x1.astype(np.float16).tobytes())
    np.testing.assert_array_equal(first, again)


def test_second_operand_from_the_data_section():
    """An eltwise operand may be a constant tensor in the data section."""
    x, c = rand(2, 3, 4), rand(2, 3, 4)
    b = GraphBuilder()
    const = b.const(c)
    from emulator_helpers import T, compact
    b.stage(Op.SUM, b.input(3, 2, 4), b.output(3, 2, 4),
            taps=T(const.index, const.pointer, (3, 2, 4), compact(3, 2, 4)))
    close(run(b.build(), x).reshape(2, 3, 4), x + c)


def test_stage_reads_what_an_earlier_stage_wrote_to_the_output_region():
    x = rand(2, 2, 3)
    b = GraphBuilder()
    out = b.output(2, 2, 3)
    b.stage(Op.RELU, b.input(2, 2, 3), out)
    b.stage(Op.TANH, out, out)
    close(run(b.build(), x).reshape(2, 2, 3), np.tanh(np.maximum(x, 0)))


def test_debug_mode_runs_a_file_without_room_for_guard_bands():
    """A work buffer at scratch offset 0 has no room for its guard band:
    the file was laid out without them (as NCSDK 1.x did, back to back),
    so debug mode has none to check; it runs, and says so."""
    from emulator.executor import Executor
    from emulator.reader import load_graph
    from emulator_helpers import T, compact
    b = GraphBuilder()
    bare = T(Region.WORK, 0, (2, 2, 2), compact(2, 2, 2))
    b.stage(Op.RELU, b.input(2, 2, 2), bare)
    b.stage(Op.RELU, bare, b.output(2, 2, 2))
    x = rand(2, 2, 2)
    close(run(b.build(), x, debug=False).reshape(2, 2, 2), np.maximum(x, 0))
    close(run(b.build(), x, debug=True).reshape(2, 2, 2), np.maximum(x, 0))
    note = Executor(load_graph(b.build()), debug=True).debug_note
    assert "no room for guard bands" in note and "not checked" in note
    assert Executor(load_graph(b.build())).debug_note == ""
