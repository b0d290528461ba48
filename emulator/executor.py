"""Runs a validated Graph's stages in file order over real memory.

Regions (by operand index): 1 the input tensor, 2 the output (sized from the
last stage), 3 the data section, >= 4 one zeroed scratch area shared by all
work buffers. Memory the stages write (input, output, scratch) is kept as
one float32 slot per fp16 value, each holding exactly an fp16 value, so a
byte pointer p and byte strides s become slot p/2 and strides s/2 (all are
even; the reader checks). That makes reads free and leaves one rounding per
stage, bit-exact with storing fp16. The data section stays as file bytes.

Each stage reads its operands as strided views, computes in float32
(ops.KERNELS), adds bias, applies its postOp, rounds to fp16 and writes
through its output strides, so concatenation by layout just works.
"""
import numpy as np

from ncsformat import Op, Region

from . import Status
from .ops import KERNELS, blas
from .ops.finish import FINISHED, c_end_args, finish
from .ops.fp16 import to_float16_bits, to_float32
from .reader import GraphFileError


class GuardBandError(AssertionError):
    """Debug mode: a stage wrote into some work buffer's guard band."""


def view(region, access):
    """The (H, W, C) view of an access; bounds were checked at load.

    ``region`` is either file bytes (uint8: an fp16 view) or one slot per
    fp16 value (float32 memory, or the uint16 debug mask of written slots).
    """
    (w, h, c), (sx, sy, sz) = access.dims, access.strides
    if region.dtype == np.uint8:
        return np.ndarray((h, w, c), "<f2", buffer=region,
                          offset=access.pointer, strides=(sy, sx, sz))
    k = region.itemsize // 2
    return np.ndarray((h, w, c), region.dtype, buffer=region,
                      offset=k * access.pointer,
                      strides=(k * sy, k * sx, k * sz))


def read(region, access):
    """float32 values of an access (a view when memory is float32 slots)."""
    v = view(region, access)
    return to_float32(v) if v.dtype == np.float16 else v


class StageContext:
    """What a kernel may read besides its input: constants, second operands."""

    def __init__(self, executor, index):
        self._ex = executor
        self._i = index
        self._acc = {a.role: a for a in executor.graph.accesses[index]}
        self.crop_offsets = executor.graph.crop_offsets.get(index)
        self.out = None     # set per run: where the result may go directly
        self.bias = None    # and the stage's bias, if any

    def end_args(self, out):
        """(bias, mode, lo, hi) for a C kernel to apply the stage end to
        its own rows while they are in cache (then it returns FINISHED),
        if it writes ``out`` and that is the stage's output memory; else
        None, and the executor finishes after the kernel."""
        if out is None or out is not self.out:
            return None
        st = self._ex.graph.stages[self._i]
        return c_end_args(self.bias, out.shape[2], st.post_op,
                          st.post_param)

    def tensor(self, role):
        a = self._acc[role]
        return read(self._ex.region(a.index), a)

    def const(self, role, shape=None, form=None):
        """The block at ``role`` as float32, cached when it is in the file;
        ``shape`` rearranges it once, ``form`` names that arrangement when
        a kernel has more than one (part of the cache key)."""
        a = self._acc[role]
        key = (self._i, role, form)
        cached = self._ex.cache.get(key)
        if cached is not None:
            return cached
        arr = np.array(read(self._ex.region(a.index), a), np.float32)
        arr = arr.reshape(-1)
        if shape is not None:
            arr = np.ascontiguousarray(shape(arr))
        if a.index == Region.DATA:
            self._ex.cache[key] = arr
        return arr

    def scratch(self, key, shape, fill):
        """A float32 array filled once and kept across runs and stages
        (padded inputs: only the interior changes, the border stays)."""
        buf = self._ex.cache.get(key)
        if buf is None:
            buf = self._ex.cache[key] = np.full(shape, fill, np.float32)
        return buf


