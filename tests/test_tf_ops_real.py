"""The TF ops and idioms of people's own networks, each in a tiny graph.

Every graph is frozen by TensorFlow, compiled, run on the emulated stick (in
debug mode: guard bands checked) and compared with TensorFlow running the
same frozen graph on the same input, within fp16 tolerance. The stage list
shows what each idiom became: folded away, or which NCSDK stage, named
after the last TF node fused into it.
"""
import numpy as np
import pytest

import ncsformat as nf
from compiler import compile_file
from compiler_helpers import Blob, freeze, run_frozen, write
from emulator.executor import Executor
from emulator.reader import load_graph
from ncsdk.compile import main as mvnc_compile

import tfcompat as tfc
tf1 = tfc.tf1
Op = nf.Op
R = np.random.default_rng(7)


def rnd(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, shape).astype(np.float32)


def conv(x, cout, k=3, padding="SAME", scope=None, relu=False, bias=True):
    """Conv2D (+ BiasAdd, + Relu) under ``scope``: scope/Conv2D, ..."""
    with tf1.name_scope(scope):
        w = rnd(k, k, int(x.shape[-1]), cout, lo=-0.5, hi=0.5)
        y = tf1.nn.conv2d(x, w, [1, 1, 1, 1], padding, name="Conv2D")
        if bias:
            y = tf1.nn.bias_add(y, rnd(cout), name="BiasAdd")
        return tf1.nn.relu(y, name="Relu") if relu else y


def run_both(tmp_path, body, shape=(1, 8, 8, 3), lo=-1.0, hi=1.0,
             output="out"):
    """Compile ``body`` (input -> output node) and check it against TF.

    Returns the decoded graph file."""
    def build():
        x = tf1.placeholder(tf1.float32, list(shape), name="input")
        body(x)
    pb, _ = freeze(build, output)
    result = compile_file(write(tmp_path, "net.pb", pb))
    x = rnd(*shape, lo=lo, hi=hi)
    ref = np.asarray(run_frozen(pb, {"input:0": x}, output + ":0"))
    out = Executor(load_graph(result.blob), debug=True).run(
        x.astype(np.float16).tobytes()).astype(np.float32)
    assert out.shape == (ref.size,)
    scale = max(1.0, float(np.abs(ref).max()))
    np.testing.assert_allclose(out, ref.reshape(-1), rtol=2e-2,
                               atol=4e-3 * scale)
    return Blob(result.blob)


def ops_names(b):
    return [(s.op, s.name) for s in b.stages]


# ------------------------------------------------------ constants folded

def test_preprocessing_before_a_valid_conv_adds_no_stage(tmp_path):
    def body(x):
        y = x / 255.0 - 0.5
        y = conv(y, 4, padding="VALID", scope="conv1", relu=True)
        tf1.identity(y, name="out")
    b = run_both(tmp_path, body, lo=0.0, hi=255.0)
    assert ops_names(b) == [(Op.CONV, "out")]
    assert b.stages[0].post_op == Op.RELU


def test_preprocessing_before_a_same_conv_is_one_scale_stage(tmp_path):
    """SAME pads zeros, not -0.5: the shift cannot go into the weights."""
    def body(x):
        y = tf1.subtract(tf1.divide(x, 255.0), 0.5, name="sub")
        conv(y, 4, scope="conv1", relu=True)
    b = run_both(tmp_path, body, lo=0.0, hi=255.0, output="conv1/Relu")
    assert ops_names(b) == [(Op.SCALE, "sub"), (Op.CONV, "conv1/Relu")]


def test_a_pure_multiply_folds_even_into_a_same_conv(tmp_path):
    def body(x):
        y = tf1.multiply(x, rnd(3, lo=0.5, hi=2.0))    # per channel, (C,)
        y = tf1.negative(y)
        conv(y, 4, scope="conv1", relu=True)
    b = run_both(tmp_path, body, output="conv1/Relu")
    assert ops_names(b) == [(Op.CONV, "conv1/Relu")]


