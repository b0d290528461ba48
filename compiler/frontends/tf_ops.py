"""TensorFlow op converters: one small function per op, NodeDef -> IR node.

``CONVERTERS`` maps a TF op name to ``fn(ctx, node) -> ir.Node`` (or a list
of ir.Nodes, one per output port); ``ctx`` is tf_graphdef.Context: the node's
inputs as IR nodes (``ctx.value``) or numpy constants (``ctx.const``).
Arithmetic lives in tf_arith, channel slices in tf_slices.
"""
import numpy as np

from ..errors import STAGE_DETAILS, fail
from ..shapes import spatial_out
from .tf_arith import ARITH
from .tf_opbase import channel_vector, make_node
from .tf_slices import SLICES
from .tf_values import attr, nhwc

_node = make_node


def _nhwc_only(node):
    fmt = attr(node, "data_format", "NHWC")
    if fmt not in ("NHWC",):
        fail(STAGE_DETAILS, f"{node.name}: data_format {fmt}")


def _window_attrs(node, key):
    vals = attr(node, key, [1, 1, 1, 1])
    if not isinstance(vals, list) or len(vals) != 4 or vals[0] != 1 \
            or vals[3] != 1:
        fail(STAGE_DETAILS, f"{node.name}: {key} {vals}")
    return (int(vals[1]), int(vals[2]))


def _padding(node):
    padding = attr(node, "padding")
    if padding not in ("SAME", "VALID"):
        fail(STAGE_DETAILS, f"{node.name}: padding {padding}")
    return padding


# ---------------------------------------------------------------- converters

def conv_like(ctx, node, op):
    _nhwc_only(node)
    x = ctx.value(node, 0)
    w = ctx.const(node, 1).astype(np.float32, copy=False)
    if _window_attrs(node, "dilations") != (1, 1):
        fail(STAGE_DETAILS, f"{node.name}: dilation "
             f"{_window_attrs(node, 'dilations')}")
    if w.ndim != 4 or w.shape[2] != x.shape[3]:
        fail(STAGE_DETAILS, f"{node.name}: weights {w.shape} for input "
             f"{x.shape}")
    stride, padding = _window_attrs(node, "strides"), _padding(node)
    oh, ow = spatial_out(node.name, x.shape[1:3], w.shape[:2], stride, padding)
    cout = w.shape[3] * (w.shape[2] if op == "depthwise" else 1)
    return _node(node, op, [x], (1, oh, ow, cout), weights=w, stride=stride,
                 padding=padding, pads=(0, 0))


def conv2d(ctx, node):
    return conv_like(ctx, node, "conv")


def depthwise(ctx, node):
    return conv_like(ctx, node, "depthwise")


