"""Each pass on small hand-built IR graphs; expected values by hand."""
import numpy as np
import pytest

from compiler import ir, passes
from compiler.errors import CompileError
from compiler.shapes import check_windows, out_size, pad_before

R = np.random.default_rng(0)


def N(name, op, inputs, shape, **attrs):
    return ir.Node(name, op, list(inputs), tuple(shape), attrs)


def conv(name, src, cin, cout, k=1, bias=None, op="conv"):
    w = R.standard_normal((k, k, cin, cout if op == "conv" else 1)).astype(
        np.float32)
    attrs = dict(weights=w, stride=(1, 1), padding="SAME", pads=(0, 0))
    if bias is not None:
        attrs["bias"] = np.asarray(bias, np.float32)
    c = cout if op == "conv" else cin
    return N(name, op, [src], (1, 4, 4, c), **attrs)


def graph(*nodes, output=None):
    return ir.Graph([N("in", "input", [], (1, 4, 4, 2))] + list(nodes),
                    "in", output or nodes[-1].name)


def ops(g):
    return [n.op for n in g.nodes]


def test_remove_identities_keeps_layout_changing_reshape():
    g = graph(N("id", "identity", ["in"], (1, 4, 4, 2)),
              N("sq", "reshape", ["id"], (1, 4, 4, 2)),
              N("flat", "reshape", ["sq"], (1, 1, 1, 32)),
              N("sm", "softmax", ["flat"], (1, 1, 1, 32)))
    out = passes.remove_identities(g)
    assert ops(out) == ["input", "reshape", "softmax"]
    assert out.node("flat").inputs == ["in"]
    assert ops(g) == ["input", "identity", "reshape", "reshape", "softmax"]


def test_remove_identities_drops_flatten_before_fc_and_updates_output():
    g = graph(N("flat", "reshape", ["in"], (1, 1, 1, 32)),
              N("fc", "fc", ["flat"], (1, 1, 1, 3),
                weights=np.zeros((32, 3), np.float32)),
              N("out", "reshape", ["fc"], (1, 1, 1, 3)))
    out = passes.remove_identities(g)
    assert ops(out) == ["input", "fc"] and out.output == "fc"
    assert out.node("fc").inputs == ["in"]


def test_fold_batchnorm_into_conv_by_hand():
    c = conv("c", "in", 2, 2, bias=[1.0, 2.0])
    w0 = c.attrs["weights"].copy()
    bn = N("bn", "batchnorm", ["c"], (1, 4, 4, 2),
           gamma=np.array([2.0, 0.5], np.float32),
           beta=np.array([0.1, 0.2], np.float32),
           mean=np.array([1.0, -1.0], np.float32),
           variance=np.array([3.0, 0.0], np.float32), epsilon=1.0)
    out = passes.fold_batchnorm(graph(c, bn))
    assert ops(out) == ["input", "conv"] and out.output == "c"
    s = np.array([2.0 / 2.0, 0.5 / 1.0])        # gamma / sqrt(var + eps)
    np.testing.assert_allclose(out.node("c").attrs["weights"], w0 * s,
                               rtol=1e-6)
    np.testing.assert_allclose(out.node("c").attrs["bias"],
                               [(1 - 1) * 1 + 0.1, (2 + 1) * 0.5 + 0.2],
                               rtol=1e-6)


def test_fold_batchnorm_without_gamma_into_depthwise():
    d = conv("d", "in", 2, 2, k=3, op="depthwise")
    w0 = d.attrs["weights"].copy()
    bn = N("bn", "batchnorm", ["d"], (1, 4, 4, 2), gamma=None,
           beta=np.array([1.0, 0.0], np.float32),
           mean=np.array([0.0, 2.0], np.float32),
           variance=np.array([0.999, 3.999], np.float32), epsilon=0.001)
    out = passes.fold_batchnorm(graph(d, bn))
    np.testing.assert_allclose(out.node("d").attrs["weights"][..., 0, 0],
                               w0[..., 0, 0], rtol=1e-5)
    np.testing.assert_allclose(out.node("d").attrs["weights"][..., 1, 0],
                               w0[..., 1, 0] / 2, rtol=1e-5)
    np.testing.assert_allclose(out.node("d").attrs["bias"], [1.0, -1.0],
                               rtol=1e-5)


