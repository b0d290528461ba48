"""Release: the zoo's graph files, manifests and checksums as one reproducible tarball.

`artifacts/releases/<V>/` holds three files:

* `zoo-to-stick-<V>.tar.gz`: under `zoo-to-stick-<V>/`, each net's
  `<name>/<name>.graph` and `<name>/manifest.json`, and a `SHA256SUMS` of
  them. Its bytes depend only on those files (sorted members, mtime 0,
  uid/gid 0, no owner names, gzip header without time or name), so two
  builds from two checkouts give the same tarball.
* `provenance.json`: where every checkpoint came from (URL, sha256), the
  catalogue entries, settings, tool versions and the project's git commit
  and dirty flag. It describes the build, not the bytes, so it stays outside
  the tarball.
* `SHA256SUMS` over the two, written last: a release without it is unfinished.

Artifacts built from synthetic weights are refused unless the caller allows
them, and then the provenance says so in words.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from steps.artifacts import (canonical_json, read_stamp, sha256_file,
                             stamp_is_current, verify_stamp)
from steps.extract import make_tarball
from steps.versions import REPO_ROOT, tool_versions

PROJECT = "zoo-to-stick"
SUMS = "SHA256SUMS"
PROVENANCE = "provenance.json"
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
SYNTHETIC_WARNING = ("These graph files were compiled from SYNTHETIC, seeded "
                     "weights, not the published checkpoints: they show the "
                     "pipeline works and are useless for inference.")


class ReleaseError(RuntimeError):
    """A release that must not be made; the message says why and what to do."""


@dataclass(frozen=True)
class NetRelease:
    """One net's files that go into a release, and its provenance record."""
    name: str
    graph: Path
    manifest: Path
    provenance: dict


def release_dir(root, version):
    return Path(root) / "releases" / version


def tarball_name(version):
    return f"{PROJECT}-{version}.tar.gz"


def check_version(version):
    if not _VERSION.match(version or ""):
        raise ReleaseError(
            f"release version {version!r} is not allowed: use letters, digits "
            "and . _ + - (e.g. 2024.05.1), starting with a letter or digit")
    return version


# -- the git state of the project ---------------------------------------

def _git(repo, *args):
    out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True,
                         text=True, check=False)
    return out.stdout.strip() if out.returncode == 0 else None


def git_state(repo=REPO_ROOT):
    """The commit and whether the work tree differs from it (None: no git)."""
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        status = _git(repo, "status", "--porcelain", "--untracked-files=normal")
    except OSError:
        commit = status = None
    return {"commit": commit,
            "dirty": None if status is None else bool(status)}


# -- collecting a net's finished artifacts -------------------------------

def _require_current(job):
    """Refuse a net whose graph is missing, stale, altered or failed its check."""
    from steps.plan import KEYS
    p, name = job.paths, job.entry.name
    for step in ("compile", "check"):
        if not stamp_is_current(p.dir, step, KEYS[step](job)):
            raise ReleaseError(
                f"{name}: the {step} step is not up to date for source "
                f"{job.source!r} and {job.shaves} shaves; build it first "
                f"(luigi --module tasks CheckModel --name {name} "
                f"--source {job.source})")
    problems = verify_stamp(p.dir, "compile")
    if problems:
        raise ReleaseError(f"{name}: {'; '.join(problems)}")
    check = json.loads((p.check_dir / "check.json").read_text())
    if not (check.get("passed") and check.get("top1_identical")):
        raise ReleaseError(f"{name}: its check on the emulated stick failed")
    return check


def net_provenance(job, manifest, check):
    """Where this net's graph came from, in the words a reviewer needs."""
    e = job.entry
    fetch = read_stamp(job.paths.dir, "fetch") or {}
    return {
        "synthetic": bool(manifest["synthetic"]),
        "source": manifest["source"],
        "checkpoint": {"url": e.url, "tarball": e.tarball,
                       "sha256": manifest.get("tarball_sha256")
                       or fetch.get("tarball_sha256"),
                       "catalogue_sha256": e.sha256},
        "catalogue_entry": manifest["catalogue_entry"],
        "settings": manifest["settings"],
        "graph": {"file": f"{e.name}/{job.paths.graph.name}",
                  "sha256": sha256_file(job.paths.graph),
                  "size": job.paths.graph.stat().st_size},
        "manifest_sha256": sha256_file(job.paths.manifest),
        "tool_versions": manifest["tool_versions"],
        "code": manifest["code"],
        "check": {"passed": check["passed"],
                  "top1_identical": check["top1_identical"],
                  "inference_ms": check.get("inference_ms")},
    }


