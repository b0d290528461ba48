"""The nightly: step results from Luigi's events, the report, the page, the changes.

Fast tests run the nightly for real (Luigi and all) over hand-made artifact
directories whose stamps are current, or over a source that fails at once.
One slow test builds mobilenet_v1_0.25_128 from synthetic weights end to end.
The page is checked by html.parser, and rendered by headless Chromium when
it is installed (bench/render_report.sh).
"""
import hashlib
import json
import os
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import luigi
import pytest

from emulator_helpers import GraphBuilder, Op
from steps import nightly
from steps.artifacts import write_json, write_stamp
from steps.plan import KEYS, STEPS, make_job
from steps.report_html import render

REPO = Path(__file__).resolve().parent.parent
NET = "mobilenet_v1_0.25_128"
OTHER = "mobilenet_v1_0.5_160"


def fake_build(name, source="synthetic", channels=3, max_error=0.5):
    """A finished build of `name` on disk: hand-made graph, current stamps."""
    job = make_job(name, source)
    p = job.paths
    b = GraphBuilder(name=name)
    b.stage(Op.RELU, b.input(4, 4, channels), b.output(4, 4, channels))
    p.dir.mkdir(parents=True, exist_ok=True)
    p.graph.write_bytes(b.build())
    write_json(p.manifest, {"name": name, "synthetic": job.synthetic})
    write_json(p.check_dir / "check.json", {
        "passed": True, "top1_identical": True, "top1_result": 7,
        "top1_expected": 7, "inference_ms": 4.0,
        "metrics": {"max_error": max_error, "mean_error": 0.1,
                    "wrong_share": 0.0, "rms_error": 0.2, "passed": True}})
    for step in STEPS:
        outputs = {"compile": [p.graph, p.manifest],
                   "check": [p.check_dir / "check.json"]}.get(step, [])
        write_stamp(p.dir, step, KEYS[step](job), outputs)
    return job


# -- the page --------------------------------------------------------------

class Page(HTMLParser):
    """Collects what a reader sees: tables' rows, SVG shapes, the summary."""

    def __init__(self, html):
        super().__init__()
        self.tags, self.rows, self.ids, self.text = [], {}, {}, []
        self._table, self._row, self._open = None, None, []
        self.feed(html)

    @property
    def _id(self):
        """The id of the innermost open element that has one."""
        return next((i for _, i in reversed(self._open) if i), None)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append(tag)
        if tag not in ("meta", "rect", "br"):       # void or self-closed here
            self._open.append((tag, a.get("id")))
        if "id" in a:
            self.ids[a["id"]] = tag
        if tag == "table":
            self._table = a.get("id")
            self.rows[self._table] = []
        elif tag == "tr":
            self._row = []
            self.rows[self._table].append(self._row)
        elif tag in ("td", "th"):
            self._row.append("")

    def handle_data(self, data):
        self.text.append((self._id, data))
        if self._row and self._open and self._open[-1][0] in ("td", "th"):
            self._row[-1] += data

    def handle_endtag(self, tag):
        while self._open and self._open.pop()[0] != tag:
            pass
        if tag == "table":
            self._table, self._row = None, None

    def text_of(self, element_id):
        return "".join(d for i, d in self.text if i == element_id)


def net_record(status="ok", ms=4.0, graph_bytes=1000, max_error=0.5,
               steps=None):
    steps = steps or {s: {"status": "done", "seconds": 1.5} for s in STEPS}
    ok = status == "ok"
    return {"status": status, "steps": steps, "build_seconds": 7.5,
            "shaves": 12, "synthetic": True, "graph_bytes": graph_bytes,
            "graph_sha256": hashlib.sha256(str(graph_bytes).encode()).hexdigest(),
            "check": {"passed": ok, "top1_identical": ok, "top1": 3,
                      "metrics": {"max_error": max_error, "mean_error": 0.1,
                                  "wrong_share": 0.0, "rms_error": 0.2},
                      "inference_ms": ms} if ms else None,
            "inference_ms_12": ms, "fps_12": 1000 / ms if ms else None}


def sample_report(previous=None):
    """The whole zoo: one net failed at compile, the others passed."""
    from zoo.catalogue import load_catalogue
    nets = {}
    for i, name in enumerate(sorted(load_catalogue())):
        nets[name] = net_record(ms=3.0 + 11.7 * i, graph_bytes=400_000 * (i + 1))
    failed = {s: {"status": "kept" and "up to date"} for s in STEPS[:3]}
    failed["compile"] = {"status": "failed", "seconds": 0.8,
                         "error": "CompileError: [Error 5] Toolkit Error: "
                                  "Stage Details Not Supported: X"}
    failed["check"] = {"status": "not run"}
    nets["inception_v4"] = net_record("failed", ms=None, graph_bytes=None,
                                      steps=failed)
    settings = {"source": "synthetic", "shaves": 12, "workers": 2,
                "wall_seconds": 812.0}
    return nightly.make_report("2030-01-02", settings, nets, previous,
                               "SUCCESS_WITH_RETRY")