def test_batchnorm_without_conv_becomes_scale():
    bn = N("bn", "batchnorm", ["in"], (1, 4, 4, 2),
           gamma=np.array([1.0, 1.0], np.float32),
           beta=np.array([0.0, 1.0], np.float32),
           mean=np.array([2.0, 0.0], np.float32),
           variance=np.array([4.0, 1.0], np.float32), epsilon=0.0)
    out = passes.fold_batchnorm(graph(bn))
    n = out.node("bn")
    assert n.op == "scale"
    np.testing.assert_allclose(n.attrs["scale"], [0.5, 1.0])
    np.testing.assert_allclose(n.attrs["bias"], [-1.0, 1.0])


def test_conv_feeding_two_readers_is_not_folded():
    c = conv("c", "in", 2, 2)
    bn = N("bn", "bias_add", ["c"], (1, 4, 4, 2),
           bias=np.ones(2, np.float32))
    other = N("r", "relu", ["c"], (1, 4, 4, 2))
    add = N("sum", "add", ["bn", "r"], (1, 4, 4, 2))
    out = passes.fuse_bias(graph(c, bn, other, add))
    assert out.node("bn").op == "scale"     # standalone: unit scale + bias
    np.testing.assert_array_equal(out.node("bn").attrs["scale"], [1, 1])
    assert "bias" not in out.node("c").attrs


def test_fuse_bias_adds_to_existing_bias():
    c = conv("c", "in", 2, 2, bias=[1.0, 2.0])
    b = N("b", "bias_add", ["c"], (1, 4, 4, 2),
          bias=np.array([10.0, 20.0], np.float32))
    out = passes.fuse_bias(graph(c, b))
    np.testing.assert_array_equal(out.node("c").attrs["bias"], [11, 22])
    assert out.output == "c"


def test_fold_scale_residual_branch():
    """Inception-ResNet: scale * (W x + b) folds into W and b."""
    c = conv("up", "in", 2, 2, bias=[1.0, -2.0])
    w0 = c.attrs["weights"].copy()
    m = N("mul", "scale", ["up"], (1, 4, 4, 2),
          scale=np.array([0.17, 0.17], np.float32))
    s = N("sum", "add", ["in", "mul"], (1, 4, 4, 2))
    r = N("relu", "relu", ["sum"], (1, 4, 4, 2))
    out = passes.run_all(graph(c, m, s, r), [passes.fold_scale,
                                            passes.fuse_activations])
    assert ops(out) == ["input", "conv", "add"]
    np.testing.assert_allclose(out.node("up").attrs["weights"], w0 * 0.17,
                               rtol=1e-6)
    np.testing.assert_allclose(out.node("up").attrs["bias"], [0.17, -0.34],
                               rtol=1e-6)
    assert out.node("sum").inputs == ["in", "up"]
    assert out.node("sum").attrs["post"] == "relu"


def test_fuse_activations_relu6_and_standalone():
    c = conv("c", "in", 2, 2)
    r6 = N("r6", "relu_x", ["c"], (1, 4, 4, 2), cap=6.0)
    p = N("p", "maxpool", ["r6"], (1, 4, 4, 2), ksize=(1, 1), stride=(1, 1),
          padding="VALID", pads=(0, 0))
    r = N("r", "relu", ["p"], (1, 4, 4, 2))
    out = passes.fuse_activations(graph(c, r6, p, r))
    assert ops(out) == ["input", "conv", "maxpool", "relu"]
    assert out.node("c").attrs["post"] == "relu_x"
    assert out.node("c").attrs["post_param"] == 6.0
    assert out.node("p").inputs == ["c"]


