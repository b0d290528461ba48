"""Graph files laid out the way NCSDK 1.x's own mvNCCompile wrote them.

Written record by record with ncsformat's Header/Stage packing, not with
this project's compiler, so the tests that run them on the emulated stick
do not depend on the compiler. Every habit follows ncs-graph-format's
"What NCSDK 1.x itself wrote": the header name ("TensorFlow Network", the
prototxt's name, or empty), shaves 0..s-1, storage order 4 on Caffe stages,
the leading Caffe input stage writing the result area, one new buffer index
per stage at increasing pointers in one scratch area, fully connected
inputs declared 1x1xN over the producer's tensor, bias-less FC followed by
a scale stage, op 19 copy for a channel slice, eltwise operands in the
input or data section, deconvolution with pad style 2 and pads 0, a last
stage declared larger than it computes, and transposed non-square inputs.

Each net function returns (blob, params): params holds the fp16-exact
weights so that a test can build the same network in TensorFlow.
"""
from dataclasses import replace

import numpy as np

import ncsformat as nf
from emulator_helpers import T, compact, pack_graph
from ncsformat import Op, Operand, PadStyle, Region

TF_NAME = "TensorFlow Network"
CAFFE_ORDER, TF_ORDER = 4, 2


def f16(a):
    """Rounded to fp16 and back: what the file can hold exactly."""
    return np.asarray(a, np.float32).astype(np.float16).astype(np.float32)


class NcsdkFile:
    """One graph file: header, stage records, data section."""

    def __init__(self, name, shaves=1, order=TF_ORDER):
        self.name, self.shaves, self.order = name, shaves, order
        self.stages, self.data = [], bytearray()
        self.scratch, self.index = 0, Region.WORK

    def input(self, w, h, c, strides=None):
        return T(Region.INPUT, 0, (w, h, c), strides or compact(w, h, c))

    def output(self, w, h, c, strides=None):
        return T(Region.OUTPUT, 0, (w, h, c), strides or compact(w, h, c))

    def buffer(self, w, h, c):
        """The next index, at the next pointer of the one scratch area."""
        t = T(self.index, self.scratch, (w, h, c), compact(w, h, c))
        self.index += 1
        self.scratch = nf.align(self.scratch + 2 * w * h * c)
        return t

    def const(self, array, dtype=np.float16):
        """A block in the data section, padded to 64 bytes."""
        raw = np.asarray(array, dtype).tobytes()
        ptr = len(self.data)
        self.data += raw + bytes(nf.align(len(raw)) - len(raw))
        return Operand(Region.DATA, ptr)

    def stage(self, name, op, src, dst, *, taps=None, tap_dims=(0, 0, 0),
              tap_strides=None, **fields):
        """A record reading ``src`` and writing ``dst`` (both T)."""
        if isinstance(taps, T):
            taps = taps.operand
        if tap_strides is None:
            tap_strides = (2 * tap_dims[2], 2 * tap_dims[2], 2)
        fields.setdefault("pad_style", PadStyle.CAFFE if self.order ==
                          CAFFE_ORDER else PadStyle.NONE)
        st = nf.Stage(name=name, op=op, input_dims=src.dims,
                      input_strides=src.strides, data=src.operand,
                      output_dims=dst.dims, output_strides=dst.strides,
                      output=dst.operand, taps=taps, tap_dims=tap_dims,
                      tap_strides=tap_strides, storage_order=self.order,
                      **fields)
        self.stages.append(st)
        return st

    def build(self):
        blob = pack_graph(self.stages, self.data, "", self.shaves)
        # ncsformat writes "?" for an empty name; NCSDK left it all zero.
        raw = self.name.encode("ascii")[:nf.NAME_LENGTH]
        return blob[:40] + raw.ljust(nf.NAME_LENGTH, b"\0") + blob[140:]


def _rand(rng, *shape, scale=0.5):
    return f16(rng.standard_normal(shape) * scale)


