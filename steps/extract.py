"""Safe, atomic tarball extraction and deterministic tarball writing.

A downloaded tarball is untrusted input: a member may try to write
outside the target (``../x``, ``/etc/x``, a link pointing out, a path
through such a link) or create a device. Every member is checked here,
before anything is written, and tarfile's ``data`` filter is applied on
top where this Python has it. Extraction goes to a temporary directory
beside the target and is renamed into place only when complete, so a
killed run never leaves a directory that looks finished.
"""

from __future__ import annotations

import errno
import gzip
import hashlib
import os
import posixpath
import shutil
import tarfile
import tempfile
import zlib

from steps.artifacts import atomic_path

_HAS_FILTERS = hasattr(tarfile, "data_filter")


class ExtractError(Exception):
    """The archive is unsafe or damaged; the message names archive and member."""


# -- extraction ---------------------------------------------------------

def safe_extract(tarball: str, dest_dir: str) -> list[str]:
    """Extract ``tarball`` into ``dest_dir`` (replacing it); return member names."""
    tarball, dest_dir = os.fspath(tarball), os.fspath(dest_dir).rstrip("/")
    parent = os.path.dirname(os.path.abspath(dest_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix="." + os.path.basename(dest_dir) + ".tmp-")
    try:
        names = _extract_into(tarball, tmp)
        _swap_into_place(tmp, dest_dir)
        return names
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _extract_into(tarball: str, target: str) -> list[str]:
    try:
        with tarfile.open(tarball, "r:*") as tar:
            members = tar.getmembers()  # reads the whole index: finds truncation early
            check_members(tarball, members)
            if _HAS_FILTERS:
                tar.extractall(target, members=members, filter="data")
            else:  # pragma: no cover - Python < 3.11.4
                tar.extractall(target, members=members)
    except ExtractError:
        raise
    except tarfile.FilterError as e:  # our checks should have caught it first
        raise ExtractError(f"refusing to extract {tarball}: {e}") from None
    except (tarfile.TarError, EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ExtractError(f"cannot extract {tarball}: corrupt or truncated archive ({e})") from None
    except FileNotFoundError as e:
        if not os.path.exists(tarball):
            raise ExtractError(f"cannot extract {tarball}: no such file") from None
        raise
    return [m.name for m in members]


def _swap_into_place(tmp: str, dest_dir: str) -> None:
    """Rename the finished tree to dest_dir, moving any old tree aside first.

    Loops because another process may put its own finished tree there
    between our move-aside and our rename; both trees are whole, so the
    last one in wins.
    """
    os.chmod(tmp, 0o755)  # mkdtemp makes it 0o700
    for _ in range(10):
        if os.path.lexists(dest_dir):
            _move_aside_and_remove(dest_dir)
        try:
            os.rename(tmp, dest_dir)
            return
        except OSError as e:
            if e.errno not in (errno.EEXIST, errno.ENOTEMPTY):
                raise
    raise ExtractError(f"cannot put the extracted tree at {dest_dir}: it keeps reappearing")


def _move_aside_and_remove(path: str) -> None:
    old = tempfile.mkdtemp(dir=os.path.dirname(os.path.abspath(path)),
                           prefix="." + os.path.basename(path) + ".old-")
    try:
        os.rename(path, os.path.join(old, "tree"))
    except FileNotFoundError:
        pass  # someone else moved it first
    shutil.rmtree(old, ignore_errors=True)


def check_members(tarball: str, members: list[tarfile.TarInfo]) -> None:
    """Raise ExtractError for the first member that is not safe to write."""
    links: set[str] = set()
    for m in members:
        name = _check_name(tarball, m.name)
        through = _passes_through(name, links)
        if through:
            raise _refuse(tarball, m.name, f"goes through the symlink {through!r}")
        if m.issym():
            _check_symlink(tarball, m, name)
            links.add(name)
        elif m.islnk():
            target = _check_name(tarball, m.linkname, what=f"hardlink target of {m.name!r}")
            if _passes_through(target, links):
                raise _refuse(tarball, m.name, f"is a hardlink through a symlink ({m.linkname!r})")
        elif m.ischr() or m.isblk() or m.isfifo():
            raise _refuse(tarball, m.name, "is a device file or FIFO")
        elif not (m.isfile() or m.isdir()):
            raise _refuse(tarball, m.name, f"has an unsupported type {m.type!r}")


def _check_name(tarball: str, name: str, what: str = "") -> str:
    """A normalised relative path, or ExtractError."""
    label = what or repr(name)
    if not name or "\0" in name:
        raise ExtractError(f"refusing to extract {tarball}: member {label} has an empty or bad name")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        raise ExtractError(f"refusing to extract {tarball}: {_who(label, name)} is an absolute path")
    if ".." in name.replace("\\", "/").split("/"):
        raise ExtractError(f"refusing to extract {tarball}: {_who(label, name)} contains '..'")
    return posixpath.normpath(name)


def _who(label: str, name: str) -> str:
    return f"member {label}" if label == repr(name) else f"{label} {name!r}"


def _check_symlink(tarball: str, m: tarfile.TarInfo, name: str) -> None:
    target = m.linkname
    if not target or target.startswith("/"):
        raise _refuse(tarball, m.name, f"is a symlink to the absolute path {target!r}")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), target))
    if resolved == ".." or resolved.startswith("../"):
        raise _refuse(tarball, m.name, f"is a symlink to {target!r}, outside the directory")


def _passes_through(name: str, links: set[str]) -> str | None:
    """The earlier symlink member that ``name`` would be written through."""
    parts = name.split("/")
    for i in range(1, len(parts) + 1):
        prefix = "/".join(parts[:i])
        if prefix in links:
            return prefix
    return None


def _refuse(tarball: str, member: str, why: str) -> ExtractError:
    return ExtractError(f"refusing to extract {tarball}: member {member!r} {why}")


# -- deterministic writing ----------------------------------------------

def make_tarball(path: str, files: dict[str, str], *, compresslevel: int = 9) -> str:
    """Write ``files`` (archive name -> source path) as a reproducible .tar.gz.

    Same inputs give the same bytes (with the same zlib): members sorted,
    mtime 0, uid/gid 0, no owner names, mode 0o644, and a gzip header
    with mtime 0 and no file name. Written atomically; returns sha256 hex.
    """
    path = os.fspath(path)
    for name in files:
        _check_name(path, name)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as raw:
            _write_tar_gz(raw, files, compresslevel)
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def _write_tar_gz(raw, files: dict[str, str], compresslevel: int) -> None:
    with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                       compresslevel=compresslevel) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in sorted(files):
                src = os.fspath(files[name])
                info = _plain_info(posixpath.normpath(name), os.path.getsize(src))
                with open(src, "rb") as f:
                    tar.addfile(info, f)


def _plain_info(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = 0
    info.mode = 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.type = tarfile.REGTYPE
    return info