def test_page_has_summary_table_chart_and_changes():
    prev = sample_report()
    prev["date"] = "2030-01-01"
    prev["nets"]["inception_v1"]["graph_bytes"] = 12345
    prev["nets"]["inception_v4"] = net_record(ms=150.0)
    report = sample_report(prev)
    page = Page(render(report))
    assert page.text_of("summary") == "21 nets, 1 failed: inception_v4"
    rows = page.rows["nets"]
    assert rows[0][:7] == ["Net", "Result", "fetch", "export", "freeze",
                           "compile", "check"]
    assert len(rows) == 22
    v4 = next(r for r in rows if r[0] == "inception_v4")
    assert v4[1:7] == ["FAIL", "= kept", "= kept", "= kept", "✗ failed",
                       "– not run"]
    mb = next(r for r in rows if r[0] == NET)
    assert mb[1] == "PASS" and mb[2] == "✓ 1.5 s"
    assert page.ids["chart-time"] == "svg" and page.ids["chart-size"] == "svg"
    assert page.tags.count("rect") == 2 * 20        # no bar for the failed net
    changes = page.rows["changes"]
    assert ["inception_v1", "graph_bytes", "12345", "800000"] in changes
    assert ["inception_v4", "status", "ok", "failed"] in changes
    assert ["inception_v4", "compile step", "done", "failed"] in changes
    assert "script" not in page.tags and "img" not in page.tags
    assert "http" not in render(report).replace(
        'xmlns="http://www.w3.org/2000/svg"', "")


def test_changes_ignore_timing_noise_but_see_real_changes():
    old = {NET: net_record(), OTHER: net_record()}
    new = {NET: net_record(ms=5.0), OTHER: net_record()}
    new[OTHER]["steps"]["freeze"] = {"status": "done", "seconds": 1.9}
    new[NET]["steps"]["export"] = {"status": "done", "seconds": 30.0}
    found = nightly.changes({"nets": old}, new)
    assert nightly._change(NET, "inference_ms_12", 4.0, 5.0) in found
    assert nightly._change(NET, "export seconds", 1.5, 30.0) in found
    assert not [c for c in found if c["net"] == OTHER]
    assert nightly.changes(None, new) == []
    gone = nightly.changes({"nets": old}, {NET: old[NET]})
    assert gone == [nightly._change(OTHER, "net", "present", None)]


def test_previous_report_is_the_newest_earlier_one(tmp_path):
    for d in ("2030-01-01", "2030-01-03", "2030-01-05"):
        write_json(tmp_path / d / "report.json", {"date": d})
    assert nightly.previous_report(tmp_path, "2030-01-05")["date"] == "2030-01-03"
    assert nightly.previous_report(tmp_path, "2030-01-02")["date"] == "2030-01-01"
    assert nightly.previous_report(tmp_path, "2030-01-01") is None


# -- Luigi's events, across worker processes ----------------------------------

class Step(luigi.Task):
    """A stand-in for a per-net step: named like one, fails on request,
    finished when its marker file exists (workers are other processes)."""
    name = luigi.Parameter()
    step = luigi.Parameter()
    root = luigi.Parameter()
    fail = luigi.BoolParameter(default=False)
    upstream = luigi.DictParameter(default={})

    def requires(self):
        return [Step(root=self.root, **self.upstream)] if self.upstream else []

    def output(self):
        return luigi.LocalTarget(f"{self.root}/{self.name}.{self.step}")

    def run(self):
        if self.fail:
            raise ValueError("line one\nthe real reason")
        Path(self.output().path).write_text("done")


def test_events_recorded_from_worker_processes(tmp_path):
    log = nightly.EventLog(tmp_path / "events.jsonl")
    log.reset()
    root = str(tmp_path)
    tasks = [Step(name="a", step="export", root=root),
             Step(name="b", step="freeze", root=root,
                  upstream={"name": "b", "step": "fetch", "fail": True})]
    with nightly.recording(log):
        luigi.build(tasks, workers=2, local_scheduler=True, log_level="WARNING")
    events = log.read()
    got = nightly.step_statuses([e for e in events if e["net"] == "b"], {})
    assert got["fetch"]["status"] == "failed"
    assert got["fetch"]["error"] == "ValueError: line one the real reason"
    assert got["freeze"] == {"status": "not run"}
    a = nightly.step_statuses([e for e in events if e["net"] == "a"],
                              {"fetch": True})
    assert a["export"]["status"] == "done" and a["export"]["seconds"] >= 0
    assert a["fetch"] == {"status": "up to date"}
    # the handlers are gone after the run
    assert not any(luigi.Task._event_callbacks.get(luigi.Task, {}).values())


# -- the nightly, run for real --------------------------------------------------

