"""Caffe deploy prototxt (+ caffemodel) -> IR, without Caffe.

``parse_net`` reads the prototxt (text) and the caffemodel (binary) with the
messages of ``caffe_proto``; ``net_to_ir`` walks the layers in file order and
converts each with one function of ``caffe_layers.CONVERTERS``. Caffe blobs
are N,C,H,W; the IR is NHWC, so every blob becomes (1, H, W, C) and weights
are transposed by the converters. Without weights every blob is zeros, as in
NCSDK.
"""
from pathlib import Path

import numpy as np
from google.protobuf.message import DecodeError
from google.protobuf.text_format import ParseError

from .. import ir
from ..errors import (BATCH_SIZE, INVALID_FILE, NODE_NAME, STAGE_DETAILS,
                      STAGE_TYPE, fail)
from . import caffe_proto
from .caffe_layers import CONVERTERS, check_reshapes

# Legacy V1 enum names -> the current type strings.
V1_TYPE_NAMES = {
    "CONVOLUTION": "Convolution", "DECONVOLUTION": "Deconvolution",
    "POOLING": "Pooling", "INNER_PRODUCT": "InnerProduct", "RELU": "ReLU",
    "SIGMOID": "Sigmoid", "TANH": "TanH", "LRN": "LRN", "CONCAT": "Concat",
    "ELTWISE": "Eltwise", "SLICE": "Slice", "FLATTEN": "Flatten",
    "SOFTMAX": "Softmax", "DROPOUT": "Dropout", "SPLIT": "Split",
}
INPUT_FORM = ('declare the input as: input: "data" input_shape { dim: 1 '
              'dim: 3 dim: H dim: W } (or four input_dim lines)')


class Layer:
    """One layer in a form common to ``layer`` and legacy ``layers``."""

    def __init__(self, msg, legacy):
        self.msg = msg
        self.name = msg.name
        if legacy:
            v1 = caffe_proto.V1_NAMES.get(msg.type, str(msg.type))
            self.type = V1_TYPE_NAMES.get(v1, v1)
        else:
            self.type = msg.type
        self.bottom = list(msg.bottom)
        self.top = list(msg.top)
        self.blobs = []

    def param(self, field):
        """The layer's ``*_param`` message (defaults when absent)."""
        return getattr(self.msg, field)


def _read(path, binary):
    try:
        data = Path(path).read_bytes()
        if binary:
            return caffe_proto.parse_binary(data)
        return caffe_proto.parse_text(data.decode("utf-8"))
    except (ParseError, DecodeError, UnicodeDecodeError, RuntimeError,
            ValueError) as exc:
        kind = "caffemodel" if binary else "prototxt"
        fail(INVALID_FILE, f"{path} is not a Caffe {kind} ({exc})")


def blob_array(blob, layer="a layer"):
    """BlobProto -> float32 array in its declared shape (N-d or legacy 4-d).

    A declared shape that disagrees with the values is a broken file (Caffe
    itself refuses it), not something to guess around.
    """
    data = np.array(blob.data if len(blob.data) else blob.double_data,
                    np.float32)
    if blob.HasField("shape"):
        shape = [int(d) for d in blob.shape.dim]
    elif any((blob.num, blob.channels, blob.height, blob.width)):
        shape = [blob.num, blob.channels, blob.height, blob.width]
    else:
        shape = [data.size]
    if any(d < 0 for d in shape) or int(np.prod(shape, dtype=object)) != data.size:
        fail(INVALID_FILE, f"layer {layer}: a weight blob declares shape "
             f"{shape} but holds {data.size} values")
    return data.reshape(shape)


def _active(msg):
    """False for layers meant for training only (include/exclude rules)."""
    if any(r.HasField("phase") and r.phase == 0 for r in msg.include):
        return False
    return not any(r.HasField("phase") and r.phase == 1 for r in msg.exclude)


def layers_of(net):
    legacy = [Layer(m, True) for m in net.layers if _active(m)]
    return legacy + [Layer(m, False) for m in net.layer if _active(m)]


def attach_weights(layers, weights_net):
    """Blobs of the caffemodel, matched to the layers by name (as Caffe)."""
    by_name = {}
    for m in list(weights_net.layers) + list(weights_net.layer):
        if len(m.blobs):
            by_name.setdefault(m.name, [blob_array(b, m.name) for b in m.blobs])
    for layer in layers:
        layer.blobs = by_name.get(layer.name, [])


class Context:
    """What converters see: blob name -> IR node, nodes in order."""

    def __init__(self, with_weights):
        self.with_weights = with_weights
        self.blobs = {}
        self.nodes = []
        self.input = None
        self.names = set()

    def node(self, blob, layer):
        if blob not in self.blobs:
            fail(STAGE_DETAILS, f"layer {layer.name}: bottom {blob!r} is not "
                 "produced by an earlier layer")
        return self.blobs[blob]

    def bottom(self, layer, i=0):
        if len(layer.bottom) <= i:
            fail(STAGE_DETAILS, f"layer {layer.name} ({layer.type}) needs "
                 f"{i + 1} bottom blob(s)")
        return self.node(layer.bottom[i], layer)

    def add(self, name, op, inputs, shape, **attrs):
        """Append a node with a unique name; returns it."""
        base, k = name, 1
        while name in self.names:
            name, k = f"{base}_{k}", k + 1
        self.names.add(name)
        node = ir.Node(name, op, [i.name for i in inputs],
                       tuple(int(d) for d in shape), attrs)
        self.nodes.append(node)
        return node

    def blob(self, layer, i, shape):
        """Weight blob i of the layer, reshaped to ``shape`` (zeros when the
        net was compiled without weights)."""
        shape = tuple(int(d) for d in shape)
        if not self.with_weights:
            return np.zeros(shape, np.float32)
        if len(layer.blobs) <= i:
            fail(STAGE_DETAILS, f"layer {layer.name}: the caffemodel has no "
                 f"blob {i} for it")
        b = layer.blobs[i]
        if b.size != int(np.prod(shape)):
            fail(STAGE_DETAILS, f"layer {layer.name}: blob {i} has "
                 f"{b.size} values, expected {shape}")
        return b.reshape(shape).astype(np.float32)


