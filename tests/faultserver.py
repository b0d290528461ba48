"""A local HTTP server that misbehaves on purpose, for download tests.

Serves a dict of ``path -> bytes`` on 127.0.0.1 (free port, own thread).
Each path can be given a fault that applies to its first ``times``
requests (or to all of them), so a test can say "503 twice, then serve"
or "cut the body once, then honour the Range resume" and then assert
exactly how many requests the client made.

    with FaultServer({"/a.tgz": data}) as srv:
        srv.fault("/a.tgz", "status", status=503, times=2)
        download(srv.url("/a.tgz"), dest)
        assert srv.hits("/a.tgz") == 3

Fault modes (``FaultServer.fault(path, mode, times=None, **opts)``):

``status``  answer ``status`` (default 500) with a short text body;
            ``retry_after`` adds a Retry-After header.
``reset``   send headers and ``cut`` bytes, then reset the TCP connection.
``stall``   send headers and ``cut`` bytes, then go silent for ``stall``
            seconds (or until the server stops).
``short``   announce the full Content-Length, send ``cut`` bytes, close
            cleanly (FIN): the classic truncated body.
``wrong``   serve ``body`` (default: the real bytes with one byte flipped)
            with a correct Content-Length.
``slow``    serve the whole body correctly but in ``chunk``-byte pieces
            with ``delay`` seconds between them (to make clients overlap).

``cut`` defaults to half the body. Range requests (``bytes=N-``) get a
206 when the path's ``ranges`` flag is on (the default) and no fault
applies; with ``ranges=False`` the server ignores Range and sends 200.
"""

from __future__ import annotations

import socket
import struct
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

MODES = ("status", "reset", "stall", "short", "wrong", "slow")


@dataclass
class Fault:
    """One fault: which mode, for how many requests, with which knobs."""

    mode: str
    times: int | None = None  # None: every request
    status: int = 500
    retry_after: str | None = None
    cut: int | None = None
    stall: float = 5.0
    body: bytes | None = None
    chunk: int = 16384
    delay: float = 0.02


@dataclass
class Request:
    """What the server saw: enough to assert on Range and retries."""

    method: str
    path: str
    headers: dict[str, str]


@dataclass
class _Route:
    body: bytes
    ranges: bool = True
    faults: list[Fault] = field(default_factory=list)
    hits: int = 0


class FaultServer:
    """Threaded HTTP server on 127.0.0.1 with per-path faults and counters."""

    def __init__(self, files: dict[str, bytes] | None = None):
        self._routes: dict[str, _Route] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.requests: list[Request] = []
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for path, body in (files or {}).items():
            self.add(path, body)

    # -- configuration -------------------------------------------------
    def add(self, path: str, body: bytes, *, ranges: bool = True) -> None:
        """Serve ``body`` at ``path`` (replacing any earlier route)."""
        with self._lock:
            self._routes[_norm(path)] = _Route(body=bytes(body), ranges=ranges)

    def fault(self, path: str, mode: str, times: int | None = None, **opts) -> Fault:
        """Queue a fault for ``path``; faults are used up in order."""
        if mode not in MODES:
            raise ValueError(f"unknown fault mode {mode!r}; known: {MODES}")
        f = Fault(mode=mode, times=times, **opts)
        with self._lock:
            self._routes[_norm(path)].faults.append(f)
        return f

    def ranges(self, path: str, enabled: bool) -> None:
        """Turn Range support on or off for ``path``."""
        with self._lock:
            self._routes[_norm(path)].ranges = enabled

    # -- observation ---------------------------------------------------
    def url(self, path: str = "/") -> str:
        host, port = self.address
        return f"http://{host}:{port}{_norm(path)}"

    @property
    def base_url(self) -> str:
        return self.url("/").rstrip("/")

    @property
    def address(self) -> tuple[str, int]:
        if self._httpd is None:
            raise RuntimeError("FaultServer is not started")
        return self._httpd.server_address[:2]

    def hits(self, path: str) -> int:
        """Requests received for ``path`` (any status)."""
        with self._lock:
            route = self._routes.get(_norm(path))
            return route.hits if route else sum(
                1 for r in self.requests if r.path == _norm(path))

    def seen(self, path: str) -> list[Request]:
        """The requests for ``path``, in order."""
        with self._lock:
            return [r for r in self.requests if r.path == _norm(path)]

    # -- lifecycle -----------------------------------------------------
    def start(self) -> "FaultServer":
        handler = type("Handler", (_Handler,), {"server_obj": self})
        self._httpd = _QuietServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
            name="faultserver", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; stalled handlers wake up and close at once."""
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd = self._thread = None

    def __enter__(self) -> "FaultServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- used by the handler -------------------------------------------
    def _take(self, method: str, path: str, headers: dict[str, str]):
        """Record a request and pick the route and the fault for it."""
        with self._lock:
            self.requests.append(Request(method, path, headers))
            route = self._routes.get(path)
            if route is None:
                return None, None
            route.hits += 1
            while route.faults:
                f = route.faults[0]
                if f.times is None:
                    return route, f
                if f.times > 0:
                    f.times -= 1
                    if f.times == 0:
                        route.faults.pop(0)
                    return route, f
                route.faults.pop(0)
            return route, None


def _norm(path: str) -> str:
    return path if path.startswith("/") else "/" + path


def _parse_range(value: str | None, size: int) -> int | None:
    """The start offset of a ``bytes=N-`` Range, or None if absent/odd."""
    if not value or not value.startswith("bytes=") or "," in value:
        return None
    start, _, end = value[len("bytes="):].partition("-")
    if not start.isdigit() or end not in ("", str(size - 1)):
        return None
    return int(start)


class _QuietServer(ThreadingHTTPServer):
    """Faults break connections on purpose; don't print their tracebacks."""

    def handle_error(self, request, client_address):
        pass


