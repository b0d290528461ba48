"""Fuse an activation into the postOp of the stage that produces its input."""
from .util import ACTIVATIONS, WEIGHTED, absorb, sole_producer

# Stage kinds whose postOp is applied by the spec (after bias).
HOSTS = WEIGHTED + ("scale", "add", "mul", "max")
PARAM = {"relu_x": "cap", "elu": "alpha", "leaky_relu": "slope"}


def fuse_activations(graph):
    graph = graph.copy()
    for act in [n for n in graph.nodes if n.op in ACTIVATIONS]:
        src = sole_producer(graph, act, HOSTS)
        if src is None:
            continue
        src.attrs["post"] = act.op
        if act.op in PARAM:
            src.attrs["post_param"] = float(act.attrs[PARAM[act.op]])
        absorb(graph, act, src)
    return graph
