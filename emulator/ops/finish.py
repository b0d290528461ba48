"""The end of every stage: bias, postOp, rounding to fp16, store.

A third of an inference went here in numpy (MobileNet v1 1.0/224), so with
the C loops (native.py) it is one pass of C, or none: a kernel that writes
straight into the output memory may apply it to its own rows while they
are in cache (c_end_args, StageContext.end_args). Without them it works in place on the
kernel's result and, after a ReLU, rounds with the two-pass
fp16.round_nonnegative_into straight into the output memory, a band of
rows at a time so that its six passes find the band in cache.
"""
import numpy as np

from ncsformat import Op

from . import native
from .activation import ACTIVATIONS
from .fp16 import clip, round_nonnegative_into, round_to_fp16

BAND = 1 << 17      # values per band: ~0.5 MiB a pass, L2-sized
_ROWS = {}          # (id(bias), width) -> (bias, its row or None)


def finish(y, out, bias, post_op, post_param):
    """Stores fp16(postOp(y + bias)) in out (float32 slots, any strides).

    y is an owned float32 array (it is overwritten; it may be out itself)
    of out's size; bias is None or one value per channel.
    """
    c_loops = native.loops()
    if c_loops is not None and _finish_c(c_loops, y, out, bias, post_op,
                                         post_param):
        return
    if (y.ndim == 3 and y.shape == out.shape and y.flags.c_contiguous
            and _nonnegative(post_op, post_param)):
        row_bias = _row_bias(bias, y.shape[1])
        if row_bias is not None:
            _finish_relu(y, out, row_bias,
                         np.inf if post_op == Op.RELU else post_param)
            return
    if bias is not None:
        y += bias
    y = ACTIVATIONS[post_op](y, post_param)
    y = round_to_fp16(y, in_place=True)
    if y is not out:
        out[...] = y.reshape(out.shape)


_MODES = {Op.NONE: native.IDENTITY, Op.BIAS: native.IDENTITY,
          Op.RELU: native.RELU, Op.RELU_X: native.CLIP}


FINISHED = object()     # a kernel's result when it applied the end itself


def c_end_args(bias, channels, post_op, post_param):
    """(bias, mode, lo, hi) as _native takes a stage end, or None where
    finish() must do it after the kernel (no C loops, or a postOp they
    lack). Only the C depthwise applies it itself (StageContext.end_args):
    fusing it into 1x1 convolutions (BLAS by bands) gained nothing."""
    mode = _MODES.get(post_op)
    if native.loops() is None or mode is None or not _c_bias(bias, channels):
        return None
    return bias, mode, np.float32(0), _cap(mode, post_param)


def _c_bias(bias, channels):
    return bias is None or (bias.ndim == 1 and bias.dtype == np.float32
                            and bias.shape[0] == channels
                            and bias.flags.c_contiguous)


def _cap(mode, post_param):
    return np.float32(post_param) if mode == native.CLIP else np.float32(0)


def _finish_c(c_loops, y, out, bias, post_op, post_param):
    """finish() in one pass of C (native.py); False if this stage needs
    numpy (other postOps, odd shapes), which then does it all."""
    if y.size != out.size or not y.flags.c_contiguous or out.ndim != 3:
        return False
    y = y.reshape(out.shape)
    if not _c_bias(bias, out.shape[2]):
        return False
    end = c_end_args(bias, out.shape[2], post_op, post_param)
    if end is None:     # its activation in numpy, then bias-free C rounding
        if bias is not None:
            y += bias
        y = ACTIVATIONS[post_op](y, post_param)
        y = np.ascontiguousarray(y, np.float32).reshape(out.shape)
        end = c_end_args(None, out.shape[2], Op.NONE, 0.0)
    c_loops.finish(y, out, *end, 0, out.shape[0])
    return True


def _finish_relu(y, out, row_bias, cap):
    """finish() band by band when the result cannot be negative or -0.0;
    row_bias is the bias of one row of pixels. Few Python steps a band:
    they cost ~1 us each, a band's passes ~20 us each."""
    h = y.shape[0]
    rows = max(1, BAND // max(1, y[0].size))
    flat = y.reshape(h, -1)
    dest = out.reshape(h, -1) if out.flags.c_contiguous else out
    scratch = np.empty((min(rows, h), flat.shape[1]), np.uint32)
    below = cap < 65504
    for r in range(0, h, rows):
        band = flat[r:r + rows]
        band += row_bias
        # a clip is the ReLU here: np.maximum(y, 0) is 2x slower, and the
        # same values when no y is -0.0
        clip(band, 0, cap, out=band)
        part = dest[r:r + rows]
        if not round_nonnegative_into(band, part, below,
                                      scratch[:band.shape[0]]):
            part[...] = round_to_fp16(band, in_place=True).reshape(part.shape)


def _nonnegative(post_op, post_param):
    """True if the postOp leaves no negative value (ReLU, ReLU-X)."""
    if post_op == Op.RELU_X:
        return post_param >= 0
    return post_op == Op.RELU


def _row_bias(bias, width):
    """The bias tiled over a row of ``width`` pixels (adding a row is 2x
    faster than broadcasting per pixel), or None if there is no bias or it
    holds a -0.0.

    x + b is -0.0 only when both are -0.0, so after such a bias no value
    is -0.0: a -0.0 kernel output must stay -0.0 through a ReLU-X (a
    clip), and the fast rounding would drop its sign. Cached per bias
    array (kept referenced, so its id stays its own).
    """
    if bias is None:
        return None
    key = (id(bias), width)
    hit = _ROWS.get(key)
    if hit is not None and hit[0] is bias:
        return hit[1]
    row = None
    if not np.any((bias == 0) & np.signbit(bias)):
        row = np.tile(bias, width)
    if len(_ROWS) > 4096:
        _ROWS.clear()
    _ROWS[key] = (bias, row)
    return row
