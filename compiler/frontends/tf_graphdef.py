"""TensorFlow frozen GraphDef (.pb) -> IR, without importing TensorFlow.

``parse_graphdef`` reads the bytes with the messages of ``tf_proto``;
``graphdef_to_ir`` walks the nodes the output needs, in topological order,
and converts each with one small function from ``CONVERTERS`` (op name ->
converter). Constants (Const, or Identity of a Const, as variables look after
freezing) are folded into the nodes that read them.
"""
import os

import numpy as np
from google.protobuf.message import DecodeError

from .. import ir
from ..errors import (BATCH_SIZE, INVALID_FILE, NODE_NAME, PLACEHOLDER,
                      STAGE_DETAILS, STAGE_TYPE, CompileError, fail)
from ..shapes import spatial_out
from . import tf_proto


def parse_graphdef(data):
    """Bytes of a binary GraphDef -> tf_proto.GraphDef (Error 22 if not one)."""
    graph = tf_proto.GraphDef()
    try:
        graph.ParseFromString(data)
    except (DecodeError, RuntimeError, ValueError) as exc:
        fail(INVALID_FILE, f"not a binary TensorFlow GraphDef ({exc})")
    if not graph.node:
        fail(INVALID_FILE, "the GraphDef holds no nodes")
    return graph


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


def _split_input(name):
    """'node:0' -> 'node'; control inputs ('^x') -> None."""
    if name.startswith("^"):
        return None
    base, _, port = name.partition(":")
    if port not in ("", "0"):
        fail(STAGE_DETAILS, f"reads output {port} of node {base}")
    return base


# ---------------------------------------------------------------- context

class Context:
    """What converters see: the TF node, its inputs as IR nodes or arrays."""

    def __init__(self, tf_nodes):
        self.tf = tf_nodes          # name -> NodeDef
        self.values = {}            # name -> ir.Node
        self.consts = {}            # name -> numpy array
        self.nodes = []             # converted nodes in order
        self.rank = {}              # name -> rank of the TF tensor

    def inputs(self, node):
        return [n for n in map(_split_input, node.input) if n is not None]

    def input_name(self, node, i):
        names = self.inputs(node)
        if i >= len(names):
            fail(STAGE_DETAILS, f"node {node.name} ({node.op}) has "
                 f"{len(names)} inputs, needs at least {i + 1}")
        return names[i]

    def value(self, node, i):
        name = self.input_name(node, i)
        if name not in self.values:
            fail(STAGE_DETAILS, f"node {node.name} ({node.op}) input {i} "
                 f"({name}) must be a tensor, not a constant")
        return self.values[name]

    def is_const(self, node, i):
        return self.input_name(node, i) in self.consts

    def const(self, node, i):
        name = self.input_name(node, i)
        if name not in self.consts:
            fail(STAGE_DETAILS, f"node {node.name} ({node.op}) input {i} "
                 f"({name}) must be a constant")
        return self.consts[name]


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


def _node(tf_node, op, inputs, shape, **attrs):
    return ir.Node(tf_node.name, op, [i.name for i in inputs], tuple(shape),
                   attrs)


def _nhwc_only(node):
    fmt = attr(node, "data_format", "NHWC")
    if fmt not in ("NHWC",):
        fail(STAGE_DETAILS, f"{node.name}: data_format {fmt}")


def _window_attrs(node, key):
    vals = attr(node, key, [1, 1, 1, 1])
    if not isinstance(vals, list) or len(vals) != 4 or vals[0] != 1 \
            or vals[3] != 1:
        fail(STAGE_DETAILS, f"{node.name}: {key} {vals}")
    return (int(vals[1]), int(vals[2]))


def _padding(node):
    padding = attr(node, "padding")
    if padding not in ("SAME", "VALID"):
        fail(STAGE_DETAILS, f"{node.name}: padding {padding}")
    return padding


# ---------------------------------------------------------------- converters

