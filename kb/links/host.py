"""One host as the link checker sees it: its checked addresses, its own connections, its limit and its pace.

Every host gets its own connection pool, pinned to the addresses that passed the safety check (`kb.links.safety`),
and its own semaphore of `per_host` slots. A request waits for a slot of its host first, then for the host's
turn (a pause after a 429 or 503, or the host's polite `min_interval`), and only then for one of the run's global
slots, so a slow or paused host never holds global slots that other hosts could use.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpcore

from kb.links.config import HostSettings
from kb.links.pool import HostPool
from kb.links.results import Status
from kb.links.safety import Resolver, address_in, address_problem


@dataclass
class Answer:
    """What one request came back with: a status code and the headers that matter, or a failure."""

    code: int | None = None
    location: str | None = None
    retry_after: str | None = None
    failure: tuple[Status, str] | None = None
    cookies: list[str] = field(default_factory=list)


@dataclass
class Host:
    """One host's connections, limit and pacing; `failure` holds the result of every URL when it may not be used."""

    name: str
    settings: HostSettings
    slots: asyncio.Semaphore
    pool: HostPool | None = None
    failure: tuple[Status, str] | None = None
    next_start: float = 0.0
    paused_until: float = 0.0
    # The clock and the sleep the pacing uses; tests give a fake pair, so pacing is checked without real waiting.
    clock: Callable[[], float] = time.monotonic
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def pause(self, seconds: float) -> None:
        """Hold every request to this host for `seconds` (a 429 or 503 asked for it)."""
        self.paused_until = max(self.paused_until, self.clock() + seconds)

    async def _wait_turn(self) -> None:
        """Sleep until this host may see the next request: its pause is over and `min_interval` has passed."""
        while True:
            now = self.clock()
            start = max(now, self.next_start, self.paused_until)
            if start <= now:
                self.next_start = now + self.settings.min_interval
                return
            await self.sleep(start - now)

    async def send(self, request: httpcore.Request, global_slots: asyncio.Semaphore, body_cap: int) -> Answer:
        """Send `request` in a slot of this host and a global slot, reading at most `body_cap` bytes of the body."""
        assert self.pool is not None
        async with self.slots:
            if self.settings.min_interval > 0 or self.paused_until > 0:
                await self._wait_turn()
            async with global_slots:
                try:
                    response = await self.pool.handle_async_request(request)
                    stream = response.stream
                    try:
                        # Read to the end of a short body, so that the connection can be reused; stop a long one
                        # at the cap (closing that connection).
                        read = 0
                        async for chunk in stream:  # type: ignore[union-attr]
                            read += len(chunk)
                            if read >= body_cap:
                                break
                    finally:
                        await stream.aclose()  # type: ignore[union-attr]
                except httpcore.TimeoutException as error:
                    return Answer(failure=(Status.timeout, f"{type(error).__name__}: {error}".rstrip(": ")))
                except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
                    return Answer(failure=(Status.error, f"{type(error).__name__}: {error}".rstrip(": ")))
        answer = Answer(response.status)
        for name, value in response.headers:
            name = name.lower()
            if name == b"location":
                answer.location = value.decode("latin-1")
            elif name == b"retry-after":
                answer.retry_after = value.decode("latin-1")
            elif name == b"set-cookie":
                answer.cookies.append(value.decode("latin-1"))
        return answer


@dataclass(frozen=True)
class HostPolicy:
    """What every host of a run shares: how to resolve, which addresses to allow, how to connect."""

    resolver: Resolver
    ssl_context: ssl.SSLContext
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()


async def open_host(name: str, port: int, settings: HostSettings, limit: int, policy: HostPolicy) -> Host:
    """Resolve `name`, check every address, and open a pool pinned to them (or record why the host is refused)."""
    host = Host(name, settings, asyncio.Semaphore(limit))
    try:
        addresses = await policy.resolver(name, port)
    except socket.gaierror as error:
        gone = error.errno in (socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME))
        host.failure = (Status.broken if gone else Status.error, f"DNS: {error.strerror or error}")
        return host
    except (OSError, UnicodeError) as error:
        host.failure = (Status.error, f"DNS: {error}")
        return host
    problems = (
        []
        if policy.allow_private
        else [
            problem
            for address in addresses
            if (problem := address_problem(address)) and not address_in(address, policy.allow_networks)
        ]
    )
    if problems or not addresses:
        problem = problems[0] if problems else f"{name} has no address"
        where = "" if problem.startswith(name) else f"{name}: "
        host.failure = (Status.unsafe, f"refused: {where}{problem} (--allow-private lifts this, for local use only)")
        return host
    host.pool = HostPool(name, addresses, policy.ssl_context)
    return host
