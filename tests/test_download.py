"""Download layer against a local misbehaving server (127.0.0.1 only).

Each test ends either in success after a known number of requests, or in
one FetchError that names the URL and the cause, with nothing at dest.
"""

import hashlib
import io
import logging
import multiprocessing
import os
import socket
import tarfile
import threading

import pytest

from faultserver import FaultServer, _flip, fault_server  # noqa: F401 (fixture)
from steps import download as dl
from steps.download import FetchError, download, fetch
from steps.extract import ExtractError, safe_extract

FAST = dict(timeout=(1.0, 0.3), retries=2, backoff=0.01)
DATA = os.urandom(200_000)
SHA = hashlib.sha256(DATA).hexdigest()
PATH = "/models/net_2017_06_14.tar.gz"


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch):
    """A proxy from the environment must not catch 127.0.0.1 traffic."""
    for var in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def srv(fault_server):
    fault_server.add(PATH, DATA)
    return fault_server


@pytest.fixture
def sleeps(monkeypatch):
    """Record backoff pauses (and still pause, shortly)."""
    seen = []
    real = dl.time.sleep

    def fake(s):
        seen.append(s)
        real(min(s, 0.01))
    monkeypatch.setattr(dl.time, "sleep", fake)
    return seen


def leftovers(tmp_path):
    return sorted(p.name for p in tmp_path.iterdir() if p.name != "net.tar.gz.lock")


def ranges(srv):
    return [r.headers.get("Range") for r in srv.seen(PATH)]


def assert_nothing_at_dest(dest):
    assert not os.path.exists(dest)


# -- success paths ------------------------------------------------------

def test_plain_download(srv, tmp_path):
    dest = tmp_path / "net.tar.gz"
    calls = []
    got = download(srv.url(PATH), str(dest), SHA, progress=lambda d, t: calls.append((d, t)), **FAST)
    assert got == SHA and dest.read_bytes() == DATA
    assert srv.hits(PATH) == 1 and ranges(srv) == [None]
    assert calls[-1] == (len(DATA), len(DATA))
    assert leftovers(tmp_path) == ["net.tar.gz"]


def test_sha_is_returned_without_expected_sha(srv, tmp_path):
    assert download(srv.url(PATH), str(tmp_path / "net.tar.gz"), **FAST) == SHA


def test_reset_mid_body_then_resume_with_range(srv, tmp_path, sleeps):
    srv.fault(PATH, "reset", times=1, cut=100_000)
    dest = tmp_path / "net.tar.gz"
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert dest.read_bytes() == DATA
    assert srv.hits(PATH) == 2
    first, second = ranges(srv)
    assert first is None and second.startswith("bytes=") and second != "bytes=0-"
    assert sleeps == [0.01]


def test_reset_every_time_gives_up(srv, tmp_path, sleeps):
    srv.fault(PATH, "reset", cut=50_000)
    dest = tmp_path / "net.tar.gz"
    with pytest.raises(FetchError) as e:
        download(srv.url(PATH), str(dest), SHA, **FAST)
    msg = str(e.value)
    assert srv.url(PATH) in msg and "reset" in msg and "(3 tries)" in msg
    assert srv.hits(PATH) == 3
    assert sleeps == [0.01, 0.02]  # exponential backoff
    assert_nothing_at_dest(dest)
    assert leftovers(tmp_path) == ["net.tar.gz.part"]  # kept for a later resume


def test_stall_longer_than_read_timeout_then_resume(srv, tmp_path):
    srv.fault(PATH, "stall", times=1, cut=150_000, stall=5)
    dest = tmp_path / "net.tar.gz"
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert dest.read_bytes() == DATA and srv.hits(PATH) == 2


def test_stall_every_time_is_a_clear_timeout(srv, tmp_path):
    srv.fault(PATH, "stall", cut=1000, stall=5)
    dest = tmp_path / "net.tar.gz"
    with pytest.raises(FetchError, match=r"server sent nothing for 0.3 s") as e:
        download(srv.url(PATH), str(dest), **FAST)
    assert srv.url(PATH) in str(e.value) and srv.hits(PATH) == 3
    assert_nothing_at_dest(dest)


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_server_errors_then_success(srv, tmp_path, sleeps, status):
    srv.fault(PATH, "status", status=status, times=2)
    dest = tmp_path / "net.tar.gz"
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert srv.hits(PATH) == 3 and dest.read_bytes() == DATA
    assert sleeps == [0.01, 0.02]


