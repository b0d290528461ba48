"""Elementwise activations, used both as stage types and as postOps.

Each takes the float32 tensor and post_param1 (cap, slope or alpha).
"""
import numpy as np

from ncsformat import Op


def relu(x, _):
    return np.maximum(x, 0, out=x)


def relu_x(x, cap):
    return np.clip(x, 0, cap, out=x)


def leaky_relu(x, slope):
    return np.where(x > 0, x, x * np.float32(slope)).astype(np.float32)


def elu(x, alpha):
    neg = np.float32(alpha) * np.expm1(np.minimum(x, 0))
    return np.where(x > 0, x, neg).astype(np.float32)


def sigmoid(x, _):
    return (0.5 * (np.tanh(0.5 * x) + 1)).astype(np.float32)


def tanh(x, _):
    return np.tanh(x)


def identity(x, _):
    return x


ACTIVATIONS = {Op.NONE: identity, Op.BIAS: identity, Op.RELU: relu,
               Op.RELU_X: relu_x, Op.LEAKY_RELU: leaky_relu, Op.ELU: elu,
               Op.SIGMOID: sigmoid, Op.TANH: tanh}


def activation_stage(st, x, ctx):
    """A stage whose op is an activation: apply it to the input."""
    return ACTIVATIONS[st.op](x.copy(), st.post_param)
