"""Keras's inference plumbing: the learning phase, Switch/Merge around
dropout and batch norm, PlaceholderWithDefault. Networks made by tf_keras
in graph mode (what TF 2.21 emits), and the 2018 GraphDef patterns written
with raw ops; compiled, run on the emulated stick and compared with
TensorFlow running the same frozen graph at inference."""
import numpy as np
import pytest

from cli_helpers import frozen_pb
from compiler import compile_file
from compiler.errors import CompileError
from compiler_helpers import run_frozen
from emulator.infer import run_once
from ncsdk.compile import main as compile_main
from tfcompat import tf, tf1

import tf_keras

raw = tf.raw_ops
RNG = np.random.default_rng(3)
W = RNG.normal(0, 0.3, (3, 3, 3, 4)).astype(np.float32)


def _stick_vs_tf(pb, x, output="out"):
    result = compile_file(str(pb), output_node=output)
    ours = run_once(result.blob, x.reshape(result.input_shape[1:]).astype(
        np.float16))[0].astype(np.float32)
    theirs = run_frozen(pb.read_bytes(), {"input:0": x}, output + ":0")
    np.testing.assert_allclose(ours, np.asarray(theirs).reshape(-1),
                               atol=2e-2)
    return result


def _keras_cnn():
    inp = tf_keras.layers.Input((8, 8, 3), name="input")
    y = tf_keras.layers.Conv2D(4, 3, activation="relu")(inp)
    y = tf_keras.layers.BatchNormalization()(y)
    y = tf_keras.layers.Flatten()(y)
    y = tf_keras.layers.Dropout(0.5)(y)
    tf_keras.layers.Dense(3, name="dense_out")(y)
    tf1.nn.softmax(tf1.get_default_graph().get_tensor_by_name(
        "dense_out/BiasAdd:0"), name="out")


def _keras_mlp():
    inp = tf_keras.layers.Input((20,), name="input")
    y = tf_keras.layers.Dense(16, activation="relu")(inp)
    y = tf_keras.layers.Dropout(0.3)(y)
    y = tf_keras.layers.BatchNormalization()(y)
    y = tf_keras.layers.Dense(4)(y)
    tf1.identity(y, name="out")


@pytest.mark.parametrize("build,shape", [(_keras_cnn, (1, 8, 8, 3)),
                                         (_keras_mlp, (1, 20))])
def test_tf_keras_graph_mode_nets(tmp_path, build, shape):
    pb = frozen_pb(tmp_path / "k.pb", build)
    ops = {n.op for n in tf1.GraphDef.FromString(pb.read_bytes()).node}
    assert {"Switch", "Merge", "PlaceholderWithDefault"} <= ops
    x = RNG.uniform(0, 1, shape).astype(np.float32)
    result = _stick_vs_tf(pb, x)
    assert result.warnings == ["input input: batch unknown compiled as "
                               "batch 1 (as NCSDK)"]


def test_tf_keras_with_learning_phase_set_to_0(tmp_path):
    def build():      # the phase is kept per graph: this one only
        tf_keras.backend.set_learning_phase(0)
        _keras_cnn()
    pb = frozen_pb(tmp_path / "k.pb", build)
    _stick_vs_tf(pb, RNG.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32))


def _cond_dropout(x, lp, true_extra=None):
    """Keras 2.1's dropout: cond(learning_phase, dropped x, x) as
    Switch/Merge, the constants of the taken branch hanging on switch_t."""
    sw = raw.Switch(data=lp, pred=lp, name="dropout/cond/Switch")
    switch_t = tf1.identity(sw[1], name="dropout/cond/switch_t")
    pred = tf1.identity(lp, name="dropout/cond/pred_id")
    x_t = raw.Switch(data=x, pred=pred, name="dropout/cond/mul/Switch")[1]
    with tf1.control_dependencies([switch_t]):
        keep = tf1.constant(0.5, name="dropout/cond/keep_prob")
        shape = tf1.constant([1, 8, 8, 4], name="dropout/cond/shape")
    noise = tf1.random.uniform(shape, name="dropout/cond/random_uniform")
    dropped = x_t * tf1.floor(keep + noise) / keep
    if true_extra is not None:
        dropped = dropped * true_extra
    x_f = raw.Switch(data=x, pred=pred, name="dropout/cond/Switch_1")[0]
    return raw.Merge(inputs=[x_f, dropped], name="dropout/cond/Merge")[0]


