"""Graph files laid out as NCSDK 1.x's mvNCCompile wrote them (tests/
ncsdk_made.py, independent of our compiler) run on the emulated stick
through the NCSDK API and give what TensorFlow computes for the same
network with the same fp16 weights."""
import numpy as np
import pytest

import ncsformat as nf
from emulator import mvncapi as mvnc
from emulator.infer import run_once
from emulator.reader import load_graph
from emulator_helpers import tf_eval
from ncsdk_made import (caffe_net, f16, tf_deconv_net, tf_slice_net,
                        tf_transposed_net)
from tfcompat import tf

rng = np.random.default_rng(77)


def close(got, want, rel=5e-3):
    """Within fp16 tolerance: each stage rounds its output to fp16."""
    want = np.asarray(want, np.float32).reshape(-1)
    got = np.asarray(got, np.float32).reshape(-1)
    assert got.shape == want.shape
    tol = rel * max(float(np.abs(want).max()), 1e-2)
    np.testing.assert_allclose(got, want, rtol=1e-2, atol=tol)


def stick(blob, x):
    """The result of one inference on the emulated stick (fp16 -> f32)."""
    out, _ = run_once(blob, np.asarray(x, np.float16))
    return out.astype(np.float32)


def conv(x, w, b, stride=1, padding="SAME"):
    return tf.nn.conv2d(x, w, stride, padding) + b


@pytest.mark.parametrize("name", ["", "SqueezeNet"])
@pytest.mark.parametrize("stride_y", ["zero", "x", "producer"])
def test_caffe_net(name, stride_y):
    blob, p = caffe_net(name, stride_y)
    x = f16(rng.standard_normal((9, 9, 3)))

    def net(t):
        t = tf.nn.relu(conv(tf.pad(t, [[0, 0], [1, 1], [1, 1], [0, 0]]),
                            p["w1"], p["b1"], padding="VALID"))
        t = tf.nn.max_pool2d(t, 3, 2, "VALID")
        return tf.nn.softmax(tf.reshape(t, [1, -1]) @ p["w2"] + p["b2"])

    got = stick(blob, x)
    assert got.shape == (10,)   # the host's size, not the data stage's 243
    close(got, tf_eval(net, x[None]))


def test_caffe_file_is_what_ncsdk_wrote():
    """The builder's bytes carry NCSDK's Caffe habits (guards the test)."""
    blob, _ = caffe_net("")
    assert blob[40:140] == bytes(100)
    g = load_graph(blob)
    assert [st.storage_order for st in g.stages] == [4] * 6
    assert (g.stages[0].data.index, g.stages[0].output.index) == (1, 2)
    assert g.stages[1].op_params.index == nf.Region.DATA
    assert [st.output.index for st in g.stages[1:-1]] == [4, 5, 6, 7]
    ptrs = [st.output.pointer for st in g.stages[1:-1]]
    assert ptrs == sorted(set(ptrs))        # one scratch area, increasing
    assert g.output_count == 10 and g.output_region_bytes == 9 * 9 * 3 * 2
    text = " ".join(g.warnings)
    assert "storage order 4" in text and "result area" in text


def test_empty_name_allocates_through_the_api():
    blob, _ = caffe_net("")
    device = mvnc.Device(mvnc.EnumerateDevices()[0])
    device.OpenDevice()
    try:
        graph = device.AllocateGraph(blob)
        graph.DeallocateGraph()
    finally:
        device.CloseDevice()


@pytest.mark.parametrize("first", [0, 5])
def test_tf_slice_net(first):
    blob, p = tf_slice_net(first)
    x = f16(rng.standard_normal((65, 65, 3)))

    def net(t):
        a = tf.nn.relu(conv(t, p["w1"], p["b1"]))
        s = a[..., first:first + 3] + t + p["k"]
        d = tf.reshape(s, [1, -1]) @ p["w2"]
        d = tf.nn.relu(d * p["mul"] + p["b2"])
        return d @ p["w3"] + p["b3"]

    close(stick(blob, x), tf_eval(net, x[None]))
    text = " ".join(load_graph(blob).warnings)
    assert "index 1" in text and "index 3" in text


def test_tf_slice_net_copies_the_right_channels():
    """Channels 5..7 and 0..2 differ, so a copy from the wrong place fails."""
    blob0, _ = tf_slice_net(0)
    blob5, _ = tf_slice_net(5)
    x = f16(rng.standard_normal((65, 65, 3)))
    assert not np.allclose(stick(blob0, x), stick(blob5, x), atol=1e-2)


