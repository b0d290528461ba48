"""Releases: refused when they should be, deterministic, verifiable.

The first tests use hand-made artifact directories (real stamps and keys,
hand-made graph files) and take a second. The last one builds
mobilenet_v1_0.25_128 from synthetic weights in two copies of the source tree,
in two directories, with `luigi --module tasks Release`, and compares bytes.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from emulator_helpers import GraphBuilder, Op
from steps import release as rel
from steps import verify
from steps.artifacts import write_json, write_stamp
from steps.plan import KEYS, STEPS, make_job

REPO = Path(__file__).resolve().parent.parent
NET = "mobilenet_v1_0.25_128"
OTHER = "mobilenet_v1_0.5_160"


def fake_build(name, source, channels=3, passed=True):
    """A net's artifacts as a finished build leaves them, with current stamps."""
    job = make_job(name, source)
    p = job.paths
    b = GraphBuilder(name=name)
    b.stage(Op.RELU, b.input(4, 4, channels), b.output(4, 4, channels))
    p.dir.mkdir(parents=True, exist_ok=True)
    p.graph.write_bytes(b.build())
    sha = hashlib.sha256(p.graph.read_bytes()).hexdigest()
    write_json(p.manifest, {
        "name": name, "synthetic": job.synthetic, "source": source,
        "catalogue_entry": job.entry.as_dict(),
        "settings": {"shaves": job.shaves, "seed": 0},
        "files": {p.graph.name: sha}, "tarball_sha256": "ab" * 32,
        "graph": {"file": p.graph.name, "size": p.graph.stat().st_size},
        "tool_versions": {"numpy": "x"}, "code": {"compiler": "c"}})
    write_json(p.check_dir / "check.json", {
        "passed": passed, "top1_identical": True, "inference_ms": 3.5})
    for step in STEPS:
        outputs = {"compile": [p.graph, p.manifest],
                   "check": [p.check_dir / "check.json"]}.get(step, [])
        write_stamp(p.dir, step, KEYS[step](job), outputs)
    return job


def test_release_of_hand_made_artifacts_verifies(artifact_root, capsys):
    fake_build(NET, "official")
    fake_build(OTHER, "official", channels=8)
    dest = rel.build_release("2024.1", [OTHER, NET], source="official")
    assert dest == artifact_root / "releases" / "2024.1"
    assert sorted(os.listdir(dest)) == sorted(
        ["SHA256SUMS", "provenance.json", "zoo-to-stick-2024.1.tar.gz"])
    assert verify.main([str(dest)]) == 0, capsys.readouterr().out
    prov = json.loads((dest / "provenance.json").read_text())
    assert sorted(prov["nets"]) == sorted([NET, OTHER])
    entry = make_job(NET).entry
    assert prov["nets"][NET]["checkpoint"]["url"] == entry.url
    assert prov["nets"][NET]["checkpoint"]["sha256"] == "ab" * 32
    assert prov["nets"][NET]["catalogue_entry"] == entry.as_dict()
    git = prov["project"]["git"]
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                          capture_output=True, text=True).stdout.strip()
    assert git["commit"] == head and isinstance(git["dirty"], bool)
    assert prov["synthetic_nets"] == [] and "warning" not in prov


def test_tarball_layout_and_headers(artifact_root):
    fake_build(NET, "official")
    dest = rel.build_release("v1", [NET], source="official")
    with tarfile.open(dest / "zoo-to-stick-v1.tar.gz") as tar:
        ms = tar.getmembers()
    assert [m.name for m in ms] == [            # sorted by name
        "zoo-to-stick-v1/SHA256SUMS",
        f"zoo-to-stick-v1/{NET}/manifest.json",
        f"zoo-to-stick-v1/{NET}/{NET}.graph"]
    assert {(m.mtime, m.uid, m.gid, m.uname, m.gname, m.mode) for m in ms} == \
           {(0, 0, 0, "", "", 0o644)}
    head = (dest / "zoo-to-stick-v1.tar.gz").read_bytes()[:10]
    assert head[3] == 0 and head[4:8] == b"\0\0\0\0"   # no name, mtime 0


