"""GoogLeNet (bvlc_googlenet's deploy architecture, tests/data) compiles
without weights, and its stages count the MFLOPs NCSDK's profiler measured
(tests/data/googlenet_caffe_12shaves_profile.csv), layer by layer."""
import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ncsformat as nf
from compiler import compile_file
from emulator.costmodel import stage_flops

DATA = Path(__file__).resolve().parent / "data"
# the prototxt NCSDK profiled, kept once, with its measurements
PROTOTXT = (Path(__file__).resolve().parent.parent / "ncsdk" / "measurements"
            / "nets" / "googlenet_deploy.prototxt")
PROFILE = DATA / "googlenet_caffe_12shaves_profile.csv"


@pytest.fixture(scope="module")
def googlenet():
    return compile_file(str(PROTOTXT), None, shaves=12)


def _profile():
    with open(PROFILE) as f:
        return list(csv.DictReader(f))


def test_stages_are_the_profiled_layers_in_order(googlenet):
    rows = _profile()
    assert [s.name for s in googlenet.stages] == [r["layer"] for r in rows]
    assert googlenet.stages[-1].output_dims == (1, 1, 1000)


def test_mflops_match_the_measured_profile(googlenet):
    """Every row to the printed rounding, except the fully connected row:
    NCSDK printed 2*outputs (0.002) there, we count the real 2*in*out."""
    rows = {r["layer"]: float(r["mflops"]) for r in _profile()}
    mismatched = {}
    for st in googlenet.stages:
        ours = round(stage_flops(st) / 1e6, 3)
        if ours != rows[st.name]:
            mismatched[st.name] = (ours, rows[st.name])
    assert mismatched == {"loss3/classifier": (2.048, 0.002)}
    fc = next(s for s in googlenet.stages if s.op == nf.Op.FC)
    assert rows["loss3/classifier"] == round(2 * fc.output_dims[2] / 1e6, 3)


def test_zero_weights_run_to_a_uniform_distribution(googlenet):
    from caffe_helpers import run_stick
    x = np.random.default_rng(1).random((224, 224, 3), np.float32)
    out = run_stick(googlenet.blob, x)
    np.testing.assert_allclose(out, np.full(1000, 1e-3), rtol=1e-2)


def test_mvnccompile_command_line(tmp_path):
    out = tmp_path / "googlenet.graph"
    proc = subprocess.run(
        [sys.executable, "-m", "ncsdk.compile", str(PROTOTXT), "-s", "12",
         "-o", str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "stages: 75" in proc.stdout
    header = nf.Header.unpack(out.read_bytes())
    assert (header.stage_count, header.last_shave) == (75, 11)


def _random_weights(stages, rng):
    """He-scaled weights for every conv and FC stage, shapes from the
    zero-weight graph's records (Caffe order: O,I,kh,kw and [out][in])."""
    blobs = {}
    for st in stages:
        _, cin, cout = st.tap_dims
        if st.op == nf.Op.CONV:
            kw, kh = st.radix
            w = rng.standard_normal((cout, cin, kh, kw)) * np.sqrt(
                2 / (cin * kh * kw))
        elif st.op == nf.Op.FC:
            w = rng.standard_normal((cout, cin)) * np.sqrt(1 / cin)
        else:
            continue
        blobs[st.name] = [w.astype(np.float32),
                          0.1 * rng.standard_normal(cout).astype(np.float32)]
    return blobs


def test_random_weights_agree_with_the_tf_reference(googlenet, tmp_path):
    """The whole net on the stick against references.caffe (TF)."""
    from caffe_helpers import caffemodel, close, run_stick
    from references.caffe import run_caffe_reference
    rng = np.random.default_rng(0)
    model = tmp_path / "googlenet.caffemodel"
    model.write_bytes(caffemodel(_random_weights(googlenet.stages, rng)))
    result = compile_file(str(PROTOTXT), str(model), shaves=12)
    x = rng.random((224, 224, 3), np.float32)
    got = run_stick(result.blob, x)
    want = run_caffe_reference(PROTOTXT, model, x)
    close(got, want)
    assert np.argmax(got) == np.argmax(want)
