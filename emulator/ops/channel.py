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
    """x / (k + a * sum of x_j^2 over `size` centred channels / size)^beta.

    In float32, as TensorFlow and Caffe compute it: float64 (this kernel
    until 2026-12) was 9x slower (GoogLeNet: 17 of its 50 ms), and about
    one value in 10^4 then differed, by one fp16 step.
    """
    k, a, beta, _ = (np.float32(v) for v in ctx.const("bias"))
    size = st.radix[0]
    half = size // 2
    h, w, c = x.shape
    sq = np.zeros((h, w, c + 2 * half), np.float32)     # zero channels
    np.square(x, out=sq[:, :, half:half + c])           # on both sides
    v = sq[:, :, :c].copy()
    for d in range(1, 2 * half + 1):
        v += sq[:, :, d:d + c]
    v *= a
    v /= np.float32(size)
    v += k
    return np.divide(x, _power(v, beta), out=v)


def _power(v, beta):
    """v ** beta, in place; the usual betas by square roots (np.power is
    ~10x slower), within 2 float32 ulps."""
    if beta == np.float32(0.75):
        root = np.sqrt(v)
        np.sqrt(root, out=v)
        v *= root
        return v
    if beta == np.float32(0.5):
        return np.sqrt(v, out=v)
    return np.power(v, beta, out=v)
