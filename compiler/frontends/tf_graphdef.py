"""TensorFlow frozen GraphDef (.pb) -> IR, without importing TensorFlow.

``parse_graphdef`` reads the bytes with the messages of ``tf_proto``;
``graphdef_to_ir`` walks the nodes the output needs, in topological order,
and converts each with one small function from ``tf_ops.CONVERTERS`` (op
name -> converter). Constants (Const, or Identity of a Const, as variables look after
freezing) are folded into the nodes that read them.
"""
import os

import numpy as np
from google.protobuf.message import DecodeError

from .. import ir
from ..errors import (INVALID_FILE, NODE_NAME, PLACEHOLDER, STAGE_DETAILS,
                      STAGE_TYPE, CompileError, fail)
from . import tf_proto
from .tf_flow import (Flow, control_dead, controls, is_learning_phase,
                      merge, stray_placeholder, switch, alias)
from .tf_fold import FOLDERS, SHAPE_OPS, evaluate
from .tf_ops import CONVERTERS
from .tf_values import attr, nhwc, shape_dims


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


def _split_input(name):
    """An input as the tensor it names: 'node' and 'node:0' -> 'node',
    'node:k' -> 'node:k' (output port k > 0); control inputs ('^x') -> None."""
    if name.startswith("^"):
        return None
    base, _, port = name.partition(":")
    return base if port in ("", "0") else f"{base}:{port}"


def port_name(node_name, port):
    """The tensor name of output ``port`` of a node (as _split_input gives)."""
    return node_name if port == 0 else f"{node_name}:{port}"


# ---------------------------------------------------------------- context

class Context:
    """What converters see: the TF node, its inputs as IR nodes or arrays."""

    def __init__(self, tf_nodes):
        self.tf = tf_nodes          # name -> NodeDef
        self.values = {}            # tensor name -> ir.Node
        self.consts = {}            # tensor name -> numpy array
        self.nodes = []             # converted nodes in order
        self.rank = {}              # tensor name -> rank of the TF tensor
        self.flow = Flow()          # dead branches, deferred failures
        self.visited = set()        # node names already converted
        self.warnings = []          # one line each, for the user

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
            what = ("a constant" if name in self.consts
                    else "an output no converter produced")
            fail(STAGE_DETAILS, f"node {node.name} ({node.op}) input {i} "
                 f"({name}) must be a tensor, not {what}")
        return self.values[name]

    def is_const(self, node, i):
        return self.input_name(node, i) in self.consts

    def const(self, node, i):
        name = self.input_name(node, i)
        if name not in self.consts:
            fail(STAGE_DETAILS, f"node {node.name} ({node.op}) input {i} "
                 f"({name}) must be a constant")
        return self.consts[name]


# ---------------------------------------------------------------- driver

def _last_node(graph):
    """NCSDK's default output, the graph's last node; a trailing NoOp (a
    ``tf.group`` of update ops) computes nothing, so the one before it."""
    for node in reversed(graph.node):
        if node.op != "NoOp":
            return node
    fail(NODE_NAME, "(the graph holds only NoOp nodes; give -on)")


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


def _declared_dims(graph, node, input_size):
    """The input's TF shape: its attrs, else inferred by a compile up to it."""
    dims = None
    if node.op in ("Placeholder", "PlaceholderWithDefault"):
        dims = attr(node, "shape")
    if dims is None and "_output_shapes" in node.attr:
        shapes = node.attr["_output_shapes"].list.shape
        dims = shape_dims(shapes[0]) if shapes else None
    if dims is None and node.op not in ("Placeholder",
                                        "PlaceholderWithDefault"):
        try:
            sub = graphdef_to_ir(graph, output_node=node.name,
                                 input_size=input_size)
            rank = sub.output_rank
            dims = list(sub.node(sub.output).shape)[4 - rank:]
        except CompileError:
            dims = None
    return dims


