"""NCSDK 1.x idioms of people's own TF networks: flatten by shape
arithmetic, batch None / N placeholders (taken as batch 1), 2-D MLP inputs;
compiled from the .pb (and a .meta), run on the emulated stick and compared
with TensorFlow running the same graph; mvNCCheck on them."""
import numpy as np
import pytest

from cli_helpers import frozen_pb
from compiler import compile_file
from compiler.frontends.tf_graphdef import known_values, parse_graphdef
from compiler_helpers import freeze, run_frozen
from emulator.infer import run_once
from ncsdk.check import main as check_main
from tfcompat import tf, tf1

RNG = np.random.default_rng(5)
WC = RNG.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)
WF = RNG.normal(0, 0.3, (4 * 4 * 4, 5)).astype(np.float32)


def _cnn(flatten, batch=None):
    """conv -> relu -> pool -> flatten(idiom) -> fc -> softmax."""
    def build():
        x = tf1.placeholder(tf1.float32, [batch, 8, 8, 3], name="input")
        y = tf1.nn.max_pool(tf1.nn.relu(tf1.nn.conv2d(
            x, WC, [1, 1, 1, 1], "SAME")), [1, 2, 2, 1], [1, 2, 2, 1],
            "VALID")
        tf1.nn.softmax(tf1.matmul(flatten(y), WF), name="out")
    return build


def _keras2_flatten(y):
    """Keras 2.x Flatten: Shape -> StridedSlice[1:] -> Prod -> Pack ->
    Reshape, as its graph held it."""
    tail = tf.raw_ops.StridedSlice(input=tf1.shape(y), begin=[1], end=[0],
                                   strides=[1], end_mask=1)
    n = tf.raw_ops.Prod(input=tail, axis=[0], keep_dims=False)
    return tf.raw_ops.Reshape(tensor=y, shape=tf.raw_ops.Pack(
        values=[tf1.constant(-1), n], axis=0))


FLATTENS = {
    "reduce_prod": lambda y: tf1.reshape(
        y, [-1, tf1.reduce_prod(tf1.shape(y)[1:])]),
    "stack_batch": lambda y: tf1.reshape(
        y, tf1.stack([tf1.shape(y)[0], -1])),
    "keras2": _keras2_flatten,
    "contrib_style": lambda y: tf1.reshape(
        y, tf1.concat([tf1.shape(y)[:1], [tf1.size(y[0])]], 0)),
}


def _stick(blob, x):
    return run_once(blob, x.astype(np.float16))[0].astype(np.float32)


def _compare(pb, x, shape):
    """Stick result of the .pb vs TF on x fed in its own shape."""
    result = compile_file(str(pb))
    theirs = run_frozen(pb.read_bytes(), {"input:0": x.reshape(shape)},
                        "out:0")
    ours = _stick(result.blob, x.reshape(result.input_shape[1:]))
    np.testing.assert_allclose(ours, np.asarray(theirs).reshape(-1),
                               atol=2e-2)
    return result


@pytest.mark.parametrize("idiom", sorted(FLATTENS))
def test_flatten_idioms_compile_and_run(tmp_path, idiom):
    pb = frozen_pb(tmp_path / "net.pb", _cnn(FLATTENS[idiom]))
    x = RNG.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    result = _compare(pb, x, (1, 8, 8, 3))
    assert len(result.warnings) == 1 and "batch unknown" in \
        result.warnings[0]


@pytest.mark.parametrize("batch", [1, 4, None])
def test_any_batch_is_batch_1_with_one_warning(tmp_path, batch):
    pb = frozen_pb(tmp_path / "net.pb", _cnn(FLATTENS["stack_batch"],
                                             batch))
    one = frozen_pb(tmp_path / "one.pb", _cnn(FLATTENS["stack_batch"], 1))
    result = compile_file(str(pb), name="n")
    assert result.blob == compile_file(str(one), name="n").blob
    assert len(result.warnings) == (0 if batch == 1 else 1)
    if batch:
        assert result.framework_input_shape == (1, 8, 8, 3)


def _mlp(shape):
    w1 = RNG.normal(0, 0.2, (100, 32)).astype(np.float32)
    w2 = RNG.normal(0, 0.2, (32, 10)).astype(np.float32)

    def build():
        x = tf1.placeholder(tf1.float32, shape, name="input")
        h = tf1.nn.relu(tf1.nn.bias_add(tf1.matmul(x, w1), np.full(
            32, 0.1, np.float32)))
        tf1.nn.softmax(tf1.matmul(h, w2), name="out")
    return build


