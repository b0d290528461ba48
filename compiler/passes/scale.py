"""Fold a per-channel constant multiply into the weights of the stage before.

This is how Inception-ResNet's residual ``net + scale * up`` loses its Mul:
``up`` is a conv with bias, so scale*(W x + b) = (scale W) x + scale b.
"""
import numpy as np

from .util import WEIGHTED, absorb, output_channel_factor, sole_producer


def fold_scale(graph):
    graph = graph.copy()
    for node in [n for n in graph.nodes if n.op == "scale"]:
        src = sole_producer(graph, node, WEIGHTED)
        if src is None:
            continue
        s = node.attrs["scale"].astype(np.float32)
        src.attrs["weights"] = (src.attrs["weights"]
                                * output_channel_factor(src, s)).astype(
                                    np.float32)
        bias = src.attrs.get("bias")
        extra = node.attrs.get("bias")
        if bias is not None or extra is not None:
            bias = np.zeros_like(s) if bias is None else bias * s
            src.attrs["bias"] = (bias + (0 if extra is None else extra)
                                 ).astype(np.float32)
        absorb(graph, node, src)
    return graph
