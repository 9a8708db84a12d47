"""Where the link checker may connect: address checks, and connections pinned to the address that was checked.

A link checker fetches addresses that anyone can put in a pull request, so it must not become a way to reach the
machine it runs on or its private network (server-side request forgery). Every host is resolved first; when any of
its addresses is loopback, private, link-local (which holds the cloud metadata address 169.254.169.254), CGNAT,
multicast, unspecified or otherwise not globally routable, the host is refused. The connection then goes to the
addresses that were checked: `PinnedBackend` is the network backend of the host's connections (`kb.links.pool`),
so nothing resolves the name a second time and a DNS answer that changes between check and connect (DNS
rebinding) has no effect. TLS still verifies the certificate against the host name, which the pool passes to
`start_tls` as the SNI name.

The streams are plain asyncio streams rather than httpcore's anyio ones: a link check is a few hundred bytes
each way, so the per-call overhead of the stream layer is a large part of the checker's CPU time.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import httpcore
import httpx

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Resolve `(host, port)` to IP address strings; raises `socket.gaierror` when the name does not resolve."""


# IPv6 forms that carry an IPv4 address in their low 32 bits: a refused IPv4 address must stay refused in them.
_EMBEDDING_IPV4 = (
    ipaddress.ip_network("::ffff:0:0/96"),  # IPv4-mapped, `::ffff:10.0.0.1`
    ipaddress.ip_network("::ffff:0:0:0/96"),  # IPv4-translated (SIIT), `::ffff:0:10.0.0.1`
    ipaddress.ip_network("64:ff9b::/96"),  # NAT64 well-known prefix: the gateway connects to the embedded address
)
# IPv6 ranges refused outright: the IPv4 address behind them cannot be told, or they are not public.
_REFUSED_IPV6 = (
    (ipaddress.ip_network("64:ff9b:1::/48"), "local-use NAT64"),
    (ipaddress.ip_network("2001::/32"), "Teredo tunnel"),
    (ipaddress.ip_network("fec0::/10"), "site-local"),
)
# IPv4-compatible addresses (`::10.0.0.1`, deprecated since 2006) are not public anywhere; `::` and `::1` are
# judged below as unspecified and loopback.
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, compatible, translated, NAT64 or 6to4), if any."""
    if ip.sixtofour is not None:  # 2002:AABB:CCDD::/48 routes to A.B.C.D
        return ip.sixtofour
    if any(ip in network for network in _EMBEDDING_IPV4):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(address: str) -> str | None:
    """Why a connection to `address` is refused, or None when it is a public unicast address.

    IPv6 addresses that embed an IPv4 address (`::ffff:10.0.0.1`, `::10.0.0.1`, `64:ff9b::10.0.0.1`, 6to4
    `2002:0a00:0001::`) are judged by the IPv4 address they carry; local-use NAT64, Teredo and site-local IPv6 are
    refused whatever they carry.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        for network, kind in _REFUSED_IPV6:
            if ip in network:
                return f"{address} is a {kind} address"
        if ip in _IPV4_COMPATIBLE and int(ip) > 1:
            return f"{address} is an IPv4-compatible address (deprecated, never public)"
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            problem = address_problem(str(embedded))
            return f"{address} carries {problem}" if problem else None
    checks = (
        (ip.is_loopback, "loopback"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_link_local, "link-local (cloud metadata lives here)"),
        (ip.is_multicast, "multicast"),
        (ip in ipaddress.ip_network("100.64.0.0/10"), "carrier-grade NAT"),
        (ip.is_private, "private"),
        (not ip.is_global, "not globally routable"),
    )
    for matched, kind in checks:
        if matched:
            return f"{address} is a {kind} address"
    return None


def address_in(address: str, networks: tuple[str, ...]) -> bool:
    """True when `address` lies in one of `networks` (CIDR strings such as `10.1.0.0/16`)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return any(ip in ipaddress.ip_network(network, strict=False) for network in networks)


async def resolve(host: str, port: int) -> list[str]:
    """Every address of `host` (an IP literal resolves to itself), in the resolver's order, without repeats."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class AsyncioStream(httpcore.AsyncNetworkStream):
    """An httpcore stream over an asyncio stream pair, mapping errors and timeouts to httpcore's exceptions."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to `max_bytes` bytes; an empty result means the peer closed."""
        try:
            async with asyncio.timeout(timeout):
                return await self._reader.read(max_bytes)
        except TimeoutError:
            raise httpcore.ReadTimeout(f"no data within {timeout} s") from None
        except OSError as error:
            raise httpcore.ReadError(str(error) or type(error).__name__) from error

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send `buffer`, waiting while the socket's send buffer is full."""
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            if self._writer.transport.get_write_buffer_size():  # else the kernel took it all: nothing to wait for
                async with asyncio.timeout(timeout):
                    await self._writer.drain()
        except TimeoutError:
            raise httpcore.WriteTimeout(f"could not send within {timeout} s") from None
        except OSError as error:
            raise httpcore.WriteError(str(error) or type(error).__name__) from error

    async def aclose(self) -> None:
        """Close without waiting for the peer: a checker never needs a graceful goodbye."""
        self._writer.close()

    async def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Upgrade to TLS in place; the certificate is checked against `server_hostname`, the URL's host."""
        try:
            async with asyncio.timeout(timeout):
                await self._writer.start_tls(ssl_context, server_hostname=server_hostname)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"TLS handshake took longer than {timeout} s") from None
        except (OSError, ssl.SSLError) as error:
            raise httpcore.ConnectError(str(error) or type(error).__name__) from error
        return self

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks about a connection: the TLS object (for ALPN), addresses, readability."""
        if info == "is_readable":
            # An idle keep-alive connection that became readable was closed by the server (or sent junk).
            return self._reader.at_eof() or self._writer.is_closing()
        names = {"ssl_object": "ssl_object", "client_addr": "sockname", "server_addr": "peername", "socket": "socket"}
        return self._writer.get_extra_info(names[info]) if info in names else None


class PinnedBackend(httpcore.AsyncNetworkBackend):
    """Connects to `host` only, and only at the addresses that were checked for it."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        self._host = host
        self._addresses = addresses

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        """Open a TCP connection to the first checked address that answers."""
        if host != self._host:
            raise httpcore.ConnectError(f"refused: this connection pool is pinned to {self._host}, not {host}")
        failure: httpcore.ConnectError | httpcore.ConnectTimeout = httpcore.ConnectError(f"no address for {host}")
        for address in self._addresses:
            try:
                async with asyncio.timeout(timeout):
                    reader, writer = await asyncio.open_connection(address, port)
                return AsyncioStream(reader, writer)
            except TimeoutError:
                failure = httpcore.ConnectTimeout(f"no connection to {address}:{port} within {timeout} s")
            except OSError as error:
                failure = httpcore.ConnectError(f"{address}:{port}: {error.strerror or error}")
        raise failure

    async def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.AsyncNetworkStream:
        """Refused: a link is never a local socket."""
        raise httpcore.ConnectError("unix sockets are never checked")

    async def sleep(self, seconds: float) -> None:
        """Sleep on the running loop."""
        await asyncio.sleep(seconds)