class _Handler(BaseHTTPRequestHandler):
    server_obj: FaultServer
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def do_HEAD(self):
        self._serve(head=True)

    def do_GET(self):
        self._serve(head=False)

    def _serve(self, head: bool) -> None:
        srv = self.server_obj
        path = self.path.split("?", 1)[0]
        route, fault = srv._take(self.command, path, dict(self.headers.items()))
        self.close_connection = True
        if route is None:
            return self._text(404, "no such file")
        body = route.body
        if fault is not None and fault.mode == "status":
            extra = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return self._text(fault.status, f"fault {fault.status}", extra)
        if fault is not None and fault.mode == "wrong":
            body = fault.body if fault.body is not None else _flip(body)
        start = _parse_range(self.headers.get("Range"), len(body)) if route.ranges else None
        if start is not None and start >= len(body):
            return self._text(416, "range not satisfiable",
                              {"Content-Range": f"bytes */{len(body)}"})
        self._send_head(body, start)
        if head:
            return
        payload = body[start or 0:]
        if fault is None or fault.mode == "wrong":
            self.wfile.write(payload)
            return
        if fault.mode == "slow":
            return self._trickle(payload, fault)
        cut = fault.cut if fault.cut is not None else len(payload) // 2
        self.wfile.write(payload[:cut])
        self.wfile.flush()
        if fault.mode == "reset":
            self._reset()
        elif fault.mode == "stall":
            srv._stopping.wait(fault.stall)
        # "short": just return; the connection closes with a FIN.

    def _send_head(self, body: bytes, start: int | None) -> None:
        if start is None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
        else:
            self.send_response(206)
            self.send_header("Content-Length", str(len(body) - start))
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("Connection", "close")
        self.end_headers()

    def _text(self, status: int, text: str, extra: dict[str, str] | None = None) -> None:
        data = text.encode()
        self.send_response(status)
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _trickle(self, payload: bytes, fault: Fault) -> None:
        for i in range(0, len(payload), fault.chunk):
            self.wfile.write(payload[i:i + fault.chunk])
            self.wfile.flush()
            if self.server_obj._stopping.wait(fault.delay):
                return

    def _reset(self) -> None:
        """Close with SO_LINGER 0 so the peer gets an RST, not a FIN."""
        sock = self.connection
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()


def _flip(body: bytes) -> bytes:
    if not body:
        return b"x"
    mid = len(body) // 2
    return body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1:]


@pytest.fixture
def fault_server() -> Iterator[FaultServer]:
    """A started FaultServer with no files; add them with ``.add()``."""
    srv = FaultServer().start()
    try:
        yield srv
    finally:
        srv.stop()
