"""Decide which tensors are written straight into a concatenation buffer.

The format has no concat stage: the producers of a concat's inputs write
their channel slice of one buffer. That works for a value only when
  - a stage produces it (not the network input), or it is itself a concat
    (nested concats then resolve into the outer buffer),
  - it has one home: it is an input of exactly one concat, once,
  - the stage that writes it does not read the same buffer (no in-place),
and when the stages that need a compact tensor (eltwise operands, fully
connected, reshape) do not read it as a slice.
Where one of these fails, this pass inserts an explicit ``copy`` node (the
writer emits a 1x1 max pool with stride 1, an exact copy in fp16). The zoo
nets never need one.
"""
from .. import ir

COMPACT_READERS = ("add", "mul", "max", "fc", "reshape")


def _copy_node(graph, src, anchor_before):
    """Insert ``copy(src)`` just before ``anchor_before`` and return it."""
    shape = graph.node(src).shape
    node = ir.Node(graph.unique_name(f"{src}/copy"), "copy", [src], shape)
    i = next(k for k, n in enumerate(graph.nodes) if n.name == anchor_before)
    graph.nodes.insert(i, node)
    return node


def _homes(graph):
    """value -> concat it is an input of (values used once as members)."""
    home = {}
    for n in graph.nodes:
        if n.op == "concat":
            for v in n.inputs:
                home[v] = n.name
    return home


def _root(home, name):
    while name in home:
        name = home[name]
    return name


def _unique_members(graph):
    """Copy concat inputs that are the network input or already housed."""
    taken = set()
    for c in [n for n in graph.nodes if n.op == "concat"]:
        for j, v in enumerate(c.inputs):
            if v == graph.input or v in taken:
                c.inputs[j] = _copy_node(graph, v, c.name).name
            taken.add(c.inputs[j])


def _compact_reads(graph):
    home = _homes(graph)
    for r in [n for n in graph.nodes if n.op in COMPACT_READERS]:
        for j, v in enumerate(r.inputs):
            if v in home:
                r.inputs[j] = _copy_node(graph, v, r.name).name


def _source(graph, name):
    """The value a chain of channel-slice views reads."""
    node = graph.node(name)
    while node.op == "slice":
        node = graph.node(node.inputs[0])
    return node.name


def _in_place_conflict(graph):
    """A stage that reads the buffer it writes; None if there is none."""
    home = _homes(graph)
    for n in graph.nodes:
        if n.op in ("input", "concat", "slice") or n.name not in home:
            continue
        root = _root(home, n.name)
        for v in n.inputs:
            if _root(home, _source(graph, v)) == root:
                return n, v
    return None


def _demote(graph, member):
    """Stop ``member`` writing into its concat: a copy of it goes there."""
    c = next(n for n in graph.nodes if n.op == "concat"
             and member in n.inputs)
    j = c.inputs.index(member)
    c.inputs[j] = _copy_node(graph, member, c.name).name


def place_concats(graph):
    graph = graph.copy()
    _unique_members(graph)
    for _ in range(len(graph.nodes) + 1):
        conflict = _in_place_conflict(graph)
        if conflict is None:
            break
        stage, value = conflict
        _demote(graph, value if stage.op == "copy" else stage.name)
    _compact_reads(graph)
    return graph
