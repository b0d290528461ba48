"""mvNCProfile on BVLC GoogLeNet (zero weights): NCSDK's table, the reports,
edges derived from the stage records, TIME_TAKEN agreement, error exits."""
import contextlib
import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest

from compiler import compile_file
from emulator import costmodel
from emulator import mvncapi as mvnc
from ncsdk.profile import main, profile_blob, report_paths
from ncsdk.profile_report import INPUT, stage_inputs
from emulator.reader import Access, load_graph

DATA = Path(__file__).resolve().parent / "data"
# the prototxt NCSDK profiled, kept once, with its measurements
PROTOTXT = str(Path(__file__).resolve().parent.parent / "ncsdk" / "measurements"
               / "nets" / "googlenet_deploy.prototxt")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """mvNCProfile googlenet -s 12, reports into a directory."""
    d = tmp_path_factory.mktemp("profile")
    mp = pytest.MonkeyPatch()
    mp.chdir(d)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([PROTOTXT, "-s", "12", "-o", "g.graph", "-of", "rep/"])
    mp.undo()
    return code, out.getvalue(), d


def test_prints_ncsdks_per_layer_table(run):
    code, out, _ = run
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "Detailed Per Layer Profile"
    for col in ("#", "Name", "MFLOPs", "Bandwidth MB/s", "time(ms)"):
        assert col in lines[1]
    rows = [l.split() for l in lines[3:] if l[:1].isdigit()]
    assert len(rows) == 75
    assert rows[0][:3] == ["0", "conv1/7x7_s2", "236.028"]
    assert rows[73][1:3] == ["loss3/classifier", "0.002"]   # NCSDK's count
    total = next(l for l in lines if "Total inference time" in l)
    assert float(total.split()[-1]) == pytest.approx(
        sum(float(r[-1]) for r in rows), abs=0.05)


