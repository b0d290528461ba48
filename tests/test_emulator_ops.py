"""One test per stage type and padding style: the emulator's output against
TensorFlow run here (or hand-computed values for small Caffe cases).

Inputs and weights are rounded to fp16 first, so the only expected difference
is the emulator's final rounding of each stage output to fp16.
"""
import numpy as np
import pytest

from emulator_helpers import (GraphBuilder, Op, PadStyle, f16, run, single,
                              tf_eval)
from tfcompat import tf, tf1

rng = np.random.default_rng(1234)


def rand(*shape, scale=1.0):
    return f16(rng.standard_normal(shape) * scale)


def close(got, want):
    want = np.asarray(want, np.float32)
    tol = 2e-3 * max(float(np.abs(want).max()), 1e-3)
    np.testing.assert_allclose(np.asarray(got, np.float32), want, rtol=2e-3,
                               atol=tol)


def conv_stage(x, w, out_hw, style, stride=1, pad=0, **kw):
    kh, kw_, cin, cout = w.shape
    oh, ow = out_hw
    return single(Op.CONV, x, (ow, oh, cout), taps=w, radix=(kw_, kh),
                  stride=(stride, stride), pad=(pad, pad), pad_style=style,
                  tap_dims=(kh * kw_, cin, cout), **kw)


def with_const(op, x, out_dims, arrays, **kw):
    """single() with numpy arrays for taps/bias placed in the data section."""
    b = GraphBuilder()
    h, w, c = x.shape
    ow, oh, oc = out_dims
    for role in ("taps", "bias"):
        if role in arrays:
            kw[role] = b.const(arrays[role])
    b.stage(op, b.input(w, h, c), b.output(ow, oh, oc), **kw)
    return run(b.build(), x).reshape(oh, ow, oc)


def tf_conv(x, w, stride, padding):
    return tf_eval(lambda a, b: tf.nn.conv2d(a[None], b, stride, padding)[0],
                   x, w)


@pytest.mark.parametrize("h,w,k,s", [(9, 7, 3, 2), (8, 8, 3, 1), (10, 11, 5, 3),
                                     (6, 6, 1, 2)])
def test_conv_tf_same_pads_smaller_half_first(h, w, k, s):
    x, wt = rand(h, w, 5), rand(k, k, 5, 6)
    want = tf_conv(x, wt, s, "SAME")
    got = with_const(Op.CONV, x, (want.shape[1], want.shape[0], 6),
                     {"taps": wt}, radix=(k, k), stride=(s, s),
                     pad_style=PadStyle.TF_SAME, tap_dims=(k * k, 5, 6))
    close(got, want)


@pytest.mark.parametrize("h,w,k,s", [(9, 7, 3, 2), (12, 12, 3, 1), (8, 9, 2, 2)])
def test_conv_tf_valid(h, w, k, s):
    x, wt = rand(h, w, 4), rand(k, k, 4, 3)
    want = tf_conv(x, wt, s, "VALID")
    got = with_const(Op.CONV, x, (want.shape[1], want.shape[0], 3),
                     {"taps": wt}, radix=(k, k), stride=(s, s),
                     pad_style=PadStyle.TF_VALID, tap_dims=(k * k, 4, 3))
    close(got, want)


@pytest.mark.parametrize("h,k,s,p", [(7, 3, 2, 1), (8, 3, 2, 1), (9, 5, 2, 2),
                                     (6, 7, 1, 3)])
def test_conv_caffe_symmetric_pad_floor(h, k, s, p):
    x, wt = rand(h, h + 1, 3), rand(k, k, 3, 4)
    padded = np.pad(x, ((p, p), (p, p), (0, 0)))
    want = tf_conv(padded, wt, s, "VALID")   # Caffe floors, like VALID
    got = with_const(Op.CONV, x, (want.shape[1], want.shape[0], 4),
                     {"taps": wt}, radix=(k, k), stride=(s, s), pad=(p, p),
                     pad_style=PadStyle.CAFFE, tap_dims=(k * k, 3, 4))
    close(got, want)


@pytest.mark.parametrize("post,param,fn", [
    (Op.RELU, 0.0, tf.nn.relu),
    (Op.RELU_X, 6.0, tf.nn.relu6),
    (Op.LEAKY_RELU, 0.125, lambda t: tf.nn.leaky_relu(t, 0.125)),
    (Op.ELU, 1.0, tf.nn.elu),
    (Op.SIGMOID, 0.0, tf.sigmoid),
    (Op.TANH, 0.0, tf.tanh),
    (Op.BIAS, 0.0, tf.identity),
])
def test_conv_bias_then_post_op(post, param, fn):
    x, wt, bias = rand(6, 6, 3, scale=2), rand(3, 3, 3, 4), rand(4)
    want = tf_eval(lambda a, b, c: fn(tf.nn.bias_add(
        tf.nn.conv2d(a[None], b, 1, "SAME"), c))[0], x, wt, bias)
    got = with_const(Op.CONV, x, (6, 6, 4), {"taps": wt, "bias": bias},
                     radix=(3, 3), pad_style=PadStyle.TF_SAME,
                     tap_dims=(9, 3, 4), post_op=post, post_param=param)
    close(got, want)


