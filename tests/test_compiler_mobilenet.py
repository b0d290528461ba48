"""A MobileNet-v1-like net built with tf_slim layers (0.25, 128x128, random
weights), frozen by TF, compiled, decoded: the stage list the zoo's
MobileNets must produce. Optionally run on the emulator against TF."""
import numpy as np
import pytest

import ncsformat as nf
from compiler import compile_file
from compiler_helpers import Blob, freeze, run_frozen, write

import tfcompat as tfc
tf1, slim = tfc.tf1, tfc.slim
Op = nf.Op
# (stride, depth at multiplier 1.0) of the 13 separable layers
SEPARABLE = [(1, 64), (2, 128), (1, 128), (2, 256), (1, 256), (2, 512)] + \
    [(1, 512)] * 5 + [(2, 1024), (1, 1024)]
MULT, SIZE = 0.25, 128
OUTPUT = "MobilenetV1/Predictions/Reshape_1"


def _depth(d):
    return max(int(d * MULT), 8)


def build_mobilenet():
    tf1.set_random_seed(3)
    x = tf1.placeholder(tf1.float32, [1, SIZE, SIZE, 3], name="input")
    bn = {"is_training": False, "scale": True, "center": True,
          "decay": 0.9997, "epsilon": 0.001,
          "param_initializers": {
              "moving_mean": tf1.random_uniform_initializer(-0.2, 0.2),
              "moving_variance": tf1.random_uniform_initializer(0.5, 1.5),
              "gamma": tf1.random_uniform_initializer(0.5, 1.5),
              "beta": tf1.random_uniform_initializer(-0.2, 0.2)}}
    init = tf1.truncated_normal_initializer(stddev=0.09)
    with tf1.variable_scope("MobilenetV1"), slim.arg_scope(
            [slim.conv2d, slim.separable_conv2d], normalizer_fn=slim.batch_norm,
            normalizer_params=bn, activation_fn=tf1.nn.relu6,
            weights_initializer=init, padding="SAME"):
        net = slim.conv2d(x, _depth(32), 3, stride=2, scope="Conv2d_0")
        for i, (stride, d) in enumerate(SEPARABLE, 1):
            net = slim.separable_conv2d(net, None, 3, depth_multiplier=1,
                                        stride=stride,
                                        scope=f"Conv2d_{i}_depthwise")
            net = slim.conv2d(net, _depth(d), 1, scope=f"Conv2d_{i}_pointwise")
        with tf1.variable_scope("Logits"):
            net = slim.avg_pool2d(net, [4, 4], padding="VALID",
                                  scope="AvgPool_1a")
            net = slim.dropout(net, keep_prob=0.999, is_training=False)
            logits = slim.conv2d(net, 1001, 1, activation_fn=None,
                                 normalizer_fn=None, scope="Conv2d_1c_1x1")
            logits = tf1.squeeze(logits, [1, 2], name="SpatialSqueeze")
        slim.softmax(logits, scope="Predictions")


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    pb, _ = freeze(build_mobilenet, OUTPUT)
    path = write(tmp_path_factory.mktemp("mnet"), "mobilenet.pb", pb)
    return pb, compile_file(path, shaves=12)


def test_frozen_graph_has_the_zoo_op_types(mobilenet):
    from compiler.frontends.tf_graphdef import parse_graphdef
    ops = {n.op for n in parse_graphdef(mobilenet[0]).node}
    assert ops == {"AvgPool", "BiasAdd", "Const", "Conv2D",
                   "DepthwiseConv2dNative", "FusedBatchNormV3", "Identity",
                   "Placeholder", "Relu6", "Reshape", "Softmax", "Squeeze"}


def test_stage_list(mobilenet):
    b = Blob(mobilenet[1].blob)
    st = b.stages
    assert len(st) == 1 + 2 * 13 + 3
    assert b.header.last_shave == 11 and b.header.name == "mobilenet"
    expect_ops = [Op.CONV] + [Op.DEPTH_CONV, Op.CONV] * 13 + \
        [Op.AVG_POOL, Op.CONV, Op.SOFTMAX]
    assert [s.op for s in st] == expect_ops
    for s in st[:27]:
        assert (s.post_op, s.post_param) == (Op.RELU_X, 6.0), s.name
        assert s.bias.index == nf.Region.DATA and s.pad_style == 3
    # dims by hand: 128 -> 64 after Conv2d_0, then the stride table
    hw, c = 64, _depth(32)
    assert st[0].output_dims == (64, 64, 8) and st[0].stride == (2, 2)
    for i, (stride, d) in enumerate(SEPARABLE):
        dw, pw = st[1 + 2 * i], st[2 + 2 * i]
        assert dw.input_dims == (hw, hw, c) and dw.stride == (stride,) * 2
        hw = -(-hw // stride)
        assert dw.output_dims == (hw, hw, c) and dw.tap_dims == (9, c, c)
        assert pw.tap_dims == (1, c, _depth(d)) and pw.radix == (1, 1)
        c = _depth(d)
        assert pw.output_dims == (hw, hw, c)
    pool, logits, soft = st[27:]
    assert (hw, c) == (4, 256)
    assert pool.radix == (4, 4) and pool.pad_style == 1
    assert pool.output_dims == (1, 1, 256)
    assert logits.tap_dims == (1, 256, 1001) and logits.post_op == Op.BIAS
    # each stage is named after the last TF node fused into it (NCSDK)
    assert st[0].name == "MobilenetV1/Conv2d_0/Relu6"
    assert [s.name for s in st[1:3]] == [
        "MobilenetV1/Conv2d_1_depthwise/Relu6",
        "MobilenetV1/Conv2d_1_pointwise/Relu6"]
    assert pool.name == "MobilenetV1/Logits/AvgPool_1a/AvgPool"
    assert logits.name == "MobilenetV1/Logits/Conv2d_1c_1x1/BiasAdd"
    assert soft.name == "MobilenetV1/Predictions/Softmax"
    assert soft.output_dims == (1, 1, 1001) and soft.output.index == 2
    assert soft.output_strides == (2002, 2002, 2)
    for a, b2 in zip(st, st[1:]):
        assert b2.data == a.output             # a plain chain


def test_emulator_matches_tensorflow(mobilenet):
    import emulator.mvncapi as emu
    pb, result = mobilenet
    x = np.random.default_rng(4).uniform(-1, 1, (1, SIZE, SIZE, 3)).astype(
        np.float32)
    ref = run_frozen(pb, {"input:0": x}, OUTPUT + ":0").reshape(-1)
    dev = emu.Device(emu.EnumerateDevices()[0])
    dev.OpenDevice()
    try:
        graph = dev.AllocateGraph(result.blob)
        graph.LoadTensor(x.astype(np.float16), None)
        out, _ = graph.GetResult()
        graph.DeallocateGraph()
    finally:
        dev.CloseDevice()
    out = np.asarray(out, np.float32)
    assert out.shape == ref.shape
    assert np.argmax(out) == np.argmax(ref)
    np.testing.assert_allclose(out, ref, atol=2e-3, rtol=0.05)
