"""Small TF graphs, frozen by TF, compiled, decoded against the spec.

Expected weights are computed here from the constants the test itself put
in the graph (hand formulas), never by the compiler; shapes come from TF.
"""
import numpy as np
import pytest

import ncsformat as nf
from compiler import compile_file
from compiler_helpers import Blob, freeze, write

import tfcompat as tfc
tf1, slim = tfc.tf1, tfc.slim
Op = nf.Op
R = np.random.default_rng(1)


def rnd(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, shape).astype(np.float32)


def f16(x):
    return np.asarray(x, np.float32).astype(np.float16).astype(np.float32)


def compile_pb(tmp_path, pb, **kw):
    return compile_file(write(tmp_path, "net.pb", pb), **kw)


def tf_shapes(pb, names):
    """(W, H, C) of each named node's output, as TF infers it."""
    gd = tf1.GraphDef.FromString(pb)
    g = tf1.Graph()
    with g.as_default():
        tf1.import_graph_def(gd, name="")
    dims = {}
    for n in names:
        shape = [1] * 4 + g.get_tensor_by_name(n + ":0").shape.as_list()
        _, h, w, c = shape[-4:]
        dims[n] = (w, h, c)
    return dims


def check_common(blob, shaves=1):
    """Header and per-record facts every graph file must satisfy."""
    b = Blob(blob)
    h = b.header
    assert h.file_size == len(blob) and h.version == 2
    assert h.stage_count == len(b.stages) > 0
    assert h.data_start == (264 + 227 * h.stage_count + 7) // 8 * 8
    assert (h.first_shave, h.last_shave) == (0, shaves - 1)
    assert blob[:32] == b"\0" * 32
    assert blob[264 + 227 * h.stage_count:h.data_start] == \
        b"\0" * (h.data_start - 264 - 227 * h.stage_count)
    assert (len(blob) - h.data_start) % 64 == 0
    for s in b.stages:
        assert s.opt_mask == 0x80000000 and s.pre_op == 5
        assert (s.datatype, s.precision, s.storage_order) == (2, 2, 2)
        assert s.post_stride == (0, 0) and s.name
        assert s.input_strides[2] == s.output_strides[2] == 2
        for o in s.operands():
            if o.index == nf.Region.DATA:
                assert o.pointer % 64 == 0
                assert h.data_start + o.pointer < len(blob)
            if o.index == nf.Region.NONE:
                assert o.pointer == 0
        if s.taps.index == nf.Region.DATA:
            assert s.tap_strides == (2 * s.tap_dims[2], 2 * s.tap_dims[2], 2)
    last = b.stages[-1]
    assert last.output.index == nf.Region.OUTPUT
    return b


def test_conv_batchnorm_relu6(tmp_path):
    w, gamma, beta = rnd(3, 3, 3, 4), rnd(4, lo=0.5, hi=2), rnd(4)
    mean, var = rnd(4), rnd(4, lo=0.1, hi=2)

    def build():
        x = tf1.placeholder(tf1.float32, [1, 9, 9, 3], name="input")
        y = tf1.nn.conv2d(x, tf1.Variable(w), [1, 2, 2, 1], "SAME",
                          name="conv")
        y, _, _ = tf1.nn.fused_batch_norm(y, gamma, beta, mean, var,
                                          epsilon=0.001, is_training=False,
                                          name="bn")
        tf1.nn.relu6(y, name="out")
    pb, _ = freeze(build, "out")
    b = check_common(compile_pb(tmp_path, pb).blob)
    assert len(b.stages) == 1
    s = b.stages[0]
    assert s.name == "out" and s.op == Op.CONV     # named after its last node
    assert (s.radix, s.stride, s.pad, s.pad_style) == ((3, 3), (2, 2),
                                                        (0, 0), 3)
    assert s.input_dims == (9, 9, 3) and s.output_dims == (5, 5, 4)
    assert s.tap_dims == (9, 3, 4)
    assert s.input_strides == (6, 54, 2) and s.output_strides == (8, 40, 2)
    assert (s.data.index, s.data.pointer) == (1, 0)
    assert (s.output.index, s.output.pointer) == (2, 0)
    assert s.post_op == Op.RELU_X and s.post_param == 6.0
    scale = gamma / np.sqrt(var + 0.001)
    np.testing.assert_allclose(b.data(s.taps, w.size),
                               f16(w * scale).reshape(-1), rtol=1e-3)
    np.testing.assert_allclose(b.data(s.bias, 4), f16(beta - mean * scale),
                               rtol=1e-3, atol=1e-3)
    assert s.taps.pointer == 0 and s.bias.pointer == nf.align(2 * w.size)