@pytest.mark.parametrize("mult,s,style", [(1, 1, PadStyle.TF_SAME),
                                          (1, 2, PadStyle.TF_SAME),
                                          (2, 2, PadStyle.TF_SAME),
                                          (3, 1, PadStyle.TF_VALID)])
def test_depth_convolution(mult, s, style):
    x, wt = rand(9, 8, 4), rand(3, 3, 4, mult)
    padding = "SAME" if style == PadStyle.TF_SAME else "VALID"
    want = tf_eval(lambda a, b: tf.nn.depthwise_conv2d(
        a[None], b, [1, s, s, 1], padding)[0], x, wt)
    oh, ow, oc = want.shape
    got = with_const(Op.DEPTH_CONV, x, (ow, oh, oc), {"taps": wt},
                     radix=(3, 3), stride=(s, s), pad_style=style,
                     tap_dims=(9, 4, 4 * mult))
    close(got, want)


@pytest.mark.parametrize("s,padding", [(1, "SAME"), (2, "SAME"), (2, "VALID")])
def test_depth_convolution_many_channels(s, padding):
    """Wide inputs take the einsum path of the kernel."""
    x, wt = rand(7, 6, 72), rand(3, 3, 72, 1)
    want = tf_eval(lambda a, b: tf.nn.depthwise_conv2d(
        a[None], b, [1, s, s, 1], padding)[0], x, wt)
    oh, ow, oc = want.shape
    style = PadStyle.TF_SAME if padding == "SAME" else PadStyle.TF_VALID
    got = with_const(Op.DEPTH_CONV, x, (ow, oh, oc), {"taps": wt},
                     radix=(3, 3), stride=(s, s), pad_style=style,
                     tap_dims=(9, 72, 72))
    close(got, want)


def test_conv_with_huge_kernel_rows_uses_one_matmul_per_tap(monkeypatch):
    from emulator.ops import conv
    monkeypatch.setattr(conv, "IM2COL_CHUNK", 64)
    x, wt = rand(9, 8, 5), rand(3, 3, 5, 4)
    want = tf_conv(x, wt, 2, "SAME")
    got = with_const(Op.CONV, x, (4, 5, 4), {"taps": wt}, radix=(3, 3),
                     stride=(2, 2), pad_style=PadStyle.TF_SAME,
                     tap_dims=(9, 5, 4))
    close(got, want)


@pytest.mark.parametrize("s,style", [(1, PadStyle.TF_SAME),
                                     (2, PadStyle.TF_SAME),
                                     (2, PadStyle.TF_VALID)])
def test_conv_in_bands_of_output_rows(monkeypatch, s, style):
    """Large layers assemble im2col band by band (forced here by limits)."""
    from emulator.ops import conv
    monkeypatch.setattr(conv, "ONE_SHOT", 0)
    monkeypatch.setattr(conv, "IM2COL_BAND", 300)
    x, wt = rand(11, 9, 6), rand(3, 3, 6, 5)
    want = tf_conv(x, wt, s, "SAME" if style == PadStyle.TF_SAME else "VALID")
    oh, ow, _ = want.shape
    got = with_const(Op.CONV, x, (ow, oh, 5), {"taps": wt}, radix=(3, 3),
                     stride=(s, s), pad_style=style, tap_dims=(9, 6, 5))
    close(got, want)


def test_depth_convolution_caffe_pad():
    x, wt = rand(7, 7, 3), rand(3, 3, 3, 1)
    padded = np.pad(x, ((1, 1), (1, 1), (0, 0)))
    want = tf_eval(lambda a, b: tf.nn.depthwise_conv2d(
        a[None], b, [1, 2, 2, 1], "VALID")[0], padded, wt)
    got = with_const(Op.DEPTH_CONV, x, (4, 4, 3), {"taps": wt},
                     radix=(3, 3), stride=(2, 2), pad=(1, 1),
                     pad_style=PadStyle.CAFFE, tap_dims=(9, 3, 3))
    close(got, want)


@pytest.mark.parametrize("h,k,s,p", [(4, 4, 2, 1), (5, 3, 2, 0), (3, 2, 2, 0),
                                     (4, 3, 1, 1)])
