"""Compile-time evaluation of TensorFlow nodes whose value is known.

Shape arithmetic (``tf.shape(x)[1:]``, ``tf.stack([tf.shape(x)[0], -1])``,
Keras's Flatten) and constant subexpressions (``Rsqrt(var + eps) * gamma``)
are computed here in numpy, with TensorFlow's semantics, so the converters
only ever see constants. ``FOLDERS`` maps an op to ``fn(node, args)`` where
``args`` are the inputs as numpy arrays; it returns an array, or a list of
arrays (one per output port). Results are bounded: a hostile graph gets
Error 5, not an unbounded allocation.
"""
import numpy as np

from ..errors import STAGE_DETAILS, CompileError, fail
from . import tf_proto
from .tf_values import attr

MAX_FOLD = 1 << 24   # elements a computed (not stored) constant may hold


class FoldError(ValueError):
    """TensorFlow would refuse this node at run time."""


def _limit(shape, args=()):
    """Refuse a result larger than MAX_FOLD (or than the largest input)."""
    count = int(np.prod([int(d) for d in shape], dtype=object))
    if any(int(d) < 0 for d in shape):
        raise FoldError(f"negative dimension in {list(shape)}")
    if count > max([MAX_FOLD] + [a.size for a in args]):
        raise FoldError(f"a computed constant of shape {list(shape)} is too "
                        "large")
    return count


def _ints(a):
    return [int(v) for v in np.asarray(a).reshape(-1)]


def _dtype(node, key, default="int32"):
    code = attr(node, key)
    if code is None:
        return np.dtype(default)
    name = tf_proto.NUMPY_TYPES.get(code)
    if name is None:
        raise FoldError(f"{key} is TF dtype {code}")
    return np.dtype(name)


def _axis(axis, rank, node_name="axis"):
    if not -rank <= axis < max(rank, 1):
        raise FoldError(f"{node_name} {axis} out of range for rank {rank}")
    return axis % max(rank, 1)


# ---------------------------------------------------------------- shapes

def shape(node, args):
    return np.array(args[0].shape, _dtype(node, "out_type"))


def shape_n(node, args):
    return [np.array(a.shape, _dtype(node, "out_type")) for a in args]


def size(node, args):
    return np.array(args[0].size, _dtype(node, "out_type"))


def rank(node, args):
    return np.array(args[0].ndim, np.int32)


# ---------------------------------------------------------------- slicing

def _slice_spec(node, begin, end, strides):
    """TF's sparse slice spec (masks) as a numpy index tuple: numpy's basic
    indexing has TF's clamping and its implicit trailing ellipsis."""
    masks = {k: int(attr(node, k, 0)) for k in
             ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask",
              "shrink_axis_mask")}
    if bin(masks["ellipsis_mask"]).count("1") > 1:
        raise FoldError("more than one ellipsis")
    if not len(begin) == len(end) == len(strides):
        raise FoldError("begin, end and strides differ in length")
    index = []
    for i, (b, e, s) in enumerate(zip(begin, end, strides)):
        bit = 1 << i
        if masks["ellipsis_mask"] & bit:
            index.append(Ellipsis)
        elif masks["new_axis_mask"] & bit:
            index.append(np.newaxis)
        elif masks["shrink_axis_mask"] & bit:
            index.append(b)     # numpy refuses it out of range, as TF
        elif s == 0:
            raise FoldError("stride 0")
        else:
            index.append(slice(None if masks["begin_mask"] & bit else b,
                               None if masks["end_mask"] & bit else e, s))
    return tuple(index)


def strided_slice(node, args):
    x, begin, end, strides = args
    spec = _slice_spec(node, _ints(begin), _ints(end), _ints(strides))
    return np.array(x[spec])


def slice_(node, args):
    x, begin, sizes = args[0], _ints(args[1]), _ints(args[2])
    if not len(begin) == len(sizes) == x.ndim:
        raise FoldError(f"begin {begin} / size {sizes} for rank {x.ndim}")
    index = []
    for b, n, dim in zip(begin, sizes, x.shape):
        end = dim if n == -1 else b + n
        if not 0 <= b <= end <= dim:
            raise FoldError(f"slice {b}+{n} of a dimension of {dim}")
        index.append(slice(b, end))
    return np.array(x[tuple(index)])


# ---------------------------------------------------------------- joining

def pack(node, args):
    if not args:
        raise FoldError("Pack of nothing")
    if any(a.shape != args[0].shape for a in args):
        raise FoldError("Pack of different shapes")
    axis = _axis(int(attr(node, "axis", 0)), args[0].ndim + 1)
    _limit((len(args),) + args[0].shape)
    return np.stack(args, axis=axis)


