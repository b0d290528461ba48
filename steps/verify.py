"""Verify a release directory: `python -m steps.verify RELEASE_DIR` (or `zoo-verify`).

Checks, without trusting anything the release says about itself:
every line of both SHA256SUMS (outer: tarball and provenance; inner: the
graph files and manifests) against the bytes, no file unlisted or missing,
each manifest and the provenance against the graph files they describe,
each graph file against the format (`emulator.reader`) and on the emulated
stick (`mvncapi` AllocateGraph). Prints every problem it finds; exit status
0 when there is none, 1 when there is any, 2 for bad usage.
"""
import hashlib
import io
import json
import re
import sys
import tarfile
import zlib
from pathlib import Path

from steps.release import PROVENANCE, SUMS

_SUMS_LINE = re.compile(r"^([0-9a-f]{64}) [ *](\S.*)$")


def _sha(data):
    return hashlib.sha256(data).hexdigest()


def parse_sums(text, where):
    """{path: sha256} from `sha256sum` lines, plus problems with the lines."""
    sums, problems = {}, []
    for n, line in enumerate(text.splitlines(), 1):
        m = _SUMS_LINE.match(line)
        if not m:
            problems.append(f"{where} line {n} is malformed: {line!r} "
                            "(expected '<64 hex digits>  <path>')")
        elif m.group(2) in sums:
            problems.append(f"{where} line {n} lists {m.group(2)} twice")
        else:
            sums[m.group(2)] = m.group(1)
    if not sums and not problems:
        problems.append(f"{where} is empty")
    return sums, problems


def check_sums(sums, files, where):
    """Problems between a SHA256SUMS and the files present {path: bytes}."""
    problems = []
    for path in sorted(sums):
        if path not in files:
            problems.append(f"{path} is listed in {where} but missing")
        elif _sha(files[path]) != sums[path]:
            problems.append(f"{path} does not match {where}: its sha256 is "
                            f"{_sha(files[path])}, {where} says {sums[path]}")
    for path in sorted(set(files) - set(sums)):
        problems.append(f"{path} is not listed in {where}")
    return problems


def read_tarball(data, name):
    """Regular-file members {name: bytes}, plus problems; read in memory only."""
    members, problems = {}, []
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            for m in tar.getmembers():
                if not m.isfile():
                    problems.append(f"{name}: member {m.name} is not a "
                                    "regular file")
                    continue
                members[m.name] = tar.extractfile(m).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
        problems.append(f"{name} cannot be read as a .tar.gz: {exc}")
    return members, problems


def strip_prefix(members, prefix, name):
    """Members under `prefix/` keyed by their path below it."""
    inner, problems = {}, []
    for path, data in members.items():
        if path.startswith(prefix + "/"):
            inner[path[len(prefix) + 1:]] = data
        else:
            problems.append(f"{name}: member {path} is outside {prefix}/")
    return inner, problems


class Stick:
    """One emulated device opened for all graphs, closed at the end."""

    def __enter__(self):
        from emulator import mvncapi as mvnc
        self.device = mvnc.Device(mvnc.EnumerateDevices()[0])
        self.device.OpenDevice()
        return self

    def allocate(self, blob):
        graph = self.device.AllocateGraph(blob)
        graph.DeallocateGraph()

    def __exit__(self, *exc):
        self.device.CloseDevice()


def check_graph(path, blob, stick):
    """Problems with one graph file: by the format, then on the stick."""
    from emulator.reader import GraphFileError, load_graph
    try:
        load_graph(blob)
    except GraphFileError as exc:
        return [f"{path} is not a valid graph file: {exc}"]
    try:
        stick.allocate(blob)
    except Exception as exc:        # mvncapi raises Exception(Status.X)
        return [f"{path}: the emulated stick refuses it in AllocateGraph: "
                f"{exc}"]
    return []


def check_manifest(name, files):
    """Problems between a net's manifest.json and its graph file."""
    rel = f"{name}/manifest.json"
    if rel not in files:
        return [f"{name}: no manifest.json in the tarball"]
    try:
        m = json.loads(files[rel])
        graph_file = m["graph"]["file"]
        recorded, size = m["files"][graph_file], m["graph"]["size"]
    except (ValueError, KeyError, TypeError) as exc:
        return [f"{rel} is not a valid manifest ({exc!r})"]
    blob = files.get(f"{name}/{graph_file}")
    if blob is None:
        return [f"{rel} names {graph_file}, which is not in the tarball"]
    problems = []
    if _sha(blob) != recorded:
        problems.append(f"{name}/{graph_file} does not match the sha256 in "
                        f"{rel} ({recorded})")
    if len(blob) != size:
        problems.append(f"{name}/{graph_file} has {len(blob)} bytes, {rel} "
                        f"says {size}")
    return problems


