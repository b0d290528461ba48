"""SIGKILL a worker inside every step; later runs finish and trust nothing partial.

One artifact root goes through a chain of `luigi` runs, each killed by the
probe (tests/luigi_probe.py) inside one step: when the task starts, just
before each of the step's renames (every output, the checkpoint tree and the
stamp are published by a rename, so "before rename k" is the moment the k-th
output is whole under its temporary name and nothing after it exists yet),
and (for fetch) just after its last rename, the stamp. After every kill, every stamp on disk must
match its files. Then one clean run must finish and give files byte-identical
to an uninterrupted build. Two more cases: a kill in the middle of an HTTP
download (the rerun resumes and the tarball is exact), and a kill between the
new tarball and its extraction after an input changed (the old, now stale,
checkpoint and frozen graph must not be trusted).
"""
import shutil
import signal
import tarfile
from pathlib import Path

import pytest

import pipeline_helpers as h
from faultserver import FaultServer

NET = h.SMALL
KILLED = -signal.SIGKILL


def _kill_points(renames, after_last):
    """start, before each rename (and after the last): in the order they happen."""
    points = ["start", *(f"before:{k}" for k in range(1, renames + 1))]
    return points + [f"after:{renames}"] if after_last else points


def _run(task, root, probe, kill=None, settings=None, source="synthetic"):
    env = h.pipeline_env(root, probe, kill=kill, settings=settings)
    return h.run_luigi(h.luigi_args(task, name=NET, source=source), env,
                       timeout=600)


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Every pipeline process of this file runs one snapshot of the sources."""
    return h.snapshot_sources(tmp_path_factory)


@pytest.fixture(scope="module")
def reference(tmp_path_factory, sources):
    return h.reference_build(tmp_path_factory, [NET])


@pytest.fixture(scope="module")
def chain(tmp_path_factory, reference):
    """Kill a worker at every point of every step, in pipeline order."""
    base = tmp_path_factory.mktemp("crash")
    root, probe = base / "artifacts", base / "probe"
    probe.mkdir()
    counts = h.rename_counts(reference.parent / "probe")
    kills = []
    for i, family in enumerate(h.end_families()):
        assert counts.get(family), f"no rename count for {family}: {counts}"
        # after the last rename (the stamp) only once: the step is then done
        for point in _kill_points(counts[family], after_last=i == 0):
            proc = _run(family, root, probe, kill=f"{family}:{point}")
            kills.append({"family": family, "point": point,
                          "returncode": proc.returncode, "log": h.tail(proc),
                          "problems": h.audit(root),
                          "leftovers": h.leftovers(root)})
    for k in kills:   # the figures, visible with -s
        print(f"\nkill {k['family']:22s} {k['point']:9s} rc={k['returncode']} "
              f"problems={len(k['problems'])} leftovers={len(k['leftovers'])}", end="")
    print(f"\nleft behind under temporary names: {kills[-1]['leftovers']}")
    return {"root": root, "probe": probe, "kills": kills, "base": base}


def test_every_kill_point_was_reached(chain):
    assert len(chain["kills"]) >= 3 * len(h.end_families())
    for k in chain["kills"]:
        assert k["returncode"] == KILLED, (k["family"], k["point"], k["log"])


def test_no_stamp_trusts_a_partial_file_after_any_kill(chain):
    for k in chain["kills"]:
        assert k["problems"] == [], (k["family"], k["point"], k["problems"])


def test_rerun_finishes_byte_identical_to_an_uninterrupted_build(chain, reference):
    proc = h.run_luigi(h.zoo_args([NET]), h.pipeline_env(chain["root"], chain["probe"]),
                       timeout=900)
    assert h.luigi_succeeded(proc), h.tail(proc)
    assert h.audit(chain["root"]) == []
    assert h.finished_files(chain["root"] / NET) == h.finished_files(reference / NET)
    stamps = h.stamps(chain["root"], NET)
    assert all(stamps[h.STEP_OF[f]] for f in h.end_families())
    # what the kills left behind is only ever under temporary names
    for rel in h.leftovers(chain["root"]):
        assert h.is_temporary(rel)


def test_kill_mid_download_then_resume(tmp_path, reference):
    """SIGKILL while the tarball trickles in; the rerun resumes with a Range
    request and the published tarball is byte-exact."""
    tarball = next((reference / NET / "download").glob("*.tar.gz"))
    body = tarball.read_bytes()
    root, probe = tmp_path / "artifacts", tmp_path / "probe"
    probe.mkdir()
    settings = h.write_settings(tmp_path / "pipeline.yaml")   # private lock
    with FaultServer({"/" + tarball.name: body}) as srv:
        srv.fault("/" + tarball.name, "slow", times=1, chunk=32768, delay=0.05)
        first = _run("FetchCheckpoint", root, probe, source=srv.base_url + "/",
                     kill="FetchCheckpoint:delay:2.5", settings=settings)
        assert first.returncode == KILLED, h.tail(first)
        dest = root / NET / "download" / tarball.name
        part = Path(str(dest) + ".part")
        assert not dest.exists() and part.exists()
        assert 0 < part.stat().st_size < len(body)
        assert h.audit(root) == [] and h.stamps(root, NET)["fetch"] is None
        cut = part.stat().st_size
        second = _run("FetchCheckpoint", root, probe, source=srv.base_url + "/",
                      settings=settings)
        assert h.luigi_succeeded(second), h.tail(second)
        ranges = [r.headers.get("Range") for r in srv.seen("/" + tarball.name)]
    assert ranges == [None, f"bytes={cut}-"]
    assert dest.read_bytes() == body
    assert h.audit(root) == []


def test_kill_between_new_tarball_and_extraction_leaves_nothing_stale(tmp_path, reference):
    """A changed input (the synthetic seed) rebuilds fetch; a kill right after
    the new tarball lands, before it is extracted, leaves the old checkpoint
    and the old frozen graph on disk. No later run may take them as finished:
    the rerun must rebuild freeze from the new checkpoint."""
    root, probe = tmp_path / "artifacts", tmp_path / "probe"
    probe.mkdir()
    shutil.copytree(reference, root)
    settings = h.write_settings(tmp_path / "pipeline.yaml", seed=1)
    end = "FreezeGraph"
    killed = _run("FetchCheckpoint", root, probe, settings=settings,
                  kill="FetchCheckpoint:after:1")
    assert killed.returncode == KILLED, h.tail(killed)
    assert h.audit(root, settings=settings) == []
    net = root / NET
    new_tar = next((net / "download").glob("*.tar.gz"))
    assert new_tar.read_bytes() != next((reference / NET / "download").glob("*.tar.gz")).read_bytes()
    assert h.stamps(root, NET)["fetch"] is None

    rerun = _run(end, root, probe, settings=settings)
    assert h.luigi_succeeded(rerun), h.tail(rerun)
    starts = h.run_counts(probe, "start")
    assert starts.get(("FetchCheckpoint", NET)) == 2     # killed, then again
    assert starts.get(("FreezeGraph", NET)) == 1          # rebuilt, not trusted
    assert ("ExportInferenceGraph", NET) not in starts    # seed is not its input
    assert h.audit(root, settings=settings) == []
    with tarfile.open(new_tar) as tar:
        for m in tar.getmembers():
            data = tar.extractfile(m).read()
            assert (net / "checkpoint" / m.name).read_bytes() == data, m.name
    assert h.sha256(net / f"{NET}_frozen.pb") != h.sha256(reference / NET / f"{NET}_frozen.pb")