def _net_2018(phase="with_default", stray=False):
    def build():
        x = tf1.placeholder(tf1.float32, [None, 8, 8, 3], name="input")
        if phase == "with_default":
            lp = tf1.placeholder_with_default(False, [],
                                              name="keras_learning_phase")
        else:
            lp = tf1.placeholder(tf1.bool, [], name=phase)
        extra = tf1.placeholder(tf1.float32, [], name="keep_prob") \
            if stray else None
        y = tf1.nn.relu(tf1.nn.conv2d(x, W, [1, 1, 1, 1], "SAME"))
        y = _cond_dropout(y, lp, extra)
        tf1.nn.softmax(tf1.reshape(y, [-1, 256]), name="out")
    return build


def test_2018_keras_dropout_pattern(tmp_path):
    pb = frozen_pb(tmp_path / "k.pb", _net_2018())
    result = _stick_vs_tf(pb, RNG.uniform(0, 1, (1, 8, 8, 3)).astype(
        np.float32))
    assert [s.name for s in result.stages][-1] == "out"


def test_learning_phase_placeholder_is_false_with_a_warning(tmp_path):
    pb = frozen_pb(tmp_path / "k.pb", _net_2018("keras_learning_phase"))
    result = compile_file(str(pb))
    assert any("keras_learning_phase taken as False" in w
               for w in result.warnings)
    x = RNG.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    ours = run_once(result.blob, x[0].astype(np.float16))[0]
    theirs = run_frozen(pb.read_bytes(), {"input:0": x,
                                          "keras_learning_phase:0": False},
                        "out:0")
    np.testing.assert_allclose(ours.astype(np.float32),
                               theirs.reshape(-1), atol=2e-2)


def test_placeholder_feeding_only_a_dead_branch_is_not_error_34(tmp_path):
    pb = frozen_pb(tmp_path / "k.pb", _net_2018(stray=True))
    x = RNG.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32)
    result = compile_file(str(pb))
    ours = run_once(result.blob, x[0].astype(np.float16))[0]
    theirs = run_frozen(pb.read_bytes(), {"input:0": x,      # TF needs
                                          "keep_prob:0": 7.0},  # any value
                        "out:0")
    np.testing.assert_allclose(ours.astype(np.float32), theirs.reshape(-1),
                               atol=2e-2)


def test_a_training_switch_is_still_error_34(tmp_path):
    pb = frozen_pb(tmp_path / "k.pb", _net_2018("is_training"))
    with pytest.raises(CompileError) as e:
        compile_file(str(pb))
    assert e.value.number == 34 and "is_training" in str(e.value)


def test_switch_on_a_value_known_at_run_time_is_refused(tmp_path, capsys):
    def build():
        x = tf1.placeholder(tf1.float32, [1, 8, 8, 3], name="input")
        y = tf1.nn.relu(x)
        pred = tf1.reduce_sum(y) > 3.0
        a, b = raw.Switch(data=y, pred=pred)
        tf1.identity(raw.Merge(inputs=[a, b * 2.0])[0], name="out")
    pb = frozen_pb(tmp_path / "k.pb", build)
    status = compile_main([str(pb), "-o", str(tmp_path / "g")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert err.startswith("[Error 4] ") or err.startswith("[Error 5] ")
    assert "(node " in err or "Switch" in err
    assert not (tmp_path / "g").exists()


def test_unsupported_op_in_the_taken_branch_is_error_4(tmp_path, capsys):
    def build():
        x = tf1.placeholder(tf1.float32, [1, 8, 8, 3], name="input")
        lp = tf1.placeholder_with_default(False, [],
                                          name="keras_learning_phase")
        a, b = raw.Switch(data=tf1.nn.relu(x), pred=lp)
        taken = tf1.math.erf(a, name="odd")
        tf1.identity(raw.Merge(inputs=[taken, b])[0], name="out")
    pb = frozen_pb(tmp_path / "k.pb", build)
    status = compile_main([str(pb), "-o", str(tmp_path / "g")])
    err = capsys.readouterr().err
    assert status == 2 and "Traceback" not in err
    assert err.strip() == ("[Error 4] Toolkit Error: Stage Type Not "
                           "Supported: Erf (node odd)")
    assert not (tmp_path / "g").exists()


def test_placeholder_with_default_takes_its_default(tmp_path):
    def build():
        x = tf1.placeholder(tf1.float32, [1, 8, 8, 3], name="input")
        k = tf1.placeholder_with_default(np.float32(0.5), [], name="scale")
        c = tf1.placeholder_with_default(W, W.shape, name="weights")
        tf1.nn.relu(tf1.nn.conv2d(x * (k * 2.0), c, [1, 1, 1, 1], "SAME"),
                    name="out")
    pb = frozen_pb(tmp_path / "k.pb", build)
    _stick_vs_tf(pb, RNG.uniform(0, 1, (1, 8, 8, 3)).astype(np.float32))
