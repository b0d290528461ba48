"""Output sizes and pads of windowed ops (conv, pool, deconv), per axis.

The reader uses these to check a record's output dims; the kernels use the
same numbers to pad, so the two can never disagree.
"""
from ncsformat import PadStyle


def _ceil_div(a, b):
    return -(-a // b)


def window(size, k, stride, style, pad, caffe_pool=False):
    """(out, before, after) for one axis, or None if the shape is impossible.

    ``after`` may be negative: trailing input rows that no window reaches.
    """
    if k < 1 or stride < 1 or size < 1:
        return None
    if style == PadStyle.TF_SAME:
        out = _ceil_div(size, stride)
        total = max((out - 1) * stride + k - size, 0)
        before = total // 2
    elif style == PadStyle.TF_VALID:
        if size < k:
            return None
        out = _ceil_div(size - k + 1, stride)
        before = 0
    elif style == PadStyle.CAFFE:
        if pad >= k or size + 2 * pad < k:
            return None
        if caffe_pool:
            out = _ceil_div(size + 2 * pad - k, stride) + 1
            if pad > 0 and (out - 1) * stride >= size + pad:
                out -= 1
        else:
            out = (size + 2 * pad - k) // stride + 1
        before = pad
    else:
        return None
    after = (out - 1) * stride + k - size - before
    return out, before, after


def deconv_out(size, k, stride, pad):
    """Output size of a transposed convolution (Caffe Deconvolution)."""
    return stride * (size - 1) + k - 2 * pad


def windows_overlap(size, stride, out, before):
    """True if every pooling window holds at least one input position."""
    return (out - 1) * stride - before < size
