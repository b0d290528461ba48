"""mvNCCheck (ncsdk.check) in-process: passing and failing checks,
the image preprocessing against a hand computation, -id, -M .npy and the
.npy outputs. Expected values come from TensorFlow run here or from hand
arithmetic, never from the code under test."""
import numpy as np
import pytest

from cli_helpers import frozen_pb, last_line
from compiler_helpers import run_frozen
from ncsdk.check import main

import tfcompat  # noqa: F401
H, W = 8, 12           # network input: height 8, width 12 (not square)


def _classifier():
    from tfcompat import tf1
    rng = np.random.default_rng(11)
    x = tf1.placeholder(tf1.float32, [1, H, W, 3], name="input")
    y = tf1.nn.relu(tf1.nn.conv2d(
        x, rng.normal(0, 0.3, (3, 3, 3, 6)).astype(np.float32),
        [1, 1, 1, 1], "SAME"))
    y = tf1.nn.max_pool(y, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    y = tf1.reshape(y, [1, 4 * 6 * 6])
    y = tf1.matmul(y, rng.normal(0, 0.3, (144, 7)).astype(np.float32))
    tf1.nn.softmax(y, name="out")


def _identity():
    """1x1 conv with the identity matrix: the output is the input tensor."""
    from tfcompat import tf1
    x = tf1.placeholder(tf1.float32, [1, H, W, 3], name="input")
    tf1.nn.conv2d(x, np.eye(3, dtype=np.float32).reshape(1, 1, 3, 3),
                  [1, 1, 1, 1], "SAME", name="out")


def _overflow():
    """Finite in float32, but the middle layer exceeds fp16's 65504."""
    from tfcompat import tf1
    x = tf1.placeholder(tf1.float32, [1, H, W, 3], name="input")
    y = tf1.nn.conv2d(x, np.full((3, 3, 3, 4), 100, np.float32),
                      [1, 1, 1, 1], "SAME")
    y = tf1.nn.conv2d(y, np.full((1, 1, 4, 4), 100, np.float32),
                      [1, 1, 1, 1], "SAME")
    tf1.nn.conv2d(y, np.full((1, 1, 4, 2), 1e-4, np.float32),
                  [1, 1, 1, 1], "SAME", name="out")


@pytest.fixture(scope="module")
def nets(tmp_path_factory):
    root = tmp_path_factory.mktemp("nets")
    return {name: frozen_pb(root / f"{name}.pb", build)
            for name, build in (("classifier", _classifier),
                                ("identity", _identity),
                                ("overflow", _overflow))}


def _run(capsys, *args):
    status = main([str(a) for a in args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_passing_check_writes_graph_and_npy(nets, tmp_path, capsys):
    status, out, err = _run(capsys, nets["classifier"], "-s", 4, "-o",
                            tmp_path / "c.graph", "--save", tmp_path / "c")
    assert status == 0, out + err
    assert out.count(", Pass") == 4 and last_line(out) == "Result: Pass"
    assert "Result:  (7,)" in out and "Expected:  (7,)" in out
    from compiler import compile_file
    assert (tmp_path / "c.graph").read_bytes() == \
        compile_file(nets["classifier"], shaves=4).blob
    # The documented random input: uniform [0, 1) from seed 0, H x W x 3,
    # then the default channel order 2,1,0.
    raw = np.random.default_rng(0).uniform(0, 1, (H, W, 3))
    x = np.load(tmp_path / "c_input.npy")
    np.testing.assert_allclose(x, raw[..., ::-1], rtol=1e-6)
    x16 = x.astype(np.float16).astype(np.float32)
    tf_out = run_frozen(nets["classifier"].read_bytes(),
                        {"input:0": x16[None]}, "out:0").reshape(-1)
    expected = np.load(tmp_path / "c_expected.npy")
    result = np.load(tmp_path / "c_result.npy")
    assert expected.dtype == np.float32 and result.dtype == np.float16
    np.testing.assert_allclose(expected, tf_out, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(result, tf_out, atol=0.02 * tf_out.max())


def test_expected_id(nets, tmp_path, capsys):
    raw = np.random.default_rng(0).uniform(0, 1, (H, W, 3))[..., ::-1]
    x16 = raw.astype(np.float16).astype(np.float32)
    top1 = int(np.argmax(run_frozen(nets["classifier"].read_bytes(),
                                    {"input:0": x16[None]}, "out:0")))
    save = ["--save", tmp_path / "o"]
    status, out, _ = _run(capsys, nets["classifier"], "-id", top1, *save)
    assert status == 0 and f"Top-1 class: {top1}" in out
    status, out, _ = _run(capsys, nets["classifier"], "-id", (top1 + 1) % 7,
                          *save)
    assert status == 1
    assert out.count(", Pass") == 4          # the metrics themselves pass
    assert "Fail" in out and last_line(out) == "Result: Fail"


def test_fp16_overflow_fails(nets, tmp_path, capsys):
    """A net whose middle layer exceeds 65504: TF (float32) stays finite,
    the stick's fp16 does not, so the check fails honestly."""
    status, out, _ = _run(capsys, nets["overflow"], "--save", tmp_path / "o")
    assert status == 1
    assert ", Fail" in out and last_line(out) == "Result: Fail"
    assert np.isfinite(np.load(tmp_path / "o_expected.npy")).all()
    assert not np.isfinite(
        np.load(tmp_path / "o_result.npy").astype(np.float32)).all()


QUADRANTS = np.array([[[250, 10, 120], [0, 200, 40]],       # top: L, R
                      [[30, 60, 255], [128, 128, 5]]],      # bottom: L, R
                     np.float64)


def _quadrant_image(path, fmt):
    """A 40 x 20 image of four flat colours (each channel differs)."""
    from PIL import Image
    pixels = np.repeat(np.repeat(QUADRANTS, 10, axis=0), 20, axis=1)
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(
        path, fmt, **({"quality": 100, "subsampling": 0}
                      if fmt == "JPEG" else {}))
    return path


@pytest.mark.parametrize("fmt,tol", [("PNG", 2e-3), ("JPEG", 0.03)])
def test_image_resize_colour_order_scale_mean(nets, tmp_path, capsys, fmt,
                                              tol):
    """40x20 -> 12x8, then BGR, x2, minus a per-channel mean from .npy.

    Hand computation: the resize maps each quadrant onto a 6x4 quadrant of
    the output; pixels whose bilinear window stays in one quadrant (away
    from the middle row and column) keep its colour exactly, the others mix
    the neighbouring colours. The identity net returns its input."""
    image = _quadrant_image(tmp_path / f"q.{fmt.lower()}", fmt)
    mean = np.array([0.1, 0.2, 0.3], np.float32)
    np.save(tmp_path / "mean.npy", mean)
    status, out, err = _run(capsys, nets["identity"], "-i", image, "-S", 2,
                            "-M", tmp_path / "mean.npy", "--save",
                            tmp_path / "o")
    assert status == 0, out + err
    got = np.load(tmp_path / "o_expected.npy").reshape(H, W, 3)
    want = 2 * QUADRANTS[..., ::-1] / 255 - mean          # BGR, scale, mean
    pure_rows = {0: [0, 1, 2], 1: [5, 6, 7]}              # of 8 rows
    pure_cols = {0: [0, 1, 2, 3, 4], 1: [7, 8, 9, 10, 11]}  # of 12 columns
    for qy in (0, 1):
        for qx in (0, 1):
            block = got[np.ix_(pure_rows[qy], pure_cols[qx])]
            np.testing.assert_allclose(
                block, np.broadcast_to(want[qy, qx], block.shape), atol=tol)
    lo, hi = want.min(axis=(0, 1)), want.max(axis=(0, 1))
    assert ((got >= lo - tol) & (got <= hi + tol)).all()
    # The stick ran the same input: its result agrees.
    np.testing.assert_allclose(np.load(tmp_path / "o_result.npy").reshape(
        H, W, 3), got, atol=4e-3)


def test_image_colour_order_option(nets, tmp_path, capsys):
    """-cs 0,1,2 keeps RGB; a scalar -M subtracts from every channel."""
    image = _quadrant_image(tmp_path / "q.png", "PNG")
    status, _, _ = _run(capsys, nets["identity"], "-i", image, "-cs",
                        "0,1,2", "-M", "0.5", "--save", tmp_path / "o")
    assert status == 0
    got = np.load(tmp_path / "o_expected.npy").reshape(H, W, 3)
    np.testing.assert_allclose(got[0, 0], QUADRANTS[0, 0] / 255 - 0.5,
                               atol=2e-3)
    np.testing.assert_allclose(got[7, 11], QUADRANTS[1, 1] / 255 - 0.5,
                               atol=2e-3)


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    text = capsys.readouterr().out
    for flag in ("-w", "-s", "-in", "-on", "-is", "-o", "-i", "-id", "-S",
                 "-M", "-cs", "--seed", "--save"):
        assert f"  {flag} " in text, flag
    for word in ("RGB", "BGR", "[0, 1)", "_result.npy", "_expected.npy",
                 "Exit status"):
        assert word in text, word


def test_caffe_prototxt_against_the_caffe_reference(tmp_path, capsys):
    """A Caffe 1x1 convolution that permutes channels and adds a bias: the
    expected side (references.caffe) and the stick both give the hand
    result on the documented random input."""
    from caffe_helpers import caffemodel, net
    perm = [1, 2, 0]
    w = np.eye(3, dtype=np.float32)[perm].reshape(3, 3, 1, 1)   # O,I,H,W
    b = np.array([0.5, -1.0, 2.0], np.float32)
    proto = tmp_path / "deploy.prototxt"
    proto.write_text(net((H, W, 3), (
        'layer { name: "c" type: "Convolution" bottom: "data" top: "c" '
        'convolution_param { num_output: 3 kernel_size: 1 } }\n')))
    model = tmp_path / "deploy.caffemodel"
    model.write_bytes(caffemodel({"c": [w, b]}))
    status, out, err = _run(capsys, proto, "-w", model, "--save",
                            tmp_path / "o")
    assert status == 0, out + err
    x = np.random.default_rng(0).uniform(0, 1, (H, W, 3))[..., ::-1]
    want = x.astype(np.float16).astype(np.float32)[..., perm] + b
    np.testing.assert_allclose(np.load(tmp_path / "o_expected.npy"),
                               want.reshape(-1), atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "o_result.npy"),
                               want.reshape(-1), atol=4e-3)


def test_stick_refusal_is_exit_2(nets, tmp_path, capsys, monkeypatch):
    """A graph the stick refuses: the NCSDK status, no traceback."""
    import ncsdk.check as cli
    monkeypatch.setattr(cli, "graph_file_bytes", lambda result, out: b"x")
    status, out, err = _run(capsys, nets["identity"], "--save",
                            tmp_path / "o")
    assert status == 2 and "Traceback" not in err
    assert err.startswith("mvNCCheck: ") and "Status." in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("shape", [[1, H, W, 4], [None, H, W]])
def test_cs_applies_to_3_channel_images_only(tmp_path, capsys, shape):
    """A 4-channel image and a 3-D [N, H, W] input: the default -cs 2,1,0
    is ignored, no error; the framework gets the input in its own rank."""
    from tfcompat import tf1

    def build():
        x = tf1.placeholder(tf1.float32, shape, name="input")
        tf1.nn.relu(x * 2.0 - 1.0, name="out")
    pb = frozen_pb(tmp_path / "net.pb", build)
    status, out, err = _run(capsys, pb, "--save", tmp_path / "o")
    assert status == 0, out + err
    x = np.load(tmp_path / "o_input.npy")
    channels = shape[-1]
    raw = np.random.default_rng(0).uniform(0, 1, x.shape)
    assert x.shape[-1] == channels
    np.testing.assert_allclose(x, raw, rtol=1e-6)    # not reordered
