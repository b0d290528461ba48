"""The NCS graph file, version 2: constants and record layout.

This is the one definition of the binary contract (docs/ncs-graph-format.md).
The compiler's writer and the emulator's reader both use it and nothing else,
so the two can never disagree about where a field lives.
"""
import struct
from dataclasses import dataclass, fields
from enum import IntEnum

HEADER_LENGTH = 264
STAGE_LENGTH = 227
VERSION_OFFSET = 36
N_STAGES_OFFSET = 240
GRAPH_VERSION = 2
NAME_LENGTH = 100
MAX_SHAVES = 12
DATA_ALIGN = 64                      # every block in the data section
MAX_FILE_SIZE = 320 * 1024 * 1024    # Error 35 above this
MAX_SCRATCH = 100 * 1024 * 1024      # Error 35 above this
MAX_OUTPUT_VALUES = 64 * 1024 * 1024  # host refuses a larger result
OPT_MASK = 0x80000000
FP16 = 2                             # datatype and precision
STORAGE_YXZ = 2                      # what this project writes
# Storage order values NCSDK 1.x knew; its Caffe graphs say ZYX (4) on every
# stage while their strides are YXZ ones: the strides give the layout.
STORAGE_ORDERS = {0: "XYZ", 1: "XZY", 2: "YXZ", 3: "YZX", 4: "ZYX", 5: "ZXY"}


class Op(IntEnum):
    """Stage types; the postOp byte uses the same numbers."""
    CONV = 0
    MAX_POOL = 1
    AVG_POOL = 2
    SOFTMAX = 3
    FC = 4
    NONE = 5
    RELU = 6
    RELU_X = 7
    DEPTH_CONV = 8
    BIAS = 9
    PRELU = 10
    LRN = 11
    SUM = 12
    PROD = 13
    MAX = 14
    SCALE = 15
    RELAYOUT = 16
    SQUARE = 17
    INNER_LRN = 18
    COPY = 19
    SIGMOID = 20
    TANH = 21
    DECONV = 22
    ELU = 23
    RESHAPE = 24
    TO_PLANE_MAJOR = 25
    POWER = 26
    CROP = 27
    DROPOUT = 28
    MAXOUT = 29
    NORMALIZATION = 30
    LEAKY_RELU = 31
    R_RELU = 32
    BNLL = 33
    ABS = 34
    STOCHASTIC_POOLING = 35
    CONV_HW = 36
    MAX_POOL_HW = 37
    AVG_POOL_HW = 38
    FC_HW = 39
    CONV_POOL_HW = 40


# Ops (as stage or postOp) whose post_param1 is a float parameter.
PARAM_OPS = frozenset({Op.RELU_X, Op.LEAKY_RELU, Op.ELU})
# postOps a stage may carry.
POST_OPS = frozenset({Op.NONE, Op.BIAS, Op.RELU, Op.RELU_X, Op.LEAKY_RELU,
                      Op.SIGMOID, Op.TANH, Op.ELU})


class Region(IntEnum):
    """The index of an operand: which memory its pointer is an offset into."""
    NONE = 0
    INPUT = 1
    OUTPUT = 2
    DATA = 3
    WORK = 4      # first work buffer; 5, 6, ... follow


class PadStyle(IntEnum):
    NONE = 0
    TF_VALID = 1
    CAFFE = 2
    TF_SAME = 3


_HEADER = struct.Struct("<32sII100s100sIIHHIII")
_STAGE = struct.Struct(
    "<100sBIbbBBBBB"    # name, op, optMask, radix, stride, pad, padStyle
    "18I"               # input/tap/output dims, input/tap/output strides
    "BBB"               # datatype, precision, storageOrder
    "IHIHIHIHIH"        # data, taps, bias, opParams, output: (pointer, index)
    "BBfHH")            # preOp, postOp, post_param1, post_strideX/Y
assert _HEADER.size == HEADER_LENGTH and _STAGE.size == STAGE_LENGTH


def encode_name(name):
    """ASCII, at most 100 bytes: non-ASCII becomes '?', the rest is cut."""
    raw = name.encode("ascii", "replace")[:NAME_LENGTH]
    return raw or b"?"


