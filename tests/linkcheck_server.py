"""A real HTTP server on 127.0.0.1 for the link checker's tests, with one path per behaviour to check.

Paths: `/ok`, `/status/<code>`, `/redirect/<code>/<rest>` (redirects to `/<rest>`), `/to/<url-encoded URL>` (302
there), `/loop/a` <-> `/loop/b`, `/cookie` (sets a cookie and redirects to itself until it gets it back),
`/nohead` (405 to HEAD), `/head404` (404 to HEAD, 200 to GET), `/retry-after/<key>/<seconds|date|long>` (429
once, then 200), `/flaky/<key>` (503 once, then 200), `/slow` (answers after 1.5 s), `/huge` (405 to HEAD, 100 MB
to GET), `/count/<n>` (200 after 50 ms, counting requests in flight per Host header), `/close/<n>` (200 with
`Connection: close`). Every request is recorded, with the connection (client port) it came on.
"""

from __future__ import annotations

import email.utils
import threading
import time
import urllib.parse
from collections import Counter, defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Recorder:
    """What the server saw: requests by path, their times and Host headers, in-flight peaks, bytes of /huge."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.hits: Counter[str] = Counter()
        self.times: defaultdict[str, list[float]] = defaultdict(list)
        self.hosts: list[str] = []
        self.headers: list[dict[str, str]] = []
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.connections: defaultdict[str, set[int]] = defaultdict(set)  # Host header -> client ports seen
        self.huge_sent = 0

    def total(self) -> int:
        """Requests seen so far."""
        return sum(self.hits.values())


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    recorder: Recorder

    def log_message(self, *args: object) -> None:  # keep the test output clean
        pass

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def do_GET(self) -> None:
        self._answer(head=False)

    def _send(self, code: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(code)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _answer(self, head: bool) -> None:
        rec, path, host = self.recorder, self.path, self.headers.get("Host", "")
        key = path if not path.startswith("/count/") else "/count"
        with rec.lock:
            rec.hits[path] += 1
            rec.times[path].append(time.monotonic())
            rec.hosts.append(host)
            rec.headers.append(dict(self.headers.items()))
            rec.connections[host].add(self.client_address[1])
            first = rec.hits[path] == 1
        parts = path.strip("/").split("/")
        if path == "/ok":
            self._send(200, body=b"fine")
        elif parts[0] == "status":
            self._send(int(parts[1]))
        elif parts[0] == "redirect":
            self._send(int(parts[1]), {"Location": "/" + "/".join(parts[2:])})
        elif parts[0] == "to":
            self._send(302, {"Location": urllib.parse.unquote(parts[1])})
        elif parts[0] == "loop":
            self._send(301, {"Location": "/loop/b" if parts[1] == "a" else "/loop/a"})
        elif path == "/cookie":
            if "seen=1" in self.headers.get("Cookie", ""):
                self._send(200)
            else:
                self._send(302, {"Location": "/cookie", "Set-Cookie": "seen=1; Path=/; HttpOnly"})
        elif path == "/nohead":
            self._send(405 if head else 200)
        elif path == "/head404":
            self._send(404 if head else 200)
        elif parts[0] == "retry-after" and first:
            form = parts[2]
            value = {"seconds": "1", "long": "3600"}.get(form) or email.utils.formatdate(time.time() + 2, usegmt=True)
            self._send(429, {"Retry-After": value})
        elif parts[0] == "flaky" and first:
            self._send(503)
        elif path == "/slow":
            time.sleep(1.5)
            self._send(200)
        elif parts[0] == "close":
            self.close_connection = True
            self._send(200, {"Connection": "close"})
        elif path == "/huge":
            self._huge(head)
        elif key == "/count":
            with rec.lock:
                rec.in_flight[host] += 1
                rec.peak[host] = max(rec.peak[host], rec.in_flight[host])
            time.sleep(0.05)
            with rec.lock:
                rec.in_flight[host] -= 1
            self._send(200)
        else:
            self._send(200)

    def _huge(self, head: bool) -> None:
        if head:
            self._send(405)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(100 * 2**20))
        self.end_headers()
        chunk = b"x" * 65536
        try:
            for _ in range(1600):
                self.wfile.write(chunk)
                with self.recorder.lock:
                    self.recorder.huge_sent += len(chunk)
        except OSError:
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class LinkServer:
    """The server in a background thread; `url(path)` gives its address."""

    def __init__(self) -> None:
        self.recorder = Recorder()
        handler = type("BoundHandler", (Handler,), {"recorder": self.recorder})
        self.server = _Server(("127.0.0.1", 0), handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        """The full URL of `path` on this server, under the given host name."""
        return f"http://{host}:{self.port}{path}"

    def __enter__(self) -> LinkServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
