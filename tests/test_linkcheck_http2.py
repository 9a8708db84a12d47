"""HTTP/2 where offered: the link checker against a real TLS server on 127.0.0.1 that speaks HTTP/2 (or only 1.1).

The server is Hypercorn, negotiating the protocol by ALPN as public sites do, with a certificate from a throwaway
certificate authority (trustme) that only the test's SSL context trusts. It records the HTTP version of every
request it answers and the most requests in flight at once, so the tests read the protocol from the server's side.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config

from kb.links.checker import CheckOptions, LinkChecker
from kb.links.results import LinkResult, Status

pytestmark = pytest.mark.network_local

OPTIONS = CheckOptions(allow_private=True, timeout=5.0, retries=0)


@dataclass
class Seen:
    """What the server answered: (path, HTTP version) per request, and the peak of requests in flight."""

    requests: list[tuple[str, str]] = field(default_factory=list)
    in_flight: int = 0
    peak: int = 0


def app(seen: Seen) -> Any:
    """An ASGI app: `/slow/...` answers after 50 ms, `/moved` is a 301 to `/ok`, `/gone` a 404, the rest 200."""

    async def handle(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        seen.requests.append((path, scope["http_version"]))
        seen.in_flight += 1
        seen.peak = max(seen.peak, seen.in_flight)
        if path.startswith("/slow/"):
            await asyncio.sleep(0.05)
        seen.in_flight -= 1
        code, headers = {"/moved": (301, [(b"location", b"/ok")]), "/gone": (404, [])}.get(path, (200, []))
        await send({"type": "http.response.start", "status": code, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else b"fine"})

    return handle


class TLSServer:
    """Hypercorn on 127.0.0.1 in a background thread, with ALPN offering `protocols`."""

    def __init__(self, ca: trustme.CA, folder: Path, protocols: list[str]) -> None:
        self.seen = Seen()
        pem = folder / "server.pem"
        ca.issue_cert("127.0.0.1", "localhost").private_key_and_cert_chain_pem.write_to_path(str(pem))
        listener = socket.create_server(("127.0.0.1", 0))
        self.port = listener.getsockname()[1]
        self.config = Config()
        self.config.bind = [f"fd://{listener.detach()}"]  # Hypercorn owns the socket from here, and closes it
        self.config.certfile = self.config.keyfile = str(pem)
        self.config.alpn_protocols = protocols
        self.config.accesslog = self.config.errorlog = None
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self) -> None:
        self.loop.run_until_complete(serve(app(self.seen), self.config, shutdown_trigger=self.stop.wait))

    def url(self, path: str) -> str:
        """The address of `path` on this server."""
        return f"https://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> TLSServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def client_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context


@pytest.fixture(scope="module")
def h2_server(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSServer]:
    with TLSServer(ca, tmp_path_factory.mktemp("h2"), ["h2", "http/1.1"]) as server:
        yield server


@pytest.fixture(scope="module")
def h1_server(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSServer]:
    with TLSServer(ca, tmp_path_factory.mktemp("h1"), ["http/1.1"]) as server:
        yield server


def check_all(
    urls: list[str], context: ssl.SSLContext, options: CheckOptions = OPTIONS, ca_trusted: bool = True
) -> list[LinkResult]:
    async def run() -> list[LinkResult]:
        async with LinkChecker(options, ssl_context=context if ca_trusted else None) as checker:
            return await checker.check_all(urls)

    return asyncio.run(run())


def test_http2_is_used_where_the_server_offers_it(h2_server: TLSServer, client_context: ssl.SSLContext) -> None:
    urls = [h2_server.url(path) for path in ("/ok", "/moved", "/gone")]
    results = check_all(urls, client_context)
    assert [r.status for r in results] == [Status.ok, Status.redirected, Status.broken]
    assert results[1].moved_to == h2_server.url("/ok")
    assert {version for _, version in h2_server.seen.requests} == {"2"}


def test_http1_is_used_where_the_server_offers_only_that(h1_server: TLSServer, client_context: ssl.SSLContext) -> None:
    assert check_all([h1_server.url("/ok")], client_context)[0].status is Status.ok
    assert h1_server.seen.requests == [("/ok", "1.1")]


def test_http2_can_be_turned_off(h2_server: TLSServer, client_context: ssl.SSLContext) -> None:
    h2_server.seen.requests.clear()
    options = CheckOptions(allow_private=True, timeout=5.0, retries=0, http2=False)
    assert check_all([h2_server.url("/ok")], client_context, options)[0].status is Status.ok
    assert h2_server.seen.requests == [("/ok", "1.1")]


def test_per_host_limit_holds_for_streams_on_one_http2_connection(
    h2_server: TLSServer, client_context: ssl.SSLContext
) -> None:
    # HTTP/2 multiplexes every request to a host over one connection: the limit must count streams, not sockets.
    h2_server.seen.peak = 0
    options = CheckOptions(allow_private=True, timeout=5.0, retries=0, per_host=3)
    results = check_all([h2_server.url(f"/slow/{i}") for i in range(24)], client_context, options)
    assert all(r.status is Status.ok for r in results)
    assert h2_server.seen.peak == 3  # reached, never passed


def test_an_untrusted_certificate_is_an_error_not_ok(h2_server: TLSServer, client_context: ssl.SSLContext) -> None:
    result = check_all([h2_server.url("/ok")], client_context, ca_trusted=False)[0]
    assert result.status is Status.error
    assert "CERTIFICATE_VERIFY_FAILED" in (result.error or "")
