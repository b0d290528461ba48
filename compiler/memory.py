"""Where every tensor lives: the network input, the output, or a work buffer.

Work buffers share one scratch area. Each keeps a guard band of
ncsformat.guard_band(W, C) zero bytes before and after its tensor. The
placement obeys the two rules of the spec's "Memory" section:
  1. a buffer's guarded span never overlaps the guarded span of a buffer
     whose live range (first write .. last read, inclusive, in stage order)
     meets its own: nothing still needed is clobbered and no stage works in
     place;
  2. guard bands and tensor bytes never share a byte, across all buffers and
     all time: tensors may reuse old tensor bytes and guards old guard bytes,
     never the other way round, so every guard band stays zero.
Placement is first fit in order of first write, which is also the order of
the buffer indices 4, 5, ...

A concat is not a buffer of its own when it is an input of an outer concat:
``place_concats`` has made every concat input a value with one home, so a
value's location is its root buffer plus 2 bytes per channel before it.
A ``slice`` left by ``place_slices`` is a view the same way: its source's
location plus 2 bytes per channel skipped, with the source's strides.
"""
from dataclasses import dataclass

import ncsformat as nf

from .errors import RESOURCES, fail

PLACE_ALIGN = nf.DATA_ALIGN


@dataclass
class Location:
    """(index, pointer) of a value and the strides of the buffer it is in."""
    index: int
    pointer: int
    stride_x: int
    stride_y: int


@dataclass
class Buffer:
    root: str
    index: int
    width: int
    height: int
    channels: int
    first: int          # first stage (file position) writing it
    last: int           # last stage reading or writing it
    offset: int = 0     # start of the leading guard band in the scratch area

    @property
    def guard(self):
        return nf.guard_band(self.width, self.channels)

    @property
    def size(self):
        return 2 * self.width * self.height * self.channels

    @property
    def pointer(self):
        return self.offset + self.guard

    @property
    def end(self):
        return self.offset + 2 * self.guard + self.size


@dataclass
class MemoryPlan:
    locations: dict     # value name -> Location
    buffers: list       # work buffers in index order
    scratch_bytes: int


def stage_nodes(graph):
    """Nodes that become stages, in file order."""
    return [n for n in graph.nodes if n.op not in ("input", "concat",
                                                   "slice")]


def _homes(graph):
    """value -> (container, channel offset) for every concat input, and for
    every channel slice read as a view (its source holds it)."""
    home = {}
    for n in graph.nodes:
        if n.op == "slice":
            home[n.name] = (n.inputs[0], n.attrs["first"])
        elif n.op == "concat":
            offset = 0
            for v in n.inputs:
                home[v] = (n.name, offset)
                offset += graph.node(v).shape[3]
    return home


def _root(home, name):
    """(root value, channel offset of ``name`` inside the root)."""
    offset = 0
    while name in home:
        name, extra = home[name]
        offset += extra
    return name, offset


def _live_ranges(graph, home):
    """root -> [first write, last use] over stage positions."""
    ranges = {}
    for pos, n in enumerate(stage_nodes(graph)):
        touched = [n.name] + list(n.inputs)
        for v in touched:
            root = _root(home, v)[0]
            lo, hi = ranges.get(root, (pos, pos))
            ranges[root] = (min(lo, pos), max(hi, pos))
    return ranges


def _overlaps(a_lo, a_hi, b_lo, b_hi):
    return a_lo < b_hi and b_lo < a_hi


def _constraints(buf, other):
    """(lo, hi, part_lo, part_hi): bytes [lo, hi) that the part of ``buf``
    between part_lo and part_hi (relative to its offset) must avoid."""
    g, t = buf.guard, buf.size
    if buf.first <= other.last and other.first <= buf.last:
        return [(other.offset, other.end, 0, 2 * g + t)]
    tlo = other.pointer
    thi = tlo + other.size
    return [(other.offset, tlo, g, g + t), (thi, other.end, g, g + t),
            (tlo, thi, 0, g), (tlo, thi, g + t, 2 * g + t)]


def _place(buf, placed):
    """Lowest aligned offset satisfying both rules against placed buffers."""
    cons = [c for other in placed for c in _constraints(buf, other)]
    offset, moved = 0, True
    while moved:
        moved = False
        for lo, hi, a, b in cons:
            if _overlaps(offset + a, offset + b, lo, hi):
                offset = nf.align(hi - a, PLACE_ALIGN)
                moved = True
    return offset


def plan_memory(graph):
    """Locations for all values; Error 35 if the scratch area passes 100 MiB."""
    home = _homes(graph)
    ranges = _live_ranges(graph, home)
    out_root = _root(home, graph.output)[0]
    buffers, by_root = [], {}
    roots = sorted(ranges, key=lambda r: (ranges[r][0], _order(graph, r)))
    for root in roots:
        if root in (graph.input, out_root):
            continue
        _, h, w, c = graph.node(root).shape
        buf = Buffer(root, nf.Region.WORK + len(buffers), w, h, c,
                     *ranges[root])
        buf.offset = _place(buf, buffers)
        buffers.append(buf)
        by_root[root] = buf
    scratch = max((b.end for b in buffers), default=0)
    if scratch > nf.MAX_SCRATCH:
        fail(RESOURCES, f" (scratch area {scratch} bytes > 100 MiB)")
    locations = {}
    for n in graph.nodes:
        root, channel = _root(home, n.name)
        _, h, w, c = graph.node(root).shape
        if root in by_root:
            index, base = by_root[root].index, by_root[root].pointer
        elif root in (graph.input, out_root):
            index = nf.Region.INPUT if root == graph.input else \
                nf.Region.OUTPUT
            base = 0
        else:
            continue                # a value nothing reads
        locations[n.name] = Location(int(index), base + 2 * channel, 2 * c,
                                     2 * c * w)
    return MemoryPlan(locations, buffers, scratch)


def _order(graph, name):
    return next(i for i, n in enumerate(graph.nodes) if n.name == name)
