"""Window arithmetic for convolution and pooling, per the graph-file spec.

Frontends use it to compute output shapes themselves; the writer uses the
same padding facts to check that every window overlaps the input.
"""
from .errors import STAGE_DETAILS, fail


def out_size(size, k, stride, padding, pad=0):
    """Output length along one axis for padding SAME, VALID or EXPLICIT."""
    if padding == "SAME":
        return -(-size // stride)
    if padding == "VALID":
        return -(-(size - k + 1) // stride)
    if padding == "EXPLICIT":
        return (size + 2 * pad - k) // stride + 1
    fail(STAGE_DETAILS, f"padding {padding!r}")


def pad_before(size, k, stride, padding, pad=0):
    """Padding before the first input element (top or left)."""
    if padding == "SAME":
        out = out_size(size, k, stride, padding)
        return max((out - 1) * stride + k - size, 0) // 2
    return pad if padding == "EXPLICIT" else 0


def check_windows(what, size, k, stride, padding, pad=0):
    """Error 5 unless there is at least one output and every window overlaps
    the input (the spec refuses windows lying wholly in the padding)."""
    out = out_size(size, k, stride, padding, pad)
    if out < 1:
        fail(STAGE_DETAILS, f"{what}: window {k} larger than input {size}")
    before = pad_before(size, k, stride, padding, pad)
    last_start = (out - 1) * stride - before
    if last_start >= size or k - before <= 0:
        fail(STAGE_DETAILS, f"{what}: a window lies wholly in the padding")
    return out


def spatial_out(what, hw, ksize, stride, padding, pads=(0, 0)):
    """(out_h, out_w) for a window op, with the field-width limits checked."""
    for name, vals, limit in (("kernel", ksize, 127), ("stride", stride, 255),
                              ("pad", pads, 255)):
        if any(v > limit for v in vals):
            fail(STAGE_DETAILS, f"{what}: {name} {tuple(vals)} above {limit}")
    if min(stride) < 1 or min(ksize) < 1:
        fail(STAGE_DETAILS, f"{what}: kernel/stride must be positive")
    return tuple(check_windows(what, hw[i], ksize[i], stride[i], padding,
                               pads[i]) for i in (0, 1))