def test_depthwise_bias_relu_and_pools(tmp_path):
    w, bias = rnd(3, 3, 4, 2), rnd(8)

    def build():
        x = tf1.placeholder(tf1.float32, [1, 10, 10, 4], name="input")
        y = tf1.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID", name="dw")
        y = tf1.nn.relu(tf1.nn.bias_add(y, bias), name="relu")
        y = tf1.nn.avg_pool2d(y, 3, 2, "SAME", name="avg")
        tf1.nn.max_pool2d(y, 2, 2, "VALID", name="out")
    pb, _ = freeze(build, "out")
    b = check_common(compile_pb(tmp_path, pb).blob)
    assert [s.op for s in b.stages] == [Op.DEPTH_CONV, Op.AVG_POOL,
                                        Op.MAX_POOL]
    dw, avg, mx = b.stages
    shapes = tf_shapes(pb, ["dw", "avg", "out"])
    assert dw.output_dims == shapes["dw"] == (8, 8, 8)
    assert avg.output_dims == shapes["avg"] and mx.output_dims == \
        shapes["out"]
    assert dw.tap_dims == (9, 4, 8) and dw.pad_style == 1
    np.testing.assert_allclose(b.data(dw.taps, w.size), f16(w).reshape(-1))
    np.testing.assert_allclose(b.data(dw.bias, 8), f16(bias))
    assert dw.post_op == Op.RELU
    assert (avg.radix, avg.stride, avg.pad_style) == ((3, 3), (2, 2), 3)
    assert (mx.radix, mx.stride, mx.pad_style) == ((2, 2), (2, 2), 1)
    assert avg.taps.index == avg.bias.index == 0
    assert dw.output.index >= 4 and avg.data == dw.output


def test_concat_by_layout(tmp_path):
    wa, wb = rnd(1, 1, 3, 2), rnd(3, 3, 3, 5)

    def build():
        x = tf1.placeholder(tf1.float32, [1, 6, 6, 3], name="input")
        a = tf1.nn.conv2d(x, wa, [1, 1, 1, 1], "SAME", name="a")
        c = tf1.nn.conv2d(x, wb, [1, 1, 1, 1], "SAME", name="b")
        m = tf1.nn.max_pool2d(x, 3, 1, "SAME", name="m")
        y = tf1.concat([a, c, m], 3, name="cat")
        tf1.nn.conv2d(y, rnd(1, 1, 10, 4), [1, 1, 1, 1], "VALID",
                      name="out")
    pb, _ = freeze(build, "out")
    b = check_common(compile_pb(tmp_path, pb).blob)
    a, c, m, out = b.stages
    assert [s.op for s in b.stages] == [Op.CONV, Op.CONV, Op.MAX_POOL,
                                        Op.CONV]
    base = a.output.pointer
    assert a.output.index == c.output.index == m.output.index >= 4
    assert (c.output.pointer, m.output.pointer) == (base + 4, base + 14)
    for s in (a, c, m):
        assert s.output_strides == (20, 120, 2)
    assert (a.output_dims[2], c.output_dims[2], m.output_dims[2]) == (2, 5, 3)
    assert out.data == a.output and out.input_strides == (20, 120, 2)
    assert out.input_dims == (6, 6, 10)