def _input_shape(graph, node, input_size, warnings):
    """(IR shape, TF shape with batch 1) of the network input. A placeholder
    whose batch is unknown or > 1 is taken as batch 1, with a warning, as
    NCSDK did; 2-D [N, C] and 3-D inputs are right-aligned."""
    dims = _declared_dims(graph, node, input_size)
    if dims is None or not 1 <= len(dims) <= 4:
        fail(STAGE_DETAILS, f"input {node.name}: shape {dims} unknown or not "
             "[N, H, W, C]; give -is W H")
    dims = list(dims)
    if len(dims) >= 2 and dims[0] != 1:
        if node.op in ("Placeholder", "PlaceholderWithDefault"):
            batch = "unknown" if dims[0] == -1 else dims[0]
            warnings.append(f"input {node.name}: batch {batch} compiled as "
                            "batch 1 (as NCSDK)")
            dims[0] = 1
        elif dims[0] == -1:
            dims[0] = 1
    if input_size and len(dims) == 4:
        dims[2], dims[1] = int(input_size[0]), int(input_size[1])
    if -1 in dims:
        fail(STAGE_DETAILS, f"input {node.name}: shape {dims} unknown; give "
             "-is W H")
    return nhwc(dims, f"input {node.name}"), tuple(int(d) for d in dims)


def _likely_input(tf_nodes, placeholders):
    """The placeholder that is the image: named `input`, else the only 4-D
    one, else the first. Then Error 34 names the stray ones (keep_prob,
    is_training), not the image. A learning phase is never the input."""
    candidates = [p for p in placeholders
                  if not is_learning_phase(tf_nodes[p])] or placeholders
    if "input" in candidates:
        return "input"
    four_d = [p for p in candidates
              if len(attr(tf_nodes[p], "shape") or []) == 4]
    return four_d[0] if len(four_d) == 1 else candidates[0]


def graphdef_to_ir(graph, input_node=None, output_node=None, input_size=None):
    """Convert the part of a parsed GraphDef between input and output to IR.

    Default input: the single Placeholder the output needs; default output:
    the last node of the graph (as NCSDK does).
    """
    tf_nodes = {}
    for n in graph.node:
        tf_nodes.setdefault(n.name, n)
    out = _find(graph, output_node) if output_node else _last_node(graph)
    given_in = _find(graph, input_node) if input_node else None
    order = _ancestors(tf_nodes, out.name, given_in.name if given_in else None)
    if given_in is not None and given_in.name not in order:
        fail(NODE_NAME, input_node)
    placeholders = [n for n in order if tf_nodes[n].op == "Placeholder"]
    if given_in is None:
        if not placeholders:
            fail(STAGE_DETAILS, "the network has no input placeholder")
        given_in = tf_nodes[_likely_input(tf_nodes, placeholders)]
    ctx = Context(tf_nodes)
    ctx.flow.placeholders = set(placeholders) - {given_in.name}
    _start(ctx, graph, given_in, input_size)
    for name in order:
        if name != given_in.name:
            _convert_one(ctx, tf_nodes[name])
            ctx.visited.add(name)
    return _finish(ctx, out.name, given_in.name)


def _start(ctx, graph, given_in, input_size):
    """The input node: its IR shape, and its TF shape kept for checkers."""
    shape, tf_shape = _input_shape(graph, given_in, input_size, ctx.warnings)
    inp = ir.Node(given_in.name, "input", [], shape,
                  {"framework_shape": tf_shape})
    ctx.values[inp.name] = inp
    ctx.rank[inp.name] = len(tf_shape)
    ctx.nodes.append(inp)
    ctx.visited.add(inp.name)


def known_values(graph, tensors):
    """What the compiler computes at compile time: tensor name -> numpy
    value for those of ``tensors`` it can fold (the input, if any, is the
    first placeholder they need; stray placeholders are unknown)."""
    tf_nodes = {}
    for n in graph.node:
        tf_nodes.setdefault(n.name, n)
    order = []
    for t in tensors:
        order += [n for n in _ancestors(tf_nodes, t.partition(":")[0], None)
                  if n not in order]
    ctx = Context(tf_nodes)
    placeholders = [n for n in order if tf_nodes[n].op == "Placeholder"]
    if placeholders:
        first = _likely_input(tf_nodes, placeholders)
        ctx.flow.placeholders = set(placeholders) - {first}
        _start(ctx, graph, tf_nodes[first], None)
    for name in order:
        if name not in ctx.visited:
            _convert_one(ctx, tf_nodes[name])
            ctx.visited.add(name)
    return {t: ctx.consts[t] for t in tensors if t in ctx.consts}


