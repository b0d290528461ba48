"""Graph file -> validated Graph, refusing anything the executor can't run safely.

Every size is checked against the bytes that exist (file, data section,
input/output/scratch regions) before anything is allocated or viewed, so a
Graph that loads can be executed without reading or writing out of bounds.
Any defect raises GraphFileError with the mvnc Status the API reports.

Region sizes the file does not state are derived from it: the input tensor
is the buffer described by the first read of index 1 (H rows of strideY);
the output is outputDimX*outputDimY*outputStrideX/2 fp16 values of the last
stage (as the NCSDK host computes it); the scratch area ends after the
farthest byte any work access touches plus that buffer's guard band.
Beyond the spec's explicit rules the reader also requires fp16-aligned
pointers and strides, 64-aligned data-section pointers, strides that nest
as YXZ (no two values of a tensor share memory) and a bounded amount of
work per stage, so that no field can make the executor allocate or loop
without limit.
"""
from dataclasses import dataclass, field

import numpy as np

import ncsformat as nf
from ncsformat import Op, PadStyle, Region

from . import Status
from .ops.geometry import deconv_out, window, windows_overlap

# Work per stage above which a file is taken as absurd (VGG-16's largest
# layer is ~1.9e9 multiply-adds): keeps a fuzzed file from running for hours.
MAX_STAGE_MACS = 1 << 34
MAX_INPUT_VALUES = nf.MAX_OUTPUT_VALUES
KNOWN_OPS = frozenset(int(o) for o in Op)
POST_OPS = frozenset(int(o) for o in nf.POST_OPS)
WINDOW_OPS = frozenset({Op.CONV, Op.DEPTH_CONV, Op.DECONV, Op.MAX_POOL,
                        Op.AVG_POOL})
SAME_SHAPE_OPS = frozenset({Op.SOFTMAX, Op.RELU, Op.RELU_X, Op.BIAS, Op.PRELU,
                            Op.LRN, Op.SUM, Op.PROD, Op.MAX, Op.SCALE,
                            Op.SIGMOID, Op.TANH, Op.ELU, Op.LEAKY_RELU,
                            Op.NONE})
ELTWISE_OPS = frozenset({Op.SUM, Op.PROD, Op.MAX})
PAD_STYLES = frozenset(int(p) for p in PadStyle)


