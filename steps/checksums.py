"""The checksum lock file: trust on first fetch, verify on every later one.

Catalogue entries without a published sha256 still deserve a pinned one:
the first fetch records it in ``zoo/checksums.lock`` (kept in the repo),
and any later fetch that differs is refused until someone accepts the
new file on purpose with ``--update-lock``.

Format: a comment header, then one ``filename sha256`` line per tarball,
sorted by file name, LF endings: stable diffs, no merge noise.
"""

from __future__ import annotations

import fcntl
import os
import re
from contextlib import contextmanager
from typing import Iterator

from steps.artifacts import write_bytes

HEADER = ("# sha256 of each fetched tarball, recorded on first fetch.\n"
          "# A later fetch must match; run with --update-lock to accept a new file.\n")
_SHA = re.compile(r"^[0-9a-f]{64}$")


class ChecksumError(Exception):
    """A tarball's sha256 differs from the one pinned in the lock file."""


class LockFileError(Exception):
    """The lock file is malformed; the message names the file and line."""


def check_or_record(lock_path: str, filename: str, sha256: str, update: bool = False) -> str:
    """Check ``sha256`` against the lock, recording it on first sight.

    Returns ``"recorded"``, ``"matched"`` or ``"updated"``. Raises
    ChecksumError on a mismatch unless ``update`` is true. The read,
    compare and rewrite happen under one exclusive lock, so concurrent
    recorders never lose each other's lines.
    """
    lock_path = os.fspath(lock_path)
    sha = _check_sha(sha256)
    _check_filename(filename)
    with _exclusive(lock_path):
        pins = read_lock(lock_path)
        have = pins.get(filename)
        if have == sha:
            return "matched"
        if have is not None and not update:
            raise ChecksumError(
                f"checksum mismatch for {filename}: {lock_path} has {have}, "
                f"the fetched file has {sha}; if the new file is right, "
                f"run again with --update-lock to accept it")
        pins[filename] = sha
        _write_atomic(lock_path, format_lock(pins))
        return "recorded" if have is None else "updated"


def read_lock(lock_path: str) -> dict[str, str]:
    """The pins in ``lock_path`` (empty if the file does not exist yet)."""
    lock_path = os.fspath(lock_path)
    try:
        with open(lock_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return {}
    pins: dict[str, str] = {}
    for no, line in enumerate(lines, 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        if len(parts) != 2 or not _SHA.match(parts[1]):
            raise LockFileError(f"{lock_path}:{no}: expected 'filename sha256', got {line!r}")
        if parts[0] in pins and pins[parts[0]] != parts[1]:
            raise LockFileError(f"{lock_path}:{no}: {parts[0]} is pinned twice, differently")
        pins[parts[0]] = parts[1]
    return pins


def format_lock(pins: dict[str, str]) -> str:
    """Deterministic text: header, then sorted ``filename sha256`` lines."""
    return HEADER + "".join(f"{name} {pins[name]}\n" for name in sorted(pins))


def _check_sha(sha256: str) -> str:
    sha = (sha256 or "").strip().lower()
    if not _SHA.match(sha):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha


def _check_filename(filename: str) -> None:
    if not filename or filename.startswith("#") or any(c.isspace() for c in filename):
        raise ValueError(f"cannot pin {filename!r}: the lock file needs a name without spaces")


@contextmanager
def _exclusive(lock_path: str) -> Iterator[None]:
    """flock the lock file's directory.

    The file itself is replaced by rename, so a lock on it would guard a
    stale inode; the directory stays put and needs no sidecar file.
    """
    d = os.path.dirname(os.path.abspath(lock_path))
    os.makedirs(d, exist_ok=True)
    fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_atomic(path: str, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))