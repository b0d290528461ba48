"""Lays out hand-made graph files for the emulator tests, with ncsformat.

GraphBuilder places constants in the data section (fp16, 64-byte blocks),
work buffers in one scratch area with guard bands before and after, and
stage records that read and write them. Tensors are (H, W, C) numpy arrays.
"""
from dataclasses import dataclass, replace

import numpy as np

import ncsformat as nf
from ncsformat import Op, Operand, PadStyle, Region

F16 = np.float16


@dataclass(frozen=True)
class T:
    """A tensor in device memory: (index, pointer), dims (W, H, C), strides."""
    index: int
    pointer: int
    dims: tuple
    strides: tuple

    @property
    def operand(self):
        return Operand(self.index, self.pointer)

    def channels(self, first, stop):
        """A channel slice of this tensor, with the full tensor's strides."""
        w, h, _ = self.dims
        return replace(self, pointer=self.pointer + 2 * first,
                       dims=(w, h, stop - first))


def compact(w, h, c):
    return (2 * c, 2 * c * w, 2)


def pack_graph(stages, data, name, shaves):
    """Header, stage records, zero padding and data section, as the format
    lays them out."""
    n = len(stages)
    start = nf.data_start(n)
    body = b"".join(s.pack() for s in stages)
    body += bytes(start - nf.HEADER_LENGTH - len(body))
    header = nf.Header(file_size=start + len(data), name=name, stage_count=n,
                       data_start=start, last_shave=shaves - 1)
    return header.pack() + body + bytes(data)


class GraphBuilder:
    def __init__(self, name="test", shaves=12):
        self.name, self.shaves = name, shaves
        self.stages, self.data = [], bytearray()
        self.scratch_end, self.next_index = 0, Region.WORK

    def input(self, w, h, c):
        return T(Region.INPUT, 0, (w, h, c), compact(w, h, c))

    def output(self, w, h, c):
        return T(Region.OUTPUT, 0, (w, h, c), compact(w, h, c))

    def buffer(self, w, h, c):
        """A new work buffer with guard bands on both sides."""
        guard = nf.guard_band(w, c)
        ptr = self.scratch_end + guard
        self.scratch_end = ptr + 2 * w * h * c + guard
        t = T(self.next_index, ptr, (w, h, c), compact(w, h, c))
        self.next_index += 1
        return t

    def raw(self, payload):
        """Bytes in the data section, padded to 64; returns the operand."""
        ptr = len(self.data)
        self.data += payload + b"\0" * (nf.align(len(payload)) - len(payload))
        return Operand(Region.DATA, ptr)

    def const(self, array):
        return self.raw(np.asarray(array, F16).tobytes())

    def stage(self, op, src, dst, *, taps=None, bias=None, op_params=None,
              tap_dims=(0, 0, 0), name=None, **fields):
        """Appends a stage reading ``src`` (a T) and writing ``dst``."""
        taps_op = taps.operand if isinstance(taps, T) else taps
        if isinstance(taps, T):
            tap_dims, tap_strides = taps.dims, taps.strides
        else:
            tap_strides = (2 * tap_dims[2], 2 * tap_dims[2], 2)
        st = nf.Stage(
            name=name or f"s{len(self.stages)}_{Op(op).name.lower()}", op=op,
            input_dims=src.dims, input_strides=src.strides, data=src.operand,
            output_dims=dst.dims, output_strides=dst.strides,
            output=dst.operand, taps=taps_op, tap_dims=tap_dims,
            tap_strides=tap_strides, bias=bias, op_params=op_params, **fields)
        self.stages.append(st)
        return st

    def build(self):
        return pack_graph(self.stages, self.data, self.name, self.shaves)


def run(blob, x, debug=True):
    """Loads and runs a graph file on input x (H, W, C); returns fp16 1-D."""
    from emulator.executor import Executor
    from emulator.reader import load_graph
    ex = Executor(load_graph(blob), debug=debug)
    return ex.run(np.asarray(x, F16).tobytes())


def single(op, x, out_dims, **kw):
    """A one-stage graph from the input straight to the output; its result
    reshaped to (H, W, C)."""
    b = GraphBuilder()
    h, w, c = x.shape
    ow, oh, oc = out_dims
    b.stage(op, b.input(w, h, c), b.output(ow, oh, oc), **kw)
    return run(b.build(), x).reshape(oh, ow, oc)


def f16(a):
    """Rounds to fp16 and back: what the device stores."""
    return np.asarray(a, np.float32).astype(F16).astype(np.float32)


def tf_eval(build, *arrays):
    """Evaluates build(*placeholders) in a fresh TF1 graph on NHWC batches."""
    from tfcompat import tf1
    g = tf1.Graph()
    with g.as_default():
        phs = [tf1.constant(np.asarray(a, np.float32)) for a in arrays]
        out = build(*phs)
        with tf1.Session(graph=g) as s:
            return s.run(out)


__all__ = ["GraphBuilder", "T", "run", "single", "f16", "tf_eval", "Op",
           "PadStyle", "Region", "compact"]