def test_deconvolution_caffe(h, k, s, p):
    x, wt = rand(h, h + 1, 3), rand(k, k, 3, 2)
    full = (s * (h - 1) + k, s * h + k)
    want = tf_eval(lambda a, b: tf.nn.conv2d_transpose(
        a[None], tf.transpose(b, [0, 1, 3, 2]), [1, full[0], full[1], 2],
        s, "VALID")[0], x, wt)
    want = want[p:full[0] - p, p:full[1] - p]
    oh, ow, _ = want.shape
    got = with_const(Op.DECONV, x, (ow, oh, 2), {"taps": wt}, radix=(k, k),
                     stride=(s, s), pad=(p, p), pad_style=PadStyle.CAFFE,
                     tap_dims=(k * k, 3, 2))
    close(got, want)


@pytest.mark.parametrize("op,fn", [(Op.MAX_POOL, tf.nn.max_pool2d),
                                   (Op.AVG_POOL, tf.nn.avg_pool2d)])
@pytest.mark.parametrize("padding,h,k,s", [("SAME", 9, 3, 2), ("SAME", 8, 3, 2),
                                           ("SAME", 7, 2, 1), ("VALID", 9, 3, 2),
                                           ("VALID", 8, 2, 2), ("VALID", 10, 3, 2)])
def test_pool_tf(op, fn, padding, h, k, s):
    """TF SAME average divides by the number of in-bounds positions."""
    x = rand(h, h + 2, 5)
    want = tf_eval(lambda a: fn(a[None], k, s, padding)[0], x)
    oh, ow, _ = want.shape
    style = PadStyle.TF_SAME if padding == "SAME" else PadStyle.TF_VALID
    got = single(op, x, (ow, oh, 5), radix=(k, k), stride=(s, s),
                 pad_style=style)
    close(got, want)


def caffe_pool_1d(op, values, k, s, p):
    x = f16(np.array(values, np.float32).reshape(1, -1, 1))
    from emulator.ops.geometry import window
    out = window(len(values), k, s, PadStyle.CAFFE, p, caffe_pool=True)[0]
    return single(op, x, (out, 1, 1), radix=(k, 1), stride=(s, 1),
                  pad=(p, 0), pad_style=PadStyle.CAFFE).reshape(-1)


def test_caffe_pool_ceil_rounding_without_pad():
    # in 6, k 3, s 2: ceil(3/2)+1 = 3 windows at 0, 2, 4; the last is clipped
    vals = [1, 2, 3, 4, 5, 6]
    close(caffe_pool_1d(Op.MAX_POOL, vals, 3, 2, 0), [3, 5, 6])
    close(caffe_pool_1d(Op.AVG_POOL, vals, 3, 2, 0), [2, 4, 5.5])


def test_caffe_pool_divisor_counts_padding_inside_in_plus_pad():
    # in 6, k 3, s 2, pad 1: 4 windows at -1, 1, 3, 5; clipped to [-1, 7)
    # their sizes are 3, 3, 3, 2 (the last counts the pad at 6).
    vals = [1, 2, 3, 4, 5, 6]
    close(caffe_pool_1d(Op.MAX_POOL, vals, 3, 2, 1), [2, 4, 6, 6])
    close(caffe_pool_1d(Op.AVG_POOL, vals, 3, 2, 1), [1, 3, 5, 3])


def test_caffe_pool_drops_window_starting_in_the_pad():
    # in 5, k 2, s 2, pad 1: ceil(5/2)+1 = 4, but (4-1)*2 >= 5+1 so 3.
    vals = [1, -2, 3, 8, 5]
    close(caffe_pool_1d(Op.MAX_POOL, vals, 2, 2, 1), [1, 3, 8])
    close(caffe_pool_1d(Op.AVG_POOL, vals, 2, 2, 1), [0.5, 0.5, 6.5])


@pytest.mark.parametrize("op,fn", [(Op.AVG_POOL, tf.reduce_mean),
                                   (Op.MAX_POOL, tf.reduce_max)])
def test_global_pool(op, fn):
    x = rand(7, 7, 16)
    want = tf_eval(lambda a: fn(a, axis=[0, 1], keepdims=True), x)
    got = single(op, x, (1, 1, 16), radix=(7, 7), stride=(1, 1),
                 pad_style=PadStyle.TF_VALID)
    close(got, want)


def test_large_kernel_pool_uses_window_view():
    x = rand(12, 12, 3)
    want = tf_eval(lambda a: tf.nn.avg_pool2d(a[None], 9, 1, "SAME")[0], x)
    got = single(Op.AVG_POOL, x, (12, 12, 3), radix=(9, 9), stride=(1, 1),
                 pad_style=PadStyle.TF_SAME)
    close(got, want)


