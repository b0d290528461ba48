"""The Luigi chain for one small MobileNet, built from a synthetic checkpoint.

Proves: the chain builds and checks a graph; a second run does no work;
--shaves reruns compile and check only; deleting an artifact rebuilds it and
what depends on it only; editing another net's entry touches nothing here;
the manifest records every file's sha256 and the synthetic flag.
"""
import json
import os
import subprocess
import sys

import luigi
import pytest
import yaml

import tasks
from steps.artifacts import sha256_file, verify_stamp
from steps.plan import STEPS, make_job

from conftest import REPO

NAME = "mobilenet_v1_0.25_128"


class Runs:
    """Which task families ran, through Luigi's own success events."""
    def __init__(self):
        self.ran = []

    def __enter__(self):
        @luigi.Task.event_handler(luigi.Event.SUCCESS)
        def on_success(task):
            self.ran.append(type(task).__name__)
        self._handler = on_success
        return self

    def __exit__(self, *exc):
        luigi.Task._event_callbacks[luigi.Task][luigi.Event.SUCCESS].discard(self._handler)


def build(task):
    with Runs() as runs:
        ok = luigi.build([task], local_scheduler=True, log_level="WARNING")
    assert ok
    return sorted(runs.ran)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("artifacts")
    mp = pytest.MonkeyPatch()
    mp.setenv("ZOO_TO_STICK_ARTIFACTS", str(root))
    ran = build(tasks.CheckModel(name=NAME, source="synthetic"))
    yield root, ran
    mp.undo()


def test_chain_builds_and_checks(built):
    root, ran = built
    assert ran == ["CheckModel", "CompileModel", "ExportInferenceGraph",
                   "FetchCheckpoint", "FreezeGraph"]
    d = root / NAME
    for rel in (f"download/mobilenet_v1_0.25_128_2017_06_14.tar.gz",
                "checkpoint/mobilenet_v1_0.25_128.ckpt.index",
                "checkpoint/mobilenet_v1_0.25_128.ckpt.meta",
                "checkpoint/mobilenet_v1_0.25_128.ckpt.data-00000-of-00001",
                f"{NAME}_inference_graph.pb", f"{NAME}_frozen.pb",
                f"{NAME}.graph", "manifest.json", "check/check.json",
                "check/result.npy", "check/expected.npy"):
        assert (d / rel).is_file(), rel
    check = json.loads((d / "check/check.json").read_text())
    assert check["passed"] and check["top1_identical"]


def test_manifest_records_every_file(built):
    root, _ = built
    d = root / NAME
    m = json.loads((d / "manifest.json").read_text())
    assert m["synthetic"] is True and m["source"] == "synthetic"
    assert m["settings"]["shaves"] == 12
    assert m["catalogue_entry"]["output_node"] == "MobilenetV1/Predictions/Reshape_1"
    assert set(m["files"]) >= {f"{NAME}.graph", f"{NAME}_frozen.pb",
                               f"{NAME}_inference_graph.pb",
                               "download/mobilenet_v1_0.25_128_2017_06_14.tar.gz"}
    for rel, sha in m["files"].items():
        assert sha256_file(d / rel) == sha, rel
    assert m["tool_versions"]["tensorflow"] == "2.21.0"
    for step in STEPS:
        assert verify_stamp(d, step) == []


def test_second_run_does_nothing(built):
    assert build(tasks.CheckModel(name=NAME, source="synthetic")) == []


def test_shaves_rebuild_compile_and_check_only(built):
    root, _ = built
    ran = build(tasks.CheckModel(name=NAME, source="synthetic", shaves=4))
    assert ran == ["CheckModel", "CompileModel"]
    m = json.loads((root / NAME / "manifest.json").read_text())
    assert m["settings"]["shaves"] == 4
    assert build(tasks.CheckModel(name=NAME, source="synthetic", shaves=12)) == \
        ["CheckModel", "CompileModel"]


def test_deleting_frozen_graph_rebuilds_downstream_only(built):
    root, _ = built
    graph = root / NAME / f"{NAME}.graph"
    before = graph.read_bytes()
    (root / NAME / f"{NAME}_frozen.pb").unlink()
    ran = build(tasks.CheckModel(name=NAME, source="synthetic"))
    assert ran == ["CheckModel", "CompileModel", "FreezeGraph"]
    assert graph.read_bytes() == before   # same inputs, same bytes


def test_editing_another_entry_touches_nothing(built, tmp_path, monkeypatch):
    raw = yaml.safe_load((REPO / "zoo/catalogue.yaml").read_text())
    raw["nets"]["mobilenet_v1_1.0_224"]["output_node"] = "MobilenetV1/Logits/SpatialSqueeze"
    cat = tmp_path / "catalogue.yaml"
    cat.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("ZOO_TO_STICK_CATALOGUE", str(cat))
    assert build(tasks.CheckModel(name=NAME, source="synthetic")) == []


def test_noop_rerun_from_the_command_line_imports_no_tensorflow(built):
    root, _ = built
    probe = ("import sys, runpy; sys.argv = ['luigi', '--module', 'tasks', "
             f"'CompileModel', '--name', '{NAME}', '--source', 'synthetic'];"
             "import luigi.cmdline\n"
             "try:\n    luigi.cmdline.luigi_run(sys.argv[1:])\n"
             "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
             "print('TF', 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, text=True,
                         capture_output=True, timeout=120,
                         env=dict(os.environ, ZOO_TO_STICK_ARTIFACTS=str(root)))
    assert "TF False" in out.stdout, out.stderr[-2000:]
    assert "Did not run any tasks" in out.stdout + out.stderr


def test_a_failed_task_makes_luigi_exit_non_zero(tmp_path):
    """luigi.cfg's [retcode]: a cron job sees the failure in the exit status."""
    out = subprocess.run(
        [str(REPO / ".venv" / "bin" / "luigi"), "--module", "tasks",
         "FetchCheckpoint", "--name", NAME, "--source", str(tmp_path / "no-mirror")],
        cwd=REPO, text=True, capture_output=True, timeout=120,
        env=dict(os.environ, ZOO_TO_STICK_ARTIFACTS=str(tmp_path / "a")))
    assert out.returncode == 30, out.stderr[-2000:]
    assert "no-mirror" in out.stderr
