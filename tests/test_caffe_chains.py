"""Chains of Caffe layers as real nets use them: folded batch norm,
inception-style concat, residual sum; and NCSDK's default weights file."""
import numpy as np
import pytest

import ncsformat as nf
from caffe_helpers import (caffemodel, close, compile_caffe, net, rand,
                           run_stick, tf_conv, tf_pool)
from compiler import compile_file


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def conv(name, bottom, n, k, pad=0):
    return (f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" '
            f'top: "{name}" convolution_param {{ num_output: {n} '
            f'kernel_size: {k} pad: {pad} }} }}\n')


def relu(name, blob):
    return (f'layer {{ name: "{name}" type: "ReLU" bottom: "{blob}" '
            f'top: "{blob}" }}\n')


def test_conv_batchnorm_scale_relu_fold_into_one_stage(tmp_path, rng):
    x = rand(rng, 8, 8, 3)
    w, b = rand(rng, 4, 3, 3, 3, scale=0.3), rand(rng, 4)
    mean, var = rand(rng, 4), np.abs(rand(rng, 4)) + 0.2
    gamma, beta = rand(rng, 4), rand(rng, 4)
    text = net(x.shape, conv("c", "data", 4, 3, 1)
               + 'layer { name: "bn" type: "BatchNorm" bottom: "c" top: "c" }'
               '\nlayer { name: "sc" type: "Scale" bottom: "c" top: "c" '
               'scale_param { bias_term: true } }\n' + relu("r", "c"))
    blobs = {"c": [w, b], "bn": [mean, var, [1.0]], "sc": [gamma, beta]}
    result = compile_caffe(tmp_path, text, blobs)
    assert [(s.op, s.post_op) for s in result.stages] == [
        (nf.Op.CONV, nf.Op.RELU)]
    y = (tf_conv(x, w, b, pad=(1, 1)) - mean) / np.sqrt(var + 1e-5)
    close(run_stick(result.blob, x), np.maximum(y * gamma + beta, 0))


def test_inception_concat_by_layout(tmp_path, rng):
    x = rand(rng, 7, 7, 6)
    text = net(x.shape, conv("a", "data", 4, 1) + relu("ra", "a")
               + conv("b1", "data", 3, 1) + relu("rb1", "b1")
               + conv("b2", "b1", 5, 3, 1) + relu("rb2", "b2")
               + 'layer { name: "p" type: "Pooling" bottom: "data" top: "p" '
               'pooling_param { pool: MAX kernel_size: 3 stride: 1 pad: 1 } }'
               '\n' + conv("pp", "p", 2, 1) + relu("rpp", "pp")
               + 'layer { name: "cat" type: "Concat" bottom: "a" bottom: "b2"'
               ' bottom: "pp" top: "cat" }\n'
               + conv("next", "cat", 3, 1))
    blobs = {n: [rand(rng, co, ci, k, k, scale=0.3), rand(rng, co)]
             for n, co, ci, k in (("a", 4, 6, 1), ("b1", 3, 6, 1),
                                  ("b2", 5, 3, 3), ("pp", 2, 6, 1),
                                  ("next", 3, 11, 1))}
    result = compile_caffe(tmp_path, text, blobs)
    assert len(result.stages) == 6          # no concat stage, no copies
    r = lambda v: np.maximum(v, 0)          # noqa: E731
    a = r(tf_conv(x, *blobs["a"]))
    b2 = r(tf_conv(r(tf_conv(x, *blobs["b1"])), *blobs["b2"], pad=(1, 1)))
    pp = r(tf_conv(tf_pool(x, "max", (3, 3), (1, 1), (1, 1)), *blobs["pp"]))
    cat = np.concatenate([a, b2, pp], axis=2)
    close(run_stick(result.blob, x), tf_conv(cat, *blobs["next"]))


def test_residual_eltwise_sum(tmp_path, rng):
    x = rand(rng, 6, 6, 4)
    text = net(x.shape, conv("c1", "data", 4, 3, 1) + relu("r1", "c1")
               + conv("c2", "c1", 4, 3, 1)
               + 'layer { name: "sum" type: "Eltwise" bottom: "data" '
               'bottom: "c2" top: "sum" }\n' + relu("r2", "sum"))
    blobs = {n: [rand(rng, 4, 4, 3, 3, scale=0.2), rand(rng, 4)]
             for n in ("c1", "c2")}
    result = compile_caffe(tmp_path, text, blobs)
    h = np.maximum(tf_conv(x, *blobs["c1"], pad=(1, 1)), 0)
    want = np.maximum(x + tf_conv(h, *blobs["c2"], pad=(1, 1)), 0)
    close(run_stick(result.blob, x), want)
    assert result.stages[-1].op == nf.Op.SUM


def test_default_weights_file_beside_the_prototxt(tmp_path, rng):
    x = rand(rng, 4, 4, 2)
    w, b = rand(rng, 3, 2, 1, 1), rand(rng, 3)
    (tmp_path / "deploy.prototxt").write_text(net(x.shape, conv("c", "data",
                                                                3, 1)))
    zero = compile_file(str(tmp_path / "deploy.prototxt"))
    assert not run_stick(zero.blob, x).any()        # no -w: zero weights
    (tmp_path / "deploy.caffemodel").write_bytes(caffemodel({"c": [w, b]}))
    result = compile_file(str(tmp_path / "deploy.prototxt"))
    close(run_stick(result.blob, x), tf_conv(x, w, b))
