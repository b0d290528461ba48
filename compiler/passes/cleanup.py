"""Drop nodes that do not change the bytes of a tensor."""


def _layout_kept(graph, node):
    """A reshape keeps the layout if the NHWC shape is unchanged, or if only
    fully connected layers read it (they read the input as one flat vector)."""
    if node.shape == graph.node(node.inputs[0]).shape:
        return True
    readers = graph.consumers(node.name)
    return (node.name != graph.output and readers
            and all(r.op == "fc" and r.inputs[0] == node.name
                    for r in readers))


def remove_identities(graph):
    """Identity, one-input concat, and layout-keeping Reshape/Squeeze go."""
    graph = graph.copy()
    for node in list(graph.nodes):
        if node.op == "identity" or (node.op == "concat"
                                     and len(node.inputs) == 1):
            graph.bypass(node)
        elif node.op == "reshape" and _layout_kept(graph, node):
            graph.bypass(node)
    return graph


__all__ = ["remove_identities"]