def test_mean_std_normalisation_then_conv(tmp_path):
    """(x - mean) / std per channel, mean as (1, 1, 1, C), std as (C,)."""
    def body(x):
        y = (x - rnd(1, 1, 1, 3, lo=100, hi=150)) / rnd(3, lo=50, hi=70)
        conv(y, 5, padding="VALID", scope="conv1")
        tf1.identity(tf1.get_default_graph().get_tensor_by_name(
            "conv1/BiasAdd:0"), name="out")
    b = run_both(tmp_path, body, lo=0.0, hi=255.0)
    assert ops_names(b) == [(Op.CONV, "out")]


def test_bias_written_as_add_and_scale_after_conv(tmp_path):
    """conv + b * s + t: all of it lands in the convolution's constants."""
    def body(x):
        y = conv(x, 4, scope="conv1", bias=False)
        y = tf1.add(y, rnd(4), name="conv1/add")
        y = tf1.multiply(rnd(1, 1, 1, 4), y, name="conv1/mul")
        y = tf1.subtract(y, rnd(4), name="conv1/sub")
        tf1.nn.relu(y, name="conv1/Relu")
    b = run_both(tmp_path, body, output="conv1/Relu")
    assert ops_names(b) == [(Op.CONV, "conv1/Relu")]


def test_constant_minus_tensor_is_a_scale_stage(tmp_path):
    def body(x):
        y = tf1.nn.relu(x)
        tf1.subtract(rnd(3), y, name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.RELU, Op.SCALE]
    assert b.stages[1].name == "out"


def test_matmul_plus_add_is_named_after_the_add(tmp_path):
    """NCSDK profiles show fc2/add for MatMul + add of a bias."""
    def body(x):
        y = tf1.reshape(x, [1, -1])
        with tf1.name_scope("fc1"):
            y = tf1.matmul(y, rnd(48, 10), name="MatMul")
            y = tf1.nn.relu(tf1.add(y, rnd(10), name="add"), name="Relu")
        with tf1.name_scope("fc2"):
            y = tf1.add(tf1.matmul(y, rnd(10, 3), name="MatMul"), rnd(3),
                        name="add")
        tf1.nn.softmax(y, name="out")
    b = run_both(tmp_path, body, shape=(1, 4, 4, 3))
    assert ops_names(b) == [(Op.FC, "fc1/Relu"), (Op.FC, "fc2/add"),
                            (Op.SOFTMAX, "out")]


def test_unfused_batch_norm_precomputed_constants(tmp_path):
    """x * a + b, the form tf.nn.batch_normalization takes once its
    constants are evaluated, folds into the conv like FusedBatchNorm."""
    def body(x):
        y = conv(x, 4, scope="c", bias=False)
        y = tf1.add(tf1.multiply(y, rnd(4, lo=0.5, hi=2)), rnd(4),
                    name="bn/add_1")
        tf1.nn.relu6(y, name="c/Relu6")
    b = run_both(tmp_path, body, output="c/Relu6")
    assert ops_names(b) == [(Op.CONV, "c/Relu6")]
    assert b.stages[0].post_op == Op.RELU_X


def test_tf_nn_batch_normalization(tmp_path):
    """The real op: Rsqrt(var + eps) * gamma ... evaluated at compile time
    by the driver, then the affine part folds into the convolution."""
    mean, var = rnd(4), rnd(4, lo=0.2, hi=2)
    gamma, beta = rnd(4, lo=0.5, hi=2), rnd(4)

    def body(x):
        y = conv(x, 4, scope="c")
        y = tf1.nn.batch_normalization(y, mean, var, beta, gamma, 1e-3,
                                       name="bn")
        tf1.nn.relu(y, name="out")
    b = run_both(tmp_path, body)
    assert ops_names(b) == [(Op.CONV, "out")]


def test_batch_norm_on_the_input_folds_forward_into_a_valid_conv(tmp_path):
    def body(x):
        y, _, _ = tf1.nn.fused_batch_norm(
            x, rnd(3, lo=0.5, hi=2), rnd(3), rnd(3), rnd(3, lo=0.2, hi=2),
            epsilon=1e-3, is_training=False, name="bn")
        conv(y, 4, padding="VALID", scope="conv1", relu=True)
    b = run_both(tmp_path, body, output="conv1/Relu")
    assert ops_names(b) == [(Op.CONV, "conv1/Relu")]


# ------------------------------------------------------ activations

