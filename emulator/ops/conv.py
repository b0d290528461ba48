"""Convolution, depthwise convolution, deconvolution and fully connected.

Convolution is im2col + float32 matmul (BLAS): one window copy for small
layers, cache-sized bands of output rows for large ones, one matmul per
kernel tap when even one row would be huge. Depthwise with multiplier 1
runs in C when the C loops were built (native.py), finishing its rows
itself; else it is one einsum over a window view (whole input rows per tap
when the stride across is 1), or a multiply-add of shifted slices per
kernel tap.
"""
import numpy as np
from numpy.lib.stride_tricks import as_strided

from . import native, parallel
from .finish import FINISHED
from .padding import geometry, pad, shifted

IM2COL_CHUNK = 1 << 23      # one output row's im2col above this: per tap
ONE_SHOT = 1 << 21          # whole im2col up to this: one window copy
IM2COL_BAND = 1 << 20       # else bands of about this many values (4 MiB)
WIDE_STRIDE2 = 2048         # depthwise stride 2 from this many outputs: rows


def convolution(st, x, ctx):
    """TF Conv2D / Caffe Convolution; taps [kh][kw][cin][cout]."""
    (kw, kh), (sx, sy) = st.radix, st.stride
    cin, cout = st.input_dims[2], st.output_dims[2]
    w = ctx.const("taps", lambda a: a.reshape(kh * kw * cin, cout))
    gy, gx = geometry(st)
    xp = pad(x, gy, gx, ctx=ctx)
    oh, ow = gy[0], gx[0]
    out = target(ctx, (oh, ow, cout))
    if kh == kw == 1:
        cols = shifted(xp, 0, 0, oh, ow, sy, sx).reshape(oh * ow, cin)
        np.matmul(cols, w, out=out.reshape(oh * ow, cout))
        return out
    row = ow * kh * kw * cin
    if row > IM2COL_CHUNK:
        return _conv_by_taps(xp, w.reshape(kh, kw, cin, cout), oh, ow, sy, sx)
    if oh * row <= ONE_SHOT:
        return _im2col_once(xp, w, out, kh, kw, sy, sx)
    return _im2col_chunks(xp, w, out, kh, kw, sy, sx)


def target(ctx, shape):
    """Where a kernel puts its (H, W, C) result: the stage's output memory
    when the executor offers it (ctx.out) and it has that shape, so no
    store follows; else a new array."""
    out = getattr(ctx, "out", None)
    if out is not None and out.shape == shape:
        return out
    return np.empty(shape, np.float32)


def _im2col_once(xp, w, out, kh, kw, sy, sx):
    """Small layers: one window view, one copy, one matmul. In a dense
    input one kernel row's kw x cin values are contiguous: copying them as
    one axis is 1.2-1.5x faster than as two (cin = 3: runs of 9, not 3)."""
    oh, ow, cout = out.shape
    xp = np.ascontiguousarray(xp)
    s0, s1, s2 = xp.strides
    cin = xp.shape[2]
    win = as_strided(xp, shape=(oh, ow, kh, kw * cin),
                     strides=(sy * s0, sx * s1, s0, s2), writeable=False)
    np.matmul(win.reshape(oh * ow, kh * kw * cin), w,
              out=out.reshape(oh * ow, cout))
    return out