def conv_like(ctx, node, op):
    _nhwc_only(node)
    x = ctx.value(node, 0)
    w = ctx.const(node, 1).astype(np.float32, copy=False)
    if _window_attrs(node, "dilations") != (1, 1):
        fail(STAGE_DETAILS, f"{node.name}: dilation "
             f"{_window_attrs(node, 'dilations')}")
    if w.ndim != 4 or w.shape[2] != x.shape[3]:
        fail(STAGE_DETAILS, f"{node.name}: weights {w.shape} for input "
             f"{x.shape}")
    stride, padding = _window_attrs(node, "strides"), _padding(node)
    oh, ow = spatial_out(node.name, x.shape[1:3], w.shape[:2], stride, padding)
    cout = w.shape[3] * (w.shape[2] if op == "depthwise" else 1)
    return _node(node, op, [x], (1, oh, ow, cout), weights=w, stride=stride,
                 padding=padding, pads=(0, 0))


def conv2d(ctx, node):
    return conv_like(ctx, node, "conv")


def depthwise(ctx, node):
    return conv_like(ctx, node, "depthwise")


def pool(ctx, node):
    _nhwc_only(node)
    x = ctx.value(node, 0)
    ksize, stride = _window_attrs(node, "ksize"), _window_attrs(node, "strides")
    padding = _padding(node)
    oh, ow = spatial_out(node.name, x.shape[1:3], ksize, stride, padding)
    op = "maxpool" if node.op == "MaxPool" else "avgpool"
    return _node(node, op, [x], (1, oh, ow, x.shape[3]), ksize=ksize,
                 stride=stride, padding=padding, pads=(0, 0))


def _channel_vector(ctx, node, i, channels):
    """A per-channel constant (scalar broadcast) as a float32 vector."""
    v = ctx.const(node, i).astype(np.float32, copy=False)
    if v.size == 1:
        return np.full(channels, v.reshape(-1)[0], np.float32)
    if v.size != channels or v.shape[-1] != channels:
        fail(STAGE_DETAILS, f"{node.name}: constant of shape {v.shape} for "
             f"{channels} channels")
    return v.reshape(channels)


def batch_norm(ctx, node):
    _nhwc_only(node)
    if attr(node, "is_training", False):
        fail(STAGE_DETAILS, f"{node.name}: batch norm in training mode")
    x = ctx.value(node, 0)
    c = x.shape[3]
    gamma, beta, mean, var = (_channel_vector(ctx, node, i, c)
                              for i in (1, 2, 3, 4))
    return _node(node, "batchnorm", [x], x.shape, gamma=gamma, beta=beta,
                 mean=mean, variance=var,
                 epsilon=float(attr(node, "epsilon", 1e-3)))


def bias_add(ctx, node):
    _nhwc_only(node)
    x = ctx.value(node, 0)
    return _node(node, "bias_add", [x], x.shape,
                 bias=_channel_vector(ctx, node, 1, x.shape[3]))


def binary(ctx, node):
    """Add/AddV2/Mul/Maximum: with a constant -> per-channel; else eltwise."""
    names = {"Add": "add", "AddV2": "add", "Mul": "mul", "Maximum": "max"}
    consts = [ctx.is_const(node, i) for i in (0, 1)]
    if all(consts):
        fail(STAGE_DETAILS, f"{node.name}: {node.op} of two constants")
    if any(consts):
        k = consts.index(True)
        x = ctx.value(node, 1 - k)
        vec = _channel_vector(ctx, node, k, x.shape[3])
        if node.op in ("Add", "AddV2"):
            return _node(node, "bias_add", [x], x.shape, bias=vec)
        if node.op == "Mul":
            return _node(node, "scale", [x], x.shape, scale=vec)
        fail(STAGE_DETAILS, f"{node.name}: {node.op} with a constant")
    a, b = ctx.value(node, 0), ctx.value(node, 1)
    if a.shape != b.shape:
        fail(STAGE_DETAILS, f"{node.name}: broadcasting {a.shape} with "
             f"{b.shape}")
    return _node(node, names[node.op], [a, b], a.shape)


def unary(op, **extra):
    def convert(ctx, node):
        x = ctx.value(node, 0)
        attrs = dict(extra)
        if op == "leaky_relu":
            attrs["slope"] = float(attr(node, "alpha", 0.2))
        return _node(node, op, [x], x.shape, **attrs)
    return convert


def softmax(ctx, node):
    x = ctx.value(node, 0)
    return _node(node, "softmax", [x], x.shape)