@pytest.mark.parametrize("make", [
    lambda y: tf1.nn.leaky_relu(y, 0.1, name="act"),
    lambda y: tf1.maximum(y, 0.2 * y, name="act"),
    lambda y: tf1.maximum(tf1.multiply(y, 0.3), y, name="act"),
    lambda y: tf1.subtract(tf1.nn.relu(y), 0.1 * tf1.nn.relu(-y),
                           name="act"),
], ids=["LeakyRelu", "Maximum(x, a*x)", "Maximum(a*x, x)",
        "relu(x) - a*relu(-x)"])
def test_leaky_relu_forms_fuse_into_the_conv(tmp_path, make):
    def body(x):
        make(conv(x, 4, scope="c"))
    b = run_both(tmp_path, body, output="act")
    assert ops_names(b) == [(Op.CONV, "act")]
    assert b.stages[0].post_op == Op.LEAKY_RELU


@pytest.mark.parametrize("make", [
    lambda y: tf1.nn.relu6(y, name="act"),
    lambda y: tf1.minimum(tf1.nn.relu(y), 6.0, name="act"),
    lambda y: tf1.clip_by_value(y, 0.0, 6.0, name="act"),
], ids=["Relu6", "Minimum(Relu(x), 6)", "ClipByValue"])
def test_relu6_forms_are_relu_x(tmp_path, make):
    def body(x):
        make(conv(x, 4, scope="c"))
    b = run_both(tmp_path, body, output="act", lo=-4, hi=4)
    assert ops_names(b) == [(Op.CONV, "act")]
    assert (b.stages[0].post_op, b.stages[0].post_param) == (Op.RELU_X, 6.0)


def test_square_is_a_product_of_x_with_itself(tmp_path):
    def body(x):
        y = tf1.nn.relu(conv(x, 4, scope="c"))
        tf1.square(y, name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.CONV, Op.PROD]
    prod = b.stages[1]
    assert prod.taps == prod.data


def test_abs_is_max_of_x_and_minus_x(tmp_path):
    def body(x):
        tf1.abs(conv(x, 4, scope="c"), name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.CONV, Op.SCALE, Op.MAX]
    assert b.stages[-1].name == "out"


def test_neg_at_the_end_is_a_scale_stage(tmp_path):
    def body(x):
        tf1.negative(tf1.nn.sigmoid(x), name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.SIGMOID, Op.SCALE]


def test_add_n_and_tensor_minus_tensor(tmp_path):
    def body(x):
        a, b, c = (conv(x, 4, scope=f"c{i}", relu=True) for i in range(3))
        s = tf1.add_n([a, b, c], name="sum")
        tf1.subtract(s, conv(x, 4, scope="d", relu=True), name="out")
    b = run_both(tmp_path, body)
    ops = [s.op for s in b.stages]
    assert ops.count(Op.CONV) == 4 and ops.count(Op.SUM) == 3
    assert b.stages[-1].name == "out" and "sum" in [s.name for s in b.stages]


def test_identity_and_stop_gradient_chains_vanish(tmp_path):
    def body(x):
        y = conv(x, 4, scope="c", relu=True)
        y = tf1.stop_gradient(tf1.identity(tf1.identity(y)))
        tf1.identity(y, name="output")
    b = run_both(tmp_path, body, output="output")
    assert ops_names(b) == [(Op.CONV, "output")]


# ------------------------------------------------------ channel slices

def test_channel_slice_read_as_a_view(tmp_path):
    def body(x):
        y = conv(x, 8, scope="c", relu=True)
        conv(y[..., 2:5], 4, scope="d", relu=True)
        tf1.identity(tf1.get_default_graph().get_tensor_by_name(
            "d/Relu:0"), name="out")
    b = run_both(tmp_path, body)
    c, d = b.stages
    assert (c.op, d.op) == (Op.CONV, Op.CONV)
    assert d.data.index == c.output.index
    assert d.data.pointer == c.output.pointer + 2 * 2
    assert d.input_dims == (8, 8, 3) and d.input_strides == c.output_strides