class GraphFileError(Exception):
    """A graph file the device refuses; ``status`` is the mvnc Status."""

    def __init__(self, message, status=Status.UNSUPPORTED_GRAPH_FILE):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Access:
    """One memory access of a stage: a strided tensor or a contiguous block."""
    role: str            # data, taps, bias, op_params, output
    index: int
    pointer: int
    dims: tuple          # (W, H, C)
    strides: tuple       # bytes (x, y, z)
    write: bool = False

    @property
    def span(self):
        """Bytes from pointer to one past the last byte touched."""
        (w, h, c), (sx, sy, sz) = self.dims, self.strides
        return (w - 1) * sx + (h - 1) * sy + (c - 1) * sz + 2

    @property
    def end(self):
        return self.pointer + self.span

    @property
    def guard(self):
        """Guard band of the buffer this access lives in (from its strides)."""
        sx, sy = self.strides[0], self.strides[1]
        if sx == 0:
            return 0
        return nf.guard_band(sy // sx, sx // 2)


def block(role, index, pointer, count):
    """A contiguous run of ``count`` fp16 values."""
    return Access(role, index, pointer, (1, 1, count), (2, 2, 2))


@dataclass
class Graph:
    """A validated graph file, ready for the executor."""
    header: nf.Header
    stages: list
    data: bytes                      # the data section
    accesses: list                   # per stage, its list of Access
    input_bytes: int                 # size LoadTensor must send
    output_bytes: int                # size of the result region
    scratch_bytes: int               # one work area, guard bands included
    crop_offsets: dict = field(default_factory=dict)

    @property
    def shaves(self):
        return self.header.last_shave + 1

    @property
    def output_count(self):
        return self.output_bytes // 2

    @property
    def name(self):
        return self.header.name


def _fail(msg):
    raise GraphFileError(msg)


def _header(blob):
    if len(blob) < nf.HEADER_LENGTH:
        _fail(f"file of {len(blob)} bytes is shorter than the "
              f"{nf.HEADER_LENGTH}-byte header")
    h = nf.Header.unpack(blob)
    if h.version != nf.GRAPH_VERSION:
        _fail(f"graph file version {h.version}, expected {nf.GRAPH_VERSION}")
    if h.file_size != len(blob):
        _fail(f"file size field {h.file_size} != actual length {len(blob)}")
    if len(blob) > nf.MAX_FILE_SIZE:
        _fail(f"file of {len(blob)} bytes exceeds {nf.MAX_FILE_SIZE}")
    n = h.stage_count
    if not 1 <= n <= 0xFFFF:
        _fail(f"stage count {n} out of range")
    if h.data_start != nf.data_start(n):
        _fail(f"data start {h.data_start} inconsistent with {n} stages "
              f"(expected {nf.data_start(n)})")
    if h.data_start > len(blob):
        _fail(f"{n} stage records truncated: file ends at {len(blob)}, "
              f"records and padding need {h.data_start}")
    if h.first_shave != 0 or h.last_shave >= nf.MAX_SHAVES:
        _fail(f"shaves {h.first_shave}..{h.last_shave} outside 0..11")
    return h


def _fields(i, st):
    """Checks every enumerated and fixed field of a record."""
    where = f"stage {i} ({st.name!r})"
    if st.op not in KNOWN_OPS:
        _fail(f"{where}: unknown op {st.op}")
    if st.post_op not in POST_OPS:
        _fail(f"{where}: unknown postOp {st.post_op}")
    if st.pad_style not in PAD_STYLES:
        _fail(f"{where}: unknown padStyle {st.pad_style}")
    if (st.datatype, st.precision) != (nf.FP16, nf.FP16):
        _fail(f"{where}: datatype/precision {st.datatype}/{st.precision}, "
              "only fp16 (2) is supported")
    if st.storage_order != nf.STORAGE_YXZ:
        _fail(f"{where}: storage order {st.storage_order}, expected YXZ (2)")
    if st.pre_op != Op.NONE:
        _fail(f"{where}: unknown preOp {st.pre_op}")
    if min(st.input_dims) < 1 or min(st.output_dims) < 1:
        _fail(f"{where}: zero dimension in input {st.input_dims} "
              f"or output {st.output_dims}")


def _shape(i, st):
    """Checks output dims and tap dims against the op; returns its MACs."""
    where = f"stage {i} ({st.name!r})"
    op = Op(st.op)
    (w, h, c), (ow, oh, oc) = st.input_dims, st.output_dims
    if op in WINDOW_OPS:
        return _window_shape(where, op, st)
    if op in SAME_SHAPE_OPS:
        if st.output_dims != st.input_dims:
            _fail(f"{where}: output dims {st.output_dims} != input dims "
                  f"{st.input_dims}")
        if op in (Op.PRELU, Op.SCALE) and st.tap_dims[2] != c:
            _fail(f"{where}: tapDimZ {st.tap_dims[2]} != channels {c}")
        if op == Op.LRN and (st.radix[0] < 1 or st.radix[0] % 2 == 0):
            _fail(f"{where}: LRN size {st.radix[0]} must be odd")
        return w * h * c * max(st.radix[0], 1)
    if op == Op.FC:
        if st.tap_dims[1] != w * h * c or (ow, oh) != (1, 1) \
                or st.tap_dims[2] != oc:
            _fail(f"{where}: fully connected dims in {st.input_dims} "
                  f"taps {st.tap_dims} out {st.output_dims} disagree")
        return w * h * c * oc
    if op == Op.RESHAPE:
        if w * h * c != ow * oh * oc:
            _fail(f"{where}: reshape {st.input_dims} -> {st.output_dims} "
                  "changes the value count")
        return w * h * c
    if op == Op.CROP:
        if ow > w or oh > h or oc > c:
            _fail(f"{where}: crop output {st.output_dims} larger than input")
        return ow * oh * oc
    _fail(f"{where}: op {op.name} is not a stage type")


def _window_shape(where, op, st):
    (kw, kh), (sx, sy), (px, py) = st.radix, st.stride, st.pad
    (w, h, c), (ow, oh, oc) = st.input_dims, st.output_dims
    if kw < 1 or kh < 1 or sx < 1 or sy < 1:
        _fail(f"{where}: kernel {kw}x{kh} stride {sx}x{sy} must be >= 1")
    if op == Op.DECONV:
        if st.pad_style != PadStyle.CAFFE:
            _fail(f"{where}: deconvolution needs Caffe padding (2)")
        want = (deconv_out(w, kw, sx, px), deconv_out(h, kh, sy, py))
    else:
        pool = op in (Op.MAX_POOL, Op.AVG_POOL)
        gx = window(w, kw, sx, st.pad_style, px, caffe_pool=pool)
        gy = window(h, kh, sy, st.pad_style, py, caffe_pool=pool)
        if gx is None or gy is None:
            _fail(f"{where}: no valid window for input {w}x{h}, kernel "
                  f"{kw}x{kh}, stride {sx}x{sy}, pad {px}x{py}, "
                  f"padStyle {st.pad_style}")
        if pool and not (windows_overlap(w, sx, gx[0], gx[1])
                         and windows_overlap(h, sy, gy[0], gy[1])):
            _fail(f"{where}: a pooling window lies wholly in the padding")
        want = (gx[0], gy[0])
    if (ow, oh) != want:
        _fail(f"{where}: output {ow}x{oh}, the kernel geometry gives "
              f"{want[0]}x{want[1]}")
    taps = st.tap_dims
    if op in (Op.CONV, Op.DECONV):
        if taps != (kw * kh, c, oc):
            _fail(f"{where}: tap dims {taps}, expected {(kw * kh, c, oc)}")
        return (ow * oh if op == Op.CONV else w * h) * kw * kh * c * oc
    if op == Op.DEPTH_CONV:
        if taps[0] != kw * kh or taps[1] != c or taps[2] != oc \
                or oc % c != 0:
            _fail(f"{where}: depthwise tap dims {taps} for {c} -> {oc} "
                  "channels")
        return ow * oh * oc * kw * kh
    if oc != c:
        _fail(f"{where}: pooling changes channels {c} -> {oc}")
    return ow * oh * oc * kw * kh


def _accesses(st):
    """The memory a stage reads and writes, per the op's operand rules."""
    op = Op(st.op)
    (w, h, c), oc = st.input_dims, st.output_dims[2]
    kw, kh = st.radix
    acc = [Access("data", st.data.index, st.data.pointer, st.input_dims,
                  st.input_strides),
           Access("output", st.output.index, st.output.pointer,
                  st.output_dims, st.output_strides, write=True)]
    t = st.taps
    if op in (Op.CONV, Op.DECONV):
        acc.append(block("taps", t.index, t.pointer, kw * kh * c * oc))
    elif op == Op.DEPTH_CONV:
        acc.append(block("taps", t.index, t.pointer, kw * kh * oc))
    elif op == Op.FC:
        acc.append(block("taps", t.index, t.pointer, w * h * c * oc))
    elif op in (Op.PRELU, Op.SCALE):
        acc.append(block("taps", t.index, t.pointer, c))
    elif op in ELTWISE_OPS:
        acc.append(Access("taps", t.index, t.pointer, st.input_dims,
                          st.input_strides))
    b = st.bias
    if op == Op.LRN:
        acc.append(block("bias", b.index, b.pointer, 4))
    elif b.index != Region.NONE:
        acc.append(block("bias", b.index, b.pointer, oc))
    if op == Op.CROP:
        acc.append(block("op_params", st.op_params.index,
                         st.op_params.pointer, 6))
    return acc


def _layout(where, a):
    """Index, alignment and nesting of one access (no sizes yet)."""
    if a.index == Region.NONE:
        _fail(f"{where}: {a.role} operand has no memory (index 0)")
    if a.write and a.index in (Region.INPUT, Region.DATA):
        _fail(f"{where}: writes its output into read-only region {a.index}")
    if a.pointer % 2 or any(s % 2 for s in a.strides):
        _fail(f"{where}: {a.role} pointer {a.pointer} or strides "
              f"{a.strides} not fp16-aligned")
    if a.index == Region.DATA and a.pointer % nf.DATA_ALIGN:
        _fail(f"{where}: {a.role} pointer {a.pointer} into the data section "
              f"is not a multiple of {nf.DATA_ALIGN}")
    (w, h, c), (sx, sy, sz) = a.dims, a.strides
    if (c > 1 and sz < 2) or (w > 1 and sx < c * sz) or \
            (h > 1 and sy < w * sx):
        _fail(f"{where}: {a.role} strides {a.strides} overlap for dims "
              f"{a.dims} (not a YXZ layout)")


def _region_sizes(stages, accesses, data_len):
    """Input, output and scratch sizes implied by the records, checked."""
    last = stages[-1]
    if last.output.index != Region.OUTPUT:
        _fail("the last stage does not write the network output (index 2)")
    ow, oh, _ = last.output_dims
    out_values = ow * oh * last.output_strides[0] // 2
    if not 1 <= out_values <= nf.MAX_OUTPUT_VALUES:
        _fail(f"output of {out_values} fp16 values (allowed 1.."
              f"{nf.MAX_OUTPUT_VALUES})")
    in_bytes, scratch = 0, 0
    for acc in accesses:
        for a in acc:
            if a.index == Region.INPUT and in_bytes == 0:
                # The first read of the input defines the input tensor: the
                # whole buffer its strides describe (H rows of strideY).
                in_bytes = max(a.end, a.dims[1] * a.strides[1])
            elif a.index >= Region.WORK:
                scratch = max(scratch, a.end + a.guard)
    if in_bytes == 0:
        _fail("no stage reads the network input (index 1)")
    if in_bytes > 2 * MAX_INPUT_VALUES:
        _fail(f"input of {in_bytes} bytes is absurdly large")
    if scratch > nf.MAX_SCRATCH:
        _fail(f"scratch area of {scratch} bytes exceeds {nf.MAX_SCRATCH}")
    limits = {Region.INPUT: in_bytes, Region.OUTPUT: out_values * 2,
              Region.DATA: data_len}
    for i, acc in enumerate(accesses):
        for a in acc:
            size = limits.get(a.index)
            if size is not None and a.end > size:
                _fail(f"stage {i} ({stages[i].name!r}): {a.role} bytes "
                      f"{a.pointer}..{a.end} outside region {a.index} "
                      f"of {size} bytes")
    return in_bytes, out_values * 2, scratch


def _crop_offsets(i, st, data):
    p = st.op_params
    if p.index != Region.DATA:
        _fail(f"stage {i}: crop offsets must be in the data section")
    x, y, z = (int(v) for v in np.frombuffer(data, "<u4", 3, p.pointer))
    (w, h, c), (ow, oh, oc) = st.input_dims, st.output_dims
    if x + ow > w or y + oh > h or z + oc > c:
        _fail(f"stage {i} ({st.name!r}): crop offsets {(x, y, z)} + "
              f"{st.output_dims} exceed input {st.input_dims}")
    return x, y, z


def load_graph(blob):
    """Parses and validates a graph file; raises GraphFileError if malformed.

    ``blob`` is bytes-like (bytes, bytearray, memoryview); anything else is
    a TypeError, never a huge allocation (bytes(n) would make n zeros).
    """
    blob = memoryview(blob).tobytes()
    h = _header(blob)
    data = blob[h.data_start:]
    stages, accesses = [], []
    for i in range(h.stage_count):
        st = nf.Stage.unpack(blob, nf.HEADER_LENGTH + i * nf.STAGE_LENGTH)
        _fields(i, st)
        if _shape(i, st) > MAX_STAGE_MACS:
            _fail(f"stage {i} ({st.name!r}): absurd amount of work")
        acc = _accesses(st)
        for a in acc:
            _layout(f"stage {i} ({st.name!r})", a)
        stages.append(st)
        accesses.append(acc)
    sizes = _region_sizes(stages, accesses, len(data))
    crops = {i: _crop_offsets(i, st, data) for i, st in enumerate(stages)
             if st.op == Op.CROP}
    return Graph(h, stages, data, accesses, *sizes, crop_offsets=crops)
