"""Check that links still work: fast, polite to every host, and safe to run on addresses from strangers.

Each URL ends in one `Status`. Requests start with HEAD and fall back to a streamed GET, read no further than
`body_cap` bytes, where HEAD is refused (405, 403, 501, 400), where the host is known to mishandle it, and to
confirm a 404 or 410 before calling a link broken. Connection errors, timeouts, 429 and 5xx are retried with
exponential backoff and jitter, or after the server's `Retry-After` when it gives one no longer than
`retry_after_cap` (a longer one ends the check as it stands). A 429 or 503 pauses the whole host, so one
rate-limited host slows only itself. Redirects are followed by hand, so that every hop is checked for safety
(`kb.links.safety`), loops are caught, and a chain of permanent redirects (301, 308) from the first hop on is
reported with the address it leads to (`moved_to`, which `kb linkcheck --fix` writes back).

Built on the httpx project's stack: `httpx.URL` parses and joins addresses (IDNA, percent-encoding), and
httpcore's HTTP/1.1 and HTTP/2 connections speak the protocol. Throughput (`kb bench linkcheck`,
`kb.bench.links`): each host has `per_host` workers pulling from its queue and connections of its own
(`kb.links.pool`); requests go to them directly, without `httpx.AsyncClient` and its general connection pool,
whose per-request bookkeeping is, after HTTP parsing itself, the largest cost of requests this small in a profile
of the benchmark (`python -m cProfile -m kb.bench.links URL_FILE 4`, with `kb.bench.linkserver` running). And
`sniffio` must be installed: without it httpcore retries a failing import, searching `sys.path`, several times
per request.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import random
import ssl
import urllib.parse
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpcore
import httpx

from kb.links.config import LinkConfig
from kb.links.host import Answer, Host, HostPolicy, open_host
from kb.links.results import LinkResult, Status, utc_now
from kb.links.safety import Resolver, resolve

REDIRECTS = frozenset({301, 302, 303, 307, 308})
PERMANENT = frozenset({301, 308})
# Answers to HEAD that a GET may not give: HEAD refused or mishandled, and any "gone" verdict, which is confirmed
# with a GET before a link is called broken (some servers answer HEAD with 404 for pages they serve).
HEAD_RETRIED_WITH_GET = frozenset({400, 403, 404, 405, 410, 501})
BLOCKED = frozenset({401, 403, 999})  # 999: LinkedIn's answer to robots


@dataclass(frozen=True)
class CheckOptions:
    """Limits and manners of a run (defaults for real sites; tests pass short ones)."""

    timeout: float = 15.0  # per request: connect, each read, each write
    total_timeout: float = 120.0  # per URL, from its first request to its result, retries and hops included
    concurrency: int = 100  # requests in flight over all hosts
    per_host: int = 4  # requests in flight per host, unless the host's settings say otherwise
    max_redirects: int = 10
    retries: int = 3
    backoff_base: float = 1.0  # first retry after about this many seconds, doubling each time
    backoff_cap: float = 30.0
    retry_after_cap: float = 60.0
    body_cap: int = 16 * 1024  # bytes of a GET body read at most
    allow_private: bool = False  # lift the address checks (tests, local use)
    allow_networks: tuple[str, ...] = ()  # networks allowed even when not public, e.g. an intranet mirror
    http2: bool = True


def retry_after_seconds(value: str | None, now: dt.datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    when = when if when.tzinfo else when.replace(tzinfo=dt.UTC)
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


@dataclass
class _Tally:
    """What one URL's check has gathered: requests sent, addresses visited, cookies set (per host, this URL only)."""

    requests: int = 0
    seen: list[str] = field(default_factory=list)
    cookies: dict[str, dict[str, str]] = field(default_factory=dict)