def test_fully_connected_reads_yxz_vector():
    x, wt, bias = rand(3, 2, 4), rand(24, 10, scale=0.3), rand(10)
    want = tf_eval(lambda a, b, c: tf.nn.relu(
        tf.matmul(tf.reshape(a, [1, -1]), b) + c), x, wt, bias)
    got = with_const(Op.FC, x, (1, 1, 10), {"taps": wt, "bias": bias},
                     tap_dims=(1, 24, 10), post_op=Op.RELU)
    close(got.reshape(1, 10), want)


def test_softmax_over_channels():
    x = rand(3, 4, 7, scale=3)
    want = tf_eval(lambda a: tf.nn.softmax(a, axis=-1), x)
    close(single(Op.SOFTMAX, x, (4, 3, 7)), want)


@pytest.mark.parametrize("op,param,fn", [
    (Op.RELU, 0.0, tf.nn.relu),
    (Op.RELU_X, 6.0, tf.nn.relu6),
    (Op.LEAKY_RELU, 0.2, lambda t: tf.nn.leaky_relu(t, 0.2)),
    (Op.ELU, 1.0, tf.nn.elu),
    (Op.SIGMOID, 0.0, tf.sigmoid),
    (Op.TANH, 0.0, tf.tanh),
])
def test_activation_stage(op, param, fn):
    x = rand(4, 5, 6, scale=4)
    want = tf_eval(fn, x)
    close(single(op, x, (5, 4, 6), post_param=param), want)


def test_bias_stage_and_relu_post_op():
    x, bias = rand(3, 3, 4), rand(4)
    want = tf_eval(lambda a, b: tf.nn.relu(tf.nn.bias_add(a, b)), x, bias)
    close(with_const(Op.BIAS, x, (3, 3, 4), {"bias": bias},
                     post_op=Op.RELU), want)


def test_prelu_per_channel_slope():
    x, slope = rand(3, 4, 3), f16([0.25, -0.5, 2.0])
    want = np.where(x > 0, x, x * slope)            # hand rule
    close(with_const(Op.PRELU, x, (4, 3, 3), {"taps": slope},
                     tap_dims=(1, 1, 3)), want)


def test_scale_then_bias():
    x, gamma, beta = rand(2, 3, 4), rand(4), rand(4)
    want = tf_eval(lambda a, g, b: a * g + b, x, gamma, beta)
    close(with_const(Op.SCALE, x, (3, 2, 4), {"taps": gamma, "bias": beta},
                     tap_dims=(1, 1, 4)), want)


@pytest.mark.parametrize("op,fn", [(Op.SUM, tf.add), (Op.PROD, tf.multiply),
                                   (Op.MAX, tf.maximum)])
def test_eltwise_second_operand_at_taps(op, fn):
    """Both operands are channel slices of the input, read with its strides."""
    x = rand(3, 4, 6)
    want = tf_eval(lambda a: tf.nn.relu(fn(a[..., :3], a[..., 3:])), x)
    b = GraphBuilder()
    inp = b.input(4, 3, 6)
    b.stage(op, inp.channels(0, 3), b.output(4, 3, 3),
            taps=inp.channels(3, 6), post_op=Op.RELU)
    close(run(b.build(), x).reshape(3, 4, 3), want)


@pytest.mark.parametrize("radius", [1, 2])
@pytest.mark.parametrize("beta", [0.75, 0.5, 0.6, 1.0])
def test_lrn_across_channels(radius, beta):
    """Every beta: 0.75 and 0.5 by square roots, the others by power."""
    size, a, k = 2 * radius + 1, 0.5, 2.0
    x = rand(3, 3, 8, scale=3)
    want = tf_eval(lambda t: tf.nn.local_response_normalization(
        t[None], depth_radius=radius, bias=k, alpha=a / size, beta=beta)[0], x)
    got = with_const(Op.LRN, x, (3, 3, 8), {"bias": [k, a, beta, 0]},
                     radix=(size, size))
    close(got, want)


def test_crop_at_offsets():
    x = rand(5, 6, 4)
    b = GraphBuilder()
    params = b.raw(np.array([1, 2, 1], "<u4").tobytes())
    b.stage(Op.CROP, b.input(6, 5, 4), b.output(3, 2, 2), op_params=params)
    got = run(b.build(), x).reshape(2, 3, 2)
    close(got, x[2:4, 1:4, 1:3])


def test_reshape_copies_in_yxz_order():
    x = rand(2, 3, 4)
    got = single(Op.RESHAPE, x, (2, 4, 3))      # W 2, H 4, C 3
    close(got, x.reshape(-1).reshape(4, 2, 3))