def input_shape(dims, where):
    """Caffe (N, C, H, W) -> IR (1, H, W, C) with NCSDK's checks."""
    dims = [int(d) for d in dims]
    if len(dims) != 4:
        fail(STAGE_DETAILS, f"input {where}: shape {dims} is not N,C,H,W; "
             + INPUT_FORM)
    if dims[0] != 1:
        fail(BATCH_SIZE, f"input {where} has batch {dims[0]}")
    if min(dims) < 1:
        fail(STAGE_DETAILS, f"input {where}: shape {dims}")
    return (1, dims[2], dims[3], dims[1])


def _net_input(net, layers):
    """(blob name, IR shape) of the one network input."""
    declared = list(net.input)
    input_layers = [la for la in layers if la.type == "Input"]
    count = len(declared) + sum(len(la.top) for la in input_layers)
    if count != 1:
        fail(STAGE_DETAILS, f"the network has {count} inputs; NCSDK takes "
             "exactly one. " + INPUT_FORM)
    if input_layers:
        layer = input_layers[0]
        shapes = layer.param("input_param").shape
        if not shapes:
            fail(STAGE_DETAILS, f"Input layer {layer.name} has no "
                 "input_param shape; " + INPUT_FORM)
        return layer.top[0], input_shape(shapes[0].dim, layer.top[0])
    if net.input_shape:
        dims = net.input_shape[0].dim
    elif net.input_dim:
        dims = net.input_dim
    else:
        fail(STAGE_DETAILS, f"input {declared[0]} has no shape; "
             + INPUT_FORM)
    return declared[0], input_shape(dims, declared[0])


def _prune(nodes, output):
    """Only the nodes the output needs, in order."""
    by_name = {n.name: n for n in nodes}
    need, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name not in need:
            need.add(name)
            stack.extend(by_name[name].inputs)
    return [n for n in nodes if n.name in need]


def _stops_at(layer, output_node):
    return output_node is not None and (
        layer.name == output_node or output_node in layer.top)


def net_to_ir(net, weights_net=None, output_node=None, input_size=None):
    """A parsed deploy net (and caffemodel) -> ir.Graph."""
    layers = layers_of(net)
    if weights_net is not None:
        attach_weights(layers, weights_net)
    ctx = Context(weights_net is not None)
    blob, shape = _net_input(net, layers)
    if input_size:
        shape = (1, int(input_size[1]), int(input_size[0]), shape[3])
    ctx.input = ctx.add(blob, "input", [], shape)
    ctx.blobs[blob] = ctx.input
    last = ctx.input
    for layer in layers:
        if layer.type == "Input":
            continue
        convert = CONVERTERS.get(layer.type)
        if convert is None:
            fail(STAGE_TYPE, f"{layer.type} (layer {layer.name})")
        outputs = convert(ctx, layer)
        for top, node in zip(layer.top, outputs):
            ctx.blobs[top] = node
        if outputs:
            last = outputs[0]
        if _stops_at(layer, output_node):
            break
    else:
        if output_node is not None and output_node not in ctx.blobs:
            fail(NODE_NAME, output_node)
    if output_node in ctx.blobs:
        last = ctx.blobs[output_node]
    if last is ctx.input:
        fail(STAGE_DETAILS, "the network has no layers after its input")
    nodes = _prune(ctx.nodes, last.name)
    graph = ir.Graph(nodes, input=ctx.input.name, output=last.name)
    check_reshapes(graph)
    return graph


def default_weights(network):
    """NCSDK's default: the prototxt's name with .caffemodel, if it exists."""
    path = Path(network).with_suffix(".caffemodel")
    return str(path) if path.is_file() else None


def load(network, weights=None, options=None):
    """Frontend entry for .prototxt files: paths -> IR graph."""
    options = options or {}
    if options.get("input_node"):
        fail(STAGE_DETAILS, "-in is not supported for Caffe networks (the "
             "input is the prototxt's declared input)")
    net = _read(network, binary=False)
    weights = weights or default_weights(network)
    notes = []
    if weights and not _has_bytes(weights):
        notes.append(f"weights {weights} missing or empty: compiled with "
                     "zero weights (as NCSDK)")
        weights = None
    weights_net = _read(weights, binary=True) if weights else None
    graph = net_to_ir(net, weights_net, options.get("output_node"),
                      options.get("input_size"))
    graph.warnings.extend(notes)
    return graph


def _has_bytes(path):
    path = Path(path)
    return path.is_file() and path.stat().st_size > 0