def lrn(ctx, node):
    x = ctx.value(node, 0)
    size = 2 * int(attr(node, "depth_radius", 5)) + 1
    return _node(node, "lrn", [x], x.shape, size=size,
                 alpha=float(attr(node, "alpha", 1.0)) * size,
                 beta=float(attr(node, "beta", 0.5)),
                 k=float(attr(node, "bias", 1.0)))


def _reshape_to(node, x, dims):
    dims = [int(d) for d in dims]
    total = int(np.prod(x.shape))
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = total // max(known, 1)
    if int(np.prod(dims)) != total:
        fail(STAGE_DETAILS, f"{node.name}: cannot reshape {x.shape} to {dims}")
    return _node(node, "reshape", [x], nhwc(dims, node.name),
                 tf_rank=len(dims))


def reshape(ctx, node):
    x = ctx.value(node, 0)
    return _reshape_to(node, x, ctx.const(node, 1).reshape(-1))


def squeeze(ctx, node):
    x = ctx.value(node, 0)
    dims = [d for d in x.shape if d != 1] or [1]
    return _reshape_to(node, x, dims)


def identity(ctx, node):
    x = ctx.value(node, 0)
    return _node(node, "identity", [x], x.shape)


def concat(ctx, node):
    n = len(ctx.inputs(node)) - 1
    first = 1 if node.op == "Concat" else 0
    axis_at = 0 if node.op == "Concat" else n
    axis = int(ctx.const(node, axis_at))
    xs = [ctx.value(node, first + i) for i in range(n)]
    rank = ctx.rank[xs[0].name]
    if axis not in (-1, rank - 1):
        fail(STAGE_DETAILS, f"{node.name}: concat on axis {axis} (only the "
             "channel axis)")
    if any(x.shape[:3] != xs[0].shape[:3] for x in xs):
        fail(STAGE_DETAILS, f"{node.name}: concat of different sizes")
    channels = sum(x.shape[3] for x in xs)
    return _node(node, "concat", xs, xs[0].shape[:3] + (channels,))


def matmul(ctx, node):
    if attr(node, "transpose_a", False):
        fail(STAGE_DETAILS, f"{node.name}: MatMul with transpose_a")
    x = ctx.value(node, 0)
    w = ctx.const(node, 1).astype(np.float32, copy=False)
    if attr(node, "transpose_b", False):
        w = w.T
    if w.ndim != 2 or w.shape[0] != int(np.prod(x.shape)):
        fail(STAGE_DETAILS, f"{node.name}: weights {w.shape} for input "
             f"{x.shape}")
    return _node(node, "fc", [x], (1, 1, 1, w.shape[1]),
                 weights=np.ascontiguousarray(w), tf_rank=2)


def mean(ctx, node):
    x = ctx.value(node, 0)
    axes = sorted(int(a) % 4 for a in ctx.const(node, 1).reshape(-1))
    if axes != [1, 2]:
        fail(STAGE_DETAILS, f"{node.name}: Mean over axes {axes} (only H,W)")
    k = x.shape[1:3]
    rank = 4 if attr(node, "keep_dims", False) else 2
    return _node(node, "avgpool", [x], (1, 1, 1, x.shape[3]), ksize=k,
                 stride=(1, 1), padding="VALID", pads=(0, 0), tf_rank=rank)


def pad(ctx, node):
    x = ctx.value(node, 0)
    p = ctx.const(node, 1).astype(int)
    if p.shape != (4, 2) or p[0].any() or p[3].any():
        fail(STAGE_DETAILS, f"{node.name}: Pad {p.tolist()}")
    shape = (1, x.shape[1] + p[1].sum(), x.shape[2] + p[2].sum(), x.shape[3])
    return _node(node, "pad", [x], shape,
                 pads=((int(p[1][0]), int(p[1][1])),
                       (int(p[2][0]), int(p[2][1]))))