def test_same_artifacts_give_same_tarball_in_another_root(tmp_path, monkeypatch):
    tars = []
    for where in ("one", "two/deeper"):
        monkeypatch.setenv("ZOO_TO_STICK_ARTIFACTS", str(tmp_path / where))
        fake_build(NET, "official")
        dest = rel.build_release("1.0", [NET], source="official")
        tars.append((dest / "zoo-to-stick-1.0.tar.gz").read_bytes())
    assert tars[0] == tars[1]


def test_synthetic_refused_without_permission(artifact_root):
    fake_build(NET, "synthetic")
    with pytest.raises(rel.ReleaseError, match="--allow-synthetic"):
        rel.build_release("1.0", [NET], source="synthetic")
    assert not (artifact_root / "releases").exists()


def test_synthetic_allowed_says_so(artifact_root, capsys):
    fake_build(NET, "synthetic")
    dest = rel.build_release("1.0", [NET], source="synthetic",
                             allow_synthetic=True)
    prov = json.loads((dest / "provenance.json").read_text())
    assert prov["allow_synthetic"] is True
    assert prov["synthetic_nets"] == [NET]
    assert "SYNTHETIC" in prov["warning"]
    assert prov["nets"][NET]["synthetic"] is True
    assert verify.main([str(dest)]) == 0, capsys.readouterr().out


def test_manifest_saying_synthetic_is_refused(artifact_root):
    """The manifest decides, whatever source the caller names."""
    job = fake_build(NET, "official")
    m = json.loads(job.paths.manifest.read_text())
    m["synthetic"] = True
    write_json(job.paths.manifest, m)
    write_stamp(job.paths.dir, "compile", KEYS["compile"](job),
                [job.paths.graph, job.paths.manifest])
    with pytest.raises(rel.ReleaseError, match="synthetic weights"):
        rel.build_release("1.0", [NET], source="official")


def test_stale_altered_or_failed_artifacts_refused(artifact_root):
    job = fake_build(NET, "official")
    with pytest.raises(rel.ReleaseError, match="not up to date for source 'official' and 6 shaves"):
        rel.build_release("1.0", [NET], source="official", shaves=6)
    with pytest.raises(rel.ReleaseError, match=f"{OTHER}: the compile step is not up to date"):
        rel.build_release("1.0", [NET, OTHER], source="official")
    data = bytearray(job.paths.graph.read_bytes())
    data[-1] ^= 1                                   # same size and mtime
    st = job.paths.graph.stat()
    job.paths.graph.write_bytes(bytes(data))
    os.utime(job.paths.graph, ns=(st.st_atime_ns, st.st_mtime_ns))
    with pytest.raises(rel.ReleaseError, match="does not match its sha256"):
        rel.build_release("1.0", [NET], source="official")
    fake_build(NET, "official", passed=False)
    with pytest.raises(rel.ReleaseError, match="check on the emulated stick failed"):
        rel.build_release("1.0", [NET], source="official")
    assert not (artifact_root / "releases").exists()


def test_existing_version_is_never_replaced(artifact_root):
    fake_build(NET, "official")
    dest = rel.build_release("1.0", [NET], source="official")
    before = (dest / "SHA256SUMS").read_bytes()
    with pytest.raises(rel.ReleaseError, match="immutable"):
        rel.build_release("1.0", [NET], source="official")
    assert (dest / "SHA256SUMS").read_bytes() == before
    assert rel.release_matches(dest, [NET], "official", 12, False)
    assert not rel.release_matches(dest, [NET, OTHER], "official", 12, False)