def test_fully_connected_softmax(tmp_path):
    w, bias = rnd(2 * 2 * 3, 5), rnd(5)

    def build():
        x = tf1.placeholder(tf1.float32, [1, 2, 2, 3], name="input")
        y = tf1.reshape(x, [1, -1], name="flat")
        y = tf1.nn.bias_add(tf1.matmul(y, w, name="fc"), bias, name="fcb")
        y = tf1.reshape(y, [1, 1, 1, 5])
        y = tf1.squeeze(y, [1, 2], name="sq")
        tf1.nn.softmax(y, name="out")
    pb, _ = freeze(build, "out")
    b = check_common(compile_pb(tmp_path, pb).blob)
    fc, sm = b.stages
    assert (fc.op, sm.op) == (Op.FC, Op.SOFTMAX)
    assert fc.name == "fcb" and fc.input_dims == (2, 2, 3)  # MatMul+BiasAdd
    assert fc.tap_dims == (1, 12, 5) and fc.radix == (1, 1)
    assert fc.output_dims == (1, 1, 5) and fc.post_op == Op.BIAS
    np.testing.assert_allclose(b.data(fc.taps, w.size), f16(w).reshape(-1))
    np.testing.assert_allclose(b.data(fc.bias, 5), f16(bias))
    assert sm.output_dims == (1, 1, 5) and sm.output.index == 2


def test_residual_scale_sum_relu(tmp_path):
    """Inception-ResNet's block: relu(net + 0.17 * (conv(net) + b))."""
    w, bias = rnd(1, 1, 4, 4), rnd(4)

    def build():
        x = tf1.placeholder(tf1.float32, [1, 5, 5, 4], name="input")
        net = tf1.nn.relu(tf1.nn.conv2d(x, rnd(3, 3, 4, 4), [1, 1, 1, 1],
                                        "SAME"), name="net")
        up = tf1.nn.bias_add(tf1.nn.conv2d(net, w, [1, 1, 1, 1], "SAME",
                                           name="up"), bias)
        net = net + up * 0.17
        tf1.nn.relu(net, name="out")
    pb, _ = freeze(build, "out")
    b = check_common(compile_pb(tmp_path, pb).blob)
    assert [s.op for s in b.stages] == [Op.CONV, Op.CONV, Op.SUM]
    first, up, add = b.stages
    assert first.post_op == Op.RELU
    np.testing.assert_allclose(b.data(up.taps, w.size),
                               f16(w * 0.17).reshape(-1), rtol=1e-3)
    np.testing.assert_allclose(b.data(up.bias, 4), f16(bias * 0.17),
                               rtol=1e-3)
    assert add.data == first.output and add.taps == up.output
    assert add.post_op == Op.RELU and add.output.index == 2
    assert add.input_strides == add.output_strides == (8, 40, 2)


def test_slim_separable_first_layer_inception_v2_style(tmp_path):
    """Depthwise (no bias) then pointwise conv with bias and ReLU."""
    def build():
        x = tf1.placeholder(tf1.float32, [1, 14, 14, 3], name="input")
        slim.separable_conv2d(x, 8, [7, 7], depth_multiplier=2, stride=2,
                              padding="SAME", scope="Conv2d_1a_7x7")
    pb, _ = freeze(build, "Conv2d_1a_7x7/Relu")
    b = check_common(compile_pb(tmp_path, pb).blob)
    dw, pw = b.stages
    assert (dw.op, pw.op) == (Op.DEPTH_CONV, Op.CONV)
    assert dw.bias.index == 0 and dw.post_op == Op.NONE
    assert dw.tap_dims == (49, 3, 6) and dw.stride == (2, 2)
    assert pw.tap_dims == (1, 6, 8) and pw.post_op == Op.RELU
    assert pw.output_dims == (7, 7, 8) and pw.bias.index == 3


