"""FetchCheckpoint under download faults, through `luigi`, from a local mirror.

tests/faultserver.py serves a synthetic tarball (built once per session) as a
mirror (`--source http://127.0.0.1:PORT/`). Each fault ends either in success
(with the exact number of requests that the retries explain) or in one task
failure whose message names the URL or tarball and the cause; after a
failure nothing under the net's directory is taken as finished (no fetch
stamp, no checkpoint tree). The checksum lock records the first tarball,
refuses different bytes later and accepts them with --update-lock.
"""
import gzip
import hashlib
import io
import tarfile

import pytest

import pipeline_helpers as h
from faultserver import FaultServer

NET = h.SMALL
RETRIES = 3
DOWNLOAD = {"connect_timeout": 2, "read_timeout": 1.5, "retries": RETRIES,
            "backoff": 0.05}


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Every pipeline process of this file runs one snapshot of the sources."""
    return h.snapshot_sources(tmp_path_factory)


@pytest.fixture(scope="module")
def tarball(tmp_path_factory, sources):
    return h.synthetic_tarball(tmp_path_factory, NET)


@pytest.fixture
def mirror(tarball):
    with FaultServer({"/" + tarball.name: tarball.read_bytes()}) as srv:
        yield srv


class Fetch:
    """One test's artifact root, settings and lock; runs FetchCheckpoint."""

    def __init__(self, tmp_path, srv, name, catalogue=None):
        self.root, self.probe = tmp_path / "artifacts", tmp_path / "probe"
        self.probe.mkdir(exist_ok=True)
        self.lock = tmp_path / "checksums.lock"
        self.settings = h.write_settings(tmp_path / "pipeline.yaml",
                                         catalogue=catalogue,
                                         checksum_lock=self.lock,
                                         download=DOWNLOAD)
        self.srv, self.path = srv, "/" + name
        self.url = srv.url(self.path)
        self.net = self.root / NET

    def run(self, *extra, root=None):
        env = h.pipeline_env(root or self.root, self.probe, settings=self.settings)
        args = h.luigi_args("FetchCheckpoint", name=NET,
                            source=self.srv.base_url + "/", extra=extra)
        return h.run_luigi(args, env, timeout=300)

    def failures(self):
        return [text for *_x, text in h.markers(self.probe, "failure")]

    def assert_nothing_finished(self, net=None):
        net = net or self.net
        assert h.stamps(self.root, NET)["fetch"] is None if net == self.net else True
        assert not (net / ".stamps" / "fetch.json").exists()
        assert not (net / "checkpoint").exists()
        assert h.audit(net.parent) == []

    def assert_fetched(self, body):
        assert h.stamps(self.root, NET)["fetch"] is not None
        tar = self.net / "download" / self.path[1:]
        assert tar.read_bytes() == body
        assert h.audit(self.root) == []
        with tarfile.open(tar) as t:
            for m in t.getmembers():
                assert (self.net / "checkpoint" / m.name).read_bytes() == \
                    t.extractfile(m).read()


def _fails_once_with(fetch, proc, *words):
    assert not h.luigi_succeeded(proc), h.tail(proc)
    failures = fetch.failures()
    assert len(failures) == 1, failures
    for w in words:
        assert w in failures[0], (w, failures[0])
    fetch.assert_nothing_finished()
    return failures[0]


# -- faults the retries overcome ------------------------------------------

@pytest.mark.parametrize("mode,opts,hits", [
    ("reset", {"times": 1}, 2),
    ("stall", {"times": 1, "stall": 10}, 2),
    ("status", {"times": 2, "status": 503}, 3),
    ("short", {"times": 1}, 2),
])
def test_transient_fault_then_success(tmp_path, mirror, tarball, mode, opts, hits):
    fetch = Fetch(tmp_path, mirror, tarball.name)
    mirror.fault(fetch.path, mode, **opts)
    proc = fetch.run()
    assert h.luigi_succeeded(proc), h.tail(proc)
    assert mirror.hits(fetch.path) == hits          # retries made: hits - 1
    fetch.assert_fetched(tarball.read_bytes())
    if mode in ("reset", "short", "stall"):         # resumed, not restarted
        assert mirror.seen(fetch.path)[-1].headers.get("Range", "").startswith("bytes=")


