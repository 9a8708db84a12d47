"""One host's connections: opened to the addresses that were checked, each used by one request at a time.

`HostPool` takes the place of httpcore's `AsyncConnectionPool` (the pool inside httpx's transports) for one host.
The host's semaphore (`kb.links.host`) already admits at most `per_host` requests at once, so the pool needs no
queue and no limit of its own: a request takes the most recently used idle connection to its origin, or opens one,
and closing the response gives the connection back; so a host never has more than `per_host` connections.

In a profile of the benchmark (`kb bench linkcheck`), this is where a checker made of httpx parts spends its CPU
time beyond parsing HTTP: httpcore's general pool walks all its queued requests and connections under a lock
twice per request, and the generic connection wrapper adds one more lock, whose every acquisition yields to the
event loop. Here the connection is opened by `_connect` (TCP through the pinned backend of `kb.links.safety`, TLS
for https with the certificate checked against the URL's host, HTTP/2 when the server picks it by ALPN), then
httpcore's own HTTP/1.1 or HTTP/2 connection speaks the protocol. The results file of `kb bench linkcheck` holds
the CPU time per URL (`check_cpu_ms_per_url`) that this buys.

An HTTP/2 connection also serves one request at a time here: the per-host limit counts requests either way, and a
host that allows four requests in flight gets them over at most four connections.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator

import httpcore

from kb.links.safety import PinnedBackend

KEEPALIVE_SECONDS = 5.0  # an idle connection older than this is closed rather than reused
Connection = httpcore.AsyncHTTP11Connection | httpcore.AsyncHTTP2Connection


def _key(origin: httpcore.Origin) -> tuple[bytes, bytes, int]:
    return origin.scheme, origin.host, origin.port


class HostPool:
    """Connections to one host's origins (scheme, host, port), idle ones kept in a stack per origin."""

    def __init__(self, host: str, addresses: list[str], ssl_context: ssl.SSLContext) -> None:
        self._backend = PinnedBackend(host, addresses)
        self._ssl_context = ssl_context  # its ALPN list (set by the checker) decides whether HTTP/2 is offered
        # httpcore's Origin is not hashable: idle connections are filed under (scheme, host, port).
        self._idle: dict[tuple[bytes, bytes, int], list[Connection]] = {}
        self._open: set[Connection] = set()

    async def _take(self, origin: httpcore.Origin, timeout: float | None) -> Connection:
        """The most recently used idle connection to `origin` that is still good, or a new one."""
        idle = self._idle.get(_key(origin))
        while idle:
            connection = idle.pop()
            if not connection.has_expired():  # expired: too old, or the server closed it meanwhile
                return connection
            await self._drop(connection)
        connection = await self._connect(origin, timeout)
        self._open.add(connection)
        return connection

    async def _connect(self, origin: httpcore.Origin, timeout: float | None) -> Connection:
        """Open a connection to `origin`: TCP to a checked address, TLS for https, HTTP/2 when ALPN picks it."""
        host = origin.host.decode("ascii")
        stream = await self._backend.connect_tcp(host, origin.port, timeout=timeout)
        try:
            if origin.scheme == b"https":
                stream = await stream.start_tls(self._ssl_context, server_hostname=host, timeout=timeout)
                tls = stream.get_extra_info("ssl_object")
                if tls is not None and tls.selected_alpn_protocol() == "h2":
                    return httpcore.AsyncHTTP2Connection(origin, stream, keepalive_expiry=KEEPALIVE_SECONDS)
        except BaseException:
            await stream.aclose()
            raise
        return httpcore.AsyncHTTP11Connection(origin, stream, keepalive_expiry=KEEPALIVE_SECONDS)

    async def _drop(self, connection: Connection) -> None:
        self._open.discard(connection)
        await connection.aclose()

    async def give_back(self, connection: Connection, origin: httpcore.Origin) -> None:
        """Keep `connection` for the next request when it is idle and open; close it otherwise."""
        if connection.is_idle() and not connection.is_closed():
            self._idle.setdefault(_key(origin), []).append(connection)
        else:
            await self._drop(connection)

    async def handle_async_request(self, request: httpcore.Request) -> httpcore.Response:
        """Send `request` on a connection of its own; the response's `aclose` returns the connection."""
        origin = request.url.origin
        timeout = request.extensions.get("timeout", {}).get("connect")
        while True:
            connection = await self._take(origin, timeout)
            try:
                response = await connection.handle_async_request(request)
            except httpcore.ConnectionNotAvailable:
                await self._drop(connection)  # closed between the expiry check and the request: open another
                continue
            except BaseException:
                await self.give_back(connection, origin)  # httpcore has closed it when it was left unusable
                raise
            content = _Returned(response.stream, self, connection, origin)
            return httpcore.Response(
                response.status, headers=response.headers, content=content, extensions=response.extensions
            )

    async def aclose(self) -> None:
        """Close every connection, idle or not."""
        for connection in list(self._open):
            await self._drop(connection)
        self._idle.clear()


class _Returned:
    """A response body that gives its connection back to the pool when it is closed."""

    def __init__(self, stream: object, pool: HostPool, connection: Connection, origin: httpcore.Origin) -> None:
        self._stream = stream
        self._pool = pool
        self._connection = connection
        self._origin = origin
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for part in self._stream:  # type: ignore[attr-defined]
            yield part

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        if hasattr(self._stream, "aclose"):
            await self._stream.aclose()  # an HTTP/1.1 body left unread closes the connection here
        await self._pool.give_back(self._connection, self._origin)
