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
    g = graph(N("r", "relu", ["in"], (1, 4, 4, 2)),
              N("id", "identity", ["r"], (1, 4, 4, 2)),
              N("sq", "reshape", ["id"], (1, 4, 4, 2)),
              N("flat", "reshape", ["sq"], (1, 1, 1, 32)),
              N("sm", "softmax", ["flat"], (1, 1, 1, 32)))
    out = passes.remove_identities(g)
    assert ops(out) == ["input", "relu", "reshape", "softmax"]
    assert out.node("flat").inputs == ["r"]
    assert ops(g) == ["input", "relu", "identity", "reshape", "reshape",
                      "softmax"]


def test_a_reshape_of_the_input_becomes_the_input_shape():
    """[None, 784] reshaped to 28x28x1: the same bytes, so the input is
    declared 28x28x1 and no stage copies it (NCSDK's first MNIST stage
    reads 28x28x1)."""
    g = graph(N("img", "reshape", ["in"], (1, 4, 8, 1)),
              N("r", "relu", ["img"], (1, 4, 8, 1)))
    g.node("in").shape = (1, 1, 1, 32)
    out = passes.remove_identities(g)
    assert ops(out) == ["input", "relu"]
    assert out.node("in").shape == (1, 4, 8, 1)
    assert out.node("r").inputs == ["in"]
    assert g.node("in").shape == (1, 1, 1, 32)      # the caller's graph kept


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


# ------------------------------------------------ naming, forward folds, slices

def test_fused_tf_nodes_name_the_stage_caffe_layers_do_not():
    """NCSDK named a TF stage after its last node (conv1/Relu), a Caffe
    stage after its layer; the TF frontend marks its nodes ``renames``."""
    def net(mark):
        extra = {"renames": True} if mark else {}
        return graph(conv("conv1/Conv2D", "in", 2, 3, bias=[0, 0, 0]),
                     N("conv1/BiasAdd", "bias_add", ["conv1/Conv2D"],
                       (1, 4, 4, 3), bias=np.ones(3, np.float32), **extra),
                     N("conv1/Relu", "relu", ["conv1/BiasAdd"], (1, 4, 4, 3),
                       **extra))
    tf_like = passes.run_all(net(True))
    assert [n.name for n in tf_like.nodes] == ["in", "conv1/Relu"]
    assert tf_like.output == "conv1/Relu"
    caffe_like = passes.run_all(net(False))
    assert [n.name for n in caffe_like.nodes] == ["in", "conv1/Conv2D"]
    assert caffe_like.output == "conv1/Conv2D"


def _scale_then(reader, bias=True, padding="VALID"):
    s = np.array([2.0, -0.5], np.float32)
    attrs = {"scale": s}
    if bias:
        attrs["bias"] = np.array([1.0, 3.0], np.float32)
    bias = [0.5, 0.0, -1.0] if reader == "conv" else [0.5, 0.0]
    c = conv("c", "s", 2, 3, k=3, bias=bias, op=reader)
    c.attrs["padding"] = padding
    return graph(N("s", "scale", ["in"], (1, 4, 4, 2), **attrs), c), s


@pytest.mark.parametrize("reader", ["conv", "depthwise"])
def test_scale_with_bias_folds_forward_into_a_valid_window(reader):
    g, s = _scale_then(reader)
    w0 = g.node("c").attrs["weights"].copy()
    out = passes.fold_scale_forward(g)
    assert ops(out) == ["input", reader] and out.node("c").inputs == ["in"]
    c = out.node("c").attrs
    np.testing.assert_allclose(c["weights"], w0 * s[None, None, :, None],
                               rtol=1e-6)
    shift = np.array([1.0, 3.0])          # W applied to the constant bias
    add = (w0 * shift[None, None, :, None]).sum(axis=(0, 1))
    add = add.sum(axis=0) if reader == "conv" else add.reshape(-1)
    bias0 = [0.5, 0.0, -1.0] if reader == "conv" else [0.5, 0.0]
    np.testing.assert_allclose(c["bias"], np.asarray(bias0) + add, rtol=1e-5)