def caffe_net(name="", fc_stride_y=0, seed=0):
    """SqueezeNet-like Caffe net, 9x9x3: data stage, conv 3x3 pad 1 (with
    opParams) + bias, relu, max pool 3x3/2, FC 1x1x128 -> 10, softmax.

    ``fc_stride_y``: the FC input's strideY as NCSDK wrote it, "zero", "x"
    (= strideX) or "producer" (the pool output's strideY).
    """
    rng = np.random.default_rng(seed)
    p = {"w1": _rand(rng, 3, 3, 3, 8), "b1": _rand(rng, 8),
         "w2": _rand(rng, 128, 10, scale=0.2), "b2": _rand(rng, 10)}
    f = NcsdkFile(name, shaves=1, order=CAFFE_ORDER)
    x = f.input(9, 9, 3)
    f.stage("data", Op.NONE, x, f.output(9, 9, 3))
    conv, relu, pool = f.buffer(9, 9, 8), f.buffer(9, 9, 8), f.buffer(4, 4, 8)
    f.stage("conv1", Op.CONV, x, conv, taps=f.const(p["w1"]),
            tap_dims=(9, 3, 8), bias=f.const(p["b1"]),
            op_params=f.const(np.arange(16), np.uint32), radix=(3, 3),
            pad=(1, 1), post_op=Op.BIAS)
    f.stage("relu1", Op.RELU, conv, relu)
    f.stage("pool1", Op.MAX_POOL, relu, pool, radix=(3, 3), stride=(2, 2))
    sx, sy, _ = pool.strides
    stride_y = {"zero": 0, "x": sx, "producer": sy}[fc_stride_y or "zero"]
    flat = replace(pool, dims=(1, 1, 128), strides=(sx, stride_y, 2))
    fc = f.buffer(1, 1, 10)
    f.stage("fc", Op.FC, flat, fc, taps=f.const(p["w2"]),
            tap_dims=(1, 128, 10), bias=f.const(p["b2"]), post_op=Op.BIAS)
    f.stage("prob", Op.SOFTMAX, fc, f.output(1, 1, 10))
    return f.build(), p


def tf_slice_net(first=0, seed=1, size=65):
    """TensorFlow net on 65x65x3: conv 3x3 SAME + bias + relu to 65x65x8,
    x[..., first:first+3] by op 19 copy, + the network input (eltwise sum
    reading index 1), + a constant (eltwise sum reading index 3), bias-less
    FC 1x1x12675 -> 16, scale with bias and relu, FC -> 4 (the output).
    ``size`` replaces 65 (small files for the fuzz tests)."""
    rng = np.random.default_rng(seed)
    s = size
    n = s * s * 3
    p = {"w1": _rand(rng, 3, 3, 3, 8), "b1": _rand(rng, 8),
         "k": _rand(rng, s, s, 3), "w2": _rand(rng, n, 16, scale=0.02),
         "mul": _rand(rng, 16), "b2": _rand(rng, 16),
         "w3": _rand(rng, 16, 4), "b3": _rand(rng, 4), "first": first}
    f = NcsdkFile(TF_NAME, shaves=12)
    x = f.input(s, s, 3)
    conv = f.buffer(s, s, 8)
    f.stage("conv/Relu", Op.CONV, x, conv, taps=f.const(p["w1"]),
            tap_dims=(9, 3, 8), bias=f.const(p["b1"]), radix=(3, 3),
            pad_style=PadStyle.TF_SAME, post_op=Op.RELU)
    sl, s1, s2 = (f.buffer(s, s, 3) for _ in range(3))
    f.stage("strided_slice", Op.COPY, replace(conv, pointer=conv.pointer + 2 * first), sl,
            tap_dims=(1, 8, 3), tap_strides=(2, 2, 2))
    f.stage("add", Op.SUM, sl, s1, taps=x)
    f.stage("add_1", Op.SUM, s1, s2, taps=f.const(p["k"]))
    fc = f.buffer(1, 1, 16)
    flat = replace(s2, dims=(1, 1, n), strides=(6, 6 * s, 2))
    f.stage("dense/MatMul", Op.FC, flat, fc, taps=f.const(p["w2"]),
            tap_dims=(1, n, 16))
    act = f.buffer(1, 1, 16)
    f.stage("dense/BiasAdd", Op.SCALE, fc, act, taps=f.const(p["mul"]),
            tap_dims=(0, 16, 16), bias=f.const(p["b2"]), radix=(0, 0),
            post_op=Op.RELU)
    f.stage("out/BiasAdd", Op.FC, act, f.output(1, 1, 4),
            taps=f.const(p["w3"]), tap_dims=(1, 16, 4),
            bias=f.const(p["b3"]), post_op=Op.BIAS)
    return f.build(), p


