"""Runs a validated Graph's stages in file order over real memory.

Regions (by operand index): 1 the input bytes, 2 the output (sized from the
last stage), 3 the data section, >= 4 one zeroed scratch area shared by all
work buffers. Each stage reads its operands as strided fp16 views, computes
in float32 (ops.KERNELS), adds bias, applies its postOp, rounds to fp16 and
writes through its output strides, so concatenation by layout just works.
"""
import numpy as np

from ncsformat import Op, Region

from . import Status
from .ops import KERNELS
from .ops.activation import ACTIVATIONS
from .ops.fp16 import to_float16_bits, to_float32
from .reader import GraphFileError


# Ops whose kernel takes the fp16 view and converts only what it reads.
VIEW_INPUT = frozenset({Op.CROP})


class GuardBandError(AssertionError):
    """Debug mode: a stage wrote into some work buffer's guard band."""


def view(region, access, dtype="<f2"):
    """The fp16 (H, W, C) view of an access; bounds were checked at load."""
    (w, h, c), (sx, sy, sz) = access.dims, access.strides
    return np.ndarray((h, w, c), dtype, buffer=region, offset=access.pointer,
                      strides=(sy, sx, sz))


class StageContext:
    """What a kernel may read besides its input: constants, second operands."""

    def __init__(self, executor, index):
        self._ex = executor
        self._i = index
        self._acc = {a.role: a for a in executor.graph.accesses[index]}
        self.crop_offsets = executor.graph.crop_offsets.get(index)

    def tensor(self, role):
        a = self._acc[role]
        return to_float32(view(self._ex.region(a.index), a))

    def const(self, role, shape=None):
        """The block at ``role`` as float32, cached when it is in the file."""
        a = self._acc[role]
        key = (self._i, role)
        cached = self._ex.cache.get(key)
        if cached is not None:
            return cached
        arr = to_float32(view(self._ex.region(a.index), a)).reshape(-1)
        if shape is not None:
            arr = np.ascontiguousarray(shape(arr))
        if a.index == Region.DATA:
            self._ex.cache[key] = arr
        return arr


class Executor:
    """Runs one graph; reusable for many inferences (constants are cached)."""

    def __init__(self, graph, debug=False):
        self.graph = graph
        self.debug = debug
        self.cache = {}
        self.regions = {}
        self.contexts = [StageContext(self, i) for i in range(len(graph.stages))]
        self.buffers = _work_buffers(graph) if debug else {}

    def run(self, tensor_bytes):
        """One inference: the input bytes in, the output fp16 values out."""
        g = self.graph
        if len(tensor_bytes) != g.input_bytes:
            raise GraphFileError(
                f"input tensor of {len(tensor_bytes)} bytes, the graph "
                f"expects {g.input_bytes}", Status.INVALID_PARAMETERS)
        scratch = np.zeros(max(g.scratch_bytes, 2), np.uint8)
        self.regions = {Region.INPUT: np.frombuffer(bytes(tensor_bytes),
                                                    np.uint8),
                        Region.OUTPUT: np.zeros(g.output_bytes, np.uint8),
                        Region.DATA: np.frombuffer(g.data, np.uint8)}
        self.regions[Region.WORK] = scratch
        written = np.zeros_like(scratch) if self.debug else None
        for i, st in enumerate(g.stages):
            self._stage(i, st)
            if self.debug:
                self._check_guards(i, st, written)
        return self.regions[Region.OUTPUT].view("<f2").copy()

    def region(self, index):
        return self.regions[min(index, Region.WORK)]

    def _stage(self, i, st):
        ctx = self.contexts[i]
        acc = {a.role: a for a in self.graph.accesses[i]}
        x = view(self.region(acc["data"].index), acc["data"])
        with np.errstate(all="ignore"):
            if st.op not in VIEW_INPUT:
                x = to_float32(x)
            y = KERNELS[st.op](st, x, ctx)
            if "bias" in acc and st.op != Op.LRN:
                y = np.add(y, ctx.const("bias"), dtype=np.float32)
            y = ACTIVATIONS[st.post_op](np.asarray(y, np.float32),
                                        st.post_param)
            out = view(self.region(acc["output"].index), acc["output"], "<u2")
            out[...] = to_float16_bits(y).reshape(out.shape)

    def _check_guards(self, i, st, written):
        """Marks the bytes stage i wrote; no guard band may hold any of them."""
        out = next(a for a in self.graph.accesses[i] if a.role == "output")
        if out.index >= Region.WORK:
            view(written, out, "<u2")[...] = 0xFFFF
        for index, (lo, hi, guard) in self.buffers.items():
            spans = ((max(lo - guard, 0), lo), (hi, hi + guard))
            if lo < guard:
                raise GuardBandError(
                    f"buffer {index}: leading guard band of {guard} bytes "
                    f"does not fit before pointer {lo}")
            for a, b in spans:
                if written[a:b].any():
                    raise GuardBandError(
                        f"after stage {i} ({st.name!r}): bytes in the guard "
                        f"band [{a}, {b}) of work buffer {index} were written")


def _work_buffers(graph):
    """index -> (start, end, guard) of every work buffer, from all accesses."""
    bufs = {}
    for acc in graph.accesses:
        for a in acc:
            if a.index >= Region.WORK:
                lo, hi, g = bufs.get(a.index, (a.pointer, a.end, a.guard))
                bufs[a.index] = (min(lo, a.pointer), max(hi, a.end),
                                 max(g, a.guard))
    return bufs
