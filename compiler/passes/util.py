"""Helpers shared by the passes."""

# Ops that become a stage with weights and a bias operand; a per-channel
# affine op after them folds into those weights.
WEIGHTED = ("conv", "depthwise", "fc", "deconv")
ACTIVATIONS = ("relu", "relu_x", "sigmoid", "tanh", "elu", "leaky_relu")
# Attr of TensorFlow nodes: the stage a node is fused into takes its name.
RENAMES = "renames"


def sole_producer(graph, node, ops):
    """The node's input if it is one of ``ops``, read only by ``node`` and
    not yet carrying an activation; else None."""
    if not node.inputs:
        return None
    src = graph.node(node.inputs[0])
    if src.op not in ops or src.attrs.get("post"):
        return None
    if graph.uses(src.name) != 1:
        return None
    return src


def rename(graph, node, name):
    """Give ``node`` a new (unused) name; its readers follow."""
    old, node.name = node.name, name
    graph.replace_uses(old, name)


def absorb(graph, node, into):
    """``into`` now computes ``node``: readers of ``node`` read ``into``.

    A TensorFlow node passes its name on (NCSDK named a TF stage after the
    last node fused into it: conv1/Relu); a Caffe stage keeps its layer name.
    """
    graph.remove(node.name)
    if node.attrs.get(RENAMES) and into.op != "input":
        rename(graph, into, node.name)
        into.attrs[RENAMES] = True
    else:
        graph.replace_uses(node.name, into.name)


def output_channel_factor(src, vec):
    """Broadcast a per-output-channel vector over a weights tensor."""
    if src.op == "depthwise":
        kh, kw, cin, mult = src.attrs["weights"].shape
        return vec.reshape(cin, mult)
    return vec
