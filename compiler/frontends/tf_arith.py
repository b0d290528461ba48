"""Elementwise TensorFlow arithmetic as NCSDK stages.

With a constant (scalar or one value per channel) the ops become per-channel
``scale`` / ``bias_add`` nodes, which the passes fold into a neighbouring
convolution or fully connected layer where that is exact; between two
tensors they become eltwise sum / prod / max. Idioms with an NCSDK stage of
their own are recognised: ``Maximum(x, a*x)`` is leaky ReLU,
``relu(x) - a*relu(-x)`` (Keras 2.0) too; ``Minimum(Relu(x), c)``,
``Maximum(Minimum(x, c), 0)`` and ``ClipByValue(x, 0, c)`` are relu_x.
"""
import numpy as np

from ..errors import STAGE_DETAILS, fail
from .tf_opbase import channel_vector, make_node

EXACT = {"Add": "add", "AddV2": "add", "Mul": "mul", "Maximum": "max"}


def _scale(node, x, scale, bias=None, name=None):
    attrs = {"scale": np.asarray(scale, np.float32)}
    if bias is not None:
        attrs["bias"] = np.asarray(bias, np.float32)
    return make_node(node, "scale", [x], x.shape, name=name, **attrs)


def _negated(ctx, node, x):
    """A helper scale -1 node (exact in fp16), added before the result."""
    neg = _scale(node, x, -np.ones(x.shape[3], np.float32),
                 name=f"{node.name}/neg")
    ctx.nodes.append(neg)
    return neg


def _uniform(vec):
    return float(vec[0]) if np.all(vec == vec[0]) else None


def _with_const(ctx, node, k):
    """x op c (k = 1) or c op x (k = 0), c per-channel."""
    x = ctx.value(node, 1 - k)
    c = channel_vector(ctx, node, k, x.shape[3])
    op = node.op
    if op in ("Add", "AddV2") or (op == "Sub" and k == 1):
        return make_node(node, "bias_add", [x], x.shape,
                         bias=c if op != "Sub" else -c)
    if op == "Sub":
        return _scale(node, x, -np.ones_like(c), c)
    if op == "Mul":
        return _scale(node, x, c)
    if op in ("RealDiv", "Div", "TrueDiv") and k == 1:
        if not np.all(c):
            fail(STAGE_DETAILS, f"{node.name} ({op}): division by zero")
        return _scale(node, x, 1.0 / c)
    if op == "Maximum" and not c.any():
        return capped_relu(ctx, node, x)
    if op == "Minimum":
        return _minimum(ctx, node, x, c)
    what = "c / x" if op in ("RealDiv", "Div", "TrueDiv") else "x with c"
    fail(STAGE_DETAILS, f"{node.name} ({op}): {what}, a tensor and a "
         "constant, has no NCSDK stage")


def _minimum(ctx, node, x, c):
    """Minimum(Relu(x), c) = relu_x(x) with cap c (Keras's ReLU(max_value));
    any other Minimum(x, c) is a ``minimum`` node that only a following
    Maximum(., 0) or Relu may turn into relu_x (clip_by_value(x, 0, c))."""
    cap = _uniform(c)
    if cap is None or cap <= 0:
        fail(STAGE_DETAILS, f"{node.name}: Minimum with a constant is only "
             "supported with one positive value (relu_x)")
    if x.op in ("relu", "relu_x"):
        cap = min(cap, x.attrs.get("cap", cap))
        return make_node(node, "relu_x", [_ir_node(ctx, x.inputs[0])],
                         x.shape, cap=cap)
    return make_node(node, "minimum", [x], x.shape, cap=cap)


def capped_relu(ctx, node, x):
    """Relu or Maximum(., 0) of x: relu_x if x is a ``minimum`` node."""
    if x.op == "minimum":
        return make_node(node, "relu_x", [_ir_node(ctx, x.inputs[0])],
                         x.shape, cap=x.attrs["cap"])
    return make_node(node, "relu", [x], x.shape)


def _ir_node(ctx, name):
    """The IR node called ``name`` (the Relu's input, for Minimum)."""
    return next(n for n in reversed(ctx.nodes) if n.name == name)


def relu(ctx, node):
    return capped_relu(ctx, node, ctx.value(node, 0))


