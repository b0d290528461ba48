"""Converters from Caffe layers to IR nodes: one small function per type.

Each converter is ``(ctx, layer) -> [IR node per top]`` (see caffe.Context).
Caffe weights are channel-major (convolution O,I,H,W; inner product
[out][C*H*W] in C,H,W order); the IR wants HWIO taps and FC rows in the
order the stick reads its input (H,W,C), so the converters transpose.
"""
import numpy as np

from ..errors import STAGE_DETAILS, fail
from ..shapes import spatial_out

MAX_GROUPS = 1024


def _hw(repeated, has_h, h, w, default):
    """Caffe's (h, w) from ``x_h``/``x_w`` or a repeated ``x`` field."""
    if has_h:
        return int(h), int(w)
    vals = list(repeated)
    if not vals:
        return default, default
    return int(vals[0]), int(vals[-1] if len(vals) > 1 else vals[0])


def _conv_geometry(layer, p):
    k = _hw(p.kernel_size, p.HasField("kernel_h"), p.kernel_h, p.kernel_w, 0)
    s = _hw(p.stride, p.HasField("stride_h"), p.stride_h, p.stride_w, 1)
    pad = _hw(p.pad, p.HasField("pad_h"), p.pad_h, p.pad_w, 0)
    d = _hw(p.dilation, False, 0, 0, 1)
    if min(k) < 1 or p.axis != 1:
        fail(STAGE_DETAILS, f"layer {layer.name}: kernel {k}, axis {p.axis}")
    return k, s, pad, d


def _dilate(w, d):
    """O,I,kh,kw taps with zeros between them: a dilated kernel, exactly."""
    if d == (1, 1):
        return w
    o, i, kh, kw = w.shape
    out = np.zeros((o, i, d[0] * (kh - 1) + 1, d[1] * (kw - 1) + 1),
                   np.float32)
    out[:, :, ::d[0], ::d[1]] = w
    return out


def _check_pads(layer, pads, k):
    if pads[0] >= k[0] or pads[1] >= k[1]:
        fail(STAGE_DETAILS, f"layer {layer.name}: pad {pads} not smaller "
             f"than kernel {k}")


def _bias(ctx, layer, p, cout, index=1):
    return ctx.blob(layer, index, (cout,)) if p.bias_term else None


def _with_bias(attrs, bias):
    if bias is not None:
        attrs["bias"] = bias
    return attrs


