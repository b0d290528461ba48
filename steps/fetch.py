"""Fetch: the checkpoint tarball (official, mirror, directory or synthetic), extracted."""
import shutil
import tempfile
from pathlib import Path

from steps import download, extract
from steps.artifacts import remove_stamp, sha256_file, write_stamp
from steps.plan import fetch_key
from zoo.settings import load_settings


class CheckpointError(RuntimeError):
    """The tarball lacks the checkpoint files the catalogue names."""


def obtain_tarball(job):
    """Put the entry's tarball at its artifact path; return its sha256."""
    entry, dest = job.entry, job.paths.tarball(job.entry)
    if job.synthetic:
        from steps.synthetic import build_synthetic_tarball
        build_synthetic_tarball(entry, dest, job.seed)
        return sha256_file(dest)
    opts = load_settings().download
    return download.fetch(
        job.source, entry.url, entry.tarball, dest, sha256=entry.sha256,
        timeout=(opts.get("connect_timeout", 10), opts.get("read_timeout", 60)),
        retries=opts.get("retries", 5), backoff=opts.get("backoff", 0.5))


def _locked_by_checksum(job):
    """Tarballs without a catalogue sha256 are pinned in the checksum lock."""
    return not job.synthetic and job.entry.sha256 is None


def pin_tarball(job, sha, update_lock=False, record=True):
    """Check the tarball's sha256 against the lock; with `record`, pin it.

    Refused bytes are removed, so nothing of them looks fetched.
    """
    from steps.checksums import check_or_record, read_lock
    lock, name = load_settings().checksum_lock, job.entry.tarball
    try:
        if record:
            check_or_record(lock, name, sha, update=update_lock)
        elif read_lock(lock).get(name, sha) != sha and not update_lock:
            check_or_record(lock, name, sha)   # raises the mismatch error
    except Exception:
        job.paths.tarball(job.entry).unlink(missing_ok=True)
        raise


def extract_checkpoint(job, tarball):
    """Extract into checkpoint/ and check the files the entry names are there."""
    entry = job.entry
    target = job.paths.checkpoint_dir
    members = extract.safe_extract(tarball, target)
    missing = [f for f in entry.checkpoint_files if not (target / f).is_file()]
    if missing:
        raise CheckpointError(
            f"{tarball.name} does not hold {', '.join(missing)} "
            f"(it holds {', '.join(sorted(members)) or 'nothing'})")
    return [target / f for f in entry.checkpoint_files]


def fetch_step(job, update_lock=False):
    """Fetch and extract; stamp the tarball and the checkpoint files.

    A tarball new to the checksum lock is pinned only once it has extracted
    with every file the entry names: a corrupt download never becomes the
    trusted checksum that every later fetch is held to.
    """
    remove_stamp(job.paths.dir, "fetch")
    sha = obtain_tarball(job)
    if _locked_by_checksum(job):
        pin_tarball(job, sha, update_lock, record=False)
    tarball = job.paths.tarball(job.entry)
    files = extract_checkpoint(job, tarball)
    if _locked_by_checksum(job):
        pin_tarball(job, sha, update_lock)
    return write_stamp(job.paths.dir, "fetch", fetch_key(job),
                       [tarball, *files],
                       {"source": job.source, "synthetic": job.synthetic,
                        "tarball_sha256": sha})