def clip_by_value(ctx, node):
    """ClipByValue(x, 0, c): relu_x with cap c."""
    x = ctx.value(node, 0)
    lo = channel_vector(ctx, node, 1, x.shape[3])
    hi = _uniform(channel_vector(ctx, node, 2, x.shape[3]))
    if lo.any() or hi is None or hi <= 0:
        fail(STAGE_DETAILS, f"{node.name}: ClipByValue only from 0 to a "
             "positive constant (relu_x)")
    return make_node(node, "relu_x", [x], x.shape, cap=hi)


def _leaky(ctx, a, b):
    """max(x, s*x) with 0 < s < 1 is leaky ReLU of x with slope s."""
    for x, y in ((a, b), (b, a)):
        if y.op == "scale" and y.inputs == [x.name] and "bias" not in \
                y.attrs:
            s = _uniform(y.attrs["scale"])
            if s is not None and 0 < s < 1:
                return x, s
    return None


def _pure_scale(node):
    """The uniform factor of a bias-free scale node, else None."""
    if node.op != "scale" or "bias" in node.attrs:
        return None
    return _uniform(node.attrs["scale"])


def _keras_leaky(ctx, a, b):
    """relu(x) - s * relu(-x), Keras 2.0's K.relu(x, alpha=s): leaky ReLU
    of x; returns (x, s) or None."""
    s = _pure_scale(b)
    if a.op != "relu" or s is None or not 0 < s < 1:
        return None
    inner = _ir_node(ctx, b.inputs[0])
    if inner.op != "relu":
        return None
    neg = _ir_node(ctx, inner.inputs[0])
    if _pure_scale(neg) != -1.0 or neg.inputs != a.inputs:
        return None
    return _ir_node(ctx, a.inputs[0]), s


def _two_tensors(ctx, node):
    a, b = ctx.value(node, 0), ctx.value(node, 1)
    if a.shape != b.shape:
        fail(STAGE_DETAILS, f"{node.name} ({node.op}): broadcasting "
             f"{a.shape} with {b.shape} (only same-shape tensors)")
    if node.op == "Maximum":
        leaky = _leaky(ctx, a, b)
        if leaky:
            return make_node(node, "leaky_relu", [leaky[0]], a.shape,
                             slope=leaky[1])
    if node.op == "Sub":
        leaky = _keras_leaky(ctx, a, b)
        if leaky:
            return make_node(node, "leaky_relu", [leaky[0]], a.shape,
                             slope=leaky[1])
        return make_node(node, "add", [a, _negated(ctx, node, b)], a.shape)
    if node.op not in EXACT:
        fail(STAGE_DETAILS, f"{node.name} ({node.op}): of two tensors, has "
             "no NCSDK stage")
    return make_node(node, EXACT[node.op], [a, b], a.shape)


def binary(ctx, node):
    """Add/AddV2/Sub/Mul/RealDiv/Maximum/Minimum."""
    consts = [ctx.is_const(node, i) for i in (0, 1)]
    if all(consts):
        fail(STAGE_DETAILS, f"{node.name}: {node.op} of two constants")
    if any(consts):
        return _with_const(ctx, node, consts.index(True))
    return _two_tensors(ctx, node)


def square(ctx, node):
    x = ctx.value(node, 0)
    return make_node(node, "mul", [x, x], x.shape)


def neg(ctx, node):
    x = ctx.value(node, 0)
    return _scale(node, x, -np.ones(x.shape[3], np.float32))


def absolute(ctx, node):
    """|x| = max(x, -x): a scale -1 stage and an eltwise max, both exact."""
    x = ctx.value(node, 0)
    return make_node(node, "max", [x, _negated(ctx, node, x)], x.shape)


def add_n(ctx, node):
    """AddN: a chain of eltwise sums, the last one named after the node."""
    n = len(ctx.inputs(node))
    xs = [ctx.value(node, i) for i in range(n)]
    if any(x.shape != xs[0].shape for x in xs):
        fail(STAGE_DETAILS, f"{node.name}: AddN of different shapes")
    if n == 1:
        return make_node(node, "identity", xs, xs[0].shape)
    acc = xs[0]
    for i, x in enumerate(xs[1:], 1):
        name = None if i == n - 1 else f"{node.name}/add{i}"
        acc = make_node(node, "add", [acc, x], x.shape, name=name)
        if i < n - 1:
            ctx.nodes.append(acc)
    return acc


ARITH = {
    "Add": binary, "AddV2": binary, "Sub": binary, "Mul": binary,
    "RealDiv": binary, "Div": binary, "TrueDiv": binary,
    "Maximum": binary, "Minimum": binary,
    "ClipByValue": clip_by_value, "Relu": relu,
    "Square": square, "Neg": neg, "Abs": absolute, "AddN": add_n,
}
