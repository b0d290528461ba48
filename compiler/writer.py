"""IR + memory plan -> the graph file bytes, through ncsformat only.

``lower`` makes one ncsformat.Stage per stage node (file order = graph
order) and the data section; ``pack`` lays out header, records and data.
One small function per op fills the op-specific fields (LOWERING table).
"""
import numpy as np

import ncsformat as nf
from ncsformat import Op, Operand, PadStyle

from .errors import RESOURCES, STAGE_DETAILS, STAGE_TYPE, fail
from .memory import stage_nodes

PAD_STYLES = {"SAME": PadStyle.TF_SAME, "VALID": PadStyle.TF_VALID,
              "EXPLICIT": PadStyle.CAFFE}
POST_OPS = {"relu": Op.RELU, "relu_x": Op.RELU_X, "sigmoid": Op.SIGMOID,
            "tanh": Op.TANH, "elu": Op.ELU, "leaky_relu": Op.LEAKY_RELU}


class DataSection:
    """fp16 blocks, each padded with zeros to a multiple of 64 bytes."""

    def __init__(self):
        self.chunks = []
        self.size = 0

    def add(self, values, owner="a layer"):
        values = np.ascontiguousarray(values, dtype=np.float32)
        with np.errstate(over="ignore"):
            half = values.astype("<f2")
        if not np.isfinite(half).all():
            fail(STAGE_DETAILS, f"{owner}: constants outside the fp16 range "
                 "(|x| > 65504 or not a number)")
        raw = half.tobytes()
        pointer = self.size
        padded = nf.align(len(raw))
        self.chunks.append(raw + b"\0" * (padded - len(raw)))
        self.size += padded
        return Operand(nf.Region.DATA, pointer)

    def add_u32(self, values):
        """Integer parameters (crop offsets): little-endian u32, padded."""
        raw = np.asarray(values, "<u4").tobytes()
        pointer = self.size
        padded = nf.align(len(raw))
        self.chunks.append(raw + b"\0" * (padded - len(raw)))
        self.size += padded
        return Operand(nf.Region.DATA, pointer)

    def __len__(self):
        return self.size


def _dims(shape):
    """IR (1, H, W, C) -> record order (x=W, y=H, z=C)."""
    return (shape[2], shape[1], shape[3])


def _weights(stage, data, w, tap_dims):
    stage.taps = data.add(w, stage.name)
    stage.tap_dims = tap_dims
    stage.tap_strides = (2 * tap_dims[2], 2 * tap_dims[2], 2)


def _window(stage, node, ksize):
    a = node.attrs
    stage.radix = (ksize[1], ksize[0])
    stage.stride = (a["stride"][1], a["stride"][0])
    stage.pad_style = PAD_STYLES[a["padding"]]
    if a["padding"] == "EXPLICIT":
        if max(a["pads"]) > 255:
            fail(STAGE_DETAILS, f"{node.name}: pad {a['pads']} above 255")
        stage.pad = (a["pads"][1], a["pads"][0])


def _lower_hwio(op):
    """Convolution and deconvolution: taps [kh][kw][cin][cout], a window."""
    def lower(stage, node, graph, data):
        w = node.attrs["weights"]
        kh, kw, cin, cout = w.shape
        _window(stage, node, (kh, kw))
        _weights(stage, data, w, (kh * kw, cin, cout))
        return op
    return lower


lower_conv = _lower_hwio(Op.CONV)
lower_deconv = _lower_hwio(Op.DECONV)


def lower_depthwise(stage, node, graph, data):
    w = node.attrs["weights"]
    kh, kw, cin, mult = w.shape
    _window(stage, node, (kh, kw))
    _weights(stage, data, w, (kh * kw, cin, cin * mult))
    return Op.DEPTH_CONV


def lower_prelu(stage, node, graph, data):
    s = node.attrs["slope"]
    _weights(stage, data, s, (1, 1, s.size))
    return Op.PRELU


def lower_crop(stage, node, graph, data):
    """opParams: the window's start as u32 [x, y, z]."""
    y, x, z = node.attrs["offsets"]
    stage.op_params = data.add_u32([x, y, z])
    return Op.CROP


def lower_fc(stage, node, graph, data):
    w = node.attrs["weights"]
    _weights(stage, data, w, (1, w.shape[0], w.shape[1]))
    return Op.FC


def lower_pool(stage, node, graph, data):
    _window(stage, node, node.attrs["ksize"])
    return Op.MAX_POOL if node.op == "maxpool" else Op.AVG_POOL


def lower_copy(stage, node, graph, data):
    stage.pad_style = PadStyle.TF_VALID
    return Op.MAX_POOL


def lower_channel_copy(stage, node, graph, data):
    """Op 19 as NCSDK wrote it for a channel slice: the input declared with
    all channels of the buffer it lies in (its strides say how many), the
    data pointer at the first channel copied, tapDimY/Z = channels in/out."""
    w, h, _ = stage.input_dims
    cin = stage.input_strides[0] // 2
    stage.input_dims = (w, h, cin)
    stage.data = Operand(stage.data.index,
                         stage.data.pointer + 2 * node.attrs["first"])
    stage.tap_dims = (1, cin, node.shape[3])
    stage.tap_strides = (2, 2, 2)
    return Op.COPY


