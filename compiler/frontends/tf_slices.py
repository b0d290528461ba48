"""Channel slices: StridedSlice, Slice, Split, SplitV on the last axis.

Each becomes an IR ``slice`` (channels first .. first+C); ``place_slices``
makes it a view into the producer's buffer or NCSDK's copy stage (op 19).
A slice of the whole tensor is an identity. Slicing any other axis has no
NCSDK stage: Error 5 naming the node.
"""
import numpy as np

from ..errors import STAGE_DETAILS, fail
from .tf_opbase import make_node
from .tf_values import attr


def _tf_dims(ctx, node, x):
    rank = ctx.rank.get(x.name, 4)
    return list(x.shape[4 - rank:]) if rank else []


def _channel_slice(node, x, ranges, name=None):
    """IR node for per-axis (start, stop) ranges of x's TF dims."""
    dims = x.shape[4 - len(ranges):]
    for axis, (start, stop) in enumerate(ranges[:-1]):
        if (start, stop) != (0, dims[axis]):
            fail(STAGE_DETAILS, f"{node.name} ({node.op}): slices axis "
                 f"{axis} ({start}:{stop}); only the channel (last) axis")
    first, stop = ranges[-1]
    if stop <= first:
        fail(STAGE_DETAILS, f"{node.name} ({node.op}): empty slice")
    shape = x.shape[:3] + (stop - first,)
    if first == 0 and stop == x.shape[3]:
        return make_node(node, "identity", [x], shape, name=name)
    return make_node(node, "slice", [x], shape, name=name, first=int(first))


def _ints(ctx, node, i):
    return [int(v) for v in np.asarray(ctx.const(node, i)).reshape(-1)]


def _bit(mask, i):
    return bool((int(mask) >> i) & 1)


def _expand(node, dims, begin, end, attrs):
    """Per-axis (start, stop) of a StridedSlice spec (strides 1)."""
    el, n = attrs["ellipsis_mask"], len(begin)
    ranges, axis = [], 0
    for i in range(n):
        if _bit(el, i):
            fill = len(dims) - (n - 1)
            ranges += [(0, dims[a]) for a in range(axis, axis + fill)]
            axis += fill
            continue
        if axis >= len(dims):
            fail(STAGE_DETAILS, f"{node.name}: slice spec longer than rank")
        d = dims[axis]
        lo = 0 if _bit(attrs["begin_mask"], i) else begin[i]
        hi = d if _bit(attrs["end_mask"], i) else end[i]
        lo, hi = (min(max(v + d if v < 0 else v, 0), d) for v in (lo, hi))
        ranges.append((lo, hi))
        axis += 1
    ranges += [(0, dims[a]) for a in range(axis, len(dims))]
    return ranges


def strided_slice(ctx, node):
    x = ctx.value(node, 0)
    begin, end, strides = (_ints(ctx, node, i) for i in (1, 2, 3))
    masks = {k: int(attr(node, k, 0)) for k in (
        "begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
        "shrink_axis_mask")}
    if masks["new_axis_mask"] or masks["shrink_axis_mask"]:
        fail(STAGE_DETAILS, f"{node.name} (StridedSlice): new or shrunk "
             "axes (only x[..., a:b] style channel slices)")
    if any(s != 1 for s in strides):
        fail(STAGE_DETAILS, f"{node.name} (StridedSlice): strides "
             f"{strides} (only 1)")
    dims = _tf_dims(ctx, node, x)
    return _channel_slice(node, x, _expand(node, dims, begin, end, masks))


def slice_op(ctx, node):
    x = ctx.value(node, 0)
    dims = _tf_dims(ctx, node, x)
    begin, size = _ints(ctx, node, 1), _ints(ctx, node, 2)
    if len(begin) != len(dims) or len(size) != len(dims):
        fail(STAGE_DETAILS, f"{node.name} (Slice): begin/size of rank "
             f"{len(begin)} for a rank {len(dims)} tensor")
    ranges = []
    for b, s, d in zip(begin, size, dims):
        stop = d if s == -1 else b + s
        if not 0 <= b <= stop <= d:
            fail(STAGE_DETAILS, f"{node.name} (Slice): {b}+{s} outside {d}")
        ranges.append((b, stop))
    return _channel_slice(node, x, ranges)


def _split_parts(ctx, node, x, axis, sizes):
    dims = _tf_dims(ctx, node, x)
    if not -len(dims) <= axis < len(dims) or axis % len(dims) != len(
            dims) - 1:
        fail(STAGE_DETAILS, f"{node.name} ({node.op}): split on axis {axis}"
             " (only the channel (last) axis)")
    if sum(sizes) != x.shape[3] or min(sizes) < 1:
        fail(STAGE_DETAILS, f"{node.name} ({node.op}): sizes {sizes} for "
             f"{x.shape[3]} channels")
    parts, first = [], 0
    for k, size in enumerate(sizes):
        ranges = [(0, d) for d in dims[:-1]] + [(first, first + size)]
        name = node.name if k == 0 else f"{node.name}:{k}"
        parts.append(_channel_slice(node, x, ranges, name=name))
        first += size
    return parts


def split(ctx, node):
    x = ctx.value(node, 1)
    n = int(attr(node, "num_split", 1))
    if n < 1 or x.shape[3] % n:
        fail(STAGE_DETAILS, f"{node.name} (Split): {x.shape[3]} channels in "
             f"{n} parts")
    return _split_parts(ctx, node, x, _ints(ctx, node, 0)[0],
                        [x.shape[3] // n] * n)


def split_v(ctx, node):
    x = ctx.value(node, 0)
    sizes = _ints(ctx, node, 1)
    if sizes.count(-1) == 1:
        sizes[sizes.index(-1)] = x.shape[3] - (sum(sizes) + 1)
    return _split_parts(ctx, node, x, _ints(ctx, node, 2)[0], sizes)


SLICES = {"StridedSlice": strided_slice, "Slice": slice_op, "Split": split,
          "SplitV": split_v}
