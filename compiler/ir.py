"""The compiler's one intermediate representation: plain Python and numpy.

A Graph is a list of Nodes in execution (topological) order. Every node has
one output tensor whose shape is NHWC with batch 1, right-aligned: a TF shape
[1, C] is (1, 1, 1, C), so "the last axis" is always the channel axis and the
byte layout (YXZ, channels fastest) of a compact tensor equals TF's row-major
order. Constant tensors (weights, biases, scales) live in ``attrs`` as numpy
arrays; frontends fold framework constants into the nodes that use them.

Ops (attrs in brackets):
  input                                   the network input
  conv        [weights HWIO, bias?, stride (sy, sx), padding, pads (py, px)]
  depthwise   [weights (kh, kw, cin, mult), bias?, stride, padding, pads]
  deconv      [weights (kh, kw, cin, cout), bias?, stride, padding
               "EXPLICIT", pads]   transposed convolution (Caffe)
  fc          [weights (cin_flat, cout), bias?]
  prelu       [slope]                 per-channel slope for x < 0
  crop        [offsets (y, x, c)]     a window of the input (Caffe Crop/Slice)
  slice       [first]                 channels first.. of the input (TF
                                      slices); a view, no stage, unless
                                      place_slices makes it a channel_copy
  channel_copy [first]                NCSDK's op 19 copy of those channels
  maxpool / avgpool [ksize (kh, kw), stride, padding, pads]
  softmax, relu, relu_x [cap], sigmoid, tanh, elu [alpha], leaky_relu [slope]
  lrn         [size, alpha (per the spec: a), beta, k]
  bias_add    [bias]                      per-channel add of a constant
  scale       [scale, bias?]              per-channel multiply (+ add)
  batchnorm   [mean, variance, gamma?, beta?, epsilon]
  add / mul / max                         elementwise, two tensors, same shape
  minimum     [cap]                   min(x, cap): only as relu_x's upper
                                      half; the writer refuses a lone one
  concat      inputs joined on the channel axis
  reshape     to ``shape`` (bytes unchanged)
  identity, pad [pads ((t, b), (l, r))]   removed or folded by passes
  copy        exact copy (written as a 1x1 max pool), made by the planner

padding is "SAME", "VALID" or "EXPLICIT" (symmetric pads, Caffe style).
Any op may carry ``post`` (an activation op name) and ``post_param``.
The TF frontend marks its nodes ``renames``: a pass that fuses such a node
into the stage before it gives that stage the node's name (NCSDK named a TF
stage after its last node, conv1/Relu; a Caffe stage after its layer).
"""
from dataclasses import dataclass, field


@dataclass
class Node:
    name: str
    op: str
    inputs: list
    shape: tuple
    attrs: dict = field(default_factory=dict)

    def copy(self):
        return Node(self.name, self.op, list(self.inputs), tuple(self.shape),
                    dict(self.attrs))

    @property
    def hwc(self):
        return self.shape[1:]


class Graph:
    """Nodes in order plus the names of the network input and output."""

    def __init__(self, nodes=(), input=None, output=None, warnings=(),
                 output_rank=4):
        self.nodes = list(nodes)
        self.input = input
        self.output = output
        self.warnings = list(warnings)   # frontend notes, one line each
        self.output_rank = output_rank   # the output's rank in the framework

    def copy(self):
        return Graph([n.copy() for n in self.nodes], self.input, self.output,
                     self.warnings, self.output_rank)

    def node(self, name):
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(name)

    def by_name(self):
        return {n.name: n for n in self.nodes}

    def consumers(self, name):
        """Nodes reading ``name``, in order (once each)."""
        return [n for n in self.nodes if name in n.inputs]

    def uses(self, name):
        """How many times ``name`` is read, counting the network output."""
        count = sum(n.inputs.count(name) for n in self.nodes)
        return count + (1 if name == self.output else 0)

    def replace_uses(self, old, new):
        for n in self.nodes:
            n.inputs = [new if i == old else i for i in n.inputs]
        if self.output == old:
            self.output = new

    def remove(self, name):
        self.nodes = [n for n in self.nodes if n.name != name]

    def bypass(self, node):
        """Drop a one-input node, letting its readers read its input."""
        self.replace_uses(node.name, node.inputs[0])
        self.remove(node.name)

    def insert_after(self, anchor, node):
        i = next(k for k, n in enumerate(self.nodes) if n.name == anchor)
        self.nodes.insert(i + 1, node)

    def unique_name(self, base):
        names = {n.name for n in self.nodes}
        if base not in names:
            return base
        k = 1
        while f"{base}_{k}" in names:
            k += 1
        return f"{base}_{k}"

    def __repr__(self):
        lines = [f"Graph(input={self.input}, output={self.output})"]
        lines += [f"  {n.name}: {n.op}{tuple(n.inputs)} -> {n.shape}"
                  for n in self.nodes]
        return "\n".join(lines)
