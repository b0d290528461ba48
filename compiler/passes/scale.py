"""Fold per-channel constant multiplies and adds (``scale`` nodes) away.

Backward, into the stage before: Inception-ResNet's residual
``net + scale * up`` loses its Mul since scale*(W x + b) = (scale W) x +
scale b; two scales in a row become one. Forward, into the convolutions or
fully connected layers after it (preprocessing ``x / 255 - 0.5``):
W (s x + b) = (W s) x + W b, exact only where every window lies inside the
input, since zero padding pads zeros, not ``b``: a scale with a bias folds
forward into VALID convolutions and fully connected layers, a pure
multiply into any (s * 0 = 0).
"""
import numpy as np

from ..shapes import out_size
from .util import WEIGHTED, absorb, output_channel_factor, sole_producer


def _into_weighted(node, src):
    s = node.attrs["scale"].astype(np.float32)
    src.attrs["weights"] = (src.attrs["weights"]
                            * output_channel_factor(src, s)).astype(np.float32)
    bias = src.attrs.get("bias")
    extra = node.attrs.get("bias")
    if bias is not None or extra is not None:
        bias = np.zeros_like(s) if bias is None else bias * s
        src.attrs["bias"] = (bias + (0 if extra is None else extra)
                             ).astype(np.float32)


def _into_scale(node, src):
    """s2 (s1 x + b1) + b2 = (s1 s2) x + (s2 b1 + b2)."""
    s1, s2 = src.attrs["scale"], node.attrs["scale"]
    b1, b2 = src.attrs.get("bias"), node.attrs.get("bias")
    src.attrs["scale"] = (s1 * s2).astype(np.float32)
    if b1 is not None or b2 is not None:
        b = (0 if b1 is None else b1 * s2) + (0 if b2 is None else b2)
        src.attrs["bias"] = np.broadcast_to(b, s1.shape).astype(np.float32)


def fold_scale(graph):
    graph = graph.copy()
    for node in [n for n in graph.nodes if n.op == "scale"]:
        src = sole_producer(graph, node, WEIGHTED + ("scale",))
        if src is None:
            continue
        if src.op == "scale":
            _into_scale(node, src)
        else:
            _into_weighted(node, src)
        absorb(graph, node, src)
    return graph


# ------------------------------------------------------------ forward

def _window_inside(reader, in_hw):
    """True if no window of the reader touches padding (VALID, zero pads,
    or SAME where the sizes need none, as for 1x1 stride 1)."""
    a = reader.attrs
    if a["padding"] == "SAME":
        k, st = a["weights"].shape[:2], a["stride"]
        return all((out_size(n, k[i], st[i], "SAME") - 1) * st[i] + k[i]
                   <= n for i, n in enumerate(in_hw))
    return a["padding"] == "VALID" or tuple(a["pads"]) == (0, 0)


def _forward_ok(reader, node):
    if reader.inputs[0] != node.name or node.name in reader.inputs[1:]:
        return False
    if reader.op == "fc":
        return True
    if reader.op not in ("conv", "depthwise"):
        return False
    return node.attrs.get("bias") is None or _window_inside(
        reader, node.shape[1:3])


def _input_factor(reader, vec, channels):
    """A per-input-channel vector broadcast over the reader's weights."""
    w = reader.attrs["weights"]
    if reader.op == "fc":
        return np.tile(vec, w.shape[0] // channels)[:, None]
    return vec[None, None, :, None]       # HWIO and (kh, kw, cin, mult)


def _fold_forward(node, reader):
    c = node.shape[3]
    s = node.attrs["scale"].astype(np.float32)
    b = node.attrs.get("bias")
    w = reader.attrs["weights"]
    if b is not None:
        bw = w * _input_factor(reader, b.astype(np.float32), c)
        if reader.op == "fc":
            extra = bw.sum(axis=0)
        elif reader.op == "depthwise":
            extra = bw.sum(axis=(0, 1)).reshape(-1)
        else:
            extra = bw.sum(axis=(0, 1, 2))
        old = reader.attrs.get("bias")
        reader.attrs["bias"] = (extra if old is None else old + extra
                                ).astype(np.float32)
    reader.attrs["weights"] = (w * _input_factor(reader, s, c)).astype(
        np.float32)


def fold_scale_forward(graph):
    """A scale read only by convolutions / fully connected layers it folds
    into exactly disappears into them."""
    graph = graph.copy()
    for node in [n for n in graph.nodes if n.op == "scale"]:
        readers = graph.consumers(node.name)
        if node.name == graph.output or not readers or node.attrs.get(
                "post") or not all(_forward_ok(r, node) for r in readers):
            continue
        for r in readers:
            _fold_forward(node, r)
        graph.bypass(node)
    return graph