def unpack(node, args):
    x = args[0]
    axis = _axis(int(attr(node, "axis", 0)), x.ndim)
    num = attr(node, "num", x.shape[axis])
    if num != x.shape[axis]:
        raise FoldError(f"num {num} for a dimension of {x.shape[axis]}")
    return [np.take(x, i, axis=axis) for i in range(x.shape[axis])]


def _concat(node, values, axis):
    if not values:
        raise FoldError("concat of nothing")
    axis = _axis(axis, values[0].ndim)
    out = list(values[0].shape)
    out[axis] = sum(v.shape[axis] for v in values)
    _limit(out)
    return np.concatenate(values, axis=axis)


def concat_v2(node, args):
    return _concat(node, args[:-1], int(args[-1]))


def concat_v1(node, args):
    return _concat(node, args[1:], int(args[0]))


def gather(node, args):
    params, indices = args[0], args[1]
    axis = int(args[2]) if len(args) > 2 else 0
    if int(attr(node, "batch_dims", 0)) != 0:
        raise FoldError("batch_dims other than 0")
    axis = _axis(axis, params.ndim)
    idx = np.asarray(indices).astype(np.int64)
    if idx.size and (idx.min() < 0 or idx.max() >= params.shape[axis]):
        raise FoldError(f"indices {_ints(idx)[:8]} out of range "
                        f"[0, {params.shape[axis]})")
    _limit(params.shape[:axis] + idx.shape + params.shape[axis + 1:])
    return np.take(params, idx, axis=axis)


# ---------------------------------------------------------------- reductions

def reduction(fn):
    def fold(node, args):
        x, axes = args[0], _ints(args[1])
        axes = tuple(sorted({_axis(a, x.ndim) for a in axes}))
        keep = bool(attr(node, "keep_dims", False))
        return np.asarray(fn(x, axis=axes, keepdims=keep)).astype(x.dtype)
    return fold


# ---------------------------------------------------------------- arithmetic

def _int_divisor(x, y):
    if np.issubdtype(y.dtype, np.integer) and (np.asarray(y) == 0).any():
        raise FoldError("integer division by zero")


def _truncdiv(x, y):
    _int_divisor(x, y)
    if np.issubdtype(x.dtype, np.integer):
        q = np.abs(x) // np.abs(y)
        return np.where((x < 0) != (y < 0), -q, q)
    return x / y


def _floordiv(x, y):
    _int_divisor(x, y)
    return np.floor_divide(x, y)


def _floormod(x, y):
    _int_divisor(x, y)
    return np.mod(x, y)


def _realdiv(x, y):
    if np.issubdtype(x.dtype, np.integer):
        return _truncdiv(x, y)
    return x / y


def binary(fn):
    def fold(node, args):
        x, y = args
        if x.dtype != y.dtype:
            raise FoldError(f"operands of {x.dtype} and {y.dtype}")
        try:
            out_shape = np.broadcast_shapes(x.shape, y.shape)
        except ValueError:
            raise FoldError(f"cannot broadcast {x.shape} with "
                            f"{y.shape}") from None
        _limit(out_shape, args)
        with np.errstate(all="ignore"):
            return np.asarray(fn(x, y)).astype(x.dtype)
    return fold


def unary(fn):
    def fold(node, args):
        with np.errstate(all="ignore"):
            return np.asarray(fn(args[0])).astype(args[0].dtype)
    return fold


def floats_only(fn):
    def checked(x):
        if not np.issubdtype(x.dtype, np.floating):
            raise FoldError(f"of {x.dtype}")
        return fn(x)
    return checked


def cast(node, args):
    return args[0].astype(_dtype(node, "DstT"))


# ---------------------------------------------------------------- makers

def fill(node, args):
    dims, value = _ints(args[0]), args[1]
    if value.size != 1:
        raise FoldError("Fill value is not a scalar")
    _limit(dims)
    return np.full(dims, value.reshape(()), value.dtype)


def range_(node, args):
    start, limit, delta = (a.reshape(()) for a in args)
    if delta == 0:
        raise FoldError("Range with delta 0")
    if (delta > 0 and start > limit) or (delta < 0 and start < limit):
        raise FoldError(f"Range from {start} to {limit} by {delta}")
    dtype = _dtype(node, "Tidx", args[0].dtype)
    if np.issubdtype(dtype, np.integer):
        count = (abs(int(limit) - int(start)) + abs(int(delta)) - 1) \
            // abs(int(delta))
    else:
        count = int(np.ceil(abs((float(limit) - float(start)) / float(delta))))
    _limit([count])
    return (start + np.arange(count) * delta).astype(dtype)


