"""Numbers: compiled small graphs run on the emulated stick (debug mode,
which also checks guard bands) give TF's results within fp16 precision."""
import numpy as np
import pytest

from compiler import compile_file
from compiler_helpers import freeze, run_frozen, write

import tfcompat as tfc
import emulator.reader as reader
import emulator.executor as executor
tf1 = tfc.tf1
R = np.random.default_rng(5)


def rnd(*shape, lo=-1.0, hi=1.0):
    return R.uniform(lo, hi, shape).astype(np.float32)


def conv(x, cout, k=3, stride=1, pad="SAME"):
    return tf1.nn.conv2d(x, rnd(k, k, int(x.shape[-1]), cout, lo=-0.4,
                                hi=0.4), [1, stride, stride, 1], pad)


def bn(x):
    c = int(x.shape[-1])
    y, _, _ = tf1.nn.fused_batch_norm(x, rnd(c, lo=0.5, hi=1.5), rnd(c),
                                      rnd(c), rnd(c, lo=0.5, hi=2),
                                      epsilon=0.001, is_training=False)
    return y


def g_conv_bn_pools(x):
    y = tf1.nn.relu6(bn(conv(x, 6, 3, 2)))
    y = tf1.nn.depthwise_conv2d(y, rnd(3, 3, 6, 2), [1, 1, 1, 1], "VALID")
    y = tf1.nn.relu(tf1.nn.bias_add(y, rnd(12)))
    a = tf1.nn.avg_pool2d(y, 3, 2, "SAME")
    m = tf1.nn.max_pool2d(y, 3, 2, "SAME")
    return tf1.concat([a, m], 3)


def g_inception_residual(x):
    n = tf1.nn.relu(conv(x, 8, 3, 2, "VALID"))
    b0 = tf1.nn.relu(bn(conv(n, 4, 1)))
    b1 = tf1.nn.relu(bn(conv(tf1.nn.relu(conv(n, 3, 1)), 5)))
    b2 = tf1.nn.relu(conv(tf1.nn.max_pool2d(n, 3, 1, "SAME"), 3, 1))
    mixed = tf1.concat([b0, b1, b2], 3)
    up = tf1.nn.bias_add(conv(mixed, 8, 1), rnd(8))
    n = tf1.nn.relu(n + 0.17 * up)
    flat = tf1.reshape(n, [1, -1])
    logits = tf1.matmul(flat, rnd(int(flat.shape[-1]), 10, lo=-0.1, hi=0.1))
    return tf1.nn.softmax(tf1.nn.bias_add(logits, rnd(10)))


def g_user_ops(x):
    y = tf1.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]])
    y = tf1.sigmoid(conv(y, 6, 3, 1, "VALID") + rnd(6))
    y = tf1.nn.lrn(y, depth_radius=2, bias=1.5, alpha=0.1, beta=0.75)
    y = tf1.nn.elu(conv(y, 4, 3) * 0.5)
    y = tf1.tanh(conv(y, 4, 1))
    return tf1.reduce_mean(y, [1, 2])


@pytest.mark.parametrize("body", [g_conv_bn_pools, g_inception_residual,
                                  g_user_ops])
def test_emulator_matches_tensorflow(tmp_path, body):
    def build():
        x = tf1.placeholder(tf1.float32, [1, 15, 15, 3], name="input")
        tf1.identity(body(x), name="out")
    pb, _ = freeze(build, "out")
    result = compile_file(write(tmp_path, "net.pb", pb))
    x = rnd(1, 15, 15, 3)
    ref = run_frozen(pb, {"input:0": x}, "out:0").reshape(-1)
    graph = reader.load_graph(result.blob)
    out = executor.Executor(graph, debug=True).run(
        x.astype(np.float16).tobytes()).astype(np.float32)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, atol=1e-2, rtol=2e-2)