CONVERTERS = {
    "Conv2D": conv2d,
    "DepthwiseConv2dNative": depthwise,
    "FusedBatchNorm": batch_norm,
    "FusedBatchNormV2": batch_norm,
    "FusedBatchNormV3": batch_norm,
    "BiasAdd": bias_add,
    "Add": binary,
    "AddV2": binary,
    "Mul": binary,
    "Maximum": binary,
    "Relu": unary("relu"),
    "Relu6": unary("relu_x", cap=6.0),
    "Sigmoid": unary("sigmoid"),
    "Tanh": unary("tanh"),
    "Elu": unary("elu", alpha=1.0),
    "LeakyRelu": unary("leaky_relu"),
    "AvgPool": pool,
    "MaxPool": pool,
    "Softmax": softmax,
    "LRN": lrn,
    "Reshape": reshape,
    "Squeeze": squeeze,
    "Identity": identity,
    "StopGradient": identity,
    "ConcatV2": concat,
    "Concat": concat,
    "MatMul": matmul,
    "Mean": mean,
    "Pad": pad,
}


# ---------------------------------------------------------------- driver

def _find(graph, name):
    """The first node called ``name`` (NCSDK stops at the first match)."""
    name = name[:-2] if name and name.endswith(":0") else name
    for node in graph.node:
        if node.name == name:
            return node
    fail(NODE_NAME, name)


def _ancestors(tf_nodes, output, stop):
    """Nodes the output depends on, inputs first, in a deterministic order."""
    order, seen = [], set()
    stack = [(output, False)]
    while stack:
        name, done = stack.pop()
        if done:
            order.append(name)
            continue
        if name in seen:
            continue
        seen.add(name)
        if name not in tf_nodes:
            fail(STAGE_DETAILS, f"input {name} of the graph is missing")
        stack.append((name, True))
        if name != stop:
            ins = [i for i in map(_split_input_lenient, tf_nodes[name].input)
                   if i is not None]
            for i in reversed(ins):
                if i not in seen:
                    stack.append((i, False))
    return order


def _split_input_lenient(name):
    return None if name.startswith("^") else name.partition(":")[0]


def _input_shape(graph, tf_nodes, node, input_size):
    """Shape of the network input node, from its attrs, inference or -is."""
    dims = None
    if node.op == "Placeholder":
        dims = attr(node, "shape")
    if dims is None and "_output_shapes" in node.attr:
        shapes = node.attr["_output_shapes"].list.shape
        dims = shape_dims(shapes[0]) if shapes else None
    if dims is None and node.op != "Placeholder":
        try:
            sub = graphdef_to_ir(graph, output_node=node.name,
                                 input_size=input_size)
            dims = list(sub.node(sub.output).shape)
        except CompileError:
            dims = None
    if dims is None or len(dims) != 4:
        if dims is not None and len(dims) in (2, 3) and -1 not in dims[1:]:
            return nhwc([1 if d == -1 else d for d in dims], node.name)
        fail(STAGE_DETAILS, f"input {node.name}: shape {dims} unknown or not "
             "[N, H, W, C]; give -is W H")
    dims = list(dims)
    if dims[0] == -1:
        dims[0] = 1
    if input_size:
        dims[2], dims[1] = int(input_size[0]), int(input_size[1])
    if -1 in dims:
        fail(STAGE_DETAILS, f"input {node.name}: shape {dims} unknown; give "
             "-is W H")
    return nhwc(dims, f"input {node.name}")


def _likely_input(tf_nodes, placeholders):
    """The placeholder that is the image: named `input`, else the only 4-D
    one, else the first. Then Error 34 names the stray ones (keep_prob,
    is_training), not the image."""
    if "input" in placeholders:
        return "input"
    four_d = [p for p in placeholders
              if len(attr(tf_nodes[p], "shape") or []) == 4]
    return four_d[0] if len(four_d) == 1 else placeholders[0]