def convolution(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("convolution_param")
    k, s, pads, d = _conv_geometry(layer, p)
    cin, cout, g = x.shape[3], int(p.num_output), int(p.group)
    if g < 1 or cin % g or cout % g or cout < 1:
        fail(STAGE_DETAILS, f"layer {layer.name}: {cin} -> {cout} channels "
             f"in {g} groups")
    w = _dilate(ctx.blob(layer, 0, (cout, cin // g) + k), d)
    ek = w.shape[2:]
    _check_pads(layer, pads, ek)
    oh, ow = spatial_out(layer.name, x.shape[1:3], ek, s, "EXPLICIT", pads)
    geo = dict(stride=s, padding="EXPLICIT", pads=pads)
    bias = _bias(ctx, layer, p, cout)
    if g == 1:
        return [ctx.add(layer.name, "conv", [x], (1, oh, ow, cout),
                        **_with_bias(dict(weights=w.transpose(2, 3, 1, 0),
                                          **geo), bias))]
    if g == cin:
        mult = cout // cin
        wd = w.reshape(cin, mult, *ek).transpose(2, 3, 0, 1)
        return [ctx.add(layer.name, "depthwise", [x], (1, oh, ow, cout),
                        **_with_bias(dict(weights=wd, **geo), bias))]
    return [_grouped(ctx, layer, x, w, bias, g, (oh, ow), geo)]


def _grouped(ctx, layer, x, w, bias, g, out_hw, geo):
    """Groups that are neither 1 nor depthwise: per group a crop of the
    input channels, a convolution, and one concat (made by layout)."""
    if g >= MAX_GROUPS:
        fail(STAGE_DETAILS, f"layer {layer.name}: {g} groups (NCSDK takes "
             f"fewer than {MAX_GROUPS})")
    cin, cout = x.shape[3], w.shape[0]
    ci, co = cin // g, cout // g
    parts = []
    for i in range(g):
        sl = ctx.add(f"{layer.name}/group{i}/in", "crop", [x],
                     x.shape[:3] + (ci,), offsets=(0, 0, i * ci))
        wi = w[i * co:(i + 1) * co].transpose(2, 3, 1, 0)
        bi = None if bias is None else bias[i * co:(i + 1) * co]
        parts.append(ctx.add(f"{layer.name}/group{i}", "conv", [sl],
                             (1,) + out_hw + (co,),
                             **_with_bias(dict(weights=wi, **geo), bi)))
    return ctx.add(layer.name, "concat", parts, (1,) + out_hw + (cout,))


def deconvolution(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("convolution_param")
    k, s, pads, d = _conv_geometry(layer, p)
    cin, cout = x.shape[3], int(p.num_output)
    if p.group != 1 or d != (1, 1):
        fail(STAGE_DETAILS, f"layer {layer.name}: deconvolution with group "
             f"{p.group}, dilation {d}")
    _check_pads(layer, pads, k)
    w = ctx.blob(layer, 0, (cin, cout) + k)
    oh, ow = (s[i] * (x.shape[1 + i] - 1) + k[i] - 2 * pads[i]
              for i in (0, 1))
    attrs = dict(weights=w.transpose(2, 3, 0, 1), stride=s,
                 padding="EXPLICIT", pads=pads)
    return [ctx.add(layer.name, "deconv", [x], (1, oh, ow, cout),
                    **_with_bias(attrs, _bias(ctx, layer, p, cout)))]


def pool_out(size, k, stride, pad):
    """Caffe's pooled length: ceil, then drop a window starting in the pad."""
    out = -(-(size + 2 * pad - k) // stride) + 1
    if pad > 0 and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def pooling(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("pooling_param")
    if p.pool not in (0, 1):
        fail(STAGE_DETAILS, f"layer {layer.name}: stochastic pooling")
    if p.global_pooling:
        k, s, pads = tuple(x.shape[1:3]), (1, 1), (0, 0)
    else:
        k = _hw([p.kernel_size] if p.HasField("kernel_size") else [],
                p.HasField("kernel_h"), p.kernel_h, p.kernel_w, 0)
        s = _hw([p.stride], p.HasField("stride_h"), p.stride_h, p.stride_w, 1)
        pads = _hw([p.pad], p.HasField("pad_h"), p.pad_h, p.pad_w, 0)
    _check_pads(layer, pads, k)
    spatial_out(layer.name, x.shape[1:3], k, s, "EXPLICIT", pads)
    out = tuple(pool_out(x.shape[1 + i], k[i], s[i], pads[i]) for i in (0, 1))
    for i in (0, 1):
        floor = (x.shape[1 + i] + 2 * pads[i] - k[i]) // s[i] + 1
        if p.round_mode == 1 and floor != out[i]:
            fail(STAGE_DETAILS, f"layer {layer.name}: FLOOR rounding")
        if (out[i] - 1) * s[i] - pads[i] >= x.shape[1 + i]:
            fail(STAGE_DETAILS, f"layer {layer.name}: a window lies wholly "
                 "outside the input")
    op = "maxpool" if p.pool == 0 else "avgpool"
    return [ctx.add(layer.name, op, [x], (1,) + out + (x.shape[3],),
                    ksize=k, stride=s, padding="EXPLICIT", pads=pads)]


def _layout_source(ctx, node):
    """The first ancestor that is not a reshape: its bytes are what an FC
    reads, in its H,W,C order."""
    by_name = {n.name: n for n in ctx.nodes}
    while node.op == "reshape":
        node = by_name[node.inputs[0]]
    return node


def inner_product(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("inner_product_param")
    if p.axis != 1:
        fail(STAGE_DETAILS, f"layer {layer.name}: axis {p.axis}")
    _, h, w, c = _layout_source(ctx, x).shape
    n, k = int(p.num_output), h * w * c
    wt = ctx.blob(layer, 0, (k, n) if p.transpose else (n, k))
    wt = wt.T if p.transpose else wt
    rows = wt.reshape(n, c, h, w).transpose(2, 3, 1, 0).reshape(k, n)
    return [ctx.add(layer.name, "fc", [x], (1, 1, 1, n),
                    **_with_bias(dict(weights=np.ascontiguousarray(rows)),
                                 _bias(ctx, layer, p, n)))]


def relu(ctx, layer):
    x = ctx.bottom(layer)
    slope = float(layer.param("relu_param").negative_slope)
    if slope == 0.0:
        return [ctx.add(layer.name, "relu", [x], x.shape)]
    return [ctx.add(layer.name, "leaky_relu", [x], x.shape, slope=slope)]


def prelu(ctx, layer):
    x = ctx.bottom(layer)
    c = x.shape[3]
    if layer.param("prelu_param").channel_shared:
        slope = np.full(c, ctx.blob(layer, 0, (1,))[0], np.float32)
    else:
        slope = ctx.blob(layer, 0, (c,))
    return [ctx.add(layer.name, "prelu", [x], x.shape, slope=slope)]


def elu(ctx, layer):
    x = ctx.bottom(layer)
    return [ctx.add(layer.name, "elu", [x], x.shape,
                    alpha=float(layer.param("elu_param").alpha))]


def unary(op):
    def convert(ctx, layer):
        x = ctx.bottom(layer)
        return [ctx.add(layer.name, op, [x], x.shape)]
    return convert


def lrn(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("lrn_param")
    if p.norm_region != 0 or p.local_size % 2 == 0:
        fail(STAGE_DETAILS, f"layer {layer.name}: LRN within channel or of "
             f"even size {p.local_size}")
    return [ctx.add(layer.name, "lrn", [x], x.shape, size=int(p.local_size),
                    alpha=float(p.alpha), beta=float(p.beta), k=float(p.k))]


def _axis(layer, axis):
    """A Caffe axis (may be negative) of a 4-d blob; batch is refused."""
    axis = axis + 4 if axis < 0 else axis
    if axis not in (1, 2, 3):
        fail(STAGE_DETAILS, f"layer {layer.name}: axis {axis}")
    return axis


# Caffe axis (1 C, 2 H, 3 W) -> IR shape index.
IR_AXIS = {1: 3, 2: 1, 3: 2}


def concat(ctx, layer):
    xs = [ctx.bottom(layer, i) for i in range(len(layer.bottom))]
    p = layer.param("concat_param")
    axis = p.axis if p.HasField("axis") or not p.HasField("concat_dim") \
        else p.concat_dim
    if _axis(layer, axis) != 1 and len(xs) > 1:
        fail(STAGE_DETAILS, f"layer {layer.name}: concat on axis {axis} "
             "(only channels)")
    if any(x.shape[:3] != xs[0].shape[:3] for x in xs):
        fail(STAGE_DETAILS, f"layer {layer.name}: concat of different sizes")
    c = sum(x.shape[3] for x in xs)
    return [ctx.add(layer.name, "concat", xs, xs[0].shape[:3] + (c,))]


def eltwise(ctx, layer):
    xs = [ctx.bottom(layer, i) for i in range(len(layer.bottom))]
    p = layer.param("eltwise_param")
    op = {0: "mul", 1: "add", 2: "max"}[p.operation]
    coeff = list(p.coeff)
    if coeff and (op != "add" or len(coeff) != len(xs)):
        fail(STAGE_DETAILS, f"layer {layer.name}: coefficients {coeff}")
    if len(xs) < 2 or any(x.shape != xs[0].shape for x in xs):
        fail(STAGE_DETAILS, f"layer {layer.name}: eltwise of "
             f"{[x.shape for x in xs]}")
    for i, a in enumerate(coeff):
        if a != 1.0:
            xs[i] = ctx.add(f"{layer.name}/coeff{i}", "scale", [xs[i]],
                            xs[i].shape, scale=np.full(
                                xs[i].shape[3], a, np.float32))
    acc = xs[0]
    for i, x in enumerate(xs[1:], 1):
        name = layer.name if i == len(xs) - 1 else f"{layer.name}/{i}"
        acc = ctx.add(name, op, [acc, x], x.shape)
    return [acc]


def slice_(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("slice_param")
    axis = _axis(layer, p.axis if p.HasField("axis")
                 or not p.HasField("slice_dim") else p.slice_dim)
    size = x.shape[IR_AXIS[axis]]
    points = list(p.slice_point)
    n = len(layer.top)
    if not points:
        if size % n:
            fail(STAGE_DETAILS, f"layer {layer.name}: {size} not divisible "
                 f"into {n} slices")
        points = [size // n * i for i in range(1, n)]
    bounds = [0] + points + [size]
    if len(bounds) != n + 1 or bounds != sorted(bounds) or \
            len(set(bounds)) != len(bounds):
        fail(STAGE_DETAILS, f"layer {layer.name}: slice points {points}")
    outs = []
    for top, lo, hi in zip(layer.top, bounds, bounds[1:]):
        shape, offsets = list(x.shape), [0, 0, 0]
        shape[IR_AXIS[axis]] = hi - lo
        offsets[IR_AXIS[axis] - 1] = lo
        outs.append(ctx.add(f"{layer.name}/{top}", "crop", [x], shape,
                            offsets=tuple(offsets)))
    return outs


def crop(ctx, layer):
    x, ref = ctx.bottom(layer, 0), ctx.bottom(layer, 1)
    if ref is ctx.input:
        fail(STAGE_DETAILS, f"layer {layer.name}: Crop takes its reference "
             f"size from the network input {layer.bottom[1]!r}; NCSDK "
             "refuses it")
    p = layer.param("crop_param")
    axis = _axis(layer, p.axis)
    shape, offsets = list(x.shape), [0, 0, 0]
    for i, a in enumerate(range(axis, 4)):
        off = list(p.offset)
        o = 0 if not off else (off[0] if len(off) == 1 else off[i])
        j = IR_AXIS[a]
        shape[j] = ref.shape[j]
        offsets[j - 1] = int(o)
        if o + shape[j] > x.shape[j]:
            fail(STAGE_DETAILS, f"layer {layer.name}: crop outside input")
    return [ctx.add(layer.name, "crop", [x], shape, offsets=tuple(offsets))]


def _trivial(shape):
    """True if Caffe's C,H,W order and the IR's H,W,C order agree."""
    return shape[3] == 1 or shape[1] * shape[2] == 1


def _reshape(ctx, layer, x, shape):
    node = ctx.add(layer.name, "reshape", [x], shape)
    if not (_trivial(shape) and _trivial(_layout_source(ctx, x).shape)):
        node.attrs["caffe_order"] = True     # checked by check_reshapes
    return [node]


def flatten(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("flatten_param")
    if p.axis != 1 or p.end_axis not in (-1, 3):
        fail(STAGE_DETAILS, f"layer {layer.name}: flatten axes {p.axis}.."
             f"{p.end_axis}")
    return _reshape(ctx, layer, x, (1, 1, 1, int(np.prod(x.shape))))


def reshape(ctx, layer):
    x = ctx.bottom(layer)
    p = layer.param("reshape_param")
    if p.axis != 0 or p.num_axes != -1:
        fail(STAGE_DETAILS, f"layer {layer.name}: reshape axis/num_axes")
    src = [1, x.shape[3], x.shape[1], x.shape[2]]
    dims = [src[i] if d == 0 else int(d) for i, d in enumerate(p.shape.dim)]
    total = int(np.prod(src))
    if dims.count(-1) == 1:
        dims[dims.index(-1)] = total // max(-int(np.prod(dims)), 1)
    if int(np.prod(dims)) != total or not 1 <= len(dims) <= 4 or dims[0] != 1:
        fail(STAGE_DETAILS, f"layer {layer.name}: cannot reshape "
             f"{src} to {list(p.shape.dim)}")
    dims += [1] * (4 - len(dims))
    return _reshape(ctx, layer, x, (1, dims[2], dims[3], dims[1]))


def check_reshapes(graph):
    """A reshape that reorders values between Caffe's C,H,W and the IR's
    H,W,C is right only when fully connected layers read it (their rows are
    permuted for the source layout); anything else is refused."""
    for node in graph.nodes:
        if not node.attrs.pop("caffe_order", False):
            continue
        readers = graph.consumers(node.name)
        if node.name == graph.output or any(
                r.op not in ("fc", "reshape") for r in readers):
            fail(STAGE_DETAILS, f"layer {node.name}: a Flatten/Reshape of a "
                 "C,H,W blob read by something other than InnerProduct")


def softmax(ctx, layer):
    x = ctx.bottom(layer)
    axis = layer.param("softmax_param").axis
    if axis not in (1, -3) and not (axis == -1 and x.shape[1:3] == (1, 1)):
        fail(STAGE_DETAILS, f"layer {layer.name}: softmax axis {axis}")
    return [ctx.add(layer.name, "softmax", [x], x.shape)]


def batch_norm(ctx, layer):
    x = ctx.bottom(layer)
    c = x.shape[3]
    mean, var = ctx.blob(layer, 0, (c,)), ctx.blob(layer, 1, (c,))
    factor = float(ctx.blob(layer, 2, (1,))[0]) if ctx.with_weights else 0.0
    inv = 0.0 if factor == 0.0 else 1.0 / factor
    return [ctx.add(layer.name, "batchnorm", [x], x.shape,
                    mean=(mean * inv).astype(np.float32),
                    variance=(var * inv).astype(np.float32),
                    epsilon=float(layer.param("batch_norm_param").eps))]


def _channel_blob(ctx, layer, i, c, num_axes):
    if num_axes == 0:
        return np.full(c, ctx.blob(layer, i, (1,))[0], np.float32)
    return ctx.blob(layer, i, (c,))


def _per_channel(ctx, layer, param, kind):
    """(bottom, params) of a Scale/Bias with one learned value per channel,
    the only form NCSDK compiled."""
    x = ctx.bottom(layer)
    p = layer.param(param)
    if len(layer.bottom) != 1 or p.axis != 1 or p.num_axes not in (0, 1):
        fail(STAGE_DETAILS, f"layer {layer.name}: only a learned "
             f"per-channel {kind} is supported")
    return x, p


def scale(ctx, layer):
    x, p = _per_channel(ctx, layer, "scale_param", "Scale")
    c = x.shape[3]
    attrs = dict(scale=_channel_blob(ctx, layer, 0, c, p.num_axes))
    if p.bias_term:
        attrs["bias"] = ctx.blob(layer, 1, (c,))
    return [ctx.add(layer.name, "scale", [x], x.shape, **attrs)]


def bias(ctx, layer):
    x, p = _per_channel(ctx, layer, "bias_param", "Bias")
    return [ctx.add(layer.name, "bias_add", [x], x.shape,
                    bias=_channel_blob(ctx, layer, 0, x.shape[3],
                                       p.num_axes))]


def passthrough(ctx, layer):
    """Dropout (inference), Split: every top is the bottom."""
    x = ctx.bottom(layer)
    return [x] * max(len(layer.top), 1)


CONVERTERS = {
    "Convolution": convolution,
    "Deconvolution": deconvolution,
    "Pooling": pooling,
    "InnerProduct": inner_product,
    "BatchNorm": batch_norm,
    "Scale": scale,
    "Bias": bias,
    "ReLU": relu,
    "PReLU": prelu,
    "ELU": elu,
    "Sigmoid": unary("sigmoid"),
    "TanH": unary("tanh"),
    "LRN": lrn,
    "Concat": concat,
    "Eltwise": eltwise,
    "Slice": slice_,
    "Flatten": flatten,
    "Reshape": reshape,
    "Softmax": softmax,
    "Crop": crop,
    "Dropout": passthrough,
    "Split": passthrough,
}