def test_scale_bias_before_a_same_conv_stays_pure_scale_folds():
    g, _ = _scale_then("conv", padding="SAME")
    assert ops(passes.fold_scale_forward(g)) == ["input", "scale", "conv"]
    g, _ = _scale_then("conv", padding="SAME")
    g.node("c").attrs["weights"] = g.node("c").attrs["weights"][:1, :1]
    assert ops(passes.fold_scale_forward(g)) == ["input", "conv"]  # 1x1
    g, s = _scale_then("conv", bias=False, padding="SAME")
    w0 = g.node("c").attrs["weights"].copy()
    out = passes.fold_scale_forward(g)
    assert ops(out) == ["input", "conv"]
    np.testing.assert_allclose(out.node("c").attrs["weights"],
                               w0 * s[None, None, :, None])


def test_scale_folds_forward_into_fc_by_flattened_channel():
    s, b = np.array([2.0, 3.0], np.float32), np.array([1.0, -1.0], np.float32)
    w = R.standard_normal((32, 3)).astype(np.float32)
    g = graph(N("s", "scale", ["in"], (1, 4, 4, 2), scale=s, bias=b),
              N("fc", "fc", ["s"], (1, 1, 1, 3), weights=w.copy()))
    out = passes.fold_scale_forward(g)
    fc = out.node("fc").attrs
    x = R.standard_normal(32).astype(np.float32)       # YXZ order
    want = (x * np.tile(s, 16) + np.tile(b, 16)) @ w
    np.testing.assert_allclose(x @ fc["weights"] + fc["bias"], want,
                               rtol=1e-5, atol=1e-5)


def test_two_scales_in_a_row_become_one():
    g = graph(N("a", "scale", ["in"], (1, 4, 4, 2),
                scale=np.array([2.0, 4.0], np.float32),
                bias=np.array([1.0, 1.0], np.float32)),
              N("b", "scale", ["a"], (1, 4, 4, 2),
                scale=np.array([0.5, -1.0], np.float32),
                bias=np.array([0.0, 2.0], np.float32)),
              N("r", "relu", ["b"], (1, 4, 4, 2)))
    out = passes.fold_scale(g)
    assert ops(out) == ["input", "scale", "relu"]
    n = out.nodes[1]
    np.testing.assert_allclose(n.attrs["scale"], [1.0, -4.0])
    np.testing.assert_allclose(n.attrs["bias"], [0.5, 1.0])


def _sliced(*readers, output=None):
    return graph(conv("c", "in", 2, 4),
                 N("sl", "slice", ["c"], (1, 4, 4, 2), first=1),
                 *readers, output=output)


def test_place_slices_views_and_copies():
    g = _sliced(N("r", "relu", ["sl"], (1, 4, 4, 2)))
    assert ops(passes.place_slices(g))[2] == "slice"        # a view
    g = _sliced(N("f", "fc", ["sl"], (1, 1, 1, 3),
                  weights=np.zeros((32, 3), np.float32)))
    assert ops(passes.place_slices(g))[2] == "channel_copy"
    g = _sliced(output="sl")
    assert ops(passes.place_slices(g))[2] == "channel_copy"
    g = _sliced(N("k", "concat", ["sl", "c"], (1, 4, 4, 6)))
    assert ops(passes.place_slices(g))[2] == "channel_copy"


def test_eltwise_of_two_views_of_one_tensor_keeps_both_views():
    g = _sliced(N("s2", "slice", ["c"], (1, 4, 4, 2), first=2),
                N("m", "mul", ["sl", "s2"], (1, 4, 4, 2)))
    assert ops(passes.place_slices(g)) == ["input", "conv", "slice", "slice",
                                           "mul"]
    g = _sliced(conv("d", "in", 2, 2),
                N("m", "mul", ["sl", "d"], (1, 4, 4, 2)))
    assert ops(passes.place_slices(g))[2] == "channel_copy"


def test_remove_dead_drops_unread_nodes_only():
    g = graph(N("a", "relu", ["in"], (1, 4, 4, 2)),
              N("b", "slice", ["a"], (1, 4, 4, 1), first=0),
              N("c", "sigmoid", ["in"], (1, 4, 4, 2)))
    assert [n.name for n in passes.remove_dead(g).nodes] == ["in", "c"]