@pytest.mark.parametrize("take", [
    lambda y: y[..., 1:4], lambda y: y[:, :, :, -3:],
    lambda y: y[..., 2:-3], lambda y: y[:, :, :, :3],
    lambda y: tf1.strided_slice(y, [0, 0, 0, 5], [1, 8, 8, 8]),
], ids=["ellipsis", "negative", "both", "begin-mask", "explicit"])
def test_strided_slice_forms(tmp_path, take):
    def body(x):
        y = conv(x, 8, scope="c", relu=True)
        tf1.nn.sigmoid(take(y), name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.CONV, Op.SIGMOID]


def test_slice_of_a_fully_connected_output(tmp_path):
    """2-D tensors: the channel axis is axis 1."""
    def body(x):
        y = tf1.matmul(tf1.reshape(x, [1, -1]), rnd(192, 10), name="fc")
        tf1.nn.softmax(y[:, 2:7], name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.FC, Op.SOFTMAX]
    assert b.stages[1].data.pointer == b.stages[0].output.pointer + 4


def test_slices_of_the_network_input_are_views(tmp_path):
    def body(x):
        a = conv(tf1.slice(x, [0, 0, 0, 1], [-1, -1, -1, 2]), 4, scope="a",
                 relu=True)
        b = conv(x[:, :, :, :1], 4, scope="b", relu=True)
        tf1.add(a, b, name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.CONV, Op.CONV, Op.SUM]
    assert (b.stages[0].data.index, b.stages[0].data.pointer) == (1, 2)
    assert b.stages[0].input_strides == (6, 48, 2)


def test_slice_as_network_output_is_a_copy_stage(tmp_path):
    """NCSDK's op 19 for x[..., :1] at the end of a net."""
    def body(x):
        y = conv(x, 8, scope="c", relu=True)
        tf1.identity(y[..., 3:4], name="out")
    b = run_both(tmp_path, body)
    c, cp = b.stages
    assert (cp.op, cp.name) == (Op.COPY, "out")
    assert cp.input_dims == (8, 8, 8) and cp.output_dims == (8, 8, 1)
    assert cp.tap_dims[1:] == (8, 1)
    assert cp.data.pointer == c.output.pointer + 6
    assert cp.output_strides == (2, 16, 2)


def test_split_and_splitv_feed_convs_and_a_concat(tmp_path):
    def body(x):
        y = conv(x, 6, scope="c", relu=True)
        a, b = tf1.split(y, 2, axis=-1, name="split")
        p, q, r = tf1.split(y, [1, 2, 3], axis=3, name="splitv")
        z = tf1.concat([conv(a, 2, scope="ca"), conv(b, 2, scope="cb"),
                        tf1.nn.sigmoid(q), r], axis=-1)
        tf1.nn.relu(z, name="out")
    b = run_both(tmp_path, body)
    ops = [s.op for s in b.stages]
    assert ops.count(Op.COPY) == 1          # r: a concat member needs a stage
    assert ops.count(Op.CONV) == 3 and Op.SIGMOID in ops


def test_eltwise_of_two_slices_of_one_tensor(tmp_path):
    """a[..., :4] * sigmoid(a[..., 4:]): GLU. The product reads both halves
    of one buffer with its strides; only the sigmoid needs a stage."""
    def body(x):
        y = conv(x, 8, scope="c")
        tf1.multiply(y[..., :4], y[..., 4:], name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.CONV, Op.PROD]
    prod = b.stages[1]
    assert prod.taps.pointer == prod.data.pointer + 8


def test_slice_read_by_a_fully_connected_layer_is_copied(tmp_path):
    def body(x):
        y = conv(x, 4, scope="c", relu=True)[..., 1:3]
        y = tf1.matmul(tf1.reshape(y, [1, -1]), rnd(128, 5), name="out")
    b = run_both(tmp_path, body)
    assert [s.op for s in b.stages] == [Op.CONV, Op.COPY, Op.FC]


# ------------------------------------------------------ refused

