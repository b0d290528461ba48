"""Max and average pooling by shifted slices (TF SAME/VALID and Caffe rules)."""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from ncsformat import PadStyle

from .padding import geometry, pad, shifted

MAX_TAP_LOOP = 64           # kernels larger than this reduce a window view
FEW_WINDOWS = 4             # outputs up to this many pixels: one reduce


def _windows(xp, oh, ow, kh, kw, sy, sx):
    s0, s1, s2 = xp.strides
    c = xp.shape[2]
    return as_strided(xp, shape=(oh, ow, kh, kw, c),
                      strides=(sy * s0, sx * s1, s0, s1, s2), writeable=False)


def _reduce(xp, st, oh, ow, fn):
    """fn-reduction (np.maximum or np.add) of every window."""
    (kw, kh), (sx, sy) = st.radix, st.stride
    if oh * ow <= FEW_WINDOWS:     # global pools: one reduce over the taps,
        win = _windows(np.ascontiguousarray(xp), oh, ow, kh, kw, sy, sx)
        return fn.reduce(win, axis=(2, 3))  # in tap order, 9x faster
    if kh * kw > MAX_TAP_LOOP:     # reduce each kernel row of a window view
        win = _windows(np.ascontiguousarray(xp), oh, ow, kh, kw, sy, sx)
        acc = fn.reduce(win[:, :, 0], axis=2)
        for ky in range(1, kh):
            fn(acc, fn.reduce(win[:, :, ky], axis=2), out=acc)
        return acc
    acc = shifted(xp, 0, 0, oh, ow, sy, sx).copy()
    for ky in range(kh):
        for kx in range(kw):
            if ky or kx:
                fn(acc, shifted(xp, ky, kx, oh, ow, sy, sx), out=acc)
    return acc


def max_pooling(st, x, ctx):
    """Maximum over the window; padded positions never win."""
    caffe = st.pad_style == PadStyle.CAFFE
    gy, gx = geometry(st, caffe_pool=caffe)
    xp = pad(x, gy, gx, value=-np.inf)
    return _reduce(xp, st, gy[0], gx[0], np.maximum)


def _counts(g, size, k, stride, caffe):
    """Per output position on one axis: the divisor of its window."""
    out, before, _ = g
    start = np.arange(out) * stride - before
    if caffe:   # Caffe: window clipped to [-pad, size + pad)
        return np.minimum(start + k, size + before) - start
    return np.minimum(start + k, size) - np.maximum(start, 0)


def average_pooling(st, x, ctx):
    """Sum over the window divided by the in-bounds count (TF) or Caffe's."""
    (kw, kh), (sx, sy) = st.radix, st.stride
    w, h, _ = st.input_dims
    caffe = st.pad_style == PadStyle.CAFFE
    gy, gx = geometry(st, caffe_pool=caffe)
    total = _reduce(pad(x, gy, gx), st, gy[0], gx[0], np.add)
    div = np.outer(_counts(gy, h, kh, sy, caffe), _counts(gx, w, kw, sx, caffe))
    return total / div[:, :, None].astype(np.float32)