def conv2d_transpose(ctx, node):
    """Conv2DBackpropInput (``conv2d_transpose``) as a deconvolution (22).

    TF scatters each input pixel over a (n-1)*s + k long result and keeps
    ``output_shape`` of it from ``pad_top`` on (SAME: half the excess, the
    smaller half; VALID: none). Caffe's deconvolution drops ``pad`` at both
    ends, so an odd SAME excess computes one row/column too many, which a
    crop (27) at offset 0 drops. Filter [kh, kw, out, in] -> [kh, kw, in, out].
    """
    _nhwc_only(node)
    if _window_attrs(node, "dilations") != (1, 1):
        fail(STAGE_DETAILS, f"{node.name}: dilation "
             f"{_window_attrs(node, 'dilations')}")
    want = [int(v) for v in np.asarray(ctx.const(node, 0)).reshape(-1)]
    w = ctx.const(node, 1).astype(np.float32, copy=False)
    x = ctx.value(node, 2)
    if len(want) != 4 or w.ndim != 4 or w.shape[3] != x.shape[3] \
            or want[3] != w.shape[2]:
        fail(STAGE_DETAILS, f"{node.name}: output_shape {want} and filter "
             f"{list(w.shape)} for input {list(x.shape)}")
    stride, padding = _window_attrs(node, "strides"), _padding(node)
    pads, sizes = [], []
    for i in (0, 1):
        k, s, n, o = w.shape[i], stride[i], x.shape[1 + i], want[1 + i]
        full = (n - 1) * s + k
        excess = full - o
        if excess < 0 or (padding == "VALID" and excess) or \
                (padding == "SAME" and -(-o // s) != n):
            fail(STAGE_DETAILS, f"{node.name}: output_shape {want} does not "
                 f"fit input {list(x.shape)}, kernel {k}, stride {s}, "
                 f"{padding}")
        pads.append(excess // 2 if padding == "SAME" else 0)
        sizes.append(full - 2 * pads[-1])
    shape = (1, want[1], want[2], want[3])
    if tuple(sizes) == shape[1:3]:
        return _node(node, "deconv", [x], shape,
                     weights=w.transpose(0, 1, 3, 2), stride=stride,
                     padding="EXPLICIT", pads=tuple(pads))
    full = _node(node, "deconv", [x], (1, *sizes, want[3]),
                 name=f"{node.name}/full", weights=w.transpose(0, 1, 3, 2),
                 stride=stride, padding="EXPLICIT", pads=tuple(pads))
    ctx.nodes.append(full)      # a helper stage before the result
    return _node(node, "crop", [full], shape, offsets=(0, 0, 0))


def pool(ctx, node):
    _nhwc_only(node)
    x = ctx.value(node, 0)
    ksize, stride = _window_attrs(node, "ksize"), _window_attrs(node, "strides")
    padding = _padding(node)
    oh, ow = spatial_out(node.name, x.shape[1:3], ksize, stride, padding)
    op = "maxpool" if node.op == "MaxPool" else "avgpool"
    return _node(node, op, [x], (1, oh, ow, x.shape[3]), ksize=ksize,
                 stride=stride, padding=padding, pads=(0, 0))


def batch_norm(ctx, node):
    _nhwc_only(node)
    if attr(node, "is_training", False):
        fail(STAGE_DETAILS, f"{node.name}: batch norm in training mode")
    x = ctx.value(node, 0)
    c = x.shape[3]
    gamma, beta, mean, var = (channel_vector(ctx, node, i, c)
                              for i in (1, 2, 3, 4))
    return _node(node, "batchnorm", [x], x.shape, gamma=gamma, beta=beta,
                 mean=mean, variance=var,
                 epsilon=float(attr(node, "epsilon", 1e-3)))


def bias_add(ctx, node):
    _nhwc_only(node)
    x = ctx.value(node, 0)
    return _node(node, "bias_add", [x], x.shape,
                 bias=channel_vector(ctx, node, 1, x.shape[3]))


def unary(op, **extra):
    def convert(ctx, node):
        x = ctx.value(node, 0)
        attrs = dict(extra)
        if op == "leaky_relu":
            attrs["slope"] = float(attr(node, "alpha", 0.2))
        return _node(node, op, [x], x.shape, **attrs)
    return convert


def softmax(ctx, node):
    x = ctx.value(node, 0)
    return _node(node, "softmax", [x], x.shape)


def lrn(ctx, node):
    x = ctx.value(node, 0)
    size = 2 * int(attr(node, "depth_radius", 5)) + 1
    return _node(node, "lrn", [x], x.shape, size=size,
                 alpha=float(attr(node, "alpha", 1.0)) * size,
                 beta=float(attr(node, "beta", 0.5)),
                 k=float(attr(node, "bias", 1.0)))


def _reshape_to(node, x, dims):
    dims = [int(d) for d in dims]
    total = int(np.prod(x.shape))
    if dims.count(-1) == 1:
        known = int(np.prod([d for d in dims if d != -1]))
        dims[dims.index(-1)] = total // max(known, 1)
    if int(np.prod(dims)) != total:
        fail(STAGE_DETAILS, f"{node.name}: cannot reshape {x.shape} to {dims}")
    return _node(node, "reshape", [x], nhwc(dims, node.name),
                 tf_rank=len(dims))


def reshape(ctx, node):
    x = ctx.value(node, 0)
    return _reshape_to(node, x, ctx.const(node, 1).reshape(-1))


def squeeze(ctx, node):
    x = ctx.value(node, 0)
    dims = [d for d in x.shape if d != 1] or [1]
    return _reshape_to(node, x, dims)


def identity(ctx, node):
    x = ctx.value(node, 0)
    return _node(node, "identity", [x], x.shape)


def identity_n(ctx, node):
    """IdentityN: one identity per port (Keras wraps outputs in it)."""
    xs = [ctx.value(node, i) for i in range(len(ctx.inputs(node)))]
    return [_node(node, "identity", [x], x.shape,
                  name=node.name if k == 0 else f"{node.name}:{k}")
            for k, x in enumerate(xs)]


def concat(ctx, node):
    n = len(ctx.inputs(node)) - 1
    first = 1 if node.op == "Concat" else 0
    axis_at = 0 if node.op == "Concat" else n
    axis = int(ctx.const(node, axis_at))
    xs = [ctx.value(node, first + i) for i in range(n)]
    rank = ctx.rank[xs[0].name]
    if axis not in (-1, rank - 1):
        fail(STAGE_DETAILS, f"{node.name}: concat on axis {axis} (only the "
             "channel axis)")
    if any(x.shape[:3] != xs[0].shape[:3] for x in xs):
        fail(STAGE_DETAILS, f"{node.name}: concat of different sizes")
    channels = sum(x.shape[3] for x in xs)
    return _node(node, "concat", xs, xs[0].shape[:3] + (channels,))


def matmul(ctx, node):
    if attr(node, "transpose_a", False):
        fail(STAGE_DETAILS, f"{node.name}: MatMul with transpose_a")
    x = ctx.value(node, 0)
    w = ctx.const(node, 1).astype(np.float32, copy=False)
    if attr(node, "transpose_b", False):
        w = w.T
    if w.ndim != 2 or w.shape[0] != int(np.prod(x.shape)):
        fail(STAGE_DETAILS, f"{node.name}: weights {w.shape} for input "
             f"{x.shape}")
    return _node(node, "fc", [x], (1, 1, 1, w.shape[1]),
                 weights=np.ascontiguousarray(w), tf_rank=2)


def mean(ctx, node):
    x = ctx.value(node, 0)
    axes = sorted(int(a) % 4 for a in ctx.const(node, 1).reshape(-1))
    if axes != [1, 2]:
        fail(STAGE_DETAILS, f"{node.name}: Mean over axes {axes} (only H,W)")
    k = x.shape[1:3]
    rank = 4 if attr(node, "keep_dims", False) else 2
    return _node(node, "avgpool", [x], (1, 1, 1, x.shape[3]), ksize=k,
                 stride=(1, 1), padding="VALID", pads=(0, 0), tf_rank=rank)


def pad(ctx, node):
    x = ctx.value(node, 0)
    p = ctx.const(node, 1).astype(int)
    if p.shape != (4, 2) or p[0].any() or p[3].any():
        fail(STAGE_DETAILS, f"{node.name}: Pad {p.tolist()}")
    shape = (1, x.shape[1] + p[1].sum(), x.shape[2] + p[2].sum(), x.shape[3])
    return _node(node, "pad", [x], shape,
                 pads=((int(p[1][0]), int(p[1][1])),
                       (int(p[2][0]), int(p[2][1]))))


CONVERTERS = {
    "Conv2D": conv2d,
    "DepthwiseConv2dNative": depthwise,
    "Conv2DBackpropInput": conv2d_transpose,
    "FusedBatchNorm": batch_norm,
    "FusedBatchNormV2": batch_norm,
    "FusedBatchNormV3": batch_norm,
    "BiasAdd": bias_add,
    "Relu6": unary("relu_x", cap=6.0),
    "Sigmoid": unary("sigmoid"),
    "Tanh": unary("tanh"),
    "Elu": unary("elu", alpha=1.0),
    "LeakyRelu": unary("leaky_relu"),
    "AvgPool": pool,
    "MaxPool": pool,
    "Softmax": softmax,
    "LRN": lrn,
    "Reshape": reshape,
    "Squeeze": squeeze,
    "Identity": identity,
    "StopGradient": identity,
    "IdentityN": identity_n,
    "PreventGradient": identity,
    "ConcatV2": concat,
    "Concat": concat,
    "MatMul": matmul,
    "Mean": mean,
    "Pad": pad,
    **ARITH,
    **SLICES,
}
