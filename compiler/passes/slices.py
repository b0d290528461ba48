"""Channel slices: a view into the producer's buffer, or an op 19 copy.

A ``slice`` node (channels first .. first+C of its input) costs no stage
when its readers can read the producer's buffer at pointer + 2*first with
the producer's strides (the format's "consumers of a single producer's
slice"). It must be a stage, ``channel_copy`` (NCSDK's op 19), when it is
the network output, a concat member (someone must write it there), or read
by a stage that needs a compact tensor: fully connected and reshape read
consecutive values, and an eltwise op's two operands share one set of
strides (two views of one tensor do).
"""
COMPACT = ("fc", "reshape", "concat", "copy", "crop")
ELTWISE = ("add", "mul", "max")


def _eltwise_ok(graph, reader, views):
    """Every operand a view of one source: same strides on both sides."""
    ins = [graph.node(v) for v in reader.inputs]
    return all(n.name in views for n in ins) and len(
        {n.inputs[0] for n in ins}) == 1


def _view_ok(graph, node, views):
    if node.name == graph.output:
        return False
    for r in graph.consumers(node.name):
        if r.op in COMPACT:
            return False
        if r.op in ELTWISE and not _eltwise_ok(graph, r, views):
            return False
    return True


def place_slices(graph):
    graph = graph.copy()
    views = {n.name for n in graph.nodes if n.op == "slice"}
    changed = True
    while changed:
        changed = False
        for name in sorted(views):
            if not _view_ok(graph, graph.node(name), views):
                views.discard(name)
                changed = True
    for n in graph.nodes:
        if n.op == "slice" and n.name not in views:
            n.op = "channel_copy"
    return graph