@pytest.mark.parametrize("size", [65, 9])
def test_tf_deconv_net_with_oversize_sigmoid(size):
    blob, p = tf_deconv_net(size=size)
    x = f16(rng.standard_normal((size, size, 1)))

    def net(t):
        a = tf.nn.relu(conv(t, p["w1"], p["b1"], 2, "VALID"))
        up = tf.nn.conv2d_transpose(a, p["w2"].transpose(0, 1, 3, 2),
                                    [1, size, size, 1], 2, "VALID")
        return tf.sigmoid(up + p["b2"])

    got = stick(blob, x)
    assert got.shape == (size ** 3,)        # 274625 values for 65x65
    got = got.reshape(size, size, size)
    close(got[..., 0], tf_eval(net, x[None]))
    assert not got[..., 1:].any()
    assert any("declared" in w for w in load_graph(blob).warnings)


def test_deconv_is_written_with_caffe_pads_zero():
    blob, _ = tf_deconv_net(size=9)
    st = load_graph(blob).stages[1]
    assert (st.op, st.pad_style, st.pad) == (nf.Op.DECONV, 2, (0, 0))


def test_transposed_input_runs_as_written():
    """[1, 6, 10, 2] written as 6 wide x 10 tall: the stick reads the 6 rows
    of 10 pixels an application sends as 10 rows of 6 pixels."""
    blob, p = tf_transposed_net()
    x = f16(rng.standard_normal((6, 10, 2)))

    def net(t):
        a = tf.nn.relu(conv(t, p["w1"], p["b1"]))
        return (tf.reshape(a, [1, -1]) @ p["w2"]) * p["one"] + p["b2"]

    got = stick(blob, x)
    close(got, tf_eval(net, x.reshape(1, 10, 6, 2)))
    assert not np.allclose(got, tf_eval(net, x[None]).reshape(-1), atol=1e-2)
    assert any("transposed" in w for w in load_graph(blob).warnings)


def test_header_and_shaves_as_ncsdk_wrote_them():
    blob, _ = tf_slice_net()
    h = nf.Header.unpack(blob)
    assert (h.name, h.first_shave, h.last_shave) == ("TensorFlow Network",
                                                     0, 11)
    assert load_graph(blob).shaves == 12


def test_device_says_what_was_odd_in_an_ncsdk_file(capsys):
    """Device.last_error (and a LOG_LEVEL 2 line) name what the stick let
    pass in a file NCSDK made; each AllocateGraph says it anew."""
    blob, _ = caffe_net()
    device = mvnc.Device(mvnc.EnumerateDevices()[0])
    device.OpenDevice()
    old = mvnc.GetGlobalOption(mvnc.GlobalOption.LOG_LEVEL)
    try:
        mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 2)
        device.AllocateGraph(blob).DeallocateGraph()
        assert "storage order 4" in device.last_error
        assert "accepted: storage order 4" in capsys.readouterr().err
        mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, 0)
        device.AllocateGraph(tf_deconv_net(size=9)[0]).DeallocateGraph()
        assert "storage order" not in device.last_error     # a TF file
        assert "declared 9x9x9" in device.last_error
        assert capsys.readouterr().err == ""
    finally:
        mvnc.SetGlobalOption(mvnc.GlobalOption.LOG_LEVEL, old)
        device.CloseDevice()


@pytest.mark.parametrize("make", ["caffe", "tf_slice"])
def test_debug_mode_runs_ncsdk_files_and_says_what_it_skipped(make,
                                                              monkeypatch):
    """MVNC_EMULATOR_DEBUG=1 on a file NCSDK laid out back to back (no
    room for guard bands): it runs, gives what it gives without debug, and
    DEBUG_INFO says the guard bands were not checked."""
    blob, _ = caffe_net() if make == "caffe" else tf_slice_net(0)
    x = f16(rng.standard_normal((9, 9, 3) if make == "caffe" else (65, 65, 3)))
    plain = stick(blob, x)
    monkeypatch.setenv("MVNC_EMULATOR_DEBUG", "1")
    device = mvnc.Device(mvnc.EnumerateDevices()[0])
    device.OpenDevice()
    try:
        graph = device.AllocateGraph(blob)
        assert "not checked" in graph.GetGraphOption(
            mvnc.GraphOption.DEBUG_INFO)
        graph.LoadTensor(np.asarray(x, np.float16), "one")
        out, obj = graph.GetResult()
        graph.DeallocateGraph()
    finally:
        device.CloseDevice()
    assert obj == "one"
    np.testing.assert_array_equal(out.astype(np.float32), plain)