def decode_name(raw):
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def data_start(stage_count):
    """Offset of the data section: after the records, aligned to 8."""
    end = HEADER_LENGTH + STAGE_LENGTH * stage_count
    return (end + 7) // 8 * 8


def guard_band(width, channels):
    """Zero bytes kept before and after a work buffer of W x C (fp16)."""
    return 2 * (width + 1) * channels * 2


def align(size, to=DATA_ALIGN):
    return (size + to - 1) // to * to


@dataclass
class Header:
    file_size: int
    name: str
    stage_count: int
    data_start: int
    last_shave: int
    version: int = GRAPH_VERSION
    report_dir: str = ""
    first_shave: int = 0

    def pack(self):
        return _HEADER.pack(b"\0" * 32, self.file_size, self.version,
                            encode_name(self.name),
                            self.report_dir.encode("ascii")[:NAME_LENGTH],
                            self.stage_count, self.data_start,
                            self.first_shave, self.last_shave, 0, 0, 0)

    @classmethod
    def unpack(cls, blob):
        (_, size, version, name, report, count, start, first, last,
         _, _, _) = _HEADER.unpack_from(blob, 0)
        return cls(file_size=size, name=decode_name(name), stage_count=count,
                   data_start=start, last_shave=last, version=version,
                   report_dir=decode_name(report), first_shave=first)


@dataclass
class Operand:
    """Where a tensor or constant lives: (index, byte pointer)."""
    index: int = Region.NONE
    pointer: int = 0


@dataclass
class Stage:
    """One 227-byte stage record; dims are (x=width, y=height, z=channels)."""
    name: str
    op: int
    radix: tuple = (1, 1)
    stride: tuple = (1, 1)
    pad: tuple = (0, 0)
    pad_style: int = PadStyle.NONE
    input_dims: tuple = (0, 0, 0)
    tap_dims: tuple = (0, 0, 0)
    output_dims: tuple = (0, 0, 0)
    input_strides: tuple = (0, 0, 0)
    tap_strides: tuple = (0, 0, 0)
    output_strides: tuple = (0, 0, 0)
    data: Operand = None
    taps: Operand = None
    bias: Operand = None
    op_params: Operand = None
    output: Operand = None
    post_op: int = Op.NONE
    post_param: float = 0.0
    opt_mask: int = OPT_MASK
    datatype: int = FP16
    precision: int = FP16
    storage_order: int = STORAGE_YXZ
    pre_op: int = Op.NONE
    post_stride: tuple = (0, 0)

    def __post_init__(self):
        for f in ("data", "taps", "bias", "op_params", "output"):
            if getattr(self, f) is None:
                setattr(self, f, Operand())

    def operands(self):
        return [self.data, self.taps, self.bias, self.op_params, self.output]

    def pack(self):
        ptrs = []
        for o in self.operands():
            ptrs += [o.pointer, o.index]
        return _STAGE.pack(
            encode_name(self.name), self.op, self.opt_mask,
            *self.radix, *self.stride, *self.pad, self.pad_style,
            *self.input_dims, *self.tap_dims, *self.output_dims,
            *self.input_strides, *self.tap_strides, *self.output_strides,
            self.datatype, self.precision, self.storage_order,
            *ptrs, self.pre_op, self.post_op, float(self.post_param),
            *self.post_stride)

    @classmethod
    def unpack(cls, blob, offset):
        v = _STAGE.unpack_from(blob, offset)
        ops = [Operand(index=v[32 + 2 * i], pointer=v[31 + 2 * i])
               for i in range(5)]
        return cls(
            name=decode_name(v[0]), op=v[1], opt_mask=v[2],
            radix=v[3:5], stride=v[5:7], pad=v[7:9], pad_style=v[9],
            input_dims=v[10:13], tap_dims=v[13:16], output_dims=v[16:19],
            input_strides=v[19:22], tap_strides=v[22:25],
            output_strides=v[25:28], datatype=v[28], precision=v[29],
            storage_order=v[30], data=ops[0], taps=ops[1], bias=ops[2],
            op_params=ops[3], output=ops[4], pre_op=v[41], post_op=v[42],
            post_param=v[43], post_stride=v[44:46])


STAGE_FIELDS = [f.name for f in fields(Stage)]
