"""Helpers for the Caffe tests: write caffemodels, compile, run, and compute
the same layers independently with TensorFlow (NHWC, weights transposed
here, Caffe's padding and pooling rounding spelled out here).
"""
import numpy as np

from compiler import compile_file
from compiler.frontends import caffe_proto
from emulator_helpers import f16, tf_eval

HEADER = 'name: "t"\ninput: "data"\ninput_shape {{ dim: 1 dim: {c} ' \
         'dim: {h} dim: {w} }}\n'


def net(shape_hwc, layers):
    """Prototxt text: the standard input declaration plus ``layers``."""
    h, w, c = shape_hwc
    return HEADER.format(c=c, h=h, w=w) + layers


def caffemodel(blobs, legacy=False):
    """{layer name: [arrays]} -> .caffemodel bytes (our own messages)."""
    model = caffe_proto.NetParameter(name="t")
    for name, arrays in blobs.items():
        layer = model.layers.add() if legacy else model.layer.add()
        layer.name = name
        for a in arrays:
            b = layer.blobs.add()
            a = np.asarray(a, np.float32)
            if legacy:      # the old 4-d form: num, channels, height, width
                dims = [1] * (4 - a.ndim) + list(a.shape)
                b.num, b.channels, b.height, b.width = dims
            else:
                b.shape.dim.extend(a.shape)
            b.data.extend(a.reshape(-1).tolist())
    return model.SerializeToString()


def compile_caffe(tmp_path, prototxt, blobs=None, shaves=1, legacy=False,
                  **kw):
    """Write the files, compile; returns the CompileResult."""
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(prototxt)
    weights = None
    if blobs is not None:
        weights = tmp_path / "weights.caffemodel"
        weights.write_bytes(caffemodel(blobs, legacy))
    return compile_file(str(proto), str(weights) if weights else None,
                        shaves=shaves, **kw)


def run_stick(blob, x_hwc):
    """Runs a graph file on the emulated stick (NCSDK 1.x API)."""
    from emulator.infer import run_once
    out, _ = run_once(blob, np.asarray(x_hwc, np.float16), "x")
    return out.astype(np.float32)


def rand(rng, *shape, scale=1.0):
    """fp16-representable random values."""
    return f16(rng.standard_normal(shape) * scale)


def close(got, want, tol=0.02):
    """Equal to fp16 precision, relative to the output's magnitude."""
    want = np.asarray(want, np.float32).reshape(-1)
    got = np.asarray(got, np.float32).reshape(-1)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(float(np.abs(want).max()), 1.0)
    np.testing.assert_allclose(got, want, rtol=tol, atol=tol * scale)


# ---------------------------------------------------- TensorFlow references

def tf_conv(x, w_oihw, b=None, stride=(1, 1), pad=(0, 0), dilation=(1, 1),
            group=1):
    """Caffe convolution in TF: explicit symmetric pad, VALID, per group."""
    from tfcompat import tf

    def build(t):
        t = tf.pad(t, [[0, 0], [pad[0]] * 2, [pad[1]] * 2, [0, 0]])
        xs = tf.split(t, group, axis=3)
        ws = np.split(np.asarray(w_oihw, np.float32), group, axis=0)
        ys = [tf.nn.conv2d(xi, wi.transpose(2, 3, 1, 0), [1, *stride, 1],
                           "VALID", dilations=[1, *dilation, 1])
              for xi, wi in zip(xs, ws)]
        y = tf.concat(ys, axis=3)
        return y if b is None else y + np.asarray(b, np.float32)
    return tf_eval(build, x[None])[0]


def tf_deconv(x, w_iohw, b, stride, pad):
    """Caffe deconvolution: TF's transposed conv (full size), then crop."""
    from tfcompat import tf
    h, w, _ = x.shape
    cout, kh, kw = w_iohw.shape[1:]
    fh, fw = stride[0] * (h - 1) + kh, stride[1] * (w - 1) + kw

    def build(t):
        y = tf.nn.conv2d_transpose(
            t, np.asarray(w_iohw, np.float32).transpose(2, 3, 1, 0),
            [1, fh, fw, cout], [1, *stride, 1], "VALID")
        y = y[:, pad[0]:fh - pad[0], pad[1]:fw - pad[1], :]
        return y + np.asarray(b, np.float32)
    return tf_eval(build, x[None])[0]


def caffe_pool_out(size, k, s, p):
    out = -(-(size + 2 * p - k) // s) + 1
    if p > 0 and (out - 1) * s >= size + p:
        out -= 1
    return out


def tf_pool(x, method, k, s, p):
    """Caffe pooling: ceil rounding by padding bottom/right; average divides
    by the window clipped to [-pad, size + pad)."""
    from tfcompat import tf
    h, w, _ = x.shape
    oh, ow = (caffe_pool_out(n, k[i], s[i], p[i]) for i, n in
              enumerate((h, w)))
    extra = [(o - 1) * s[i] + k[i] - n - p[i]
             for i, (o, n) in enumerate(((oh, h), (ow, w)))]
    pads = [[0, 0], [p[0], max(extra[0], 0)], [p[1], max(extra[1], 0)],
            [0, 0]]

    def build(t):
        if method == "max":
            t = tf.pad(t, pads, constant_values=-1e30)
            return tf.nn.max_pool2d(t, [1, *k, 1], [1, *s, 1], "VALID")
        t = tf.pad(t, pads)
        return tf.nn.avg_pool2d(t, [1, *k, 1], [1, *s, 1], "VALID") * (
            k[0] * k[1])
    y = tf_eval(build, x[None])[0][:oh, :ow]
    if method == "max":
        return y

    def counts(o, n, i):
        start = np.arange(o) * s[i] - p[i]
        return np.minimum(start + k[i], n + p[i]) - start
    div = counts(oh, h, 0)[:, None] * counts(ow, w, 1)[None, :]
    return y / div[:, :, None]


def chw_flat(x_hwc):
    """Caffe's flattening order of an H,W,C array."""
    return np.asarray(x_hwc).transpose(2, 0, 1).reshape(-1)


def tf_fc(x_hwc, w, b):
    from tfcompat import tf
    return tf_eval(lambda t: tf.matmul(t, np.asarray(w, np.float32).T) + b,
                   chw_flat(x_hwc)[None])[0]


def tf_lrn(x, size, alpha, beta, k):
    from tfcompat import tf
    return tf_eval(lambda t: tf.nn.local_response_normalization(
        t, size // 2, k, alpha / size, beta), x[None])[0]


def tf_unary(fn, x):
    return tf_eval(fn, x[None])[0]
