"""Helpers for the command-line tests: small TF networks saved as a frozen
.pb or as a Saver session (.meta + checkpoint), and running the installed
console scripts as a user would."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from compiler_helpers import freeze

BIN = Path(sys.executable).parent
MODULES = {"mvNCCompile": "ncsdk.compile", "mvNCCheck": "ncsdk.check"}


def tf1():
    from tfcompat import tf1 as v1
    return v1


def frozen_pb(path, build, output="out"):
    """Write the frozen GraphDef of ``build()`` (in a fresh graph) to path."""
    Path(path).write_bytes(freeze(build, output)[0])
    return Path(path)


def mnist(x, keep_prob):
    """The NCSDK guide's MNIST net (small widths), on input x [1,28,28,1]:
    conv+relu, maxpool, conv+relu, maxpool, fc+relu, dropout, fc, softmax."""
    v1 = tf1()

    def weight(shape):
        return v1.Variable(v1.truncated_normal(shape, stddev=0.1, seed=7))

    def bias(n):
        return v1.Variable(v1.constant(0.1, shape=[n]))

    h = v1.nn.relu(v1.nn.conv2d(x, weight([5, 5, 1, 8]), [1, 1, 1, 1],
                                "SAME") + bias(8))
    h = v1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = v1.nn.relu(v1.nn.conv2d(h, weight([5, 5, 8, 16]), [1, 1, 1, 1],
                                "SAME") + bias(16))
    h = v1.nn.max_pool(h, [1, 2, 2, 1], [1, 2, 2, 1], "SAME")
    h = v1.reshape(h, [-1, 7 * 7 * 16])
    h = v1.nn.relu(v1.matmul(h, weight([7 * 7 * 16, 64])) + bias(64))
    h = v1.nn.dropout(h, keep_prob=keep_prob)
    return v1.nn.softmax(v1.matmul(h, weight([64, 10])) + bias(10),
                         name="output")


def save_mnist(prefix, inference=True):
    """Save the MNIST net with Saver at ``prefix`` (prefix.meta, .index,
    .data-*), random seeded weights. The inference version fixes keep_prob
    to 1.0 (dropout vanishes), as the NCSDK guide says; the training version
    keeps it a placeholder. Returns the session's output on a seeded input,
    computed by TF before saving (the independent reference)."""
    v1 = tf1()
    graph = v1.Graph()
    with graph.as_default():
        v1.set_random_seed(3)
        x = v1.placeholder(v1.float32, [1, 28, 28, 1], name="input")
        keep = 1.0 if inference else v1.placeholder(v1.float32,
                                                    name="keep_prob")
        out = mnist(x, keep)
        saver = v1.train.Saver()
        with v1.Session(graph=graph) as sess:
            sess.run(v1.global_variables_initializer())
            saver.save(sess, str(prefix))
            feed = {x: np.random.default_rng(5).uniform(
                0, 1, (1, 28, 28, 1)).astype(np.float32)}
            if not inference:
                feed[keep] = 1.0
            return feed[x], sess.run(out, feed)


def run_script(name, args, cwd):
    """Run an installed console script (mvNCCompile, mvNCCheck)."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    exe = [str(BIN / name)] if (BIN / name).is_file() else \
        [sys.executable, "-m", MODULES[name]]
    return subprocess.run(exe + [str(a) for a in args],
                          cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=300)


def last_line(text):
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else ""
