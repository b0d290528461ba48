"""Fetch Model Zoo tarballs: robust HTTP download and source resolution.

The zoo tarballs are tens to hundreds of MB on a server we don't control,
so a download must survive resets, stalls and 5xx with bounded retries,
resume instead of starting over, never leave a half file where a finished
one is expected, and fail with one plain-words error naming the URL.
"""

from __future__ import annotations

import email.utils
import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import time
import urllib.parse
import urllib.request
from contextlib import contextmanager
from typing import Callable, Iterator

import requests
import urllib3

log = logging.getLogger(__name__)

CHUNK = 1 << 16
LOG_EVERY_S = 10.0  # progress log interval for big files
MAX_DELAY_S = 60.0  # cap on backoff and on a server's Retry-After
PERMANENT = {401, 403, 404, 410}
RETRY_4XX = {408, 429}

Progress = Callable[[int, "int | None"], None]


class FetchError(Exception):
    """A tarball could not be fetched; the message names the URL and why."""


class _Retry(Exception):
    """A transient failure: worth another try after a pause."""

    def __init__(self, cause: str, wait: float | None = None):
        super().__init__(cause)
        self.cause = cause
        self.wait = wait


class _Fatal(Exception):
    """A failure that another try cannot fix (404, checksum, ...)."""


class _Mismatch(_Fatal):
    """The whole file arrived but its sha256 is not the expected one."""


# -- public API ---------------------------------------------------------

def download(url: str, dest: str, sha256: str | None = None, *,
             timeout: tuple[float, float] = (10, 60), retries: int = 5,
             backoff: float = 0.5, progress: Progress | None = None) -> str:
    """Download ``url`` to ``dest`` atomically and return its sha256 hex.

    Bytes go to ``dest + '.part'`` (kept after transient failures so the
    next try or run resumes with a Range request) under an exclusive lock
    on ``dest + '.lock'``, so two processes fetching the same file take
    turns instead of writing into each other's half. ``retries`` is the
    number of extra tries after the first.
    """
    dest = os.fspath(dest)
    want = _norm_sha(sha256)
    if isinstance(timeout, (int, float)):
        timeout = (timeout, timeout)
    os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
    with _locked(dest + ".lock"):
        if want and os.path.exists(dest) and _sha256_file(dest) == want:
            log.info("%s already present with the expected sha256", dest)
            return want
        return _download_locked(url, dest, want, timeout, retries, backoff, progress)


def fetch(source: str | None, url: str, filename: str, dest: str,
          sha256: str | None = None, **kw) -> str:
    """Fetch ``filename`` from the source the pipeline was told to use.

    ``official`` (or empty) means the catalogue ``url``; an http(s) URL is
    a mirror holding the same file names; a directory or ``file://`` URL
    is a local mirror, copied atomically. Returns the sha256 hex.
    """
    src = (source or "official").strip()
    if src == "official":
        return download(url, dest, sha256, **kw)
    if src.startswith(("http://", "https://")):
        return download(src.rstrip("/") + "/" + filename, dest, sha256, **kw)
    if src.startswith("file://"):
        src = urllib.request.url2pathname(urllib.parse.urlparse(src).path)
    if not os.path.isdir(src):
        raise FetchError(f"cannot fetch {filename}: source {source!r} is neither "
                         "'official', an http(s) mirror URL nor an existing directory")
    return copy_file(os.path.join(src, filename), dest, sha256)


