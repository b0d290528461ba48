"""zoo-verify: a good release passes; each kind of damage fails with a clear message.

Releases here are written by steps.release.write_release from hand-made
graph files (tests/emulator_helpers.GraphBuilder), so these tests need no
TensorFlow and take a second.
"""
import hashlib
import json
import tarfile

import numpy as np
import pytest

from emulator_helpers import GraphBuilder, Op
from steps import verify
from steps.extract import make_tarball
from steps.release import (PROVENANCE, SUMS, NetRelease, sums_text,
                           tarball_name, write_release)

VERSION = "1.0"
TAR = tarball_name(VERSION)
PREFIX = f"zoo-to-stick-{VERSION}"


def graph_bytes(name, channels):
    b = GraphBuilder(name=name)
    b.stage(Op.RELU, b.input(4, 4, channels), b.output(4, 4, channels))
    return b.build()


def hand_made_net(tmp_path, name, channels, synthetic=False):
    d = tmp_path / "src" / name
    d.mkdir(parents=True)
    graph = d / f"{name}.graph"
    graph.write_bytes(graph_bytes(name, channels))
    sha = hashlib.sha256(graph.read_bytes()).hexdigest()
    manifest = d / "manifest.json"
    manifest.write_text(json.dumps({
        "name": name, "synthetic": synthetic,
        "files": {graph.name: sha},
        "graph": {"file": graph.name, "size": graph.stat().st_size}},
        sort_keys=True))
    prov = {"synthetic": synthetic,
            "graph": {"file": f"{name}/{graph.name}", "sha256": sha}}
    return NetRelease(name, graph, manifest, prov)


@pytest.fixture
def release(tmp_path):
    nets = [hand_made_net(tmp_path, "net_a", 3), hand_made_net(tmp_path, "net_b", 8)]
    return write_release(tmp_path / "releases" / VERSION, VERSION, nets,
                         {"source": "official", "shaves": 12, "seed": 0},
                         git={"commit": "0" * 40, "dirty": False})


def run(release, capsys):
    code = verify.main([str(release)])
    return code, capsys.readouterr().out


def members(release):
    with tarfile.open(release / TAR) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def repack(release, files):
    """Rewrite the tarball with `files` and make the outer sums and the
    provenance agree with it, so that only the inner checks can object."""
    src = release.parent / "repack"
    src.mkdir(exist_ok=True)
    paths = {}
    for i, (name, data) in enumerate(files.items()):
        (src / str(i)).write_bytes(data)
        paths[name] = str(src / str(i))
    sha = make_tarball(str(release / TAR), paths)
    prov = json.loads((release / PROVENANCE).read_text())
    prov["tarball"]["sha256"] = sha
    (release / PROVENANCE).write_text(json.dumps(prov))
    reseal(release)


def reseal(release):
    digests = {f: hashlib.sha256((release / f).read_bytes()).hexdigest()
               for f in (TAR, PROVENANCE)}
    (release / SUMS).write_text(sums_text(digests))


def test_good_release_passes(release, capsys):
    code, out = run(release, capsys)
    assert code == 0, out
    assert out.startswith("OK:") and "2 graph files" in out


def test_sums_files_are_sha256sum_compatible(release):
    lines = (release / SUMS).read_text().splitlines()
    assert [l.split("  ")[1] for l in lines] == sorted([PROVENANCE, TAR])
    inner = members(release)[f"{PREFIX}/SHA256SUMS"].decode().splitlines()
    assert [l.split("  ")[1] for l in inner] == [
        "net_a/manifest.json", "net_a/net_a.graph",
        "net_b/manifest.json", "net_b/net_b.graph"]


