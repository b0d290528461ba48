"""Three workers on one central scheduler (`luigid`) build the same nets at once.

Proves: every task runs exactly once across the workers (counted three
independent ways: the probe's per-run marker files, luigid's task list, and,
when SQLAlchemy is installed, luigid's SQLite task history), more than one
worker did real work, the artifacts are byte-identical to a single-worker
build, every stamp and manifest matches its files, and a second round of
three workers on the finished tree runs nothing. For contrast, two processes
with local schedulers racing on one root (no coordination) leave nothing
trusted that is not whole, and a rerun gives the same bytes.
"""
import importlib.util
import sqlite3
import subprocess
import time

import pytest

import pipeline_helpers as h

NETS = ["mobilenet_v1_0.25_128", "mobilenet_v1_0.25_160", "mobilenet_v1_0.25_192"]
WORKERS = 3
TIMEOUT = 1200
HAS_SQLALCHEMY = importlib.util.find_spec("sqlalchemy") is not None


def _start_workers(luigid, root, probe, logs, procs):
    """WORKERS identical `luigi` commands against `luigid`, started together."""
    args = h.zoo_args(NETS, extra=[*luigid.flags(), "--worker-keep-alive"])
    for i in range(WORKERS):
        log = open(logs / f"worker{i}.log", "w")
        procs.append(subprocess.Popen(args, env=h.pipeline_env(root, probe),
                                      cwd=h.source_root(), stdout=log,
                                      stderr=subprocess.STDOUT))
        log.close()


def _wait(procs, logs):
    deadline = time.monotonic() + TIMEOUT
    for p in procs:
        p.wait(timeout=max(1, deadline - time.monotonic()))
    for i, p in enumerate(procs):
        text = (logs / f"worker{i}.log").read_text()
        assert p.returncode == 0, text[-3000:]
        assert "This progress looks :(" not in text, text[-3000:]


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Every pipeline process of this file runs one snapshot of the sources."""
    return h.snapshot_sources(tmp_path_factory)


@pytest.fixture(scope="module")
def shared_build(tmp_path_factory, sources):
    """Run the three workers once; yield what the tests inspect."""
    base = tmp_path_factory.mktemp("luigid")
    root, probe, logs = base / "artifacts", base / "probe", base / "logs"
    probe.mkdir()
    logs.mkdir()
    history = base / "history.db" if HAS_SQLALCHEMY else None
    with h.Luigid(base / "luigid", history_db=history) as luigid, \
            h.processes() as procs:
        _start_workers(luigid, root, probe, logs, procs)
        _wait(procs, logs)
        task_list = luigid.api("task_list")
        rerun_probe = base / "probe-rerun"
        rerun_probe.mkdir()
        procs.clear()
        _start_workers(luigid, root, rerun_probe, logs, procs)
        _wait(procs, logs)
    yield {"root": root, "probe": probe, "task_list": task_list,
           "history": history, "rerun_probe": rerun_probe}


def _expected_tasks():
    return {(f, n) for f in h.end_families() for n in NETS}


def test_every_task_runs_exactly_once(shared_build):
    starts = h.run_counts(shared_build["probe"], "start")
    successes = h.run_counts(shared_build["probe"], "success")
    per_net = {k: v for k, v in starts.items() if k[1] != "-"}
    assert set(per_net) == _expected_tasks()
    assert set(per_net.values()) == {1}, per_net
    assert {k: v for k, v in successes.items() if k[1] != "-"} == per_net
    assert h.markers(shared_build["probe"], "failure") == []


def test_work_was_shared_between_workers(shared_build):
    pids = {pid for _e, fam, _n, pid, _t in h.markers(shared_build["probe"], "start")
            if fam != "ProbeZoo" and fam != "BuildZoo"}
    assert len(pids) >= 2, f"only worker(s) {pids} ran tasks: no concurrency tested"


def test_luigid_saw_every_task_done(shared_build):
    statuses = {tid: t["status"] for tid, t in shared_build["task_list"].items()}
    families = {}
    for tid, status in statuses.items():
        assert status == "DONE", (tid, status)
        fam = tid.split("_", 1)[0]
        families[fam] = families.get(fam, 0) + 1
    for fam in h.end_families():
        assert families.get(fam) == len(NETS), families


def test_task_history_records_one_run_per_task(shared_build):
    """luigid's SQLite history: one RUNNING and one DONE event per task."""
    if shared_build["history"] is None:
        pytest.skip("SQLAlchemy (1.4.x) is not installed: luigid cannot keep "
                    "task history; runs are still counted by the other tests")
    db = sqlite3.connect(shared_build["history"])
    try:
        rows = db.execute(
            "SELECT t.task_id, e.event_name, COUNT(*) FROM tasks t "
            "JOIN task_events e ON e.task_id = t.id "
            "WHERE e.event_name IN ('RUNNING', 'DONE', 'FAILED') "
            "GROUP BY t.task_id, e.event_name").fetchall()
    finally:
        db.close()
    runs = {}
    for task_id, event, count in rows:
        runs.setdefault(task_id, {})[event] = count
    per_net = {t: r for t, r in runs.items() if not t.startswith(("ProbeZoo", "BuildZoo"))}
    assert len(per_net) == len(_expected_tasks())
    for task_id, r in per_net.items():
        assert r == {"RUNNING": 1, "DONE": 1}, (task_id, r)


def test_artifacts_identical_to_single_worker_build(shared_build, tmp_path_factory):
    reference = h.reference_build(tmp_path_factory, NETS)
    for name in NETS:
        shared = h.finished_files(shared_build["root"] / name)
        single = h.finished_files(reference / name)
        assert shared, f"{name}: nothing built"
        assert shared == single, name


def test_every_stamp_and_manifest_matches_its_files(shared_build):
    assert h.audit(shared_build["root"]) == []
    for name in NETS:
        s = h.stamps(shared_build["root"], name)
        for fam in h.end_families():
            assert s[h.STEP_OF[fam]] is not None, (name, fam)


def test_second_round_runs_nothing(shared_build):
    """Change nothing and nothing runs, with three workers either."""
    starts = h.run_counts(shared_build["rerun_probe"], "start")
    assert {k: v for k, v in starts.items() if k[1] != "-"} == {}


def test_two_local_schedulers_race_without_corruption(tmp_path, sources,
                                                      tmp_path_factory):
    """Without luigid, two processes on one artifact root do not coordinate
    (the design says machines share a luigid): they may run a step twice and
    one may fail, but nothing either leaves is trusted unless whole, and one
    plain rerun gives the single-worker bytes."""
    net = NETS[0]
    root, probe = tmp_path / "artifacts", tmp_path / "probe"
    probe.mkdir()
    args = h.luigi_args(h.PIPELINE_END, name=net)
    with h.processes() as procs:
        for i in range(2):
            log = open(tmp_path / f"racer{i}.log", "w")
            procs.append(subprocess.Popen(args, env=h.pipeline_env(root, probe),
                                          cwd=h.source_root(), stdout=log,
                                          stderr=subprocess.STDOUT))
            log.close()
        for p in procs:
            p.wait(timeout=TIMEOUT)
    assert h.audit(root) == []
    rerun = h.run_luigi(args, h.pipeline_env(root, probe), timeout=TIMEOUT)
    assert h.luigi_succeeded(rerun), h.tail(rerun)
    assert h.audit(root) == []
    reference = h.reference_build(tmp_path_factory, [net])
    assert h.finished_files(root / net) == h.finished_files(reference / net)