def test_user_ops_lrn_sigmoid_mean_pad(tmp_path):
    def build():
        x = tf1.placeholder(tf1.float32, [1, 8, 8, 4], name="input")
        y = tf1.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
        y = tf1.nn.conv2d(y, rnd(3, 3, 4, 6), [1, 1, 1, 1], "VALID",
                          name="conv")
        y = tf1.sigmoid(y + rnd(6), name="sig")
        y = tf1.nn.lrn(y, depth_radius=2, bias=1.5, alpha=0.1, beta=0.75,
                       name="lrn")
        y = tf1.nn.elu(y, name="elu")
        tf1.reduce_mean(y, [1, 2], name="out")
    pb, _ = freeze(build, "out")
    b = check_common(compile_pb(tmp_path, pb).blob)
    assert [s.op for s in b.stages] == [Op.CONV, Op.LRN, Op.ELU,
                                        Op.AVG_POOL]
    conv, lrn, elu, mean = b.stages
    assert (conv.pad_style, conv.pad, conv.output_dims) == (2, (1, 1),
                                                            (8, 8, 6))
    assert conv.post_op == Op.SIGMOID
    assert lrn.radix[0] == 5 and lrn.post_op == Op.NONE
    np.testing.assert_allclose(b.data(lrn.bias, 4),
                               f16([1.5, 0.5, 0.75, 0.0]), rtol=1e-3)
    assert elu.post_param == 1.0
    assert mean.radix == (8, 8) and mean.output_dims == (1, 1, 6)


def test_deterministic_bytes_twice_and_across_processes(tmp_path):
    import subprocess
    import sys

    def build():
        x = tf1.placeholder(tf1.float32, [1, 6, 6, 3], name="input")
        a = tf1.nn.conv2d(x, rnd(1, 1, 3, 2), [1, 1, 1, 1], "SAME")
        c = tf1.nn.conv2d(x, rnd(3, 3, 3, 5), [1, 1, 1, 1], "SAME")
        tf1.concat([a, c], 3, name="out")
    pb, _ = freeze(build, "out")
    path = write(tmp_path, "net.pb", pb)
    first = compile_file(path).blob
    assert compile_file(path).blob == first
    code = ("import sys, hashlib; from compiler import compile_file; "
            "print(hashlib.sha256(compile_file(sys.argv[1]).blob)"
            ".hexdigest())")
    env_out = subprocess.run([sys.executable, "-c", code, str(path)],
                             capture_output=True, text=True, check=True,
                             env={"PYTHONHASHSEED": "123", "PATH": ""})
    import hashlib
    assert env_out.stdout.strip() == hashlib.sha256(first).hexdigest()


def test_every_stage_shape_matches_tensorflow(tmp_path):
    """Output dims of each stage equal TF's inferred shape of that node."""
    def build():
        x = tf1.placeholder(tf1.float32, [1, 33, 13, 3], name="input")
        y = tf1.nn.conv2d(x, rnd(3, 3, 3, 4), [1, 2, 2, 1], "SAME",
                          name="c1")
        y = tf1.nn.conv2d(y, rnd(5, 2, 4, 4), [1, 3, 1, 1], "VALID",
                          name="c2")
        y = tf1.nn.max_pool2d(y, [3, 2], [2, 1], "SAME", name="p1")
        y = tf1.nn.avg_pool2d(y, [2, 2], [1, 2], "VALID", name="p2")
        tf1.nn.depthwise_conv2d(y, rnd(2, 3, 4, 3), [1, 1, 2, 1], "SAME",
                                name="out")
    pb, _ = freeze(build, "out")
    b = check_common(compile_pb(tmp_path, pb).blob)
    shapes = tf_shapes(pb, [s.name for s in b.stages])
    for s in b.stages:
        assert s.output_dims == shapes[s.name], s.name