class LinkChecker:
    """Checks URLs with the given options and settings; use one per run (`async with` closes its connections)."""

    def __init__(
        self,
        options: CheckOptions | None = None,
        config: LinkConfig | None = None,
        resolver: Resolver = resolve,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.options = options or CheckOptions()
        self.config = config or LinkConfig()
        self._hosts: dict[str, asyncio.Task[Host]] = {}
        self._global = asyncio.Semaphore(self.options.concurrency)
        # Loading the CA bundle costs tens of milliseconds: once per run, not once per host.
        tls = ssl_context or ssl.create_default_context()
        # ALPN: HTTP/2 offered first unless turned off; the server picks (`kb.links.pool` reads its choice).
        tls.set_alpn_protocols(["h2", "http/1.1"] if self.options.http2 else ["http/1.1"])
        self._policy = HostPolicy(resolver, tls, self.options.allow_private, self.options.allow_networks)
        timeout = self.options.timeout
        self._extensions = {"timeout": {"connect": timeout, "read": timeout, "write": timeout}}

    async def __aenter__(self) -> LinkChecker:
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in self._hosts.values():
            if not task.done():
                task.cancel()
            elif not task.cancelled() and (pool := task.result().pool) is not None:
                await pool.aclose()

    def _limit(self, host: str) -> int:
        return self.config.for_host(host).per_host or self.options.per_host

    async def check_all(
        self, urls: Iterable[str], on_result: Callable[[LinkResult], None] | None = None
    ) -> list[LinkResult]:
        """Check every URL, `per_host` at a time per host; results come back in the order of `urls`."""
        queues: dict[str, deque[str]] = {}
        order = list(dict.fromkeys(urls))
        for url in order:
            queues.setdefault(_host_of(url), deque()).append(url)
        results: dict[str, LinkResult] = {}

        async def worker(queue: deque[str]) -> None:
            while queue:
                url = queue.popleft()
                results[url] = await self.check(url)
                if on_result is not None:
                    on_result(results[url])

        await asyncio.gather(*(worker(q) for host, q in queues.items() for _ in range(min(self._limit(host), len(q)))))
        return [results[url] for url in order]

    async def check(self, url: str) -> LinkResult:
        """Check one URL, following its redirects, within `total_timeout`."""
        tally = _Tally()
        try:
            async with asyncio.timeout(self.options.total_timeout):
                result = await self._follow(url, tally)
        except TimeoutError:
            result = LinkResult(url, Status.timeout, error=f"no answer within {self.options.total_timeout:g} s in all")
        except Exception as error:  # one strange server must not end the run: its URL gets the error
            result = LinkResult(url, Status.error, error=f"{type(error).__name__}: {error}")
        result.attempts, result.checked_at = tally.requests, utc_now()
        return result

    async def _follow(self, url: str, tally: _Tally) -> LinkResult:
        current, moved_to, permanent = url, None, True
        for _ in range(self.options.max_redirects + 1):
            tally.seen.append(current)
            final = current if current != url else None
            try:
                parsed = httpx.URL(current)
            except httpx.InvalidURL as error:
                return LinkResult(url, Status.error, final_url=final, error=f"invalid URL: {error}")
            if parsed.scheme not in ("http", "https") or parsed.userinfo:
                reason = "credentials in the URL" if parsed.userinfo else f"scheme {parsed.scheme or 'none'!r}"
                return LinkResult(url, Status.unsafe, final_url=final, error=f"refused: {reason}")
            host = await self._host(parsed.raw_host.decode("ascii"), parsed.port or 443)
            if host.failure is not None:
                return LinkResult(url, host.failure[0], final_url=final, error=host.failure[1])
            answer = await self._fetch(host, parsed, tally)
            if answer.failure is not None:
                return LinkResult(url, answer.failure[0], answer.code, final, error=answer.failure[1])
            code = answer.code or 0
            if code in REDIRECTS and answer.location:
                try:
                    target = str(parsed.join(answer.location))
                except httpx.InvalidURL as error:
                    return LinkResult(url, Status.error, code, final, error=f"bad redirect target: {error}")
                permanent = permanent and code in PERMANENT
                moved_to = target if permanent else moved_to
                if target in tally.seen and not answer.cookies:  # a new cookie may end a loop: let max_redirects judge
                    loop = " -> ".join([*tally.seen[tally.seen.index(target) :], target])
                    return LinkResult(url, Status.broken, code, target, error=f"redirect loop: {loop}")
                current = target
                continue
            return self._verdict(url, code, final, moved_to, host.name)
        return LinkResult(url, Status.error, None, current, error=f"more than {self.options.max_redirects} redirects")

    def _verdict(self, url: str, code: int, final: str | None, moved_to: str | None, host: str) -> LinkResult:
        if 200 <= code < 300 or code in self.config.for_host(host).accept:
            status = Status.redirected if moved_to and moved_to != url else Status.ok
            return LinkResult(url, status, code, final, moved_to=moved_to if status is Status.redirected else None)
        if code in (404, 410):
            return LinkResult(url, Status.broken, code, final, error=f"HTTP {code}")
        if code in BLOCKED:
            return LinkResult(url, Status.blocked, code, final, error=f"HTTP {code}: the site refuses robots")
        if code == 429:
            return LinkResult(url, Status.rate_limited, code, final, error="HTTP 429 after every retry")
        return LinkResult(url, Status.error, code, final, error=f"HTTP {code}")

    async def _host(self, name: str, port: int) -> Host:
        """The host's state, resolved and checked once per run; concurrent callers share the one lookup."""
        if name not in self._hosts:
            opening = open_host(name, port, self.config.for_host(name), self._limit(name), self._policy)
            self._hosts[name] = asyncio.ensure_future(opening)
        return await asyncio.shield(self._hosts[name])

    async def _fetch(self, host: Host, url: httpx.URL, tally: _Tally) -> Answer:
        """One hop: HEAD (or GET), falling back to GET, retried on failures that may pass."""
        options = self.options
        method = "HEAD" if host.settings.head else "GET"
        headers = [
            (b"Host", url.netloc),
            (b"User-Agent", self.config.user_agent.encode()),
            (b"Accept", b"*/*"),
            *((k.encode(), v.encode()) for k, v in self.config.headers_for(host.name, url.scheme).items()),
        ]
        target = httpcore.URL(scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path)
        retry = 0
        while True:
            tally.requests += 1
            sent = headers
            if jar := tally.cookies.get(host.name):
                sent = [*headers, (b"Cookie", "; ".join(f"{name}={value}" for name, value in jar.items()).encode())]
            request = httpcore.Request(method, target, headers=sent, extensions=self._extensions)
            answer = await host.send(request, self._global, options.body_cap)
            for cookie in answer.cookies:
                # Kept for this URL's own later hops to the same host: some sites set a cookie and redirect to
                # check it, and without it their redirects loop.
                name, _, value = cookie.split(";", 1)[0].partition("=")
                tally.cookies.setdefault(host.name, {})[name.strip()] = value.strip()
            if method == "HEAD" and answer.code in HEAD_RETRIED_WITH_GET:
                method = "GET"
                continue
            transient = answer.failure is not None or answer.code == 429 or (answer.code or 0) >= 500
            if not transient or retry >= options.retries:
                if answer.code == 429 or (answer.code or 0) >= 500:
                    answer.failure = None  # judged by its status code
                return answer
            wait = min(options.backoff_cap, options.backoff_base * 2**retry) * random.uniform(0.5, 1.0)
            told = retry_after_seconds(answer.retry_after) if answer.code in (429, 503) else None
            if told is not None and told > options.retry_after_cap:
                answer.failure = (
                    Status.rate_limited if answer.code == 429 else Status.error,
                    f"HTTP {answer.code}: Retry-After {told:.0f} s is beyond the cap of {options.retry_after_cap:g} s",
                )
                return answer
            if answer.code in (429, 503):
                wait = told if told is not None else wait
                host.pause(wait)
            await asyncio.sleep(wait)
            retry += 1


def _host_of(url: str) -> str:
    """The host to queue `url` under (the standard library's parser: cheaper than httpx's, and enough here)."""
    try:
        return urllib.parse.urlsplit(url).hostname or ""
    except ValueError:
        return ""


def check_urls(
    urls: Iterable[str],
    options: CheckOptions | None = None,
    config: LinkConfig | None = None,
    on_result: Callable[[LinkResult], None] | None = None,
) -> list[LinkResult]:
    """Check `urls` and return their results in order (runs its own event loop)."""

    async def run() -> list[LinkResult]:
        async with LinkChecker(options, config) as checker:
            return await checker.check_all(urls, on_result)

    return asyncio.run(run())
