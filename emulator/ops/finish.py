"""The end of every stage: bias, postOp, rounding to fp16, store.

A third of an inference went here (MobileNet v1 1.0/224), so it works in
place on the kernel's result and, after a ReLU, rounds with the two-pass
fp16.round_nonnegative_into straight into the output memory, a band of
rows at a time so that its six passes find the band in cache.
"""
import numpy as np

from ncsformat import Op

from .activation import ACTIVATIONS
from .fp16 import round_nonnegative_into, round_to_fp16

BAND = 1 << 17      # values per band: ~0.5 MiB a pass, L2-sized


def finish(y, out, bias, post_op, post_param):
    """Stores fp16(postOp(y + bias)) in out (float32 slots, any strides).

    y is an owned float32 array (it is overwritten; it may be out itself)
    of out's size; bias is None or one value per channel.
    """
    if (_nonnegative(post_op, post_param, bias) and y.shape == out.shape
            and y.flags.c_contiguous and y.ndim == 3):
        rows = max(1, BAND // max(1, y[0].size))
        row_bias = np.tile(bias, y.shape[1])    # adding a row: 2x faster
        for r in range(0, y.shape[0], rows):    # than broadcasting per pixel
            _finish_relu(y[r:r + rows], out[r:r + rows], row_bias, post_op,
                         post_param)
        return
    if bias is not None:
        y += bias
    y = ACTIVATIONS[post_op](y, post_param)
    y = round_to_fp16(y, in_place=True)
    if y is not out:
        out[...] = y.reshape(out.shape)


def _finish_relu(y, out, row_bias, post_op, post_param):
    """finish() of a band of rows when the result cannot be negative or
    -0.0; row_bias is the bias of one row of pixels."""
    y.reshape(y.shape[0], -1)[...] += row_bias
    # a clip is the ReLU here: np.maximum(y, 0) is 2x slower, and the same
    # values when no y is -0.0
    np.clip(y, 0, np.inf if post_op == Op.RELU else post_param, out=y)
    if not round_nonnegative_into(y, out):      # NaN or too large
        out[...] = round_to_fp16(y, in_place=True)


def _nonnegative(post_op, post_param, bias):
    """True if the values are >= 0 and none is -0.0 after bias and postOp.

    ReLU and ReLU-X leave no negative value, and x + b is -0.0 only when
    both are -0.0, so a bias without -0.0 rules that out (a -0.0 kernel
    output must stay -0.0 through a ReLU-X, and the fast rounding would
    drop its sign).
    """
    if post_op == Op.RELU_X:
        if not post_param >= 0:
            return False
    elif post_op != Op.RELU:
        return False
    return bias is not None and not np.any((bias == 0) & np.signbit(bias))