def copy_file(src: str, dest: str, sha256: str | None = None) -> str:
    """Copy a local file to ``dest`` atomically, checking its sha256."""
    want = _norm_sha(sha256)
    if not os.path.isfile(src):
        raise FetchError(f"cannot fetch {src}: no such file in the local mirror")
    tmp = _temp_beside(dest)
    try:
        with open(src, "rb") as fin, open(tmp, "wb") as fout:
            shutil.copyfileobj(fin, fout, CHUNK)
            fout.flush()
            os.fsync(fout.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0o600; artifacts are world-readable
        got = _sha256_file(tmp)
        if want and got != want:
            raise FetchError(f"cannot fetch {src}: checksum mismatch: expected {want} got {got}")
        _publish(tmp, dest)
        return got
    finally:
        _unlink(tmp)


def sha256_file(path: str) -> str:
    """sha256 hex of a file, read in chunks."""
    return _sha256_file(path)


# -- the retry loop -----------------------------------------------------

def _download_locked(url, dest, want, timeout, retries, backoff, progress) -> str:
    part = dest + ".part"
    resumed_from_old = os.path.exists(part) and os.path.getsize(part) > 0
    tries = 0
    with requests.Session() as session:
        while True:
            tries += 1
            try:
                _one_try(session, url, part, timeout, progress)
                return _verify_and_publish(url, part, dest, want)
            except _Fatal as e:
                _unlink(part)
                if resumed_from_old and isinstance(e, _Mismatch):
                    # A .part left by an older run may be of another file
                    # version; one clean restart is the honest fix.
                    log.warning("%s: resumed file failed its checksum; restarting", url)
                    resumed_from_old = False
                    tries -= 1
                    continue
                raise FetchError(f"cannot fetch {url}: {e}") from None
            except _Retry as e:
                if tries > retries:
                    plural = "try" if tries == 1 else "tries"
                    raise FetchError(f"cannot fetch {url}: {e.cause} ({tries} {plural})") from None
                delay = _delay(backoff, tries, e.wait)
                log.warning("%s: %s; try %d of %d again in %.1f s",
                            url, e.cause, tries + 1, retries + 1, delay)
                time.sleep(delay)


def _delay(backoff: float, tries: int, server_wait: float | None) -> float:
    """Exponential backoff, stretched to a server's Retry-After, capped."""
    delay = backoff * (2 ** (tries - 1))
    if server_wait is not None:
        delay = max(delay, server_wait)
    return min(delay, MAX_DELAY_S)


def _verify_and_publish(url: str, part: str, dest: str, want: str | None) -> str:
    got = _sha256_file(part)
    if want and got != want:
        raise _Mismatch(f"checksum mismatch: expected {want} got {got}")
    _publish(part, dest)
    log.info("fetched %s -> %s (sha256 %s)", url, dest, got)
    return got


# -- one HTTP attempt ---------------------------------------------------

def _one_try(session: requests.Session, url: str, part: str,
             timeout, progress: Progress | None) -> None:
    """Append the rest of ``url`` to ``part``; raise _Retry or _Fatal."""
    have = os.path.getsize(part) if os.path.exists(part) else 0
    headers = {"Accept-Encoding": "identity"}
    if have:
        headers["Range"] = f"bytes={have}-"
    try:
        resp = session.get(url, headers=headers, stream=True, timeout=timeout)
    except requests.exceptions.ConnectTimeout:
        raise _Retry(f"could not connect within {timeout[0]} s") from None
    except requests.exceptions.ReadTimeout:
        raise _Retry(f"no response within {timeout[1]} s") from None
    except requests.exceptions.InvalidURL as e:
        raise _Fatal(f"invalid URL ({e})") from None
    except (requests.RequestException, OSError) as e:
        raise _Retry(f"could not connect ({_connect_cause(e)})") from None
    with resp:
        start, total = _check_response(resp, have, part)
        _stream_body(resp, part, start, total, timeout, progress, url)


def _check_response(resp: requests.Response, have: int, part: str) -> tuple[int, int | None]:
    """Decide where the body starts and how long the whole file is."""
    code = resp.status_code
    what = f"HTTP {code} {resp.reason or ''}".strip()
    if code in PERMANENT:
        raise _Fatal(what)
    if code == 416 and have:
        _unlink(part)  # our .part is longer than the file: start over
        raise _Retry("server refused the resume offset; restarting from zero")
    if code in RETRY_4XX or code >= 500:
        raise _Retry(what, _retry_after(resp.headers.get("Retry-After")))
    if code == 206:
        first, total = _content_range(resp.headers.get("Content-Range"))
        if first != have:
            _unlink(part)
            raise _Retry(f"server resumed at byte {first}, not {have}; restarting from zero")
        return have, total
    if code != 200:
        raise _Fatal(what)
    length = resp.headers.get("Content-Length")
    return 0, int(length) if length and length.isdigit() else None


def _stream_body(resp, part, start, total, timeout, progress, url) -> None:
    """Write the body after ``start`` bytes, detecting any short read."""
    done = start
    meter = _Meter(url, total, progress)
    mode = "ab" if start else "wb"
    with open(part, mode) as f:
        if start:
            f.truncate(start)
        try:
            for chunk in resp.raw.stream(CHUNK, decode_content=False):
                f.write(chunk)
                done += len(chunk)
                meter.update(done)
        except (urllib3.exceptions.ReadTimeoutError, requests.exceptions.ReadTimeout):
            raise _Retry(f"server sent nothing for {timeout[1]} s "
                         f"after {_of(done, total)} bytes") from None
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as e:
            raise _Retry(_broken(e, done, total)) from None
        finally:
            f.flush()
            os.fsync(f.fileno())
    if total is not None and done < total:
        raise _Retry(f"server closed the connection after {_of(done, total)} bytes")
    meter.finish(done)


def _broken(e: BaseException, done: int, total: int | None) -> str:
    """Plain words for a connection that broke mid-body."""
    text = repr(e).lower()
    if "reset" in text or isinstance(e, ConnectionResetError):
        return f"connection reset by the server after {_of(done, total)} bytes"
    if "incompleteread" in text or "closed" in text:
        return f"server closed the connection after {_of(done, total)} bytes"
    return f"connection broken after {_of(done, total)} bytes ({_short(e)})"


_CONNECT_CAUSES = (
    (("NameResolutionError", "Name or service not known", "nodename nor servname"),
     "cannot resolve the host name"),
    (("Connection refused", "Errno 111"), "connection refused"),
    (("Network is unreachable", "No route to host"), "no route to the host"),
    (("SSLError", "CERTIFICATE_VERIFY_FAILED"), "TLS error"),
)


def _connect_cause(e: BaseException) -> str:
    """Plain words for why a connection could not be made."""
    text = repr(e)
    for needles, words in _CONNECT_CAUSES:
        if any(n in text for n in needles):
            return words
    return _short(e)


def _of(done: int, total: int | None) -> str:
    return f"{done} of {total}" if total is not None else str(done)


def _short(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _content_range(value: str | None) -> tuple[int, int | None]:
    """Parse ``bytes A-B/T`` into (A, T); T may be ``*`` (unknown)."""
    try:
        unit, _, rest = (value or "").partition(" ")
        span, _, total = rest.partition("/")
        first = int(span.split("-", 1)[0])
        if unit != "bytes":
            raise ValueError(unit)
        return first, None if total == "*" else int(total)
    except ValueError:
        raise _Retry(f"server sent a 206 with a bad Content-Range {value!r}") from None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta or HTTP date)."""
    if not value:
        return None
    if value.strip().isdigit():
        return float(value.strip())
    try:
        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return None


class _Meter:
    """Progress callback on every chunk; a log line every LOG_EVERY_S."""

    def __init__(self, url: str, total: int | None, callback: Progress | None):
        self.url, self.total, self.callback = url, total, callback
        self.t0 = self.last = time.monotonic()

    def update(self, done: int) -> None:
        if self.callback is not None:
            self.callback(done, self.total)
        now = time.monotonic()
        if now - self.last >= LOG_EVERY_S:
            self.last = now
            pct = f" ({100 * done / self.total:.0f}%)" if self.total else ""
            log.info("%s: %s bytes%s", self.url, _of(done, self.total), pct)

    def finish(self, done: int) -> None:
        secs = max(time.monotonic() - self.t0, 1e-6)
        log.info("%s: %d bytes in %.1f s (%.1f MB/s)", self.url, done, secs, done / secs / 1e6)


# -- files --------------------------------------------------------------

@contextmanager
def _locked(path: str) -> Iterator[None]:
    """Hold an exclusive flock on ``path``; the kernel drops it if we die."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _publish(tmp: str, dest: str) -> None:
    """Atomic rename into place, then make the rename itself durable."""
    os.replace(tmp, dest)
    dirfd = os.open(os.path.dirname(os.path.abspath(dest)), os.O_RDONLY)
    try:
        os.fsync(dirfd)
    finally:
        os.close(dirfd)


def _temp_beside(dest: str) -> str:
    """A unique temp file in dest's directory (same filesystem: atomic rename)."""
    d = os.path.dirname(os.path.abspath(dest))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=d, prefix="." + os.path.basename(dest) + ".", suffix=".tmp")
    os.close(fd)
    return tmp


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _norm_sha(sha256: str | None) -> str | None:
    if not sha256:
        return None
    s = sha256.strip().lower()
    if len(s) != 64 or any(c not in "0123456789abcdef" for c in s):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return s


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
