"""Graph file -> validated Graph, refusing anything the executor can't run safely.

Every size is checked against the bytes that exist (file, data section,
input/output/scratch regions) before anything is allocated or viewed, so a
Graph that loads can be executed without reading or writing out of bounds.
Any defect raises GraphFileError with the mvnc Status the API reports.

Region sizes the file does not state are derived from it: the input tensor
is the buffer described by the first read of index 1 (H rows of strideY);
the result is outputDimX*outputDimY*outputStrideX/2 fp16 values of the last
stage (as the NCSDK host computes it; the last stage must write inside it),
and the memory behind index 2 (``output_region_bytes``) also covers every
earlier write there, up to the same 64 Mi values; the scratch area ends
after the farthest byte any work access touches plus that buffer's guard
band.
Beyond the spec's explicit rules the reader also requires fp16-aligned
pointers and strides, 64-aligned data-section pointers, strides that nest
as YXZ (no two values of a tensor share memory) and a bounded amount of
work per stage, so that no field can make the executor allocate or loop
without limit.

Graph files that NCSDK 1.x's own mvNCCompile wrote (ncs-graph-format,
"What NCSDK 1.x itself wrote") load too: storage order 4 on Caffe stages
(the strides give the layout), op 19 copy (a channel slice), a leading
Caffe input stage that copies the input into the result area, eltwise
operands in the input or data section, and stages declared larger than
they compute (an activation whose output claims more channels than its
input: it writes the channels it computes through the declared strides,
and the declared extent is bounds-checked as if written). A copy's
channels must lie inside the tensor its producers wrote. Whatever odd but
accepted thing a file holds is described, one human-readable line each, in
``Graph.warnings`` (a list of str; empty for a file as this project writes
it): storage order 4, oversize stages, writes past the result into the
result area, eltwise operands in index 1 or 3, a non-square input in a
"TensorFlow Network" (NCSDK wrote those transposed). NCSDK-like shapes that
section does not describe (other storage orders, NCSDK ops the stick does
not run, copies with constants, ...) are refused with a reason.
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
# Storage orders accepted: 2 (YXZ), and 4 (ZYX), which NCSDK 1.x wrote on
# every Caffe stage while laying tensors out YXZ; the strides give the
# layout. Other orders were never seen in an NCSDK file: no known meaning.
STORAGE_ZYX = 4
STORAGE_ORDERS = frozenset({nf.STORAGE_YXZ, STORAGE_ZYX})
# Stages that may be declared larger than they compute (NCSDK's sigmoid
# 65x65x1 -> 65x65x65): pure elementwise ops, whose result is known per
# input value, so writing it through the declared strides has one meaning.
ACTIVATION_OPS = frozenset({Op.RELU, Op.RELU_X, Op.SIGMOID, Op.TANH,
                            Op.ELU, Op.LEAKY_RELU})
TF_NETWORK = "TensorFlow Network"    # NCSDK's header name for every TF net
POST_OPS = frozenset(int(o) for o in nf.POST_OPS)
WINDOW_OPS = frozenset({Op.CONV, Op.DEPTH_CONV, Op.DECONV, Op.MAX_POOL,
                        Op.AVG_POOL})
SAME_SHAPE_OPS = frozenset({Op.SOFTMAX, Op.RELU, Op.RELU_X, Op.BIAS, Op.PRELU,
                            Op.LRN, Op.SUM, Op.PROD, Op.MAX, Op.SCALE,
                            Op.SIGMOID, Op.TANH, Op.ELU, Op.LEAKY_RELU,
                            Op.NONE})
ELTWISE_OPS = frozenset({Op.SUM, Op.PROD, Op.MAX})
PAD_STYLES = frozenset(int(p) for p in PadStyle)
# The stage types the emulated stick runs; NCSDK knew more (relayout, ...).
RUN_OPS = WINDOW_OPS | SAME_SHAPE_OPS | {Op.FC, Op.RESHAPE, Op.CROP, Op.COPY}


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
    output_bytes: int                # what GetResult returns (host's size)
    scratch_bytes: int               # one work area, guard bands included
    crop_offsets: dict = field(default_factory=dict)
    # Memory behind index 2: at least output_bytes, more when an earlier
    # stage (NCSDK's Caffe input stage) writes more there than is returned.
    output_region_bytes: int = 0
    # Odd things accepted (NCSDK 1.x habits and mistakes), one line each.
    warnings: list = field(default_factory=list)

    def __post_init__(self):
        self.output_region_bytes = max(self.output_region_bytes,
                                       self.output_bytes)

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
    if Op(st.op) not in RUN_OPS:
        _fail(f"{where}: op {st.op} ({Op(st.op).name.lower()}) is an NCSDK "
              "1.x stage type the emulated stick does not run")
    if st.post_op not in POST_OPS:
        _fail(f"{where}: unknown postOp {st.post_op}")
    if st.pad_style not in PAD_STYLES:
        _fail(f"{where}: unknown padStyle {st.pad_style}")
    if (st.datatype, st.precision) != (nf.FP16, nf.FP16):
        _fail(f"{where}: datatype/precision {st.datatype}/{st.precision}, "
              "only fp16 (2) is supported")
    if st.storage_order not in STORAGE_ORDERS:
        name = nf.STORAGE_ORDERS.get(st.storage_order, "unknown")
        _fail(f"{where}: storage order {st.storage_order} ({name}); only "
              "YXZ (2), and ZYX (4) with YXZ strides as NCSDK's Caffe "
              "graphs wrote it, are supported")
    if st.pre_op != Op.NONE:
        _fail(f"{where}: unknown preOp {st.pre_op}")
    if min(st.input_dims) < 1 or min(st.output_dims) < 1:
        _fail(f"{where}: zero dimension in input {st.input_dims} "
              f"or output {st.output_dims}")


def oversize(st):
    """True for an activation stage declared with more output channels than
    its input has: NCSDK wrote one (sigmoid 65x65x1 declared 65x65x65). It
    computes the input's channels and writes them through the declared
    strides. With a bias the block's size would be ambiguous: not accepted.
    """
    (w, h, c), (ow, oh, oc) = st.input_dims, st.output_dims
    return (st.op in ACTIVATION_OPS and (ow, oh) == (w, h) and oc > c
            and st.bias.index == Region.NONE)


def _shape(i, st, warnings):
    """Checks output dims and tap dims against the op; returns its MACs."""
    where = f"stage {i} ({st.name!r})"
    op = Op(st.op)
    (w, h, c), (ow, oh, oc) = st.input_dims, st.output_dims
    if op in WINDOW_OPS:
        return _window_shape(where, op, st)
    if oversize(st):
        warnings.append(
            f"{where}: output declared {ow}x{oh}x{oc} but a {op.name.lower()}"
            f" of {w}x{h}x{c} computes {c} channel(s); they are written "
            "through the declared strides and the other channels are left "
            "unwritten (zero in fresh memory), as NCSDK 1.x's stick did")
        return w * h * c
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
    if op == Op.COPY:
        return _copy_shape(where, st)
    _fail(f"{where}: op {op.name} is not a stage type")


def _copy_shape(where, st):
    """Op 19 as NCSDK wrote it for a channel slice: same W and H, at most
    the input's channels, tapDimY = input and tapDimZ = output channels, no
    constants (a copy with any would be a form never seen)."""
    (w, h, c), (ow, oh, oc) = st.input_dims, st.output_dims
    if (ow, oh) != (w, h) or oc > c or st.tap_dims[1:] != (c, oc):
        _fail(f"{where}: copy from {st.input_dims} to {st.output_dims} with "
              f"tap dims {st.tap_dims}; NCSDK's copy keeps W and H, takes at "
              "most the input's channels, tapDimY = C in, tapDimZ = C out")
    if any(o.index != Region.NONE for o in (st.taps, st.bias, st.op_params)):
        _fail(f"{where}: copy with taps, bias or opParams (NCSDK's copy had "
              "none)")
    return w * h * oc


def _copy_source(where, st, written):
    """Checks that a copy's channels lie inside its producer's tensor.

    The copy starts at the channel dataPointer points to; the tensor starts
    where its producers wrote (the lowest pointer with these strides; 0 in
    the input, output and data regions when nothing wrote there).
    """
    d, c, oc = st.data, st.input_dims[2], st.output_dims[2]
    ptrs = [a.pointer for a in written.get(d.index, ())
            if a.strides[:2] == st.input_strides[:2]]
    if not ptrs and d.index >= Region.WORK:
        _fail(f"{where}: copies from work buffer {d.index}, which no earlier "
              f"stage wrote with strides {st.input_strides[:2]}")
    first = (d.pointer - min(ptrs, default=0)) // 2
    if first < 0 or first + oc > c:
        _fail(f"{where}: copy reads channels {first}..{first + oc - 1} of a "
              f"{c}-channel tensor")
    _layout(where, Access("data", d.index, d.pointer - 2 * first,
                          st.input_dims, st.input_strides))


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
    # A copy reads only the channels it copies; an oversize stage writes
    # only the channels it computes, and claims the declared extent.
    read = (w, h, oc) if op == Op.COPY else st.input_dims
    computed = st.input_dims if oversize(st) else st.output_dims
    acc = [Access("data", st.data.index, st.data.pointer, read,
                  st.input_strides),
           Access("output", st.output.index, st.output.pointer,
                  computed, st.output_strides, write=True)]
    if computed != st.output_dims:
        acc.append(Access("declared", st.output.index, st.output.pointer,
                          st.output_dims, st.output_strides, write=True))
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


def _region_sizes(stages, accesses, data_len, warnings):
    """Input, result, output-region and scratch sizes, checked.

    The result (what GetResult returns) is the host's size from the last
    stage; the memory behind index 2 also holds every earlier write there
    (NCSDK's Caffe input stage copies the whole input into it).
    """
    last = stages[-1]
    if last.output.index != Region.OUTPUT:
        _fail("the last stage does not write the network output (index 2)")
    ow, oh, _ = last.output_dims
    out_bytes = ow * oh * last.output_strides[0]
    if not 2 <= out_bytes <= 2 * nf.MAX_OUTPUT_VALUES:
        _fail(f"output of {out_bytes // 2} fp16 values (allowed 1.."
              f"{nf.MAX_OUTPUT_VALUES})")
    for a in accesses[-1]:
        if a.write and a.end > out_bytes:
            _fail(f"stage {len(stages) - 1} ({last.name!r}): output bytes "
                  f"{a.pointer}..{a.end} outside region 2 of {out_bytes} "
                  "bytes (the result the host reads)")
    in_bytes, scratch, region = 0, 0, out_bytes
    for i, acc in enumerate(accesses):
        for a in acc:
            if a.index == Region.INPUT and in_bytes == 0:
                # The first read of the input defines the input tensor: the
                # whole buffer its strides describe (H rows of strideY).
                in_bytes = max(a.end, a.dims[1] * a.strides[1])
            elif a.index >= Region.WORK:
                scratch = max(scratch, a.end + a.guard)
            elif a.index == Region.OUTPUT and a.write and a.end > out_bytes:
                region = max(region, a.end)
                warnings.append(
                    f"stage {i} ({stages[i].name!r}) writes {a.end} bytes "
                    f"into the result area, of which GetResult returns "
                    f"{out_bytes} (NCSDK's Caffe input stage does this; "
                    "later stages overwrite what is returned)")
    if in_bytes == 0:
        _fail("no stage reads the network input (index 1)")
    if in_bytes > 2 * MAX_INPUT_VALUES:
        _fail(f"input of {in_bytes} bytes is absurdly large")
    if scratch > nf.MAX_SCRATCH:
        _fail(f"scratch area of {scratch} bytes exceeds {nf.MAX_SCRATCH}")
    if region > 2 * nf.MAX_OUTPUT_VALUES:
        _fail(f"writes into the result area reach byte {region}, beyond "
              f"{2 * nf.MAX_OUTPUT_VALUES}")
    limits = {Region.INPUT: in_bytes, Region.OUTPUT: region,
              Region.DATA: data_len}
    for i, acc in enumerate(accesses):
        for a in acc:
            size = limits.get(a.index)
            if size is not None and a.end > size:
                _fail(f"stage {i} ({stages[i].name!r}): {a.role} bytes "
                      f"{a.pointer}..{a.end} outside region {a.index} "
                      f"of {size} bytes")
    return in_bytes, out_bytes, scratch, region


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


def _notes(h, stages, accesses):
    """Warnings about accepted NCSDK habits that a user may want to know."""
    out = []
    zyx = sum(st.storage_order == STORAGE_ZYX for st in stages)
    if zyx:
        out.append(f"storage order 4 (ZYX) on {zyx} stage(s), read as YXZ "
                   "from the strides (as NCSDK 1.x wrote Caffe graphs)")
    for i, st in enumerate(stages):
        if st.op in ELTWISE_OPS and st.taps.index in (Region.INPUT,
                                                      Region.DATA):
            where = {Region.INPUT: "the network input (index 1)",
                     Region.DATA: "the data section (index 3)"}
            out.append(f"stage {i} ({st.name!r}): eltwise second operand "
                       f"read from {where[st.taps.index]}, as written")
    first = next((a for acc in accesses for a in acc
                  if a.index == Region.INPUT), None)
    if h.name == TF_NETWORK and first is not None \
            and first.dims[0] != first.dims[1]:
        w, hh, c = first.dims
        out.append(f"non-square input read as {hh} rows of {w} pixels: "
                   "NCSDK 1.x wrote TensorFlow [1, H, W, C] inputs "
                   "transposed (inputDimX = H); the file runs as written")
    return out


def load_graph(blob):
    """Parses and validates a graph file; raises GraphFileError if malformed.

    ``blob`` is bytes-like (bytes, bytearray, memoryview); anything else is
    a TypeError, never a huge allocation (bytes(n) would make n zeros).
    The Graph's ``warnings`` list what odd but runnable things it holds.
    """
    blob = memoryview(blob).tobytes()
    h = _header(blob)
    data = blob[h.data_start:]
    stages, accesses, warnings, written = [], [], [], {}
    for i in range(h.stage_count):
        st = nf.Stage.unpack(blob, nf.HEADER_LENGTH + i * nf.STAGE_LENGTH)
        where = f"stage {i} ({st.name!r})"
        _fields(i, st)
        if _shape(i, st, warnings) > MAX_STAGE_MACS:
            _fail(f"{where}: absurd amount of work")
        acc = _accesses(st)
        for a in acc:
            _layout(where, a)
        if st.op == Op.COPY:
            _copy_source(where, st, written)
        for a in acc:
            if a.role == "output":
                written.setdefault(a.index, []).append(a)
        stages.append(st)
        accesses.append(acc)
    in_b, out_b, scratch, region = _region_sizes(stages, accesses, len(data),
                                                 warnings)
    crops = {i: _crop_offsets(i, st, data) for i, st in enumerate(stages)
             if st.op == Op.CROP}
    return Graph(h, stages, data, accesses, input_bytes=in_b,
                 output_bytes=out_b, scratch_bytes=scratch,
                 crop_offsets=crops, output_region_bytes=region,
                 warnings=_notes(h, stages, accesses) + warnings)