def test_nightly_over_finished_builds_then_changes(artifact_root, capsys):
    fake_build(NET)
    fake_build(OTHER, channels=8)
    args = ["--source", "synthetic", "--names", NET, OTHER]
    assert nightly.main(args + ["--date", "2030-01-01"]) == 0
    out = capsys.readouterr().out
    assert "2 nets, 0 failed" in out
    first = json.loads((artifact_root / "reports/2030-01-01/report.json").read_text())
    assert first["nets"][NET]["steps"]["check"] == {"status": "up to date"}
    assert first["nets"][NET]["inference_ms_12"] == 4.0
    assert first["nets"][NET]["fps_12"] == 250.0
    assert first["previous"] is None
    fake_build(NET, channels=5, max_error=0.7)    # other bytes, same size
    assert nightly.main(args + ["--date", "2030-01-02"]) == 0
    second = json.loads((artifact_root / "reports/2030-01-02/report.json").read_text())
    assert second["previous"] == "2030-01-01"
    what = {(c["net"], c["what"]) for c in second["changes"]}
    assert what == {(NET, "graph bytes (same size)"), (NET, "max_error")}
    page = Page((artifact_root / "reports/2030-01-02/index.html").read_text())
    assert page.text_of("summary") == "2 nets, 0 failed"
    assert len(page.rows["changes"]) == 3


def test_nightly_fails_after_building_the_rest(artifact_root, tmp_path, capsys):
    """A source that has no tarball: fetch fails at once, the exit is 1, the
    page says which step failed and why, and the other net is still reported."""
    fake_build(OTHER)
    empty = tmp_path / "empty-mirror"
    empty.mkdir()
    fake_build(NET, source=str(empty))
    # only NET's fetch is made stale: its tarball is gone from the mirror
    job = make_job(NET, str(empty))
    (job.paths.dir / ".stamps" / "fetch.json").unlink()
    code = nightly.main(["--source", str(empty), "--names", NET, "--date",
                         "2030-02-01"])
    assert code == 1
    assert f"1 net, 1 failed: {NET}" in capsys.readouterr().out
    report = json.loads((artifact_root / "reports/2030-02-01/report.json").read_text())
    steps = report["nets"][NET]["steps"]
    assert steps["fetch"]["status"] == "failed"
    assert "no such file in the local mirror" in steps["fetch"]["error"]
    assert steps["export"] == {"status": "up to date"}
    assert [steps[s]["status"] for s in ("freeze", "compile", "check")] == \
           ["not run"] * 3


def test_usage_errors_exit_2(artifact_root, capsys):
    assert nightly.main(["--names", "no_such_net"]) == 2
    assert "no net named no_such_net" in capsys.readouterr().err
    assert nightly.main(["--workers", "0"]) == 2
    with pytest.raises(SystemExit) as e:
        nightly.main(["--date", "31/12/2030"])
    assert e.value.code == 2


@pytest.mark.slow
def test_nightly_builds_a_real_net(tmp_path):
    """mobilenet_v1_0.25_128 from synthetic weights, every step run and timed."""
    import os
    import sys
    env = dict(os.environ, ZOO_TO_STICK_ARTIFACTS=str(tmp_path / "a"))
    run = subprocess.run([sys.executable, "-m", "steps.nightly", "--source",
                          "synthetic", "--names", NET, "--date", "2030-03-01"],
                         cwd=REPO, env=env, capture_output=True, text=True,
                         timeout=900)
    assert run.returncode == 0, (run.stdout + run.stderr)[-4000:]
    assert "1 net, 0 failed" in run.stdout
    report = json.loads((tmp_path / "a/reports/2030-03-01/report.json").read_text())
    net = report["nets"][NET]
    assert {s: r["status"] for s, r in net["steps"].items()} == \
           {s: "done" for s in STEPS}
    assert all(r["seconds"] > 0 for r in net["steps"].values())
    assert net["check"]["passed"] and net["graph_bytes"] > 100_000
    assert net["inference_ms_12"] > 0 and net["fps_12"] > 0


# -- in a real browser ------------------------------------------------------------

def png_size(path):
    head = Path(path).read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


# .ci/run installs Chromium, so in CI this runs (and fails without a browser)
@pytest.mark.skipif(shutil.which("chromium") is None and not os.environ.get("CI"),
                    reason="chromium not installed (apt-get install chromium)")
def test_page_renders_in_headless_chromium(tmp_path):
    prev = sample_report()
    prev["date"] = "2030-01-01"
    prev["nets"]["inception_v1"]["graph_bytes"] = 12345
    page = tmp_path / "index.html"
    page.write_text(render(sample_report(prev)))
    out = tmp_path / "shot.png"
    run = subprocess.run(["sh", str(REPO / "bench/render_report.sh"),
                          str(page), str(out)], capture_output=True, text=True,
                         timeout=120)
    assert run.returncode == 0, run.stderr
    assert png_size(out) == (1400, 1800)
    assert out.stat().st_size > 50_000      # a drawn page, not a blank one