def _finish(ctx, out, inp):
    """The IR graph, or the deferred failure that reaches the output."""
    flow = ctx.flow
    if flow.used:
        fail(PLACEHOLDER, ", ".join(flow.used))
    if out in flow.poison:
        raise flow.poison[out][1]
    if flow.is_dead(out):
        fail(STAGE_DETAILS, f"output {out} is on a branch never taken")
    if out not in ctx.values:
        fail(STAGE_DETAILS, f"output {out} is a constant")
    return ir.Graph(_live_nodes(ctx, ctx.values[out].name), input=inp,
                    output=ctx.values[out].name, warnings=ctx.warnings,
                    output_rank=ctx.rank.get(out, 4))


def _live_nodes(ctx, output):
    """The converted nodes the output reads (not those of dead branches)."""
    by_name = {n.name: n for n in ctx.nodes}
    needed, stack = set(), [output]
    while stack:
        name = stack.pop()
        if name in needed or name not in by_name:
            continue
        needed.add(name)
        stack.extend(by_name[name].inputs)
    return [n for n in ctx.nodes if n.name in needed or n.op == "input"]


def _convert_one(ctx, node):
    """One node: constant, dead, poisoned, folded, plumbing or converted."""
    if node.op == "Const":
        value = attr(node, "value")
        if not isinstance(value, np.ndarray):
            fail(STAGE_DETAILS, f"constant {node.name} has no tensor value")
        ctx.consts[node.name] = value
        return
    flow = ctx.flow
    if node.op == "Merge":
        merge(ctx, node)
        return
    if node.op == "Switch":       # its untaken port is dead in any case
        try:
            switch(ctx, node)
        except CompileError as exc:
            flow.spoil(node.name, exc)
        return
    ins = ctx.inputs(node)
    if any(flow.is_dead(t) for t in ins) or any(
            control_dead(ctx, c) for c in controls(node)):
        flow.kill(node.name)
        return
    error = flow.first_poison(ins)
    if error is not None:
        flow.note_placeholders(ins)
        if node.op in SHAPE_OPS and error.number != PLACEHOLDER:
            error = CompileError(STAGE_DETAILS, f"{node.name} ({node.op}): "
                                 f"the shape of {ins[0]} is not known at "
                                 f"compile time ({error.detail})")
        flow.spoil(node.name, error)
        return
    try:
        _evaluate(ctx, node, ins)
    except CompileError as exc:
        flow.spoil(node.name, exc)


def _evaluate(ctx, node, ins):
    if node.op in ("Placeholder", "PlaceholderWithDefault"):
        _placeholder(ctx, node, ins)
    elif node.op in FOLDERS and _foldable(ctx, node, ins):
        args = [ctx.consts[t] if t in ctx.consts else _static(ctx, t)
                for t in ins]
        for port, value in enumerate(evaluate(node, args)):
            ctx.consts[port_name(node.name, port)] = value
    else:
        _convert(ctx, node)


def _foldable(ctx, node, ins):
    if node.op in SHAPE_OPS:
        return bool(ins) and all(t in ctx.consts or t in ctx.values
                                 for t in ins)
    return bool(ins) and all(t in ctx.consts for t in ins)


def _static(ctx, tensor):
    """A stand-in array of the tensor's static TF shape (batch 1), for
    Shape/Size/Rank: no memory behind it."""
    rank = ctx.rank.get(tensor, 4)
    dims = ctx.values[tensor].shape[len(ctx.values[tensor].shape) - rank:]
    return np.broadcast_to(np.zeros((), np.float32), dims)


def _placeholder(ctx, node, ins):
    """A placeholder that is not the input: a learning phase is False (a
    bare Placeholder with a warning); PlaceholderWithDefault takes its
    default; any other is Error 34 if a live node reads it."""
    if is_learning_phase(node):
        ctx.consts[node.name] = np.array(False)
        if node.op == "Placeholder":
            ctx.warnings.append(f"placeholder {node.name} taken as False "
                                "(inference)")
    elif node.op == "PlaceholderWithDefault":
        alias(ctx, node.name, ins[0] if ins else "", node)
    else:
        raise stray_placeholder(node.name)


def _convert(ctx, node):
    converter = CONVERTERS.get(node.op)
    if converter is None:
        fail(STAGE_TYPE, f"{node.op} (node {node.name})")
    result = converter(ctx, node)
    ports = result if isinstance(result, (list, tuple)) else [result]
    for port, out in enumerate(ports):
        first = out.inputs[0] if out.inputs else None
        name = port_name(node.name, port)
        ctx.rank[name] = out.attrs.pop("tf_rank", ctx.rank.get(first, 4))
        ctx.values[name] = out
        ctx.nodes.append(out)


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