def test_server_error_forever(srv, tmp_path, sleeps):
    srv.fault(PATH, "status", status=500)
    dest = tmp_path / "net.tar.gz"
    with pytest.raises(FetchError) as e:
        download(srv.url(PATH), str(dest), SHA, **FAST)
    assert str(e.value) == f"cannot fetch {srv.url(PATH)}: HTTP 500 Internal Server Error (3 tries)"
    assert srv.hits(PATH) == 3 and len(sleeps) == 2
    assert_nothing_at_dest(dest)


def test_retry_after_is_honoured(srv, tmp_path, sleeps):
    srv.fault(PATH, "status", status=503, times=1, retry_after="2")
    download(srv.url(PATH), str(tmp_path / "net.tar.gz"), SHA, **FAST)
    assert sleeps == [2.0] and srv.hits(PATH) == 2


@pytest.mark.parametrize("status,reason", [(404, "Not Found"), (403, "Forbidden"), (410, "Gone")])
def test_permanent_errors_not_retried(srv, tmp_path, sleeps, status, reason):
    srv.fault(PATH, "status", status=status)
    dest = tmp_path / "net.tar.gz"
    with pytest.raises(FetchError) as e:
        download(srv.url(PATH), str(dest), **FAST)
    assert str(e.value) == f"cannot fetch {srv.url(PATH)}: HTTP {status} {reason}"
    assert srv.hits(PATH) == 1 and sleeps == []
    assert leftovers(tmp_path) == []


def test_missing_path_is_404(fault_server, tmp_path):
    url = fault_server.url("/nope.tar.gz")
    with pytest.raises(FetchError, match="HTTP 404 Not Found"):
        download(url, str(tmp_path / "net.tar.gz"), **FAST)
    assert len(fault_server.seen("/nope.tar.gz")) == 1


def test_short_body_detected_and_resumed(srv, tmp_path):
    srv.fault(PATH, "short", times=1, cut=120_000)
    dest = tmp_path / "net.tar.gz"
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert srv.hits(PATH) == 2 and ranges(srv)[1] == "bytes=120000-"
    assert dest.read_bytes() == DATA


def test_short_body_every_time(srv, tmp_path):
    srv.fault(PATH, "short", cut=1234)
    dest = tmp_path / "net.tar.gz"
    srv.ranges(PATH, False)  # each try gets the same 1234 bytes
    with pytest.raises(FetchError) as e:
        download(srv.url(PATH), str(dest), **FAST)
    assert str(e.value) == (f"cannot fetch {srv.url(PATH)}: server closed the connection "
                            f"after 1234 of {len(DATA)} bytes (3 tries)")
    assert srv.hits(PATH) == 3
    assert_nothing_at_dest(dest)


def test_checksum_mismatch_not_retried(srv, tmp_path, sleeps):
    srv.fault(PATH, "wrong")
    dest = tmp_path / "net.tar.gz"
    with pytest.raises(FetchError) as e:
        download(srv.url(PATH), str(dest), SHA, **FAST)
    got = hashlib.sha256(_flip(DATA)).hexdigest()
    assert str(e.value) == f"cannot fetch {srv.url(PATH)}: checksum mismatch: expected {SHA} got {got}"
    assert srv.hits(PATH) == 1 and sleeps == []
    assert leftovers(tmp_path) == []


def test_server_ignoring_range_restarts_from_zero(srv, tmp_path):
    srv.fault(PATH, "short", times=1, cut=80_000)
    srv.ranges(PATH, False)
    dest = tmp_path / "net.tar.gz"
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert ranges(srv) == [None, "bytes=80000-"]  # asked, got a 200, rewrote
    assert dest.read_bytes() == DATA


def test_resume_part_left_by_previous_run(srv, tmp_path):
    dest = tmp_path / "net.tar.gz"
    (tmp_path / "net.tar.gz.part").write_bytes(DATA[:77_777])
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert ranges(srv) == ["bytes=77777-"] and dest.read_bytes() == DATA


def test_stale_part_of_other_version_restarts_once(srv, tmp_path):
    dest = tmp_path / "net.tar.gz"
    (tmp_path / "net.tar.gz.part").write_bytes(b"old version " * 1000)
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert ranges(srv) == ["bytes=12000-", None] and dest.read_bytes() == DATA


def test_part_longer_than_file_restarts(srv, tmp_path):
    dest = tmp_path / "net.tar.gz"
    (tmp_path / "net.tar.gz.part").write_bytes(DATA + b"junk")
    assert download(srv.url(PATH), str(dest), SHA, **FAST) == SHA
    assert ranges(srv) == [f"bytes={len(DATA) + 4}-", None]