def test_flipped_byte_in_tarball_fails(release, capsys):
    data = bytearray((release / TAR).read_bytes())
    data[len(data) // 2] ^= 0x01
    (release / TAR).write_bytes(bytes(data))
    code, out = run(release, capsys)
    assert code == 1
    assert f"{TAR} does not match SHA256SUMS" in out


def test_flipped_byte_in_graph_fails_inner_sums(release, capsys):
    files = members(release)
    g = bytearray(files[f"{PREFIX}/net_a/net_a.graph"])
    g[-1] ^= 0x40                       # a weight byte: still a valid file
    files[f"{PREFIX}/net_a/net_a.graph"] = bytes(g)
    repack(release, files)
    code, out = run(release, capsys)
    assert code == 1
    assert f"net_a/net_a.graph does not match {TAR}:SHA256SUMS" in out
    assert "does not match the sha256 in net_a/manifest.json" in out
    assert "does not match the sha256 in provenance.json" in out


def test_invalid_graph_fails_even_with_matching_sums(release, capsys):
    files = members(release)
    bad = graph_bytes("net_a", 3)[:200]         # shorter than the header
    files[f"{PREFIX}/net_a/net_a.graph"] = bad
    inner = {p[len(PREFIX) + 1:]: hashlib.sha256(d).hexdigest()
             for p, d in files.items() if not p.endswith(SUMS)}
    files[f"{PREFIX}/SHA256SUMS"] = sums_text(inner).encode()
    repack(release, files)
    code, out = run(release, capsys)
    assert code == 1
    assert "net_a/net_a.graph is not a valid graph file" in out
    assert "shorter than the 264-byte header" in out


def test_graph_the_stick_refuses_fails(release, capsys, monkeypatch):
    def refuse(self, blob):
        raise Exception("Status.OUT_OF_MEMORY")
    monkeypatch.setattr(verify.Stick, "allocate", refuse)
    code, out = run(release, capsys)
    assert code == 1
    assert "net_a/net_a.graph: the emulated stick refuses it in AllocateGraph: " \
           "Status.OUT_OF_MEMORY" in out


def test_missing_provenance_fails(release, capsys):
    (release / PROVENANCE).unlink()
    code, out = run(release, capsys)
    assert code == 1
    assert "provenance.json is listed in SHA256SUMS but missing" in out


def test_missing_member_fails(release, capsys):
    files = members(release)
    del files[f"{PREFIX}/net_b/manifest.json"]
    repack(release, files)
    code, out = run(release, capsys)
    assert code == 1
    assert f"net_b/manifest.json is listed in {TAR}:SHA256SUMS but missing" in out
    assert "net_b: no manifest.json in the tarball" in out


def test_wrong_sums_line_fails(release, capsys):
    text = (release / SUMS).read_text().splitlines()
    sha, path = text[0].split("  ")
    text[0] = f"{'0' * 64}  {path}"
    (release / SUMS).write_text("\n".join(text) + "\n")
    code, out = run(release, capsys)
    assert code == 1
    assert f"{path} does not match SHA256SUMS: its sha256 is {sha}, " \
           f"SHA256SUMS says {'0' * 64}" in out


def test_malformed_sums_line_and_unlisted_file_fail(release, capsys):
    lines = (release / SUMS).read_text().splitlines()
    (release / SUMS).write_text(f"{lines[0]}\nnot a checksum line\n")
    code, out = run(release, capsys)
    assert code == 1
    assert "SHA256SUMS line 2 is malformed: 'not a checksum line'" in out
    assert "is not listed in SHA256SUMS" in out


def test_extra_file_fails(release, capsys):
    (release / "notes.txt").write_text("hello")
    code, out = run(release, capsys)
    assert code == 1
    assert "notes.txt is not listed in SHA256SUMS" in out


def test_synthetic_net_without_permission_fails(release, capsys):
    prov = json.loads((release / PROVENANCE).read_text())
    prov["nets"]["net_a"]["synthetic"] = True
    (release / PROVENANCE).write_text(json.dumps(prov))
    reseal(release)
    code, out = run(release, capsys)
    assert code == 1
    assert "net_a built from synthetic weights but the release does not " \
           "allow synthetic weights" in out


def test_usage_errors_exit_2(tmp_path, capsys):
    assert verify.main([]) == 2
    assert verify.main([str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_runs_as_module(release):
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "steps.verify", str(release)],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "OK:" in out.stdout


def test_relu_graph_really_runs():
    """The hand-made graphs are real graph files, not placeholders."""
    from emulator_helpers import run as run_graph
    x = np.linspace(-1, 1, 4 * 4 * 3).reshape(4, 4, 3)
    y = run_graph(graph_bytes("g", 3), x)
    assert np.allclose(y, np.maximum(x, 0).reshape(-1), atol=1e-3)