@pytest.mark.parametrize("bad", ["", "../x", "a/b", "-rc", "v 1"])
def test_bad_versions_refused(bad):
    with pytest.raises(rel.ReleaseError, match="not allowed"):
        rel.check_version(bad)


# -- two checkouts, two directories, one set of bytes -----------------------

def project_files():
    """Tracked and untracked-but-not-ignored files of this work tree: what a
    checkout of the current work would hold."""
    out = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z", "-c", "-o",
                          "--exclude-standard"], capture_output=True, check=True)
    return [f for f in out.stdout.decode().split("\0")
            if f and (REPO / f).is_file()]


def checkout(dest):
    """A clone of the repo (same HEAD) with the work tree's files laid over it,
    so the copy builds what this tree would, from its own directory."""
    subprocess.run(["git", "clone", "-q", str(REPO), str(dest)], check=True)
    for f in project_files():
        (dest / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / f, dest / f)
    return dest


def luigi_release(src, artifacts, *extra):
    env = dict(os.environ, ZOO_TO_STICK_ARTIFACTS=str(artifacts),
               PYTHONPATH=str(src), PYTHONDONTWRITEBYTECODE="1")
    env.pop("ZOO_TO_STICK_CATALOGUE", None)
    env.pop("ZOO_TO_STICK_SETTINGS", None)
    return subprocess.run(
        [sys.executable, "-c",
         "import sys, luigi.cmdline, tasks; "
         "assert tasks.__file__.startswith(sys.argv[1]), tasks.__file__; "
         "luigi.cmdline.luigi_run(sys.argv[2:])",
         str(src), "--module", "tasks", "Release", "--local-scheduler",
         "--version", "0.1-test", "--names", json.dumps([NET]),
         "--source", "synthetic", *extra],
        cwd=src, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def two_builds(tmp_path_factory):
    """The net built and released in two checkouts in different directories."""
    base = tmp_path_factory.mktemp("two-checkouts")
    srcs = [checkout(base / "alpha" / "zoo-to-stick"),
            checkout(base / "b" / "elsewhere" / "src")]
    roots = [base / "artifacts-alpha", base / "b" / "artifacts-b"]
    refused = luigi_release(srcs[0], roots[0])
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(lambda i: luigi_release(srcs[i], roots[i],
                                                     "--allow-synthetic"),
                             range(2)))
    return {"srcs": srcs, "roots": roots, "runs": runs, "refused": refused}


def test_release_refused_for_synthetic_builds_nothing(two_builds):
    run = two_builds["refused"]
    assert "refusing to release nets built from synthetic weights" in \
           run.stdout + run.stderr
    assert "FetchCheckpoint" not in run.stdout + run.stderr


@pytest.mark.slow
def test_two_checkouts_give_identical_bytes(two_builds, capsys):
    for run in two_builds["runs"]:
        assert "This progress looks :)" in run.stdout + run.stderr, \
            (run.stdout + run.stderr)[-4000:]
    a, b = (r / "releases" / "0.1-test" for r in two_builds["roots"])
    ga, gb = (r / NET / f"{NET}.graph" for r in two_builds["roots"])
    assert ga.read_bytes() == gb.read_bytes()
    tar = "zoo-to-stick-0.1-test.tar.gz"
    assert (a / tar).read_bytes() == (b / tar).read_bytes()
    assert (a / "SHA256SUMS").read_text().splitlines()[1] == \
           (b / "SHA256SUMS").read_text().splitlines()[1]    # the tarball line
    pa, pb = (json.loads((d / "provenance.json").read_text()) for d in (a, b))
    assert pa["project"]["git"]["commit"] == pb["project"]["git"]["commit"]
    assert pa["allow_synthetic"] and pa["synthetic_nets"] == [NET]
    text = (a / "provenance.json").read_text()
    for src in two_builds["srcs"] + two_builds["roots"]:
        assert str(src) not in text
    for d in (a, b):
        assert verify.main([str(d)]) == 0, capsys.readouterr().out