def _vector_net():
    """A rank-1 input [100]: matmul needs rank 2, so it is reshaped."""
    v = tf1.placeholder(tf1.float32, [100], name="input")
    tf1.nn.softmax(tf1.matmul(tf1.reshape(v, [1, 100]), np.eye(
        100, 10, dtype=np.float32)), name="out")


@pytest.mark.parametrize("shape", [[None, 100], [1, 100], [100]])
def test_mlp_inputs_compile_and_run_on_the_stick(tmp_path, shape):
    build = _vector_net if shape == [100] else _mlp(shape)
    pb = frozen_pb(tmp_path / "mlp.pb", build)
    x = RNG.uniform(0, 1, 100).astype(np.float32)
    own = [1 if d is None else d for d in shape]
    result = _compare(pb, x, own)
    assert result.input_shape == (1, 1, 1, 100)
    assert result.framework_input_shape == tuple(own)


def _check(capsys, tmp_path, *args):
    status = check_main([str(a) for a in args] + [
        "--save", str(tmp_path / "o"), "-o", str(tmp_path / "g")])
    return status, capsys.readouterr()


def test_mvNCCheck_on_an_mlp(tmp_path, capsys):
    pb = frozen_pb(tmp_path / "mlp.pb", _mlp([None, 100]))
    status, out = _check(capsys, tmp_path, pb)     # default -cs 2,1,0
    assert status == 0, out.out + out.err
    assert "Result: Pass" in out.out
    assert out.err.splitlines() == [
        "[Warning] input input: batch unknown compiled as batch 1 (as NCSDK)"]
    assert np.load(tmp_path / "o_input.npy").size == 100


def test_mvNCCheck_refuses_an_image_for_an_mlp(tmp_path, capsys):
    pb = frozen_pb(tmp_path / "mlp.pb", _mlp([None, 100]))
    status, out = _check(capsys, tmp_path, pb, "-i", "cat.jpg")
    assert status == 2 and "not an image" in out.err
    assert "Traceback" not in out.err


def test_mvNCCheck_on_a_batch_none_cnn(tmp_path, capsys):
    pb = frozen_pb(tmp_path / "net.pb", _cnn(FLATTENS["keras2"]))
    status, out = _check(capsys, tmp_path, pb, "-cs", "0,1,2")
    assert status == 0, out.out + out.err
    assert "Result: Pass" in out.out


def test_mvNCCheck_on_a_fixed_batch_4_cnn(tmp_path, capsys):
    pb = frozen_pb(tmp_path / "net.pb", _cnn(FLATTENS["reduce_prod"], 4))
    status, out = _check(capsys, tmp_path, pb)
    assert status == 0, out.out + out.err
    assert "batch 4 compiled as batch 1" in out.err


def _deconv():
    w = RNG.normal(0, 0.3, (3, 3, 2, 3)).astype(np.float32)

    def build():
        x = tf1.placeholder(tf1.float32, [None, 4, 5, 3], name="input")
        s = tf1.shape(x)
        out_shape = tf1.stack([s[0], 2 * s[1], 2 * s[2], 2], name="oshape")
        tf1.nn.relu(tf1.nn.conv2d_transpose(x, w, out_shape, [1, 2, 2, 1],
                                            "SAME"), name="out")
    return build


def test_conv2d_transpose_output_shape_folds(tmp_path):
    data, _ = freeze(_deconv(), "out")
    assert known_values(parse_graphdef(data), ["oshape"])["oshape"].tolist() \
        == [1, 8, 10, 2]


def test_conv2d_transpose_with_computed_shape_runs(tmp_path):
    pb = frozen_pb(tmp_path / "net.pb", _deconv())
    x = RNG.uniform(0, 1, (1, 4, 5, 3)).astype(np.float32)
    _compare(pb, x, (1, 4, 5, 3))


def test_meta_of_a_flatten_net_compiles(tmp_path):
    graph = tf.Graph()
    with graph.as_default():
        x = tf1.placeholder(tf1.float32, [None, 8, 8, 3], name="input")
        w = tf1.Variable(WC)
        y = tf1.nn.relu(tf1.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"))
        tf1.nn.softmax(tf1.reshape(y, [-1, tf1.reduce_prod(
            tf1.shape(y)[1:])]), name="out")
        saver = tf1.train.Saver()
        with tf1.Session(graph=graph) as sess:
            sess.run(tf1.global_variables_initializer())
            saver.save(sess, str(tmp_path / "net"))
    result = compile_file(str(tmp_path / "net.meta"), output_node="out",
                          weights=str(tmp_path / "net.index"))
    assert result.output_node == "out" and len(result.warnings) == 1