def test_connection_refused(tmp_path, sleeps):
    with socket.socket() as s:  # a port that nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/x.tar.gz"
    with pytest.raises(FetchError) as e:
        download(url, str(tmp_path / "x.tar.gz"), **FAST)
    assert str(e.value) == f"cannot fetch {url}: could not connect (connection refused) (3 tries)"
    assert len(sleeps) == 2


def test_path_objects_as_the_pipeline_passes_them(srv, tmp_path):
    dest = tmp_path / "deep" / "net.tar.gz"  # parent made on demand
    assert fetch("official", srv.url(PATH), "net.tar.gz", dest, SHA, **FAST) == SHA
    assert dest.read_bytes() == DATA


def test_existing_dest_is_replaced_atomically(srv, tmp_path):
    dest = tmp_path / "net.tar.gz"
    dest.write_bytes(b"older file")
    srv.fault(PATH, "status", status=404)
    with pytest.raises(FetchError):
        download(srv.url(PATH), str(dest), **FAST)
    assert dest.read_bytes() == b"older file"  # a failure never clobbers it
    srv._routes[PATH].faults.clear()
    download(srv.url(PATH), str(dest), **FAST)
    assert dest.read_bytes() == DATA


def test_progress_is_logged(srv, tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(dl, "LOG_EVERY_S", 0.0)
    srv.fault(PATH, "slow", chunk=50_000, delay=0.01)
    with caplog.at_level(logging.INFO, logger="steps.download"):
        download(srv.url(PATH), str(tmp_path / "net.tar.gz"), **FAST)
    assert any("%)" in r.getMessage() for r in caplog.records)
    assert any("MB/s" in r.getMessage() for r in caplog.records)


# -- two processes, one file --------------------------------------------

def _worker(url, dest, sha, out):
    out.put(download(url, dest, sha, timeout=(2, 2), retries=0))


def _two_downloads(srv, dest, sha):
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(srv.url(PATH), dest, sha, out)) for _ in range(2)]
    seen_bad = []
    stop = threading.Event()

    def watch():  # whenever dest exists it must be the whole file
        while not stop.is_set():
            try:
                with open(dest, "rb") as f:
                    if f.read() != DATA:
                        seen_bad.append(True)
            except FileNotFoundError:
                pass
    watcher = threading.Thread(target=watch)
    watcher.start()
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
    stop.set()
    watcher.join()
    assert [p.exitcode for p in procs] == [0, 0]
    assert sorted([out.get(timeout=5), out.get(timeout=5)]) == [SHA, SHA]
    assert not seen_bad


def test_two_processes_same_dest_without_sha(srv, tmp_path):
    srv.fault(PATH, "slow", chunk=20_000, delay=0.03)  # ~0.3 s per download
    dest = str(tmp_path / "net.tar.gz")
    _two_downloads(srv, dest, None)
    assert srv.hits(PATH) == 2  # each fetched a whole file, in turn
    assert open(dest, "rb").read() == DATA
    assert leftovers(tmp_path) == ["net.tar.gz"]


def test_two_processes_same_dest_with_sha_fetch_once(srv, tmp_path):
    srv.fault(PATH, "slow", chunk=20_000, delay=0.03)
    dest = str(tmp_path / "net.tar.gz")
    _two_downloads(srv, dest, SHA)
    assert srv.hits(PATH) == 1  # the second found the verified file
    assert open(dest, "rb").read() == DATA


# -- fetch(): source resolution -----------------------------------------

def test_fetch_official_uses_catalogue_url(srv, tmp_path):
    assert fetch("official", srv.url(PATH), "ignored.tar.gz", str(tmp_path / "n"), SHA, **FAST) == SHA
    assert srv.hits(PATH) == 1


def test_fetch_http_mirror_appends_filename(fault_server, tmp_path):
    fault_server.add("/mirror/net.tar.gz", DATA)
    mirror = fault_server.url("/mirror/")
    got = fetch(mirror, "http://download.invalid/never-used", "net.tar.gz",
                str(tmp_path / "n"), SHA, **FAST)
    assert got == SHA and fault_server.hits("/mirror/net.tar.gz") == 1


