"""Drop nodes that do not change the bytes of a tensor, and dead nodes."""
from .util import RENAMES, rename


def _layout_kept(graph, node):
    """A reshape keeps the layout if the NHWC shape is unchanged, or if only
    fully connected layers read it (they read the input as one flat vector)."""
    if node.shape == graph.node(node.inputs[0]).shape:
        return True
    readers = graph.consumers(node.name)
    return (node.name != graph.output and readers
            and all(r.op == "fc" and r.inputs[0] == node.name
                    for r in readers))


def _reshapes_the_input(graph, node):
    """A reshape that is the network input's only reader: the input can take
    its shape, as the bytes LoadTensor sends are the same (an MLP-style
    [None, 784] input reshaped to 28x28x1 is read as 28x28x1, as NCSDK did)."""
    src = graph.node(node.inputs[0])
    return src.op == "input" and graph.consumers(src.name) == [node] \
        and node.name != graph.output


def _bypass(graph, node):
    """Drop ``node``. A TF Identity that is the network output passes its
    name to the stage before it (the output stage keeps the output node's
    name); one inside the net names nothing (slim's Dropout/Identity)."""
    src = graph.node(node.inputs[0])
    if node.attrs.get(RENAMES) and node.name == graph.output \
            and src.op != "input" and graph.uses(src.name) == 1:
        graph.remove(node.name)
        rename(graph, src, node.name)
        src.attrs[RENAMES] = True
    else:
        graph.bypass(node)


def remove_dead(graph):
    """Nodes whose value nothing reads (an unused Split output, the Relu a
    Minimum(Relu(x), 6) replaced) go."""
    graph = graph.copy()
    for node in reversed(list(graph.nodes)):
        if node.op != "input" and graph.uses(node.name) == 0:
            graph.remove(node.name)
    return graph


def remove_identities(graph):
    """Identity, one-input concat, and layout-keeping Reshape/Squeeze go."""
    graph = remove_dead(graph)
    for node in list(graph.nodes):
        if node.op == "identity" or (node.op == "concat"
                                     and len(node.inputs) == 1):
            _bypass(graph, node)
        elif node.op == "reshape" and _layout_kept(graph, node):
            graph.bypass(node)          # a layout op: names nothing
        elif node.op == "reshape" and _reshapes_the_input(graph, node):
            graph.node(node.inputs[0]).shape = node.shape
            graph.bypass(node)
    return graph


__all__ = ["remove_identities", "remove_dead"]
