"""Fuse a per-channel constant add into the bias of the stage before it."""
import numpy as np

from .util import RENAMES, WEIGHTED, absorb, sole_producer


def fuse_bias(graph):
    """bias_add after conv/depthwise/fc/scale adds to that stage's bias; a
    bias_add with nothing to join becomes a scale node with unit scale."""
    graph = graph.copy()
    for node in [n for n in graph.nodes if n.op == "bias_add"]:
        src = sole_producer(graph, node, WEIGHTED + ("scale",))
        if src is None:
            node.op = "scale"
            node.attrs = {"scale": np.ones_like(node.attrs["bias"]),
                          "bias": node.attrs["bias"],
                          RENAMES: node.attrs.get(RENAMES, False)}
            continue
        old = src.attrs.get("bias")
        add = node.attrs["bias"].astype(np.float32)
        src.attrs["bias"] = add if old is None else (old + add).astype(
            np.float32)
        absorb(graph, node, src)
    return graph
