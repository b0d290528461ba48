"""Helpers shared by the passes."""

# Ops that become a stage with weights and a bias operand; a per-channel
# affine op after them folds into those weights.
WEIGHTED = ("conv", "depthwise", "fc", "deconv")
ACTIVATIONS = ("relu", "relu_x", "sigmoid", "tanh", "elu", "leaky_relu")


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


def absorb(graph, node, into):
    """``into`` now computes ``node``: readers of ``node`` read ``into``."""
    graph.replace_uses(node.name, into.name)
    graph.remove(node.name)


def output_channel_factor(src, vec):
    """Broadcast a per-output-channel vector over a weights tensor."""
    if src.op == "depthwise":
        kh, kw, cin, mult = src.attrs["weights"].shape
        return vec.reshape(cin, mult)
    return vec