# -- faults that end in one clear error -------------------------------------

def test_404_is_one_clear_error_without_retries(tmp_path, mirror, tarball):
    fetch = Fetch(tmp_path, mirror, tarball.name)
    mirror.fault(fetch.path, "status", status=404)
    msg = _fails_once_with(fetch, fetch.run(), fetch.url, "404")
    assert mirror.hits(fetch.path) == 1
    assert "Traceback" not in msg


def test_body_always_short_gives_up_after_the_retries(tmp_path, mirror, tarball):
    fetch = Fetch(tmp_path, mirror, tarball.name)
    mirror.fault(fetch.path, "short")
    _fails_once_with(fetch, fetch.run(), fetch.url,
                     "closed the connection", f"{RETRIES + 1} tries")
    assert mirror.hits(fetch.path) == RETRIES + 1
    assert not (fetch.net / "download" / tarball.name).exists()


def test_stall_every_time_gives_up_after_the_retries(tmp_path, mirror, tarball):
    fetch = Fetch(tmp_path, mirror, tarball.name)
    mirror.fault(fetch.path, "stall", stall=10, cut=1000)
    _fails_once_with(fetch, fetch.run(), fetch.url, f"{RETRIES + 1} tries")
    assert mirror.hits(fetch.path) == RETRIES + 1


def test_wrong_checksum_in_the_catalogue(tmp_path, mirror, tarball):
    wrong = hashlib.sha256(b"not the tarball").hexdigest()
    cat = h.catalogue_copy(tmp_path / "catalogue.yaml", NET, sha256=wrong)
    fetch = Fetch(tmp_path, mirror, tarball.name, catalogue=cat)
    _fails_once_with(fetch, fetch.run(), fetch.url, "checksum mismatch", wrong,
                     hashlib.sha256(tarball.read_bytes()).hexdigest())
    assert mirror.hits(fetch.path) == 1
    assert not (fetch.net / "download" / tarball.name).exists()


def test_right_checksum_in_the_catalogue_wrong_bytes_served(tmp_path, mirror, tarball):
    good = hashlib.sha256(tarball.read_bytes()).hexdigest()
    cat = h.catalogue_copy(tmp_path / "catalogue.yaml", NET, sha256=good)
    fetch = Fetch(tmp_path, mirror, tarball.name, catalogue=cat)
    mirror.fault(fetch.path, "wrong")
    _fails_once_with(fetch, fetch.run(), fetch.url, "checksum mismatch")
    assert not (fetch.net / "download" / tarball.name).exists()


def _corrupt_gzip(body):
    """Valid gzip header, garbage deflate stream from the middle on."""
    mid = len(body) // 2
    return body[:mid] + bytes(b ^ 0x5A for b in body[mid:mid + 4096]) + body[mid + 4096:]


def _unsafe_tarball():
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as tar:
            for name in ("ok.txt", "../escaped.txt"):
                info = tarfile.TarInfo(name)
                info.size = 3
                tar.addfile(info, io.BytesIO(b"bad"))
    return buf.getvalue()


def _symlink_tarball():
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w") as tar:
            link = tarfile.TarInfo("link")
            link.type, link.linkname = tarfile.SYMTYPE, "/etc"
            tar.addfile(link)
    return buf.getvalue()


