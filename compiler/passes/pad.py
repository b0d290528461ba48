"""Fold an explicit Pad into the convolutions that read it.

A symmetric pad before a VALID conv is Caffe-style padding (padStyle 2);
a pad equal to what SAME would add becomes SAME. Anything else stays and
the writer refuses it (Error 5): padded zeros are not what max pooling
ignores, so pools never absorb a Pad.
"""
from ..shapes import out_size, pad_before


def _fold_into(reader, pads, in_hw):
    (t, b), (l, r) = pads
    if reader.op not in ("conv", "depthwise") or reader.attrs[
            "padding"] != "VALID":
        return False
    if t == b and l == r:
        reader.attrs.update(padding="EXPLICIT", pads=(t, l))
        return True
    k, s = reader.attrs["weights"].shape[:2], reader.attrs["stride"]
    for axis, (before, after) in enumerate(pads):
        size = in_hw[axis]
        total = (out_size(size, k[axis], s[axis], "SAME") - 1) * s[axis] \
            + k[axis] - size
        if before != pad_before(size, k[axis], s[axis], "SAME") or \
                before + after != max(total, 0):
            return False
    reader.attrs["padding"] = "SAME"
    return True


def fold_pad(graph):
    graph = graph.copy()
    for pad in [n for n in graph.nodes if n.op == "pad"]:
        readers = graph.consumers(pad.name)
        in_hw = graph.node(pad.inputs[0]).shape[1:3]
        if pad.name == graph.output or not readers:
            continue
        trial = [r.copy() for r in readers]
        if all(_fold_into(r, pad.attrs["pads"], in_hw) for r in trial):
            for r, t in zip(readers, trial):
                r.attrs = t.attrs
            graph.bypass(pad)
    return graph