def test_fold_pad_symmetric_and_same():
    p = N("pad", "pad", ["in"], (1, 6, 6, 2), pads=((1, 1), (1, 1)))
    c = conv("c", "pad", 2, 3, k=3)
    c.attrs["padding"] = "VALID"
    out = passes.fold_pad(graph(p, c))
    assert ops(out) == ["input", "conv"]
    assert out.node("c").attrs["padding"] == "EXPLICIT"
    assert out.node("c").attrs["pads"] == (1, 1)
    # asymmetric (0, 1) before a stride-2 3x3 conv on 4 = TF SAME's pads
    p = N("pad", "pad", ["in"], (1, 5, 5, 2), pads=((0, 1), (0, 1)))
    c = conv("c", "pad", 2, 3, k=3)
    c.attrs.update(padding="VALID", stride=(2, 2))
    out = passes.fold_pad(graph(p, c))
    assert out.node("c").attrs["padding"] == "SAME"
    # pads nobody can express stay
    p = N("pad", "pad", ["in"], (1, 7, 7, 2), pads=((3, 0), (0, 3)))
    c = conv("c", "pad", 2, 3, k=3)
    c.attrs["padding"] = "VALID"
    assert "pad" in ops(passes.fold_pad(graph(p, c)))


def test_place_concats_inserts_copies_only_where_needed():
    a = conv("a", "in", 2, 2)
    b = conv("b", "in", 2, 3)
    cat = N("cat", "concat", ["a", "b", "in", "a"], (1, 4, 4, 9))
    out = passes.place_concats(graph(a, b, cat))
    cat = out.node("cat")
    assert cat.inputs[1] == "b"                    # a direct writer
    # the network input cannot be written into; a second 'a' would copy
    # from the buffer into itself, so both uses of 'a' become copies
    copies = [out.node(cat.inputs[j]) for j in (0, 2, 3)]
    assert [(c.op, c.inputs) for c in copies] == [
        ("copy", ["a"]), ("copy", ["in"]), ("copy", ["a"])]


def test_place_concats_in_place_and_compact_readers():
    a = conv("a", "in", 2, 2)
    b = conv("b", "a", 2, 2)                       # reads a, writes same buf
    cat = N("cat", "concat", ["a", "b"], (1, 4, 4, 4))
    s = N("s", "add", ["a", "b"], (1, 4, 4, 2))    # slices -> compact copies
    out = passes.place_concats(graph(a, b, cat, s, output="cat"))
    cat = out.node("cat")
    assert cat.inputs[0] == "a" and out.node(cat.inputs[1]).op == "copy"
    assert out.node(cat.inputs[1]).inputs == ["b"]
    s = out.node("s")
    assert out.node(s.inputs[0]).op == "copy" and s.inputs[1] == "b"


def test_nested_concat_stays_without_copy():
    a, b, c = conv("a", "in", 2, 1), conv("b", "in", 2, 2), conv("c", "in",
                                                                 2, 3)
    inner = N("inner", "concat", ["a", "b"], (1, 4, 4, 3))
    outer = N("outer", "concat", ["inner", "c"], (1, 4, 4, 6))
    out = passes.place_concats(graph(a, b, c, inner, outer))
    assert "copy" not in ops(out)


@pytest.mark.parametrize("size,k,s,pad,expect", [
    (224, 3, 2, "SAME", (112, 0)), (7, 3, 2, "VALID", (3, 0)),
    (299, 3, 2, "VALID", (149, 0)), (8, 3, 2, "SAME", (4, 0)),
    (7, 2, 2, "SAME", (4, 0)), (6, 4, 1, "SAME", (6, 1))])
def test_window_arithmetic(size, k, s, pad, expect):
    assert (out_size(size, k, s, pad), pad_before(size, k, s, pad)) == expect


def test_window_in_padding_only_is_refused():
    with pytest.raises(CompileError) as e:
        check_windows("pool", 2, 2, 1, "EXPLICIT", 2)
    assert e.value.number == 5