def lower_scale(stage, node, graph, data):
    s = node.attrs["scale"]
    _weights(stage, data, s, (1, 1, s.size))
    return Op.SCALE


def lower_eltwise(stage, node, graph, data):
    return {"add": Op.SUM, "mul": Op.PROD, "max": Op.MAX}[node.op]


def lower_lrn(stage, node, graph, data):
    a = node.attrs
    stage.radix = (a["size"], 1)
    stage.bias = data.add([a["k"], a["alpha"], a["beta"], 0.0])
    return Op.LRN


def simple(op):
    def lower(stage, node, graph, data):
        return op
    return lower


LOWERING = {
    "conv": lower_conv,
    "deconv": lower_deconv,
    "prelu": lower_prelu,
    "crop": lower_crop,
    "depthwise": lower_depthwise,
    "fc": lower_fc,
    "maxpool": lower_pool,
    "avgpool": lower_pool,
    "copy": lower_copy,
    "channel_copy": lower_channel_copy,
    "scale": lower_scale,
    "add": lower_eltwise,
    "mul": lower_eltwise,
    "max": lower_eltwise,
    "lrn": lower_lrn,
    "softmax": simple(Op.SOFTMAX),
    "relu": simple(Op.RELU),
    "relu_x": simple(Op.RELU_X),
    "sigmoid": simple(Op.SIGMOID),
    "tanh": simple(Op.TANH),
    "elu": simple(Op.ELU),
    "leaky_relu": simple(Op.LEAKY_RELU),
    "reshape": simple(Op.RESHAPE),
}
OWN_PARAM = {"relu_x": "cap", "elu": "alpha", "leaky_relu": "slope"}


def _operand(loc):
    return Operand(loc.index, loc.pointer)


def lower_node(node, graph, plan, data):
    """One stage record for one IR node."""
    lower = LOWERING.get(node.op)
    if lower is None:
        if node.op == "pad":
            fail(STAGE_DETAILS, f"Pad {node.name} could not be folded into a "
                 "following convolution")
        if node.op == "minimum":
            fail(STAGE_DETAILS, f"Minimum {node.name}: with a constant only "
                 "as Minimum(Relu(x), c) or clipped below by 0 (relu_x)")
        fail(STAGE_TYPE, f"{node.op} (node {node.name})")
    x = graph.node(node.inputs[0])
    src, dst = plan.locations[x.name], plan.locations[node.name]
    stage = nf.Stage(
        name=node.name, op=Op.NONE,
        input_dims=_dims(x.shape), output_dims=_dims(node.shape),
        input_strides=(src.stride_x, src.stride_y, 2),
        output_strides=(dst.stride_x, dst.stride_y, 2),
        data=_operand(src), output=_operand(dst))
    stage.op = lower(stage, node, graph, data)
    if len(node.inputs) > 1:                  # eltwise: second operand
        stage.taps = _operand(plan.locations[node.inputs[1]])
    if node.op in OWN_PARAM:
        stage.post_param = node.attrs[OWN_PARAM[node.op]]
    _post(stage, node, data)
    return stage


def _post(stage, node, data):
    bias = node.attrs.get("bias")
    if bias is not None:
        stage.bias = data.add(bias, stage.name)
    post = node.attrs.get("post")
    if post:
        stage.post_op = POST_OPS[post]
        if "post_param" in node.attrs:
            if node.op in OWN_PARAM and stage.post_param != node.attrs[
                    "post_param"]:
                fail(STAGE_DETAILS, f"{node.name}: two different parameters")
            stage.post_param = node.attrs["post_param"]
    elif bias is not None:
        stage.post_op = Op.BIAS


def lower(graph, plan):
    """(stages in file order, data section bytes)."""
    data = DataSection()
    stages = [lower_node(n, graph, plan, data) for n in stage_nodes(graph)]
    if not stages:
        fail(STAGE_DETAILS, "the network has no layers between input and "
             "output")
    last = stages[-1]
    if last.output.index != nf.Region.OUTPUT:
        raise AssertionError("the last stage must write the network output")
    values = last.output_dims[0] * last.output_dims[1] * \
        last.output_strides[0] // 2
    if values > nf.MAX_OUTPUT_VALUES:
        fail(RESOURCES, f" (output of {values} values)")
    return stages, data


def pack(name, shaves, stages, data):
    """Header + stage records + zero padding + data section (a DataSection
    or bytes), joined once: the blob is the largest object we hold."""
    start = nf.data_start(len(stages))
    records = b"".join(s.pack() for s in stages)
    size = start + len(data)
    if size > nf.MAX_FILE_SIZE:
        fail(RESOURCES, f" (graph file of {size} bytes > 320 MiB)")
    header = nf.Header(file_size=size, name=name, stage_count=len(stages),
                       data_start=start, last_shave=shaves - 1)
    body = header.pack() + records
    chunks = data.chunks if isinstance(data, DataSection) else [data]
    return b"".join([body, b"\0" * (start - len(body)), *chunks])