def collect(names, source=None, shaves=None, allow_synthetic=False):
    """Each named net's finished artifacts, or ReleaseError for the first
    that is missing, stale, failed or (unless allowed) synthetic."""
    from steps.plan import make_job
    nets = []
    for name in sorted(set(names)):
        job = make_job(name, source, shaves)
        check = _require_current(job)
        manifest = json.loads(job.paths.manifest.read_text())
        if manifest["synthetic"] and not allow_synthetic:
            raise ReleaseError(
                f"{name} was built from synthetic weights; a release of it "
                "would ship a net that recognises nothing. Build from the "
                "official checkpoints, or pass --allow-synthetic to release "
                "it anyway (its provenance will say so)")
        nets.append(NetRelease(name, job.paths.graph, job.paths.manifest,
                               net_provenance(job, manifest, check)))
    return nets


def refusal(source, allow_synthetic):
    """The reason to refuse before building anything, or None."""
    if source == "synthetic" and not allow_synthetic:
        return ("refusing to release nets built from synthetic weights; "
                "pass --allow-synthetic to release them anyway (the "
                "provenance will say so)")
    return None


# -- writing the release -------------------------------------------------

def sums_text(digests):
    """`sha256sum -c` format, sorted by path: '<sha256>  <path>'."""
    return "".join(f"{digests[p]}  {p}\n" for p in sorted(digests))


def _tar_members(version, nets, staging):
    """Archive name -> source path, with the inner SHA256SUMS written to staging."""
    prefix = f"{PROJECT}-{version}"
    members = {}
    for n in nets:
        members[f"{n.name}/{n.graph.name}"] = n.graph
        members[f"{n.name}/manifest.json"] = n.manifest
    digests = {rel: sha256_file(src) for rel, src in members.items()}
    inner = Path(staging) / "inner-SHA256SUMS"
    inner.write_text(sums_text(digests))
    members[SUMS] = inner
    return {f"{prefix}/{rel}": str(src) for rel, src in members.items()}


def provenance(version, nets, settings, tarball_sha256, allow_synthetic,
               git=None):
    synthetic = sorted(n.name for n in nets if n.provenance["synthetic"])
    doc = {
        "release": version,
        "project": {"name": PROJECT, "git": git or git_state()},
        "tarball": {"file": tarball_name(version), "sha256": tarball_sha256},
        "settings": settings,
        "tool_versions": tool_versions(),
        "allow_synthetic": bool(allow_synthetic),
        "synthetic_nets": synthetic,
        "nets": {n.name: n.provenance for n in nets},
    }
    if synthetic:
        doc["warning"] = SYNTHETIC_WARNING
    return doc


def write_release(dest, version, nets, settings, allow_synthetic=False,
                  git=None):
    """Write the release directory `dest` whole: build it beside, then rename.

    An existing `dest` is never replaced: a published version is immutable.
    """
    check_version(version)
    if not nets:
        raise ReleaseError("a release needs at least one net")
    dest = Path(dest)
    if dest.exists():
        raise ReleaseError(f"{dest} already exists; releases are immutable, "
                           "choose a new version")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        os.chmod(tmp, 0o755)
        staging = tmp / ".staging"
        staging.mkdir()
        tar_sha = make_tarball(str(tmp / tarball_name(version)),
                               _tar_members(version, nets, staging))
        shutil.rmtree(staging)
        prov = provenance(version, nets, settings, tar_sha, allow_synthetic,
                          git)
        (tmp / PROVENANCE).write_text(canonical_json(prov))
        digests = {f: sha256_file(tmp / f)
                   for f in (tarball_name(version), PROVENANCE)}
        (tmp / SUMS).write_text(sums_text(digests))
        for f in (PROVENANCE, SUMS):
            os.chmod(tmp / f, 0o644)
        os.rename(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def release_matches(dest, names, source, shaves, allow_synthetic):
    """True when the finished release at `dest` was made for this request."""
    try:
        prov = json.loads((Path(dest) / PROVENANCE).read_text())
    except (OSError, ValueError):
        return False
    return ((Path(dest) / SUMS).exists()
            and sorted(prov["nets"]) == sorted(set(names))
            and prov["settings"].get("source") == source
            and prov["settings"].get("shaves") == shaves
            and prov["allow_synthetic"] == bool(allow_synthetic))


def build_release(version, names, source=None, shaves=None,
                  allow_synthetic=False, root=None):
    """Release the named nets' finished artifacts as `releases/<version>/`."""
    from zoo.settings import load_settings
    check_version(version)
    s = load_settings()
    source = source or s.source
    shaves = s.shaves if shaves is None else int(shaves)
    why = refusal(source, allow_synthetic)
    if why:
        raise ReleaseError(why)
    nets = collect(names, source, shaves, allow_synthetic)
    settings = {"source": source, "shaves": shaves, "seed": s.seed}
    dest = release_dir(root or s.artifact_root, version)
    return write_release(dest, version, nets, settings, allow_synthetic)
