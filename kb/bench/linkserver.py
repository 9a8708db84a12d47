"""The link checker benchmark's server: 20 loopback hosts, one process, every answer 50 ms late.

`python -m kb.bench.linkserver HOSTS DELAY URL_FILE` listens on 127.0.0.1 to 127.0.0.HOSTS at one port, prints the port
and serves until its standard input closes. Every request gets a 200 after DELAY seconds, except `/bench.html` (a
page linking every URL of URL_FILE, for linkinator) and `/__stats`, which answers at once with the requests served
and the most requests in flight that each address saw, and starts counting again.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path


class _BenchProtocol(asyncio.Protocol):
    """HTTP/1.1 with keep-alive, just enough for HEAD and GET: every answer is a 200, after the delay."""

    def __init__(self, server: _BenchServer) -> None:
        self.server = server
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.host = transport.get_extra_info("sockname")[0]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while b"\r\n\r\n" in self.buffer:
            head, _, self.buffer = self.buffer.partition(b"\r\n\r\n")
            method, path = [*head.split(b" ", 2), b"", b""][:2]
            self.server.answer(self, method == b"HEAD", path.decode("latin-1"))

    def reply(self, body: bytes, head: bool, content_type: bytes = b"text/plain") -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: "
                + content_type
                + b"\r\nContent-Length: "
                + str(len(body)).encode()
                + b"\r\n\r\n"
                + (b"" if head else body)
            )


class _BenchServer:
    def __init__(self, delay: float, url_file: Path) -> None:
        self.delay = delay
        self.url_file = url_file
        self.in_flight: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.requests = 0

    def answer(self, protocol: _BenchProtocol, head: bool, path: str) -> None:
        if path == "/__stats":
            stats = {"requests": self.requests, "peak_per_host": self.peak}
            protocol.reply(json.dumps(stats).encode(), head)
            self.in_flight, self.peak, self.requests = {}, {}, 0
        elif path == "/bench.html":
            # The page linkinator starts from: every URL as a link (the list is written once the port is known).
            urls = self.url_file.read_text().split()
            page = "<!doctype html><title>bench</title>" + "".join(f'<a href="{u}">{u}</a>\n' for u in urls)
            protocol.reply(page.encode(), head, b"text/html")
        else:
            host = protocol.host
            self.requests += 1
            self.in_flight[host] = self.in_flight.get(host, 0) + 1
            self.peak[host] = max(self.peak.get(host, 0), self.in_flight[host])
            asyncio.get_running_loop().call_later(self.delay, self._done, protocol, head)

    def _done(self, protocol: _BenchProtocol, head: bool) -> None:
        self.in_flight[protocol.host] -= 1
        protocol.reply(b"", head)


async def serve(hosts: int, delay: float, url_file: Path) -> None:
    """Serve on 127.0.0.1..127.0.0.`hosts` at one port; print the port, run until stdin closes."""
    loop = asyncio.get_running_loop()
    server = _BenchServer(delay, url_file)
    first = await loop.create_server(lambda: _BenchProtocol(server), "127.0.0.1", 0, backlog=4096)
    port = first.sockets[0].getsockname()[1]
    for i in range(2, hosts + 1):
        await loop.create_server(lambda: _BenchProtocol(server), f"127.0.0.{i}", port, backlog=4096)
    print(port, flush=True)
    await loop.run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1]), float(sys.argv[2]), Path(sys.argv[3])))
