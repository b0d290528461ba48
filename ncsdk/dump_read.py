"""mvNCDump's reading of a graph file: every field as written and the
constant blocks each stage uses, with nothing refused.

The emulated stick's reader refuses files it cannot run safely; a dump must
still show those (that is when one needs it), so this module parses with
ncsformat alone and only asks the reader for its verdict. A file is
unreadable (``Unreadable``) only when its header or stage records are not
there at all.
"""
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import ncsformat as nf
from ncsformat import Op, Region

ELTWISE = frozenset({Op.SUM, Op.PROD, Op.MAX})
SAME_SHAPE = frozenset({Op.SOFTMAX, Op.RELU, Op.RELU_X, Op.BIAS, Op.PRELU,
                        Op.LRN, Op.SUM, Op.PROD, Op.MAX, Op.SCALE,
                        Op.SIGMOID, Op.TANH, Op.ELU, Op.LEAKY_RELU, Op.NONE})
MAX_READ = 512 * 1024 * 1024    # bigger than any graph file the host takes


class Unreadable(Exception):
    """Not a graph file that can be shown at all; the message is one line."""


def op_name(code):
    """NCSDK's name of an op code, or ``op<N>`` for a code it never had."""
    try:
        return Op(code).name.lower()
    except ValueError:
        return f"op{code}"


@dataclass
class Block:
    """A constant a stage reads from the data section (index 3)."""
    role: str                  # taps, bias, op_params
    pointer: int
    count: int                 # fp16 values (crop offsets: 6 = 3 x u32)
    values: np.ndarray = None  # fp16, None when outside the data section
    problem: str = ""

    @property
    def nbytes(self):
        return 2 * self.count


@dataclass
class Dump:
    """A parsed graph file, plus what the emulated stick says about it."""
    path: str
    size: int
    header: nf.Header
    stages: list
    data_start: int            # where blocks are read from (declared if sane)
    blocks: list               # per stage {role: Block}
    verdict: str = ""          # "" accepted, else the refusal
    warnings: list = field(default_factory=list)
    scratch_bytes: int = None  # only when the stick accepts the file

    @property
    def data_size(self):
        return max(self.size - self.data_start, 0)

    @property
    def shaves(self):
        return self.header.last_shave - self.header.first_shave + 1


def read(path):
    """Reads and parses ``path``; Unreadable with a one-line reason."""
    p = Path(path)
    try:
        if not p.is_file():
            raise Unreadable(f"{path}: no such file")
        if p.stat().st_size > MAX_READ:
            raise Unreadable(f"{path}: {p.stat().st_size} bytes, far larger "
                             "than any graph file")
        blob = p.read_bytes()
    except OSError as exc:
        raise Unreadable(f"{path}: {exc.strerror}") from None
    return parse(blob, str(path))


def parse(blob, path=""):
    h = _header(blob, path)
    stages = [nf.Stage.unpack(blob, nf.HEADER_LENGTH + i * nf.STAGE_LENGTH)
              for i in range(h.stage_count)]
    start = h.data_start
    if not nf.data_start(len(stages)) <= start <= len(blob):
        start = min(nf.data_start(len(stages)), len(blob))
    data = blob[start:]
    blocks = [stage_blocks(st, data) for st in stages]
    d = Dump(path, len(blob), h, stages, start, blocks)
    _verdict(d, blob)
    return d


def _header(blob, path):
    if len(blob) < nf.HEADER_LENGTH:
        raise Unreadable(f"{path}: {len(blob)} bytes, shorter than the "
                         f"{nf.HEADER_LENGTH}-byte graph file header")
    h = nf.Header.unpack(blob)
    if h.version != nf.GRAPH_VERSION:
        raise Unreadable(f"{path}: version field {h.version}, not an NCS "
                         f"graph file (version {nf.GRAPH_VERSION})")
    room = (len(blob) - nf.HEADER_LENGTH) // nf.STAGE_LENGTH
    if not 1 <= h.stage_count <= room:
        raise Unreadable(f"{path}: header says {h.stage_count} stages, the "
                         f"file of {len(blob)} bytes holds {room} records")
    return h


def _verdict(d, blob):
    """The emulated stick's answer: accepted (with warnings) or why not."""
    from emulator.reader import GraphFileError, load_graph
    try:
        g = load_graph(blob)
    except GraphFileError as exc:
        d.verdict = str(exc) or "refused"
        return
    d.warnings = list(getattr(g, "warnings", None) or [])
    d.scratch_bytes = g.scratch_bytes


def tap_count(st):
    """fp16 values of a stage's weight block, per the format's op rules."""
    c, oc = st.input_dims[2], st.output_dims[2]
    kw, kh = max(st.radix[0], 0), max(st.radix[1], 0)
    if st.op in (Op.CONV, Op.DECONV):
        return kw * kh * c * oc
    if st.op == Op.DEPTH_CONV:
        return kw * kh * oc
    if st.op == Op.FC:
        return st.tap_dims[1] * oc
    if st.op in (Op.PRELU, Op.SCALE):
        return c
    if st.op in ELTWISE:     # a constant second operand: the tensor's span
        return tensor_span(st.input_dims, st.input_strides) // 2
    return 0


def tensor_span(dims, strides):
    """Bytes from the first to one past the last value of a strided tensor."""
    if min(dims) < 1:
        return 0
    return sum((n - 1) * s for n, s in zip(dims, strides)) + 2


def stage_blocks(st, data):
    """{role: Block} for the stage's operands in the data section."""
    counts = {"taps": tap_count(st),
              "bias": 4 if st.op == Op.LRN else st.output_dims[2],
              "op_params": 6 if st.op == Op.CROP else 0}
    out = {}
    for role, count in counts.items():
        operand = getattr(st, role)
        if operand.index == Region.DATA:
            out[role] = _block(role, operand.pointer, count, data)
    return out


def _block(role, pointer, count, data):
    b = Block(role, pointer, count)
    if count == 0:      # opParams of a convolution: size not known
        b.problem = "" if role == "op_params" else "size unknown for this op"
    elif pointer + 2 * count > len(data):
        b.problem = (f"bytes {pointer}..{pointer + 2 * count} outside the "
                     f"data section of {len(data)} bytes")
    else:
        b.values = np.frombuffer(data, "<f2", count, pointer)
    return b


def input_tensor(d):
    """(stage index, dims, bytes) of the first read of the network input."""
    for i, st in enumerate(d.stages):
        if st.data.index == Region.INPUT:
            dims, strides = st.input_dims, st.input_strides
            return i, dims, max(tensor_span(dims, strides),
                                dims[1] * strides[1])
    return None, None, 0


def output_values(d):
    """fp16 values the host reads back: from the last stage [API]."""
    st = d.stages[-1]
    return st.output_dims[0] * st.output_dims[1] * st.output_strides[0] // 2