REFUSED = {
    "reciprocal": (lambda x: tf1.math.reciprocal(x, name="out"), 4,
                   "Reciprocal (node out)"),
    "const-over-x": (lambda x: tf1.divide(2.0, x, name="out"), 5,
                     "out (RealDiv)"),
    "div-tensors": (lambda x: tf1.divide(x, tf1.nn.relu(x), name="out"), 5,
                    "out (RealDiv)"),
    "height-slice": (lambda x: tf1.identity(x[:, 1:3], name="out"), 5,
                     "strided_slice"),
    "split-width": (lambda x: tf1.identity(tf1.split(x, 2, axis=2)[0],
                                           name="out"), 5, "split"),
    "broadcast": (lambda x: tf1.multiply(x, tf1.reduce_max(
        x, axis=-1, keepdims=True), name="out"), 4, "Max"),
    "lone-minimum": (lambda x: tf1.minimum(x, 6.0, name="out"), 5,
                     "Minimum out"),
    "min-of-tensors": (lambda x: tf1.minimum(x, tf1.nn.relu(x), name="out"),
                       5, "Minimum"),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_unsupported_variants_are_ncsdk_errors(tmp_path, capsys, case):
    body, number, fragment = REFUSED[case]

    def build():
        body(tf1.placeholder(tf1.float32, [1, 8, 8, 4], name="input"))
    pb, _ = freeze(build, "out")
    path = write(tmp_path, "net.pb", pb)
    out = tmp_path / "graph"
    assert mvnc_compile([str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"[Error {number}] Toolkit Error: ")
    assert fragment in err and "Traceback" not in err
    assert not out.exists()


# ------------------------------------------------------ conv2d_transpose

@pytest.mark.parametrize("k,stride,padding,size,stages", [
    (4, 2, "SAME", 5, [Op.DECONV]),             # excess 2: pad 1 each side
    (3, 2, "SAME", 5, [Op.DECONV, Op.CROP, Op.SCALE]),  # excess 1: TF pads
    # the end; the bias and relu after the crop are one scale stage
    (2, 2, "VALID", 5, [Op.DECONV]),
    (3, 2, "VALID", 4, [Op.DECONV]),
    (3, 1, "SAME", 6, [Op.DECONV]),
])
def test_conv2d_transpose_is_a_deconvolution(tmp_path, k, stride, padding,
                                             size, stages):
    """The output shape as people computed it: tf.stack of tf.shape."""
    def body(x):
        w = rnd(k, k, 4, 3, lo=-0.5, hi=0.5)          # [kh, kw, out, in]
        n = tf1.shape(x)
        if padding == "SAME":
            out_hw = n[1] * stride
        else:
            out_hw = (n[1] - 1) * stride + k
        shape = tf1.stack([n[0], out_hw, out_hw, 4])
        y = tf1.nn.conv2d_transpose(x, w, shape, [1, stride, stride, 1],
                                    padding, name="deconv1")
        tf1.nn.relu(tf1.nn.bias_add(y, rnd(4)), name="out")
    b = run_both(tmp_path, body, shape=(1, size, size, 3))
    ops = [s.op for s in b.stages]
    assert ops == stages
    assert b.stages[-1].name == "out"


def test_conv2d_transpose_output_shape_that_does_not_fit_is_error_5(
        tmp_path, capsys):
    """13x13 is not what a stride-2 SAME conv2d_transpose of 5x5 gives."""
    def build():
        x = tf1.placeholder(tf1.float32, [1, 5, 5, 3], name="input")
        tf1.nn.conv2d_transpose(x, rnd(3, 3, 4, 3), [1, 13, 13, 4],
                                [1, 2, 2, 1], "SAME", name="out")
    pb, _ = freeze(build, "out")
    path, out = write(tmp_path, "net.pb", pb), tmp_path / "graph"
    assert mvnc_compile([str(path), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("[Error 5] Toolkit Error: ") and "out" in err
    assert "does not fit" in err and not out.exists()


def test_a_trailing_noop_is_not_the_default_output(tmp_path):
    """A graph that ends with tf.group(...) (a NoOp): without -on the output
    is the last node that computes something, as the NoOp vanishes."""
    def build():
        x = tf1.placeholder(tf1.float32, [1, 6, 6, 3], name="input")
        y = tf1.nn.relu(conv(x, 4, scope="conv1"), name="out")
        tf1.group(y, name="train_op")
    pb, _ = freeze(build, "train_op")
    result = compile_file(write(tmp_path, "net.pb", pb))
    assert result.output_node == "out"
    assert [s.name for s in Blob(result.blob).stages] == ["out"]