def test_fetch_http_mirror_404_names_mirror_url(fault_server, tmp_path):
    with pytest.raises(FetchError, match=r"/mirror/net.tar.gz: HTTP 404"):
        fetch(fault_server.url("/mirror"), "http://download.invalid/x", "net.tar.gz",
              str(tmp_path / "n"), **FAST)


@pytest.mark.parametrize("as_url", [False, True])
def test_fetch_local_directory(tmp_path, as_url):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "net.tar.gz").write_bytes(DATA)
    source = mirror.as_uri() if as_url else str(mirror)
    dest = tmp_path / "out" / "net.tar.gz"
    assert fetch(source, "http://download.invalid/x", "net.tar.gz", str(dest), SHA) == SHA
    assert dest.read_bytes() == DATA
    assert sorted(os.listdir(dest.parent)) == ["net.tar.gz"]
    assert os.stat(dest).st_mode & 0o777 == 0o644


def test_fetch_local_missing_file(tmp_path):
    with pytest.raises(FetchError, match=r"net.tar.gz: no such file in the local mirror"):
        fetch(str(tmp_path), "http://download.invalid/x", "net.tar.gz", str(tmp_path / "o"))


def test_fetch_local_checksum_mismatch(tmp_path):
    (tmp_path / "net.tar.gz").write_bytes(b"not it")
    dest = tmp_path / "out" / "net.tar.gz"
    with pytest.raises(FetchError, match="checksum mismatch: expected " + SHA):
        fetch(str(tmp_path), "http://download.invalid/x", "net.tar.gz", str(dest), SHA)
    assert os.listdir(dest.parent) == []


def test_fetch_unknown_source(tmp_path):
    with pytest.raises(FetchError, match="neither 'official'"):
        fetch("ftp-ish", "http://download.invalid/x", "net.tar.gz", str(tmp_path / "o"))


# -- what the server sends goes through extraction ----------------------

def _tarball(members):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def test_corrupt_gzip_downloads_but_extract_refuses(fault_server, tmp_path):
    good = _tarball([(tarfile.TarInfo("model.ckpt.index"), None)])
    corrupt = good[:10] + bytes(b ^ 0x5A for b in good[10:])
    fault_server.add("/c.tar.gz", corrupt)
    dest = tmp_path / "c.tar.gz"
    download(fault_server.url("/c.tar.gz"), str(dest), **FAST)
    with pytest.raises(ExtractError, match="corrupt or truncated"):
        safe_extract(str(dest), str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_unsafe_tarball_downloads_but_extract_refuses(fault_server, tmp_path):
    evil = tarfile.TarInfo("../x")
    evil.size = 3
    fault_server.add("/e.tar.gz", _tarball([(evil, b"pwn")]))
    dest = tmp_path / "e.tar.gz"
    download(fault_server.url("/e.tar.gz"), str(dest), **FAST)
    with pytest.raises(ExtractError, match=r"'\.\./x'"):
        safe_extract(str(dest), str(tmp_path / "out"))
    assert not (tmp_path / "x").exists() and not (tmp_path / "out").exists()


# -- the fault server itself (others will reuse it) ---------------------

def test_faultserver_stops_promptly_while_stalled():
    import time

    import requests
    with FaultServer({"/s": DATA}) as s:
        s.fault("/s", "stall", stall=30)
        url = s.url("/s")
        errors = []

        def client():
            try:
                requests.get(url, timeout=(1, 10)).content
            except requests.RequestException as e:  # cut off by stop(): expected
                errors.append(e)
        t = threading.Thread(target=client)
        t.start()
        while s.hits("/s") == 0:
            time.sleep(0.01)
        t0 = time.monotonic()
    assert time.monotonic() - t0 < 2  # stop() woke the stalled handler
    t.join(5)
    assert not t.is_alive() and len(errors) == 1  # the client saw a short body


def test_faultserver_counts_and_ranges():
    import requests
    with FaultServer({"/f": b"0123456789"}) as s:
        s.fault("/f", "status", status=503, times=1)
        assert requests.get(s.url("/f")).status_code == 503
        r = requests.get(s.url("/f"), headers={"Range": "bytes=4-"})
        assert (r.status_code, r.content, r.headers["Content-Range"]) == (206, b"456789", "bytes 4-9/10")
        s.ranges("/f", False)
        assert requests.get(s.url("/f"), headers={"Range": "bytes=4-"}).content == b"0123456789"
        assert s.hits("/f") == 3 and [q.headers.get("Range") for q in s.seen("/f")] == [None, "bytes=4-", "bytes=4-"]
        assert requests.get(s.url("/other")).status_code == 404