def check_provenance(prov, tar_name, tar_data, files):
    """Problems between provenance.json and the tarball's contents."""
    problems = []
    if prov.get("tarball", {}).get("file") != tar_name:
        problems.append(f"{PROVENANCE} names the tarball "
                        f"{prov.get('tarball', {}).get('file')}, not {tar_name}")
    elif prov["tarball"].get("sha256") != _sha(tar_data):
        problems.append(f"{PROVENANCE}: the tarball's sha256 differs from the "
                        "one recorded")
    nets = prov.get("nets", {})
    graphs = {p.split("/", 1)[0] for p in files if p.endswith(".graph")}
    for name in sorted(set(nets) ^ graphs):
        where = "the tarball" if name in nets else PROVENANCE
        problems.append(f"{name} is missing from {where}")
    synthetic = sorted(n for n, rec in nets.items() if rec.get("synthetic"))
    if synthetic and not prov.get("allow_synthetic"):
        problems.append(f"{', '.join(synthetic)} built from synthetic weights "
                        "but the release does not allow synthetic weights")
    for name in sorted(set(nets) & graphs):
        g = nets[name].get("graph", {})
        blob = files.get(g.get("file"))
        if blob is not None and _sha(blob) != g.get("sha256"):
            problems.append(f"{g['file']} does not match the sha256 in "
                            f"{PROVENANCE}")
    return problems


def _outer(release):
    """Files in the release directory and the outer SHA256SUMS problems."""
    files = {p.name: p.read_bytes() for p in sorted(release.iterdir())
             if p.is_file() and p.name != SUMS}
    if not (release / SUMS).is_file():
        return files, [f"{SUMS} is missing from {release}"]
    sums, problems = parse_sums((release / SUMS).read_text(errors="replace"),
                                SUMS)
    return files, problems + check_sums(sums, files, SUMS)


def _inner(tar_name, tar_data):
    """The tarball's files below its top directory and their problems."""
    members, problems = read_tarball(tar_data, tar_name)
    if not members:
        return {}, problems
    prefix = tar_name[:-len(".tar.gz")]
    files, more = strip_prefix(members, prefix, tar_name)
    problems += more
    where = f"{tar_name}:{SUMS}"
    if SUMS not in files:
        return files, problems + [f"{SUMS} is missing from {tar_name}"]
    sums, more = parse_sums(files.pop(SUMS).decode(errors="replace"), where)
    return files, problems + more + check_sums(sums, files, where)


def verify_release(release):
    """Every problem with the release directory (an empty list: it is good)."""
    release = Path(release)
    outer, problems = _outer(release)
    tars = sorted(n for n in outer if n.endswith(".tar.gz"))
    if len(tars) != 1:
        return problems + [f"expected one .tar.gz in {release}, found "
                           f"{len(tars)}"]
    tar_name = tars[0]
    files, more = _inner(tar_name, outer[tar_name])
    problems += more
    names = sorted({p.split("/", 1)[0] for p in files if p.endswith(".graph")})
    if not names and files:
        problems.append(f"{tar_name} holds no graph file")
    with Stick() as stick:
        for path in sorted(p for p in files if p.endswith(".graph")):
            problems += check_graph(path, files[path], stick)
    for name in names:
        problems += check_manifest(name, files)
    if PROVENANCE not in outer:
        problems.append(f"{PROVENANCE} is missing")
    else:
        try:
            prov = json.loads(outer[PROVENANCE])
            problems += check_provenance(prov, tar_name, outer[tar_name],
                                         files)
        except (ValueError, AttributeError) as exc:
            problems.append(f"{PROVENANCE} is not valid JSON: {exc}")
    return problems


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0].startswith("-"):
        print("usage: python -m steps.verify RELEASE_DIR   (e.g. "
              "artifacts/releases/2024.05.1)", file=sys.stderr)
        return 2
    release = Path(argv[0])
    if not release.is_dir():
        print(f"zoo-verify: {release} is not a directory", file=sys.stderr)
        return 2
    problems = verify_release(release)
    if problems:
        print(f"FAILED: {release}: {len(problems)} problem"
              f"{'s' if len(problems) != 1 else ''}:")
        for p in problems:
            print(f"  - {p}")
        return 1
    graphs = _graph_count(release)
    print(f"OK: {release}: every sha256 matches; {graphs} graph file"
          f"{'s' if graphs != 1 else ''} valid and accepted by the emulated "
          "stick")
    return 0


def _graph_count(release):
    prov = json.loads((release / PROVENANCE).read_text())
    return len(prov["nets"])


if __name__ == "__main__":
    sys.exit(main())