def _im2col_chunks(xp, w, out, kh, kw, sy, sx):
    """Large layers: im2col of a cache-sized band of output rows at a time,
    assembled by one copy per kernel row (its kw x cin values contiguous,
    as in _im2col_once: 1.3-2x faster than a copy per tap), then one
    matmul per band."""
    oh, ow, cout = out.shape
    cin = xp.shape[2]
    if xp.strides[1] != cin * xp.strides[2]:
        xp = np.ascontiguousarray(xp)
    s0, s1, s2 = xp.strides
    rows = max(1, IM2COL_BAND // (ow * kh * kw * cin))
    cols = np.empty((rows, ow, kh, kw * cin), np.float32)
    for r in range(0, oh, rows):
        n = min(rows, oh - r)
        band = cols[:n]
        for ky in range(kh):
            band[:, :, ky] = as_strided(
                xp[r * sy + ky:], shape=(n, ow, kw * cin),
                strides=(sy * s0, sx * s1, s2), writeable=False)
        np.matmul(band.reshape(n * ow, -1), w,
                  out=out[r:r + n].reshape(n * ow, cout))
    return out


def _conv_by_taps(xp, w, oh, ow, sy, sx):
    """One matmul per kernel tap: memory stays the size of input + output
    however large the kernel (im2col of one output row would not)."""
    kh, kw, cin, cout = w.shape
    out = np.zeros((oh * ow, cout), np.float32)
    for ky in range(kh):
        for kx in range(kw):
            xs = shifted(xp, ky, kx, oh, ow, sy, sx).reshape(oh * ow, cin)
            out += xs @ w[ky, kx]
    return out.reshape(oh, ow, cout)


def depth_convolution(st, x, ctx):
    """TF DepthwiseConv2dNative: out channel c*mult+m sees input channel c."""
    (kw, kh), (sx, sy) = st.radix, st.stride
    cin, cout = st.input_dims[2], st.output_dims[2]
    mult = cout // cin
    gy, gx = geometry(st)
    oh, ow = gy[0], gx[0]
    c_loops = native.loops()
    if mult == 1 and c_loops is not None:
        return _depthwise_c(c_loops, x, gy, gx, ctx, kh, kw, sy, sx,
                            target(ctx, (oh, ow, cin)))
    xp = pad(x, gy, gx, ctx=ctx)
    if mult == 1 and sx == 1:
        return _depthwise_rows(xp, ctx, kh, kw, sy, target(ctx, (oh, ow, cin)))
    if mult == 1 and sx == 2 and oh * ow >= WIDE_STRIDE2:
        return _depthwise_every_other(xp, ctx, kh, kw, sy,
                                      target(ctx, (oh, ow, cin)))
    w = ctx.const("taps", lambda a: a.reshape(kh, kw, cin, mult))
    if mult == 1:
        s0, s1, s2 = xp.strides
        win = as_strided(xp, shape=(oh, ow, kh, kw, cin),
                         strides=(sy * s0, sx * s1, s0, s1, s2),
                         writeable=False)
        return np.einsum("hwijc,ijc->hwc", win, w[..., 0],
                         out=target(ctx, (oh, ow, cin)))
    shape = (oh, ow, cin, mult) if mult > 1 else (oh, ow, cin)
    acc, tmp = np.zeros(shape, np.float32), np.empty(shape, np.float32)
    for ky in range(kh):
        for kx in range(kw):
            xs = shifted(xp, ky, kx, oh, ow, sy, sx)
            if mult > 1:
                np.multiply(xs[..., None], w[ky, kx], out=tmp)
            else:
                np.multiply(xs, w[ky, kx, :, 0], out=tmp)
            acc += tmp
    return acc.reshape(oh, ow, cout)


def _depthwise_c(c_loops, x, gy, gx, ctx, kh, kw, sy, sx, out):
    """Multiplier 1 in C (native.py): the same sums as the einsums below,
    5-10x faster. One thread: sharing the rows with a second one was 3%
    slower on MobileNet, its thread competing with BLAS's. The C loop
    skips the taps that fall in the zero padding instead of adding 0 x w,
    the same sum for finite taps; with an inf or NaN tap (0 x inf is NaN)
    the input is padded for real."""
    oh, ow, cin = out.shape
    w = ctx.const("taps", lambda a: a.reshape(kh, kw, cin), form="c")
    finite = ctx.const("taps", lambda a: np.isfinite(a).all().reshape(1),
                       form="finite")[0]
    (_, top, bottom), (_, left, right) = gy, gx
    if finite and top >= 0 and left >= 0:
        h, wd = x.shape[:2]
        x = x[:h + min(bottom, 0), :wd + min(right, 0)]
    else:
        x, top, left = pad(x, gy, gx, ctx=ctx), 0, 0
    if x.strides[2] != 4:
        x = np.ascontiguousarray(x)

    end = ctx.end_args(out)
    c_loops.depthwise(x, w, out, sy, sx, top, left, 0, oh,
                      *(end or (None, -1, 0.0, 0.0)))
    return FINISHED if end else out


def _depthwise_rows(xp, ctx, kh, kw, sy, out):
    """Stride 1 across: each tap's input rows are contiguous (W x C values).

    One einsum over a (tap row, tap column, output row, W x C) view times
    the taps tiled W times sums whole rows, tap by tap in file order: the
    same values as a multiply-add per tap, 1.1-3x faster than that or than
    an einsum with the C channels innermost (a short inner loop).
    """
    oh, ow, cin = out.shape
    w = ctx.const("taps", lambda a: np.tile(
        a.reshape(kh, kw, 1, cin), (1, 1, ow, 1)).reshape(kh, kw, ow * cin),
        form="rows")
    if xp.strides[1] != cin * xp.strides[2]:
        xp = np.ascontiguousarray(xp)
    s0, s1, s2 = xp.strides
    win = as_strided(xp, shape=(kh, kw, oh, ow * cin),
                     strides=(s0, s1, sy * s0, s2), writeable=False)
    rows = out.reshape(oh, ow * cin)

    def band(lo, hi):
        np.einsum("abij,abj->ij", win[:, :, lo:hi], w, out=rows[lo:hi])
    parallel.split_rows(band, oh, rows.size)
    return out


def _depthwise_every_other(xp, ctx, kh, kw, sy, out):
    """Stride 2 across on a large image: every column by _depthwise_rows,
    then every other one kept. Twice the products, but by whole rows:
    1.3x faster than the einsum with C innermost; the same values."""
    oh, ow, cin = out.shape
    every = np.empty((oh, xp.shape[1] - kw + 1, cin), np.float32)
    _depthwise_rows(xp, ctx, kh, kw, sy, every)
    out[...] = every[:, :2 * ow - 1:2]
    return out


def deconvolution(st, x, ctx):
    """Caffe Deconvolution: each input pixel scatters x * w into the output."""
    (kw, kh), (sx, sy), (px, py) = st.radix, st.stride, st.pad
    h, w_, cin = st.input_dims[1], st.input_dims[0], st.input_dims[2]
    ow, oh, cout = st.output_dims
    w = ctx.const("taps", lambda a: a.reshape(kh, kw, cin, cout))
    full = np.zeros((sy * (h - 1) + kh, sx * (w_ - 1) + kw, cout), np.float32)
    flat = x.reshape(h * w_, cin)
    for ky in range(kh):
        for kx in range(kw):
            full[ky:ky + sy * (h - 1) + 1:sy, kx:kx + sx * (w_ - 1) + 1:sx] \
                += (flat @ w[ky, kx]).reshape(h, w_, cout)
    return full[py:py + oh, px:px + ow]


def fully_connected(st, x, ctx):
    """The input as one YXZ vector times taps [in][out]."""
    cout = st.output_dims[2]
    w = ctx.const("taps", lambda a: a.reshape(-1, cout))
    return (x.reshape(1, -1) @ w).reshape(1, 1, cout)
