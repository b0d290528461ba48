"""Artifacts on disk: atomic writes, content digests and step stamps.

A step's output is finished only when its stamp says so: the stamp is written
last, atomically, and records the step's key (a digest of everything that
determines the output) and the size, mtime and sha256 of each output file. A
killed worker leaves at most a temporary file or an output without a stamp,
which a later run rebuilds.
"""
import contextlib
import hashlib
import json
import os
import tempfile
from pathlib import Path

STAMP_DIR = ".stamps"


def canonical_json(obj):
    """Deterministic JSON text: sorted keys, fixed separators, newline."""
    return json.dumps(obj, sort_keys=True, indent=1, ensure_ascii=True) + "\n"


def digest(obj):
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()


def sha256_file(path, chunk=1 << 20):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; rename it into place on success.

    The temporary name never looks like a finished artifact, and on any
    exception it is removed, so nothing half-written remains.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                               dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o644)   # mkstemp makes 0600; artifacts are for everyone
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_bytes(path, data):
    with atomic_path(path) as tmp:
        Path(tmp).write_bytes(data)


def write_json(path, obj):
    write_bytes(path, canonical_json(obj).encode())


def file_record(path):
    st = os.stat(path)
    return {"sha256": sha256_file(path), "size": st.st_size,
            "mtime_ns": st.st_mtime_ns}


def stamp_path(net_dir, step):
    return Path(net_dir) / STAMP_DIR / f"{step}.json"


def write_stamp(net_dir, step, key, outputs, extra=None):
    """Record that `step` produced `outputs` (paths under net_dir) for `key`."""
    net_dir = Path(net_dir)
    files = {str(Path(p).relative_to(net_dir)): file_record(p)
             for p in sorted(map(str, outputs))}
    stamp = {"step": step, "key": key, "outputs": files}
    if extra:
        stamp.update(extra)
    write_json(stamp_path(net_dir, step), stamp)
    return stamp


def read_stamp(net_dir, step):
    try:
        return json.loads(stamp_path(net_dir, step).read_text())
    except (OSError, ValueError):
        return None


def stamp_is_current(net_dir, step, key):
    """True when the stamp matches `key` and every output is as recorded.

    Size and mtime are compared, not the sha256, so that a no-op rerun of the
    whole zoo reads no artifact; `verify_stamp` does the full check.
    """
    stamp = read_stamp(net_dir, step)
    if not stamp or stamp.get("key") != key:
        return False
    for rel, rec in stamp.get("outputs", {}).items():
        try:
            st = os.stat(Path(net_dir) / rel)
        except OSError:
            return False
        if st.st_size != rec["size"] or st.st_mtime_ns != rec["mtime_ns"]:
            return False
    return True


def verify_stamp(net_dir, step):
    """List of problems (empty when every output matches its sha256)."""
    stamp = read_stamp(net_dir, step)
    if stamp is None:
        return [f"{step}: no stamp"]
    bad = []
    for rel, rec in stamp["outputs"].items():
        path = Path(net_dir) / rel
        if not path.exists():
            bad.append(f"{step}: {rel} is missing")
        elif sha256_file(path) != rec["sha256"]:
            bad.append(f"{step}: {rel} does not match its sha256")
    return bad


def remove_stamp(net_dir, step):
    with contextlib.suppress(FileNotFoundError):
        os.unlink(stamp_path(net_dir, step))
