"""The end of every stage: bias, postOp, rounding to fp16, store.

A third of an inference went here (MobileNet v1 1.0/224), so it works in
place on the kernel's result and, after a ReLU, rounds with the two-pass
fp16.round_nonnegative_into straight into the output memory.
"""
import numpy as np

from ncsformat import Op

from .activation import ACTIVATIONS
from .fp16 import round_nonnegative_into, round_to_fp16


def finish(y, out, bias, post_op, post_param):
    """Stores fp16(postOp(y + bias)) in out (float32 slots, any strides).

    y is an owned C-contiguous float32 array (it is overwritten; it may be
    out itself); bias is None or one value per channel.
    """
    fast = _nonnegative(post_op, post_param, bias)
    if bias is not None:
        y += bias
    if fast and post_op == Op.RELU:     # np.maximum(y, 0) is 2x slower,
        np.clip(y, 0, np.inf, out=y)    # and the same without -0.0
    else:
        y = ACTIVATIONS[post_op](y, post_param)
    if fast and round_nonnegative_into(y, out):
        return
    y = round_to_fp16(y, in_place=True)
    if y is not out:
        out[...] = y.reshape(out.shape)


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