@pytest.mark.parametrize("kind,words", [
    ("corrupt_gzip", ["corrupt or truncated"]),
    ("truncated", ["corrupt or truncated"]),
    ("dotdot_member", ["refusing", "..", "escaped.txt"]),
    ("absolute_symlink", ["refusing", "symlink"]),
])
def test_bad_tarball_is_refused_and_nothing_is_trusted(tmp_path, mirror, tarball,
                                                        kind, words):
    body = tarball.read_bytes()
    served = {"corrupt_gzip": lambda: _corrupt_gzip(body),
              "truncated": lambda: body[:len(body) * 2 // 3],
              "dotdot_member": _unsafe_tarball,
              "absolute_symlink": _symlink_tarball}[kind]()
    mirror.add("/" + tarball.name, served)
    fetch = Fetch(tmp_path, mirror, tarball.name)
    _fails_once_with(fetch, fetch.run(), tarball.name, *words)
    assert mirror.hits(fetch.path) == 1
    assert not (tmp_path / "artifacts" / NET / "escaped.txt").exists()
    assert not (tmp_path / "artifacts" / "escaped.txt").exists()


def test_bad_tarball_is_not_pinned_in_the_lock(tmp_path, mirror, tarball):
    """A tarball that fails extraction must not become the trusted checksum:
    once the mirror serves the good file, the fetch succeeds."""
    good = tarball.read_bytes()
    mirror.add("/" + tarball.name, _corrupt_gzip(good))
    fetch = Fetch(tmp_path, mirror, tarball.name)
    assert not h.luigi_succeeded(fetch.run())
    mirror.add("/" + tarball.name, good)
    proc = fetch.run()
    assert h.luigi_succeeded(proc), h.tail(proc)
    fetch.assert_fetched(good)


# -- the checksum lock ------------------------------------------------------

def _repacked(body):
    """The same members in a different (valid) gzip stream: other bytes."""
    raw = gzip.decompress(body)
    return gzip.compress(raw, compresslevel=1, mtime=0)


def test_checksum_lock_records_refuses_then_accepts_with_update_lock(
        tmp_path, mirror, tarball):
    first = tarball.read_bytes()
    second = _repacked(first)
    assert second != first
    fetch = Fetch(tmp_path, mirror, tarball.name)
    proc = fetch.run()
    assert h.luigi_succeeded(proc), h.tail(proc)
    sha1 = hashlib.sha256(first).hexdigest()
    assert f"{tarball.name} {sha1}\n" in fetch.lock.read_text()

    # another machine (fresh artifact root, same lock) gets different bytes
    mirror.add("/" + tarball.name, second)
    other = tmp_path / "other"
    proc = fetch.run(root=other)
    assert not h.luigi_succeeded(proc)
    failures = fetch.failures()
    assert len(failures) == 1
    sha2 = hashlib.sha256(second).hexdigest()
    for w in ("checksum mismatch", tarball.name, sha1, sha2, "--update-lock"):
        assert w in failures[0], (w, failures[0])
    assert not (other / NET / ".stamps" / "fetch.json").exists()
    assert not (other / NET / "checkpoint").exists()
    assert not (other / NET / "download" / tarball.name).exists()
    assert f"{tarball.name} {sha1}\n" in fetch.lock.read_text()

    proc = fetch.run("--update-lock", root=other)
    assert h.luigi_succeeded(proc), h.tail(proc)
    assert f"{tarball.name} {sha2}\n" in fetch.lock.read_text()
    assert sha1 not in fetch.lock.read_text()
    assert (other / NET / "download" / tarball.name).read_bytes() == second
    assert h.audit(other) == []


def test_failed_refetch_leaves_the_old_checkpoint_untrusted(tmp_path, mirror, tarball):
    """A finished fetch, then a refetch (the source changed) that fails: the
    old checkpoint tree is still on disk but no run takes it as finished,
    under the old source or the new."""
    fetch = Fetch(tmp_path, mirror, tarball.name)
    assert h.luigi_succeeded(fetch.run())
    old_source = mirror.base_url + "/"
    assert h.taken_as_finished(fetch.root, NET, "FetchCheckpoint", old_source,
                               fetch.settings)
    with FaultServer({"/" + tarball.name: tarball.read_bytes()}) as other:
        other.fault("/" + tarball.name, "status", status=404)
        fetch.srv, fetch.url = other, other.url(fetch.path)
        proc = fetch.run()
        assert not h.luigi_succeeded(proc)
        assert fetch.url in fetch.failures()[0] and "404" in fetch.failures()[0]
        new_source = other.base_url + "/"
    assert (fetch.net / "checkpoint").is_dir()              # still there ...
    assert h.stamps(fetch.root, NET)["fetch"] is None       # ... but unstamped
    for source in (old_source, new_source):
        assert not h.taken_as_finished(fetch.root, NET, "FetchCheckpoint",
                                       source, fetch.settings)
    assert h.audit(fetch.root) == []