def graphdef_to_ir(graph, input_node=None, output_node=None, input_size=None):
    """Convert the part of a parsed GraphDef between input and output to IR.

    Default input: the single Placeholder the output needs; default output:
    the last node of the graph (as NCSDK does).
    """
    tf_nodes = {}
    for n in graph.node:
        tf_nodes.setdefault(n.name, n)
    out = _find(graph, output_node) if output_node else graph.node[-1]
    given_in = _find(graph, input_node) if input_node else None
    order = _ancestors(tf_nodes, out.name, given_in.name if given_in else None)
    if given_in is not None and given_in.name not in order:
        fail(NODE_NAME, input_node)
    placeholders = [n for n in order if tf_nodes[n].op == "Placeholder"]
    if given_in is None:
        if not placeholders:
            fail(STAGE_DETAILS, "the network has no input placeholder")
        given_in = tf_nodes[_likely_input(tf_nodes, placeholders)]
    extra = [p for p in placeholders if p != given_in.name]
    if extra:
        fail(PLACEHOLDER, ", ".join(extra))
    ctx = Context(tf_nodes)
    shape = _input_shape(graph, tf_nodes, given_in, input_size)
    inp = ir.Node(given_in.name, "input", [], shape)
    ctx.values[inp.name] = inp
    ctx.rank[inp.name] = len(attr(given_in, "shape") or [0] * 4)
    ctx.nodes.append(inp)
    for name in order:
        if name == given_in.name:
            continue
        _convert_one(ctx, tf_nodes[name])
    if out.name not in ctx.values:
        fail(STAGE_DETAILS, f"output {out.name} is a constant")
    return ir.Graph(ctx.nodes, input=inp.name, output=out.name)


def _convert_one(ctx, node):
    if node.op == "Const":
        value = attr(node, "value")
        if not isinstance(value, np.ndarray):
            fail(STAGE_DETAILS, f"constant {node.name} has no tensor value")
        ctx.consts[node.name] = value
        return
    ins = ctx.inputs(node)
    if node.op in ("Identity", "StopGradient") and ins and ins[0] in ctx.consts:
        ctx.consts[node.name] = ctx.consts[ins[0]]
        return
    converter = CONVERTERS.get(node.op)
    if converter is None:
        fail(STAGE_TYPE, f"{node.op} (node {node.name})")
    result = converter(ctx, node)
    first = result.inputs[0] if result.inputs else None
    ctx.rank[node.name] = result.attrs.pop("tf_rank", ctx.rank.get(first, 4))
    ctx.values[node.name] = result
    ctx.nodes.append(result)


def load(network, weights=None, options=None):
    """Frontend entry for .pb files: path -> IR graph."""
    options = options or {}
    with open(network, "rb") as f:
        graph = read_graphdef(f)
    return graphdef_to_ir(graph, options.get("input_node"),
                          options.get("output_node"), options.get("input_size"))


def _varint(f):
    """One base-128 varint from the stream, or None at a clean end."""
    shift = value = 0
    while True:
        b = f.read(1)
        if not b:
            if shift:
                fail(INVALID_FILE, "not a binary TensorFlow GraphDef "
                     "(truncated)")
            return None
        value |= (b[0] & 0x7F) << shift
        if b[0] < 0x80:
            return value
        shift += 7
        if shift > 63:
            fail(INVALID_FILE, "not a binary TensorFlow GraphDef (bad varint)")


def read_graphdef(f):
    """Parse a GraphDef from a file one top-level field at a time.

    Holding the whole file and its parsed copy at once would double the
    memory peak for a 200 MB net; this way only the largest node is ever
    held twice. Fields other than `node` (versions, library) are parsed too.
    """
    graph = tf_proto.GraphDef()
    total = os.fstat(f.fileno()).st_size
    while True:
        key = _varint(f)
        if key is None:
            break
        if key & 7 != 2:   # every GraphDef field is length-delimited
            fail(INVALID_FILE, "not a binary TensorFlow GraphDef "
                 f"(field {key >> 3} has wire type {key & 7})")
        size = _varint(f)
        if size is not None and size > total - f.tell():
            fail(INVALID_FILE, "not a binary TensorFlow GraphDef (a field "
                 "runs past the end of the file)")
        chunk = f.read(size) if size is not None else b""
        if size is None or len(chunk) != size:
            fail(INVALID_FILE, "not a binary TensorFlow GraphDef (truncated)")
        try:
            graph.MergeFromString(_varint_bytes(key) + _varint_bytes(size)
                                  + chunk)
        except (DecodeError, RuntimeError, ValueError) as exc:
            fail(INVALID_FILE, f"not a binary TensorFlow GraphDef ({exc})")
        del chunk
    if not graph.node:
        fail(INVALID_FILE, "the GraphDef holds no nodes")
    return graph


def _varint_bytes(value):
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)