class Refused(Exception):
    """A fetch that the address policy or a limit stopped; the message says which and why."""


class _PinnedSyncBackend(httpcore.NetworkBackend):
    """The synchronous twin of `PinnedBackend`: connects to `host` only, at the addresses that were checked."""

    def __init__(self, host: str, addresses: list[str]) -> None:
        self._host, self._addresses = host, addresses
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Open a TCP connection to the first checked address that answers."""
        if host != self._host:
            raise httpcore.ConnectError(f"refused: pinned to {self._host}, not {host}")
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for address in self._addresses:
            try:
                return self._plain.connect_tcp(address, port, timeout=timeout)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
                failure = error
        raise failure

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        """Refused: a lookup never goes to a local socket."""
        raise httpcore.ConnectError("unix sockets are never used")


def checked_addresses(host: str, port: int, allow_networks: tuple[str, ...] = ()) -> list[str]:
    """The addresses of `host` after the address check: every one must be public (or in `allow_networks`).

    Raises:
        Refused: When the name does not resolve or any address is refused.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise Refused(f"{host} does not resolve ({error})") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        problem = address_problem(address)
        if problem and not address_in(address, allow_networks):
            raise Refused(f"refused {host}: {problem}")
    return addresses


REDIRECTS = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Fetched:
    """The final answer of a fetch: status, the URL it came from, the body and the headers (lower-case names)."""

    status: int
    url: str
    body: bytes
    headers: dict[str, str]

    def retry_after(self) -> float | None:
        """`Retry-After` in seconds, when the answer gives it as a number."""
        value = self.headers.get("retry-after", "")
        return float(value) if value.strip().isdigit() else None


def fetch(
    url: str,
    *,
    headers: dict[str, str] | None = None,
    allow_networks: tuple[str, ...] = (),
    max_bytes: int = 5_000_000,
    deadline_s: float = 60.0,
    max_redirects: int = 5,
) -> Fetched:
    """GET `url` under the link checker's rules; returns the final answer.

    Every hop (the first request and each redirect) goes only to http(s) URLs without credentials, whose host
    resolves to public addresses only (or to `allow_networks`, for tests), and connects to exactly the addresses
    checked. The body is read to at most `max_bytes`; the whole fetch, redirects and slow bodies included, ends by
    `deadline_s`.

    Raises:
        Refused: For a URL, an address, a redirect or a limit that the rules refuse.
        httpcore.TimeoutException, httpcore.NetworkError: When the server does not answer or the connection fails.
    """
    start = time.monotonic()
    for _ in range(max_redirects + 1):
        parsed = httpx.URL(url)
        if parsed.scheme not in ("http", "https") or not parsed.host:
            raise Refused(f"refused {url[:100]}: only http and https URLs with a host are fetched")
        if parsed.userinfo:
            raise Refused(f"refused {parsed.host}: URLs with credentials are never fetched")
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        addresses = checked_addresses(parsed.host, port, allow_networks)
        remaining = deadline_s - (time.monotonic() - start)
        timeouts = {"connect": min(10.0, remaining), "read": min(10.0, remaining), "write": 10.0, "pool": 10.0}
        with httpcore.ConnectionPool(network_backend=_PinnedSyncBackend(parsed.host, addresses)) as pool:
            request_headers = [
                (b"Host", parsed.netloc),
                *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
            ]
            with pool.stream("GET", str(parsed), headers=request_headers, extensions={"timeout": timeouts}) as response:
                location = dict((k.lower(), v) for k, v in response.headers).get(b"location")
                if response.status in REDIRECTS and location:
                    url = str(parsed.join(location.decode("latin-1")))
                    continue
                body = bytearray()
                for chunk in response.iter_stream():
                    body += chunk
                    if len(body) > max_bytes:
                        raise Refused(f"the answer from {parsed.host} is larger than {max_bytes:,} bytes; stopped")
                    if time.monotonic() - start > deadline_s:
                        raise Refused(f"{parsed.host} took longer than {deadline_s:g} s in all; stopped")
                headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in response.headers}
                return Fetched(response.status, url, bytes(body), headers)
    raise Refused(f"more than {max_redirects} redirects from {url[:100]}")