def tf_deconv_net(seed=2, size=65):
    """NCSDK's deconvolution net: size x size x 1, conv 3x3/2 VALID + relu,
    conv2d_transpose 3x3/2 VALID (pad style 2, pads 0) back to size x size
    x 1, sigmoid declared size x size x size (strideX 2*size): the host
    reads size*size*size values, channel 0 of each pixel is the sigmoid."""
    rng = np.random.default_rng(seed)
    half = (size - 3) // 2 + 1
    p = {"w1": _rand(rng, 3, 3, 1, 4), "b1": _rand(rng, 4),
         "w2": _rand(rng, 3, 3, 4, 1), "b2": _rand(rng, 1)}
    f = NcsdkFile(TF_NAME, shaves=1)
    conv, up = f.buffer(half, half, 4), f.buffer(size, size, 1)
    f.stage("conv/Relu", Op.CONV, f.input(size, size, 1), conv,
            taps=f.const(p["w1"]), tap_dims=(9, 1, 4), bias=f.const(p["b1"]),
            radix=(3, 3), stride=(2, 2), pad_style=PadStyle.TF_VALID,
            post_op=Op.RELU)
    f.stage("conv2d_transpose", Op.DECONV, conv, up, taps=f.const(p["w2"]),
            tap_dims=(9, 4, 1), bias=f.const(p["b2"]), radix=(3, 3),
            stride=(2, 2), pad_style=PadStyle.CAFFE, post_op=Op.BIAS)
    f.stage("Sigmoid", Op.SIGMOID, up, f.output(size, size, size))
    return f.build(), p


def tf_transposed_net(h=6, w=10, c=2, seed=3):
    """A regression net on a [1, h, w, c] placeholder written as NCSDK did
    for non-square inputs: inputDimX = h, inputDimY = w, strideX = 2c,
    strideY = 2c*h. conv 3x3 SAME + relu, bias-less FC -> 2, scale + bias."""
    rng = np.random.default_rng(seed)
    n = h * w * 4
    p = {"w1": _rand(rng, 3, 3, c, 4), "b1": _rand(rng, 4),
         "w2": _rand(rng, n, 2, scale=0.1), "one": f16(np.ones(2)),
         "b2": _rand(rng, 2)}
    f = NcsdkFile(TF_NAME, shaves=12)
    conv = f.buffer(h, w, 4)               # as NCSDK wrote it: W and H swapped
    f.stage("conv/Relu", Op.CONV, f.input(h, w, c), conv,
            taps=f.const(p["w1"]), tap_dims=(9, c, 4), bias=f.const(p["b1"]),
            radix=(3, 3), pad_style=PadStyle.TF_SAME, post_op=Op.RELU)
    fc = f.buffer(1, 1, 2)
    flat = replace(conv, dims=(1, 1, n), strides=(conv.strides[0],) * 2 + (2,))
    f.stage("dense/MatMul", Op.FC, flat, fc, taps=f.const(p["w2"]),
            tap_dims=(1, n, 2))
    f.stage("dense/BiasAdd", Op.SCALE, fc, f.output(1, 1, 2),
            taps=f.const(p["one"]), tap_dims=(0, 2, 2), bias=f.const(p["b2"]),
            radix=(0, 0))
    return f.build(), p
