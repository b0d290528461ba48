"""Fold inference batch norm into the convolution before it.

y = gamma * (x - mean) / sqrt(var + eps) + beta = s*x + (beta - s*mean) with
s = gamma / sqrt(var + eps): multiply the conv's output channels by s and
fix the bias. Inception's BN has no gamma (scale=False); TF then feeds ones,
so the same formula holds. A batch norm with no conv to fold into becomes a
per-channel ``scale`` node (stage type 15).
"""
import numpy as np

from .util import RENAMES, absorb, output_channel_factor, sole_producer


def bn_affine(bn):
    """(scale, shift) of an inference batch norm, float32."""
    a = bn.attrs
    gamma = a.get("gamma")
    if gamma is None:
        gamma = np.ones_like(a["mean"])
    beta = a.get("beta")
    if beta is None:
        beta = np.zeros_like(a["mean"])
    s = gamma / np.sqrt(a["variance"] + a["epsilon"])
    return s.astype(np.float32), (beta - s * a["mean"]).astype(np.float32)


def fold_batchnorm(graph):
    graph = graph.copy()
    for bn in [n for n in graph.nodes if n.op == "batchnorm"]:
        s, shift = bn_affine(bn)
        src = sole_producer(graph, bn, ("conv", "depthwise", "deconv"))
        if src is None:
            bn.op = "scale"
            bn.attrs = {"scale": s, "bias": shift,
                        RENAMES: bn.attrs.get(RENAMES, False)}
            continue
        w = src.attrs["weights"]
        src.attrs["weights"] = (w * output_channel_factor(src, s)).astype(
            np.float32)
        old = src.attrs.get("bias")
        old = np.zeros_like(s) if old is None else old
        src.attrs["bias"] = (old * s + shift).astype(np.float32)
        absorb(graph, bn, src)
    return graph
