"""TensorFlow protobuf values as plain Python: constants, attrs, shapes.

Shared by the GraphDef driver (tf_graphdef), the converters (tf_ops) and the
compile-time evaluator; no TensorFlow import.
"""
import numpy as np

from ..errors import BATCH_SIZE, INVALID_FILE, STAGE_DETAILS, fail
from . import tf_proto


MAX_ELEMENTS = 1 << 31   # no constant of a net that fits the stick is larger


def tensor_to_numpy(t):
    """TensorProto -> numpy array (content bytes or the typed *_val lists)."""
    dtype = tf_proto.NUMPY_TYPES.get(t.dtype)
    if dtype is None:
        fail(STAGE_DETAILS, f"constant of TF dtype {t.dtype}")
    shape = [d.size for d in t.tensor_shape.dim]
    if any(d < 0 or d > MAX_ELEMENTS for d in shape):
        fail(STAGE_DETAILS, f"constant of shape {shape}")
    count = int(np.prod(shape, dtype=object))
    if count > MAX_ELEMENTS:
        fail(STAGE_DETAILS, f"constant of shape {shape}: too large")
    if t.tensor_content:
        wire = np.dtype(dtype).newbyteorder("<")
        if len(t.tensor_content) != count * wire.itemsize:
            fail(INVALID_FILE, f"constant of shape {shape} holds "
                 f"{len(t.tensor_content)} bytes, not {count * wire.itemsize}")
        # no copy: the array keeps the content bytes alive (memory peak)
        return np.frombuffer(t.tensor_content, wire).astype(
            dtype, copy=False).reshape(shape)
    if dtype == "float16":
        vals = np.array(t.half_val, dtype=np.uint16).view(np.float16)
    else:
        source = {"float32": t.float_val, "float64": t.double_val,
                  "int64": t.int64_val, "bool": t.bool_val,
                  "uint32": t.uint32_val, "uint64": t.uint64_val}
        vals = np.array(source.get(dtype, t.int_val), dtype=dtype)
    if vals.size == count:
        return vals.reshape(shape)
    full = np.empty(count, dtype=dtype)
    full[:] = vals[-1] if vals.size else 0   # TF repeats the last value
    full[:vals.size] = vals
    return full.reshape(shape)


def shape_dims(shape_proto):
    """TensorShapeProto -> list of ints (-1 unknown) or None (unknown rank)."""
    if shape_proto.unknown_rank:
        return None
    return [d.size for d in shape_proto.dim]


def nhwc(dims, what):
    """A TF shape (batch first) as the IR's right-aligned 4-tuple."""
    if len(dims) > 4:
        fail(STAGE_DETAILS, f"{what}: rank {len(dims)} tensors")
    full = [1] * (4 - len(dims)) + list(dims)
    if full[0] != 1:
        fail(BATCH_SIZE, f"{what} has batch {full[0]}")
    return tuple(int(d) for d in full)


def attr(node, key, default=None):
    """A NodeDef attr as a plain Python value."""
    if key not in node.attr:
        return default
    a = node.attr[key]
    kind = a.WhichOneof("value")
    if kind == "list":
        lst = a.list
        for f in ("i", "f", "s", "b", "type"):
            if len(getattr(lst, f)):
                vals = list(getattr(lst, f))
                return [_text(v) for v in vals] if f == "s" else vals
        return []
    if kind == "s":
        return _text(a.s)
    if kind == "shape":
        return shape_dims(a.shape)
    if kind == "tensor":
        return tensor_to_numpy(a.tensor)
    return getattr(a, kind) if kind else default


def _text(raw):
    """Attr strings are ASCII in every real graph; anything else is shown, not fatal."""
    return raw.decode("utf-8", "replace")
