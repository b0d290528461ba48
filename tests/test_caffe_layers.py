"""One Caffe layer per test: compile, run on the emulated stick, compare with
the same layer computed independently in TensorFlow (see caffe_helpers)."""
import numpy as np
import pytest

from caffe_helpers import (caffe_pool_out, chw_flat, close, compile_caffe,
                           net, rand, run_stick, tf_conv, tf_deconv, tf_fc,
                           tf_lrn, tf_pool, tf_unary)


@pytest.fixture
def rng():
    return np.random.default_rng(7)


def _conv_layer(name, bottom, n, extra):
    return (f'layer {{ name: "{name}" type: "Convolution" bottom: "{bottom}" '
            f'top: "{name}" convolution_param {{ num_output: {n} {extra} }} '
            '}\n')


def _run(tmp_path, shape, layers, blobs, x):
    result = compile_caffe(tmp_path, net(shape, layers), blobs)
    return run_stick(result.blob, x), result


@pytest.mark.parametrize("k,s,p,d,g,cout", [
    (3, 1, 1, 1, 1, 6),        # plain
    (5, 2, 2, 1, 1, 4),        # stride and pad
    (3, 1, 2, 2, 1, 4),        # dilation
    (3, 1, 1, 1, 4, 8),        # depthwise with multiplier 2
    (3, 2, 1, 1, 2, 6),        # 2 groups: split by layout
])
def test_convolution(tmp_path, rng, k, s, p, d, g, cout):
    x = rand(rng, 9, 11, 4)
    w, b = rand(rng, cout, 4 // g, k, k, scale=0.3), rand(rng, cout)
    layers = _conv_layer("conv", "data", cout, f"kernel_size: {k} stride: {s}"
                         f" pad: {p} dilation: {d} group: {g}")
    got, _ = _run(tmp_path, x.shape, layers, {"conv": [w, b]}, x)
    close(got, tf_conv(x, w, b, (s, s), (p, p), (d, d), g))


def test_convolution_rectangular_no_bias(tmp_path, rng):
    x = rand(rng, 8, 10, 3)
    w = rand(rng, 5, 3, 3, 2, scale=0.3)
    layers = _conv_layer("conv", "data", 5, "bias_term: false kernel_h: 3 "
                         "kernel_w: 2 stride_h: 2 stride_w: 1 pad_h: 1 "
                         "pad_w: 0")
    got, _ = _run(tmp_path, x.shape, layers, {"conv": [w]}, x)
    close(got, tf_conv(x, w, None, (2, 1), (1, 0)))


def test_deconvolution(tmp_path, rng):
    x = rand(rng, 5, 6, 3)
    w, b = rand(rng, 3, 4, 4, 4, scale=0.3), rand(rng, 4)
    layers = ('layer { name: "up" type: "Deconvolution" bottom: "data" '
              'top: "up" convolution_param { num_output: 4 kernel_size: 4 '
              'stride: 2 pad: 1 } }\n')
    got, _ = _run(tmp_path, x.shape, layers, {"up": [w, b]}, x)
    close(got, tf_deconv(x, w, b, (2, 2), (1, 1)))


@pytest.mark.parametrize("method,k,s,p,size", [
    ("MAX", 3, 2, 0, (12, 12)),    # ceil: one window overhangs
    ("AVE", 3, 2, 0, (12, 13)),
    ("MAX", 3, 2, 1, (9, 10)),
    ("AVE", 3, 1, 1, (7, 7)),      # inception's pool
    ("AVE", 2, 2, 1, (6, 6)),      # the last window is dropped (in + pad)
])
def test_pooling(tmp_path, rng, method, k, s, p, size):
    x = rand(rng, *size, 5)
    layers = ('layer { name: "pool" type: "Pooling" bottom: "data" top: '
              f'"pool" pooling_param {{ pool: {method} kernel_size: {k} '
              f'stride: {s} pad: {p} }} }}\n')
    got, _ = _run(tmp_path, x.shape, layers, None, x)
    want = tf_pool(x, method.lower()[:3].replace("ave", "avg"), (k, k),
                   (s, s), (p, p))
    assert want.shape[:2] == tuple(caffe_pool_out(n, k, s, p) for n in size)
    close(got, want)


def test_global_pooling(tmp_path, rng):
    x = rand(rng, 7, 7, 6)
    layers = ('layer { name: "gap" type: "Pooling" bottom: "data" top: "gap" '
              'pooling_param { pool: AVE global_pooling: true } }\n')
    got, _ = _run(tmp_path, x.shape, layers, None, x)
    close(got, x.mean(axis=(0, 1)))


def test_inner_product_reads_chw_order(tmp_path, rng):
    x = rand(rng, 3, 4, 5)
    w, b = rand(rng, 7, 60, scale=0.2), rand(rng, 7)
    layers = ('layer { name: "fc" type: "InnerProduct" bottom: "data" top: '
              '"fc" inner_product_param { num_output: 7 } }\n')
    got, _ = _run(tmp_path, x.shape, layers, {"fc": [w, b]}, x)
    close(got, tf_fc(x, w, b))


def test_flatten_then_inner_product(tmp_path, rng):
    x = rand(rng, 4, 4, 3)
    wc = rand(rng, 4, 3, 1, 1, scale=0.5)
    w, b = rand(rng, 6, 64, scale=0.2), rand(rng, 6)
    layers = (_conv_layer("conv", "data", 4, "kernel_size: 1 bias_term: "
                          "false")
              + 'layer { name: "flat" type: "Flatten" bottom: "conv" '
                'top: "flat" }\n'
              + 'layer { name: "fc" type: "InnerProduct" bottom: "flat" '
                'top: "fc" inner_product_param { num_output: 6 } }\n')
    got, _ = _run(tmp_path, x.shape, layers, {"conv": [wc], "fc": [w, b]}, x)
    close(got, tf_fc(tf_conv(x, wc), w, b))


def _affine_net(layer_type, param=""):
    return (f'layer {{ name: "l" type: "{layer_type}" bottom: "data" '
            f'top: "l" {param} }}\n')


def test_batchnorm_alone_is_a_scale_stage(tmp_path, rng):
    x = rand(rng, 4, 5, 3)
    mean, var = rand(rng, 3), np.abs(rand(rng, 3)) + 0.5
    factor = np.array([2.0], np.float32)
    got, result = _run(tmp_path, x.shape, _affine_net(
        "BatchNorm", "batch_norm_param { eps: 0.001 }"),
        {"l": [mean * 2, var * 2, factor]}, x)
    from tfcompat import tf
    want = tf_unary(lambda t: tf.nn.batch_normalization(
        t, mean, var, None, None, 1e-3), x)
    close(got, want)
    assert [s.op for s in result.stages] == [15]


def test_scale_and_bias(tmp_path, rng):
    x = rand(rng, 4, 5, 3)
    s, b, c = rand(rng, 3), rand(rng, 3), rand(rng, 3)
    layers = (_affine_net("Scale", "scale_param { bias_term: true }")
              + 'layer { name: "b" type: "Bias" bottom: "l" top: "b" }\n')
    got, _ = _run(tmp_path, x.shape, layers, {"l": [s, b], "b": [c]}, x)
    close(got, x * s + b + c)


@pytest.mark.parametrize("layer,param,fn", [
    ("ReLU", "", lambda tf, t: tf.nn.relu(t)),
    ("ReLU", "relu_param { negative_slope: 0.1 }",
     lambda tf, t: tf.nn.leaky_relu(t, 0.1)),
    ("ELU", "elu_param { alpha: 0.5 }",
     lambda tf, t: tf.where(t > 0, t, 0.5 * (tf.exp(t) - 1))),
    ("Sigmoid", "", lambda tf, t: tf.sigmoid(t)),
    ("TanH", "", lambda tf, t: tf.tanh(t)),
    ("Softmax", "", lambda tf, t: tf.nn.softmax(t, axis=-1)),
])
def test_elementwise_activations(tmp_path, rng, layer, param, fn):
    from tfcompat import tf
    x = rand(rng, 3, 4, 6)
    got, _ = _run(tmp_path, x.shape, _affine_net(layer, param), None, x)
    close(got, tf_unary(lambda t: fn(tf, t), x))


def test_prelu(tmp_path, rng):
    x = rand(rng, 3, 4, 5)
    slope = rand(rng, 5, scale=0.3)
    got, _ = _run(tmp_path, x.shape, _affine_net("PReLU"), {"l": [slope]}, x)
    close(got, np.where(x > 0, x, x * slope))


def test_lrn(tmp_path, rng):
    x = rand(rng, 4, 4, 8)
    got, _ = _run(tmp_path, x.shape, _affine_net(
        "LRN", "lrn_param { local_size: 5 alpha: 0.0001 beta: 0.75 }"),
        None, x)
    close(got, tf_lrn(x, 5, 1e-4, 0.75, 1.0))


def test_eltwise_sum_with_coefficients_prod_max(tmp_path, rng):
    x = rand(rng, 4, 4, 3)
    w1, w2 = rand(rng, 3, 3, 1, 1), rand(rng, 3, 3, 1, 1)
    convs = (_conv_layer("a", "data", 3, "kernel_size: 1 bias_term: false")
             + _conv_layer("b", "data", 3, "kernel_size: 1 bias_term: false"))
    a, b = tf_conv(x, w1), tf_conv(x, w2)
    for op, coeff, want in (("SUM", "coeff: 0.5 coeff: -2", 0.5 * a - 2 * b),
                            ("PROD", "", a * b), ("MAX", "", np.maximum(a, b))):
        layers = convs + ('layer { name: "e" type: "Eltwise" bottom: "a" '
                          f'bottom: "b" top: "e" eltwise_param {{ operation:'
                          f' {op} {coeff} }} }}\n')
        got, _ = _run(tmp_path, x.shape, layers, {"a": [w1], "b": [w2]}, x)
        close(got, want)


def test_concat_slice_crop(tmp_path, rng):
    x = rand(rng, 6, 6, 4)
    w = rand(rng, 5, 4, 1, 1)
    layers = (_conv_layer("c", "data", 5, "kernel_size: 1 bias_term: false")
              + 'layer { name: "s" type: "Slice" bottom: "c" top: "s1" '
                'top: "s2" slice_param { axis: 1 slice_point: 2 } }\n'
              + 'layer { name: "r" type: "ReLU" bottom: "s2" top: "r" }\n'
              + 'layer { name: "cat" type: "Concat" bottom: "r" bottom: "s1" '
                'top: "cat" }\n'
              + 'layer { name: "small" type: "Pooling" bottom: "cat" top: '
                '"small" pooling_param { pool: MAX kernel_size: 3 } }\n'
              + 'layer { name: "crop" type: "Crop" bottom: "cat" bottom: '
                '"small" top: "crop" crop_param { axis: 2 offset: 1 } }\n')
    got, _ = _run(tmp_path, x.shape, layers, {"c": [w]}, x)
    c = tf_conv(x, w)
    cat = np.concatenate([np.maximum(c[..., 2:], 0), c[..., :2]], axis=2)
    close(got, cat[1:5, 1:5])


def test_reshape_and_dropout(tmp_path, rng):
    x = rand(rng, 1, 1, 12)
    layers = ('layer { name: "d" type: "Dropout" bottom: "data" top: "d" }\n'
              'layer { name: "r" type: "Reshape" bottom: "d" top: "r" '
              'reshape_param { shape { dim: 0 dim: -1 dim: 1 dim: 1 } } }\n'
              'layer { name: "p" type: "Softmax" bottom: "r" top: "p" }\n')
    got, result = _run(tmp_path, x.shape, layers, None, x)
    e = np.exp(x.reshape(-1) - x.max())
    close(got, e / e.sum())
    assert len(result.stages) == 1


def test_input_layer_form(tmp_path, rng):
    x = rand(rng, 5, 5, 2)
    text = ('layer { name: "data" type: "Input" top: "data" input_param { '
            'shape { dim: 1 dim: 2 dim: 5 dim: 5 } } }\n'
            'layer { name: "r" type: "ReLU" bottom: "data" top: "r" }\n')
    result = compile_caffe(tmp_path, text)
    close(run_stick(result.blob, x), np.maximum(x, 0))


def test_legacy_v1_layers(tmp_path, rng):
    x = rand(rng, 6, 6, 3)
    w, b = rand(rng, 4, 3, 3, 3, scale=0.3), rand(rng, 4)
    wf, bf = rand(rng, 5, 36, scale=0.2), rand(rng, 5)
    text = net(x.shape, 'layers { name: "conv" type: CONVOLUTION bottom: '
               '"data" top: "conv" blobs_lr: 1 convolution_param { '
               'num_output: 4 kernel_size: 3 pad: 1 } }\n'
               'layers { name: "relu" type: RELU bottom: "conv" top: "conv" }'
               '\nlayers { name: "pool" type: POOLING bottom: "conv" top: '
               '"pool" pooling_param { pool: MAX kernel_size: 2 stride: 2 } }'
               '\nlayers { name: "fc" type: INNER_PRODUCT bottom: "pool" '
               'top: "fc" inner_product_param { num_output: 5 } }\n'
               'layers { name: "prob" type: SOFTMAX bottom: "fc" top: "prob" '
               '}\n')
    result = compile_caffe(tmp_path, text, {"conv": [w, b], "fc": [wf, bf]},
                           legacy=True)
    h = np.maximum(tf_conv(x, w, b, pad=(1, 1)), 0)
    logits = tf_fc(tf_pool(h, "max", (2, 2), (2, 2), (0, 0)), wf, bf)
    e = np.exp(logits - logits.max())
    close(run_stick(result.blob, x), e / e.sum())
    assert chw_flat(h).size == 144
