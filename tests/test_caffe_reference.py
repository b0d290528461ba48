"""references.caffe (the "expected" side of mvNCCheck for Caffe) against
values computed by hand, and against the stick on a small random net."""
import numpy as np

from caffe_helpers import caffemodel, close, compile_caffe, net, rand, \
    run_stick
from references.caffe import run_caffe_reference


def _files(tmp_path, text, blobs):
    proto = tmp_path / "n.prototxt"
    proto.write_text(text)
    model = tmp_path / "n.caffemodel"
    model.write_bytes(caffemodel(blobs))
    return proto, model


def test_inner_product_reads_caffe_chw_order(tmp_path):
    # x (H=1, W=2, C=2): Caffe's flat order is c0: 1, 3 then c1: 2, 4.
    x = np.array([[[1, 2], [3, 4]]], np.float32)
    text = net((1, 2, 2), 'layer { name: "fc" type: "InnerProduct" bottom: '
               '"data" top: "fc" inner_product_param { num_output: 2 } }\n')
    w = [[1, 10, 100, 1000], [0, 0, 0, 1]]
    proto, model = _files(tmp_path, text, {"fc": [w, [0.5, 0]]})
    out = run_caffe_reference(proto, model, x)
    np.testing.assert_allclose(out, [4231.5, 4.0])


def test_ceil_average_pooling_then_scale(tmp_path):
    x = np.arange(1, 10, dtype=np.float32).reshape(3, 3, 1)
    text = net((3, 3, 1), 'layer { name: "p" type: "Pooling" bottom: "data" '
               'top: "p" pooling_param { pool: AVE kernel_size: 2 stride: 2 '
               '} }\nlayer { name: "s" type: "Scale" bottom: "p" top: "p" '
               'scale_param { bias_term: true } }\n')
    proto, model = _files(tmp_path, text, {"s": [[2.0], [1.0]]})
    out = run_caffe_reference(proto, model, x)
    # windows: (1+2+4+5)/4, (3+6)/2, (7+8)/2, 9/1, then 2*v + 1
    np.testing.assert_allclose(out.reshape(-1), [7, 10, 16, 19])


def test_without_weights_is_zeros(tmp_path):
    text = net((2, 2, 1), 'layer { name: "c" type: "Convolution" bottom: '
               '"data" top: "c" convolution_param { num_output: 3 '
               'kernel_size: 1 } }\n')
    proto = tmp_path / "z.prototxt"
    proto.write_text(text)
    out = run_caffe_reference(proto, None, np.ones((2, 2, 1), np.float32))
    assert out.shape == (2, 2, 3) and not out.any()


def test_agrees_with_the_stick_on_a_random_net(tmp_path):
    rng = np.random.default_rng(3)
    x = rand(rng, 10, 10, 3)
    text = net(x.shape, (
        'layer { name: "c1" type: "Convolution" bottom: "data" top: "c1" '
        'convolution_param { num_output: 8 kernel_size: 3 stride: 2 pad: 1 '
        'group: 1 } }\n'
        'layer { name: "r1" type: "PReLU" bottom: "c1" top: "c1" }\n'
        'layer { name: "c2" type: "Convolution" bottom: "c1" top: "c2" '
        'convolution_param { num_output: 8 kernel_size: 3 pad: 1 group: 4 '
        '} }\n'
        'layer { name: "p" type: "Pooling" bottom: "c2" top: "p" '
        'pooling_param { pool: MAX kernel_size: 3 stride: 2 } }\n'
        'layer { name: "fc" type: "InnerProduct" bottom: "p" top: "fc" '
        'inner_product_param { num_output: 10 } }\n'
        'layer { name: "prob" type: "Softmax" bottom: "fc" top: "prob" }\n'))
    blobs = {"c1": [rand(rng, 8, 3, 3, 3, scale=0.3), rand(rng, 8)],
             "r1": [rand(rng, 8, scale=0.2)],
             "c2": [rand(rng, 8, 2, 3, 3, scale=0.3), rand(rng, 8)],
             "fc": [rand(rng, 10, 32, scale=0.2), rand(rng, 10)]}
    proto, model = _files(tmp_path, text, blobs)
    want = run_caffe_reference(proto, model, x)
    got = run_stick(compile_caffe(tmp_path, text, blobs).blob, x)
    close(got, want)