class Executor:
    """Runs one graph; reusable for many inferences (constants are cached)."""

    def __init__(self, graph, debug=False):
        self.graph = graph
        self.debug = debug
        self.cache = {}
        self.regions = {Region.DATA: np.frombuffer(graph.data, np.uint8)}
        self.contexts = [StageContext(self, i) for i in range(len(graph.stages))]
        self.roles = [{a.role: a for a in acc} for acc in graph.accesses]
        self.buffers = _work_buffers(graph) if debug else {}
        self.debug_note = ""
        if any(lo < guard for lo, _, guard in self.buffers.values()):
            # NCSDK 1.x laid buffers out back to back from pointer 0: no
            # guard bands to check (ours always leave room for them)
            self.buffers = {}
            self.debug_note = ("debug: this file's work buffers leave no "
                               "room for guard bands (as NCSDK 1.x laid "
                               "them out): guard bands not checked")
        self._memory = None     # (output, scratch) slots, reused per run

    def region(self, index):
        return self.regions[min(index, Region.WORK)]

    def run(self, tensor_bytes):
        """One inference: the input bytes in, the output fp16 values out."""
        g = self.graph
        if len(tensor_bytes) != g.input_bytes:
            raise GraphFileError(
                f"input tensor of {len(tensor_bytes)} bytes, the graph "
                f"expects {g.input_bytes}", Status.INVALID_PARAMETERS)
        self.regions[Region.INPUT] = to_float32(
            np.frombuffer(bytes(tensor_bytes), "<f2"))
        slots = max((g.scratch_bytes + 1) // 2, 1)
        if self._memory is None:
            self._memory = (np.zeros(g.output_region_bytes // 2, np.float32),
                            np.zeros(slots, np.float32))
            self._stale = _read_before_written(g, slots)
        else:   # every run starts from zeroed memory, as a fresh one would
            self._memory[0].fill(0)
            for lo, hi in self._stale:
                self._memory[1][lo:hi] = 0
        self.regions[Region.OUTPUT], self.regions[Region.WORK] = self._memory
        written = np.zeros(slots, np.uint16) if self.debug else None
        with blas.threads(), np.errstate(all="ignore"):
            for i, st in enumerate(g.stages):
                self._stage(i, st)
                if self.debug:
                    self._check_guards(i, st, written)
        # GetResult returns the host's size; the region may be larger
        # (NCSDK's Caffe input stage writes the whole input there).
        out = self.regions[Region.OUTPUT][:g.output_count]
        return to_float16_bits(out).view(np.float16)

    def _stage(self, i, st):
        ctx, acc = self.contexts[i], self.roles[i]
        x = view(self.region(acc["data"].index), acc["data"])
        if x.dtype == np.float16:
            x = to_float32(x)
        out = view(self.region(acc["output"].index), acc["output"])
        bias = None
        if "bias" in acc and st.op != Op.LRN:
            bias = ctx.const("bias")
        ctx.out, ctx.bias = _direct(out, x), bias
        y = KERNELS[st.op](st, x, ctx)
        if y is FINISHED:
            return
        if not _owned(y, x):
            y = np.array(y, np.float32)     # bias and postOps work in place
        finish(y, out, bias, st.post_op, st.post_param)

    def _check_guards(self, i, st, written):
        """Marks the slots stage i wrote; no guard band may hold any of them."""
        out = next(a for a in self.graph.accesses[i] if a.role == "output")
        if out.index >= Region.WORK:
            view(written, out)[...] = 1
        for index, (lo, hi, guard) in self.buffers.items():
            for a, b in ((lo - guard, lo), (hi, hi + guard)):
                if written[a // 2:b // 2].any():
                    raise GuardBandError(
                        f"after stage {i} ({st.name!r}): bytes in the guard "
                        f"band [{a}, {b}) of work buffer {index} were written")


def _direct(out, x):
    """The output memory if a kernel may write its result straight there:
    dense (H, W, C) float32 slots that the input does not overlap."""
    if out.flags.c_contiguous and not np.may_share_memory(out, x):
        return out
    return None


def _read_before_written(graph, slots):
    """(start, stop) ranges of the work slots some stage reads before any
    stage writes them. Only these must be zeroed between runs: every other
    slot is either never written (stays zero) or written before it is read,
    every run (zeroing all was ~1 ms of a MobileNet inference)."""
    written = np.zeros(slots, np.uint16)
    stale = np.zeros(slots, np.uint16)
    for acc in graph.accesses:
        for a in acc:
            if a.index >= Region.WORK and not a.write:
                view(stale, a)[...] |= view(written, a) == 0
        for a in acc:
            if a.index >= Region.WORK and a.role == "output":
                view(written, a)[...] = 1
    edges = np.flatnonzero(np.diff(stale, prepend=0, append=0))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _owned(y, x):
    """True if y is a fresh float32 array a stage may overwrite."""
    return (isinstance(y, np.ndarray) and y.dtype == np.float32
            and not np.may_share_memory(y, x))


def _work_buffers(graph):
    """index -> (start, end, guard) in bytes of every work buffer."""
    bufs = {}
    for acc in graph.accesses:
        for a in acc:
            if a.index >= Region.WORK:
                lo, hi, g = bufs.get(a.index, (a.pointer, a.end, a.guard))
                bufs[a.index] = (min(lo, a.pointer), max(hi, a.end),
                                 max(g, a.guard))
    return bufs
