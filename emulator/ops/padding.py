"""Padding an (H, W, C) float32 tensor for a windowed op, per its geometry."""
import numpy as np

from .geometry import window


def geometry(st, caffe_pool=False):
    """((out_h, top, bottom), (out_w, left, right)) for a validated record."""
    (kw, kh), (sx, sy), (px, py) = st.radix, st.stride, st.pad
    w, h, _ = st.input_dims
    gy = window(h, kh, sy, st.pad_style, py, caffe_pool)
    gx = window(w, kw, sx, st.pad_style, px, caffe_pool)
    return gy, gx


def pad(x, gy, gx, value=0.0, ctx=None):
    """x padded by (top, bottom) and (left, right); negative pads crop.

    With a stage context the padded array is a buffer kept across runs
    (ctx.scratch, shared by stages of the same geometry): its border is
    filled once, so each run copies only x into it.
    """
    (_, top, bottom), (_, left, right) = gy, gx
    h, w, c = x.shape
    x = x[:h + min(bottom, 0), :w + min(right, 0)]
    bottom, right = max(bottom, 0), max(right, 0)
    if top == bottom == left == right == 0:
        return x
    shape = (x.shape[0] + top + bottom, x.shape[1] + left + right, c)
    if ctx is None:
        out = np.full(shape, value, dtype=np.float32)
    else:
        key = ("pad", shape, value, top, left, x.shape)
        out = ctx.scratch(key, shape, value)
    out[top:top + x.shape[0], left:left + x.shape[1]] = x
    return out


def shifted(xp, ky, kx, out_h, out_w, sy, sx):
    """The input under kernel tap (ky, kx) for every output position."""
    return xp[ky:ky + (out_h - 1) * sy + 1:sy,
              kx:kx + (out_w - 1) * sx + 1:sx]
