"""Per-channel and across-channel ops: bias, prelu, scale, softmax, LRN."""
import numpy as np


def identity(st, x, ctx):
    """Bias stage (the bias itself is added by the executor) and op none."""
    return x


def prelu(st, x, ctx):
    """Negative values times the per-channel slope at taps."""
    slope = ctx.const("taps")
    return np.where(x > 0, x, x * slope).astype(np.float32)


def scale(st, x, ctx):
    """Per-channel multiply by the vector at taps (bias follows)."""
    return x * ctx.const("taps")


def softmax(st, x, ctx):
    """Softmax over channels at each (y, x)."""
    e = np.exp(x - x.max(axis=2, keepdims=True))
    return e / e.sum(axis=2, keepdims=True)


def lrn(st, x, ctx):
    """x / (k + a * sum of x_j^2 over `size` centred channels / size)^beta."""
    k, a, beta, _ = (float(v) for v in ctx.const("bias"))
    size = st.radix[0]
    half = size // 2
    sq = np.square(x, dtype=np.float64)
    c = x.shape[2]
    csum = np.zeros(x.shape[:2] + (c + 1,), np.float64)
    np.cumsum(sq, axis=2, out=csum[:, :, 1:])
    hi = np.minimum(np.arange(c) + half + 1, c)
    lo = np.maximum(np.arange(c) - half, 0)
    window = csum[:, :, hi] - csum[:, :, lo]
    return (x / np.power(k + a * window / size, beta)).astype(np.float32)