def test_writes_csv_json_and_self_contained_html(run):
    _, _, d = run
    rep = d / "rep"
    assert (d / "g.graph").is_file()
    doc = json.loads((rep / "profile.json").read_text())
    with open(rep / "profile.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["layer"] for r in rows] == [s["name"] for s in doc["stages"]]
    assert doc["shaves"] == 12 and len(rows) == 75
    assert doc["total_ms"] == pytest.approx(
        sum(float(r["time_ms"]) for r in rows), abs=1e-3)
    fc = doc["stages"][73]
    assert (fc["mflops"], fc["work_mflops"]) == (0.002, 2.048)
    html = (rep / "profile.html").read_text()
    assert html.count("<svg") == 2 and "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    for s in doc["stages"]:
        assert s["name"] in html


def test_edges_follow_the_buffers_the_stages_read(run):
    _, _, d = run
    st = json.loads((d / "rep" / "profile.json").read_text())["stages"]
    index = {s["name"]: s["index"] for s in st}
    ins = {s["name"]: s["inputs"] for s in st}
    assert ins["conv1/7x7_s2"] == [INPUT]
    branches = [index[f"inception_3a/{b}"]
                for b in ("1x1", "3x3", "5x5", "pool_proj")]
    assert ins["inception_3b/1x1"] == branches      # reads the whole concat
    assert ins["inception_3a/3x3"] == [index["inception_3a/3x3_reduce"]]
    assert ins["pool3/3x3_s2"] == [index[f"inception_3b/{b}"] for b in
                                   ("1x1", "3x3", "5x5", "pool_proj")]
    assert all(j < s["index"] for s in st for j in s["inputs"])


def test_time_taken_is_the_profile(run):
    """The stick's TIME_TAKEN, the profile and the cost model agree."""
    _, _, d = run
    blob = (d / "g.graph").read_bytes()
    dev = mvnc.Device(mvnc.EnumerateDevices()[0])
    dev.OpenDevice()
    try:
        g = dev.AllocateGraph(blob)
        n = load_graph(blob).input_bytes // 2
        g.LoadTensor(np.zeros(n, np.float16), None)
        g.GetResult()
        taken = g.GetGraphOption(mvnc.GraphOption.TIME_TAKEN)
    finally:
        dev.CloseDevice()
    doc = json.loads((d / "rep" / "profile.json").read_text())
    prof = [s["time_ms"] for s in doc["stages"]]
    model = costmodel.graph_times_ms(load_graph(blob).stages, 12)
    np.testing.assert_allclose(prof, taken, rtol=1e-6)
    np.testing.assert_allclose(prof, model, rtol=1e-6)


def test_fewer_shaves_take_longer():
    one = profile_blob(compile_file(PROTOTXT, shaves=1).blob)
    twelve = profile_blob(compile_file(PROTOTXT, shaves=12).blob)
    assert one.shaves == 1 and 2 < one.total_ms / twelve.total_ms < 4


@pytest.mark.parametrize("argv,number", [
    (["missing.prototxt"], 8),
    ([PROTOTXT, "-s", "13"], 27),
    ([PROTOTXT, "-on", "no_such_layer"], 13),
])
def test_compile_errors_exit_2_with_the_ncsdk_line(argv, number, tmp_path,
                                                   monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"[Error {number}] Toolkit Error:")
    assert "Traceback" not in err
    assert list(tmp_path.iterdir()) == []


def test_help_explains_every_flag(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--help"])
    assert e.value.code == 0
    out = capsys.readouterr().out
    for flag in ("-w WEIGHTS", "-s N", "-in NODE", "-on NODE", "-is W H",
                 "-o FILE", "-of PREFIX", "--compare MEASURED",
                 "Detailed Per Layer Profile"):
        assert flag in out


def test_report_prefix_or_directory(tmp_path):
    assert report_paths(str(tmp_path / "a" / "net"))["csv"] == \
        tmp_path / "a" / "net.csv"
    assert report_paths(str(tmp_path) + "/")["html"] == tmp_path / "profile.html"
    assert report_paths(str(tmp_path))["json"] == tmp_path / "profile.json"


def test_a_slice_reader_depends_only_on_the_producer_of_its_channels():
    strides = (2 * 8, 2 * 8 * 4, 2)             # 4 x 4 x 8 concat buffer

    def acc(role, ptr, c, write=False, index=4):
        return Access(role, index, ptr, (4, 4, c), strides, write)
    accesses = [[acc("data", 0, 3, index=1), acc("output", 100, 5, True)],
                [acc("data", 0, 3, index=1), acc("output", 110, 3, True)],
                [acc("data", 110, 3), acc("output", 0, 3, True, index=5)],
                [acc("data", 100, 8), acc("output", 0, 8, True, index=2)]]
    assert stage_inputs(accesses) == [[INPUT], [INPUT], [1], [0, 1]]


MEASURED_CSV = Path(__file__).resolve().parents[1] / "ncsdk" / "measurements" \
    / "googlenet_caffe_12shaves_profile.csv"


@pytest.fixture(scope="module")
def compared(tmp_path_factory):
    d = tmp_path_factory.mktemp("compare")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([PROTOTXT, "-s", "12", "-o", str(d / "g.graph"),
                     "-of", str(d) + "/", "--compare", str(MEASURED_CSV)])
    return code, out.getvalue(), d


def test_compare_prints_measured_beside_predicted(compared):
    code, out, _ = compared
    assert code == 0
    part = out[out.index("Predicted vs measured per layer"):]
    row = next(l for l in part.splitlines() if l.startswith("4 "))
    name, pred, meas, err = row.split()[1:5]
    assert (name, meas) == ("conv2/3x3", "11.55")
    assert float(err.rstrip("%")) == pytest.approx(
        100 * (float(pred) / 11.55 - 1), abs=0.2)
    total = next(l for l in part.splitlines() if l.startswith("Total"))
    assert total.split()[-1] == "88.67"
    assert "Measured layers with no stage (0): none" in part


def test_compare_goes_into_the_reports(compared):
    _, _, d = compared
    doc = json.loads((d / "profile.json").read_text())
    assert doc["stages"][4]["measured_ms"] == 11.55
    assert doc["comparison"]["unmatched_stages"] == []
    html = (d / "profile.html").read_text()
    assert "Predicted vs measured per layer" in html
    assert "meas. 11.55" in html


def test_caffe_stages_match_by_top_name(tmp_path):
    """tiny-yolo's conv1 -> bn1 -> scale1 stage is NCSDK's "scale1"."""
    meas = Path(MEASURED_CSV).parent
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main([str(meas / "nets" / "tiny_yolo_v1.prototxt"), "-s", "12",
                     "-o", str(tmp_path / "g"), "-of", str(tmp_path) + "/",
                     "--compare", str(meas / "tinyyolov1_akolluru_12shv.json")])
    assert code == 0
    text = out.getvalue()
    assert "Measured layers with no stage (1): data" in text
    assert "Stages with no measured layer (0): none" in text


def test_bad_measured_file_exits_2_before_compiling(tmp_path, monkeypatch,
                                                    capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "m.json").write_text("{}")
    assert main([PROTOTXT, "--compare", "m.json"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("mvNCProfile: m.json: not a measured profile")
    assert "Traceback" not in err and not (tmp_path / "graph").exists()


def test_framework_from_suffix_else_header_name():
    from ncsdk.profile_report import framework_of
    assert framework_of("net.pb", "x") == "tensorflow"
    assert framework_of("net.meta", "x") == "tensorflow"
    assert framework_of("deploy.prototxt", "TensorFlow Network") == "caffe"
    assert framework_of(None, "TensorFlow Network") == "tensorflow"
    assert framework_of("graph", "googlenet") == "caffe"


def test_bandwidth_column_is_ncsdks(run):
    """conv2/3x3: NCSDK's bytes (each window read + weights) over time."""
    _, out, _ = run
    row = next(l.split() for l in out.splitlines() if " conv2/3x3 " in l)
    mib = 2 * (56 * 56 * 64 * 9 + 9 * 64 * 192) / 2 ** 20
    assert float(row[3]) == pytest.approx(mib / (float(row[4]) / 1e3),
                                          rel=0.01)
