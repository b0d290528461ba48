"""ProfileModel through Luigi for one small MobileNet (synthetic weights):
the reports appear under artifacts/<name>/profile/, stamped; a rerun does
nothing; the JSON's times are the emulated stick's TIME_TAKEN."""
import json

import luigi
import numpy as np
import pytest

import tasks
from emulator import mvncapi as mvnc
from steps.artifacts import read_stamp, verify_stamp
from steps.plan import make_job, profile_key

NAME = "mobilenet_v1_0.25_128"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    mp = pytest.MonkeyPatch()
    mp.setenv("ZOO_TO_STICK_ARTIFACTS", str(root))
    task = tasks.ProfileModel(name=NAME, source="synthetic")
    ok = luigi.build([task], local_scheduler=True, log_level="WARNING")
    yield root, ok, task
    mp.undo()


def test_task_writes_the_three_reports_with_a_stamp(built):
    root, ok, task = built
    assert ok and task.complete()
    d = root / NAME
    stamp = read_stamp(d, "profile")
    assert sorted(stamp["outputs"]) == ["profile/profile.csv",
                                        "profile/profile.html",
                                        "profile/profile.json"]
    assert stamp["key"] == profile_key(make_job(NAME, "synthetic"))
    assert verify_stamp(d, "profile") == []
    html = (d / "profile" / "profile.html").read_text()
    assert html.count("<svg") == 2 and "Total inference time" in html


def test_profile_times_are_the_sticks_time_taken(built):
    root, _, _ = built
    d = root / NAME
    doc = json.loads((d / "profile" / "profile.json").read_text())
    blob = (d / f"{NAME}.graph").read_bytes()
    dev = mvnc.Device(mvnc.EnumerateDevices()[0])
    dev.OpenDevice()
    try:
        graph = dev.AllocateGraph(blob)
        graph.LoadTensor(np.ones((128, 128, 3), np.float16), None)
        graph.GetResult()
        taken = graph.GetGraphOption(mvnc.GraphOption.TIME_TAKEN)
    finally:
        dev.CloseDevice()
    np.testing.assert_allclose([s["time_ms"] for s in doc["stages"]], taken,
                               rtol=1e-6)
    assert doc["network"] == NAME and doc["total_ms"] > 0


def test_second_build_does_no_work(built):
    root, _, task = built
    mtime = (root / NAME / "profile" / "profile.json").stat().st_mtime_ns
    ran = []

    @luigi.Task.event_handler(luigi.Event.SUCCESS)
    def on_success(t):
        ran.append(type(t).__name__)
    try:
        assert luigi.build([tasks.ProfileModel(name=NAME, source="synthetic")],
                           local_scheduler=True, log_level="WARNING")
    finally:
        luigi.Task._event_callbacks[luigi.Task][luigi.Event.SUCCESS].discard(
            on_success)
    assert ran == []
    assert (root / NAME / "profile" / "profile.json").stat().st_mtime_ns == mtime