def zeros_like(node, args):
    return np.zeros_like(args[0])


def ones_like(node, args):
    return np.ones_like(args[0])


# ---------------------------------------------------------------- reshaping

def expand_dims(node, args):
    x, dim = args[0], _ints(args[1])
    if len(dim) != 1:
        raise FoldError("ExpandDims with several axes")
    return np.expand_dims(x, _axis(dim[0], x.ndim + 1))


def squeeze(node, args):
    x = args[0]
    axes = [_axis(a, x.ndim) for a in attr(node, "squeeze_dims", []) or []]
    if any(x.shape[a] != 1 for a in axes):
        raise FoldError(f"squeezing a dimension other than 1 of {x.shape}")
    if not axes:
        axes = [i for i, d in enumerate(x.shape) if d == 1]
    return np.squeeze(x, axis=tuple(axes))


def reshape(node, args):
    x, dims = args[0], _ints(args[1])
    if dims.count(-1) > 1 or any(d < -1 for d in dims):
        raise FoldError(f"shape {dims}")
    if -1 in dims:
        known = int(np.prod([d for d in dims if d != -1], dtype=object))
        if known == 0 or x.size % known:
            raise FoldError(f"cannot reshape {x.shape} to {dims}")
        dims[dims.index(-1)] = x.size // known
    if int(np.prod(dims, dtype=object)) != x.size:
        raise FoldError(f"cannot reshape {x.shape} to {dims}")
    return x.reshape(dims)


def transpose(node, args):
    x, perm = args[0], _ints(args[1])
    if sorted(perm) != list(range(x.ndim)):
        raise FoldError(f"permutation {perm} of rank {x.ndim}")
    return np.transpose(x, perm)


def identity(node, args):
    return args[0]


def identity_n(node, args):
    return list(args)


FOLDERS = {
    "Shape": shape, "ShapeN": shape_n, "Size": size, "Rank": rank,
    "StridedSlice": strided_slice, "Slice": slice_,
    "Pack": pack, "Unpack": unpack, "ConcatV2": concat_v2,
    "Concat": concat_v1, "Gather": gather, "GatherV2": gather,
    "Prod": reduction(np.prod), "Sum": reduction(np.sum),
    "Max": reduction(np.max), "Min": reduction(np.min),
    "Add": binary(np.add), "AddV2": binary(np.add),
    "Sub": binary(np.subtract), "Mul": binary(np.multiply),
    "RealDiv": binary(_realdiv), "Div": binary(_truncdiv),
    "FloorDiv": binary(_floordiv), "FloorMod": binary(_floormod),
    "Maximum": binary(np.maximum), "Minimum": binary(np.minimum),
    "Pow": binary(np.power), "SquaredDifference":
        binary(lambda x, y: (x - y) * (x - y)),
    "Neg": unary(np.negative), "Abs": unary(np.abs),
    "Square": unary(np.square),
    "Sqrt": unary(floats_only(np.sqrt)),
    "Rsqrt": unary(floats_only(lambda x: 1 / np.sqrt(x))),
    "Reciprocal": unary(floats_only(lambda x: 1 / x)),
    "Exp": unary(floats_only(np.exp)), "Log": unary(floats_only(np.log)),
    "Cast": cast, "Fill": fill, "Range": range_,
    "ZerosLike": zeros_like, "OnesLike": ones_like,
    "ExpandDims": expand_dims, "Squeeze": squeeze, "Reshape": reshape,
    "Transpose": transpose,
    "Identity": identity, "StopGradient": identity, "Snapshot": identity,
    "PreventGradient": identity, "IdentityN": identity_n,
}

# Ops whose value needs only the static shape of their input.
SHAPE_OPS = {"Shape", "ShapeN", "Size", "Rank"}


def evaluate(node, args):
    """The node's value(s) as a list of arrays, one per port (Error 5 if TF
    would refuse it, or if it is too large)."""
    try:
        out = FOLDERS[node.op](node, [np.asarray(a) for a in args])
    except CompileError:
        raise
    except (FoldError, ValueError, IndexError, TypeError, OverflowError,
            ZeroDivisionError, MemoryError) as exc:
        fail(STAGE_DETAILS, f"{node.name} ({node.op}): cannot evaluate at "
             f"compile time: {exc}")
    return out if isinstance(out, list) else [np.asarray(out)]
