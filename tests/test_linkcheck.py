"""The link checker against a real HTTP server on 127.0.0.1: statuses, redirects, retries, limits, caps."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import itertools
import socket
from collections.abc import Iterator

import pytest

from kb.links.checker import CheckOptions, LinkChecker, check_urls, retry_after_seconds
from kb.links.config import HostSettings, LinkConfig
from kb.links.host import Host
from kb.links.results import LinkResult, Status
from tests.linkcheck_server import LinkServer

pytestmark = pytest.mark.network_local

# Loopback is refused by default; these tests check behaviour, test_linkcheck_safety.py checks the refusal.
FAST = CheckOptions(
    allow_private=True, timeout=2.0, retries=2, backoff_base=0.01, backoff_cap=0.05, retry_after_cap=5.0
)


@pytest.fixture(scope="module")
def server() -> Iterator[LinkServer]:
    with LinkServer() as running:
        yield running


def check(server: LinkServer, path: str, options: CheckOptions = FAST, config: LinkConfig | None = None) -> LinkResult:
    return check_urls([server.url(path)], options, config)[0]


async def to_loopback(host: str, port: int) -> list[str]:
    """Every name resolves to the test server, so that one server plays many hosts."""
    return ["127.0.0.1"]


def check_named(urls: list[str], options: CheckOptions = FAST) -> list[LinkResult]:
    """Check URLs whose host names all lead to the test server."""

    async def run() -> list[LinkResult]:
        async with LinkChecker(options, resolver=to_loopback) as checker:
            return await checker.check_all(urls)

    return asyncio.run(run())


def test_ok(server: LinkServer) -> None:
    result = check(server, "/ok")
    assert (result.status, result.http_status, result.attempts, result.error) == (Status.ok, 200, 1, None)
    assert result.checked_at.endswith("Z")


@pytest.mark.parametrize("code", [404, 410])
def test_gone_is_broken(server: LinkServer, code: int) -> None:
    result = check(server, f"/status/{code}")
    assert (result.status, result.http_status) == (Status.broken, code)


@pytest.mark.parametrize(("code", "status"), [(401, Status.blocked), (999, Status.blocked), (418, Status.error)])
def test_other_codes(server: LinkServer, code: int, status: Status) -> None:
    assert check(server, f"/status/{code}").status is status


@pytest.mark.parametrize("code", [301, 308])
def test_permanent_redirect_reports_the_new_address(server: LinkServer, code: int) -> None:
    result = check(server, f"/redirect/{code}/ok")
    assert result.status is Status.redirected
    assert result.moved_to == result.final_url == server.url("/ok")


@pytest.mark.parametrize("code", [302, 307])
def test_temporary_redirect_is_ok(server: LinkServer, code: int) -> None:
    result = check(server, f"/redirect/{code}/ok")
    assert (result.status, result.moved_to, result.final_url) == (Status.ok, None, server.url("/ok"))


def test_chain_moves_to_the_end_of_its_permanent_part(server: LinkServer) -> None:
    result = check(server, "/redirect/301/redirect/308/redirect/302/redirect/307/ok")
    assert result.status is Status.redirected
    assert result.moved_to == server.url("/redirect/302/redirect/307/ok")
    assert result.final_url == server.url("/ok")
    assert result.attempts == 5


def test_redirect_to_a_missing_page_is_broken(server: LinkServer) -> None:
    result = check(server, "/redirect/301/status/404")
    assert (result.status, result.final_url) == (Status.broken, server.url("/status/404"))


def test_redirect_loop_is_broken(server: LinkServer) -> None:
    result = check(server, "/loop/a")
    assert result.status is Status.broken
    assert "redirect loop" in (result.error or "")


def test_cookie_set_on_a_redirect_is_sent_back(server: LinkServer) -> None:
    result = check(server, "/cookie")  # without the cookie this redirect would loop
    assert (result.status, result.attempts) == (Status.ok, 2)


def test_redirect_limit(server: LinkServer) -> None:
    result = check(
        server, "/redirect/302/redirect/302/redirect/302/ok", CheckOptions(**{**FAST.__dict__, "max_redirects": 2})
    )
    assert result.status is Status.error and "more than 2 redirects" in (result.error or "")


def test_head_refused_falls_back_to_get(server: LinkServer) -> None:
    result = check(server, "/nohead")
    assert (result.status, result.http_status, result.attempts) == (Status.ok, 200, 2)


def test_not_found_on_head_is_confirmed_with_get(server: LinkServer) -> None:
    result = check(server, "/head404")
    assert (result.status, result.http_status, result.attempts) == (Status.ok, 200, 2)


def test_host_that_mishandles_head_gets_get_only(server: LinkServer) -> None:
    config = LinkConfig(hosts={"127.0.0.1": HostSettings(head=False)})
    result = check(server, "/nohead", config=config)
    assert (result.status, result.attempts) == (Status.ok, 1)


def test_accepted_codes(server: LinkServer) -> None:
    config = LinkConfig(hosts={"127.0.0.1": HostSettings(accept=[418])})
    assert check(server, "/status/418", config=config).status is Status.ok


@pytest.mark.parametrize("form", ["seconds", "date"])
def test_429_waits_for_retry_after_then_succeeds(server: LinkServer, form: str) -> None:
    path = f"/retry-after/{form}/{form}"
    result = check(server, path)
    assert (result.status, result.attempts) == (Status.ok, 2)
    first, second = server.recorder.times[path]
    assert second - first >= 0.9  # the server asked for at least one second; the backoff alone is 0.05 s at most


def test_retry_after_beyond_the_cap_gives_up_at_once(server: LinkServer) -> None:
    result = check(server, "/retry-after/long/long")
    assert (result.status, result.attempts) == (Status.rate_limited, 1)
    assert "3600" in (result.error or "")


def test_503_is_retried(server: LinkServer) -> None:
    result = check(server, "/flaky/one")
    assert (result.status, result.attempts) == (Status.ok, 2)


def test_persistent_503_is_an_error_after_the_retries(server: LinkServer) -> None:
    result = check(server, "/status/503")
    assert (result.status, result.http_status, result.attempts) == (Status.error, 503, 3)


def test_slow_response_times_out(server: LinkServer) -> None:
    options = CheckOptions(**{**FAST.__dict__, "timeout": 0.3, "retries": 1})
    result = check(server, "/slow", options)
    assert (result.status, result.attempts) == (Status.timeout, 2)


def test_total_time_cap(server: LinkServer) -> None:
    options = CheckOptions(**{**FAST.__dict__, "timeout": 5.0, "total_timeout": 0.5})
    assert check(server, "/slow", options).status is Status.timeout


def test_huge_body_is_read_no_further_than_the_cap(server: LinkServer) -> None:
    result = check(server, "/huge")
    assert (result.status, result.http_status) == (Status.ok, 200)
    # 100 MB offered; the checker stops after 16 KiB, and what the server got out is what the socket buffers held.
    assert server.recorder.huge_sent < 20 * 2**20


@pytest.mark.parametrize(("errno", "status"), [(socket.EAI_NONAME, Status.broken), (socket.EAI_AGAIN, Status.error)])
def test_dns_failure(errno: int, status: Status) -> None:
    async def fails(host: str, port: int) -> list[str]:
        raise socket.gaierror(errno, "no such name" if errno == socket.EAI_NONAME else "try again")

    async def run() -> LinkResult:
        async with LinkChecker(FAST, resolver=fails) as checker:
            return await checker.check("http://no-such-host.invalid/")

    result = asyncio.run(run())  # a name that does not exist is broken; a resolver that fails may pass
    assert result.status is status and (result.error or "").startswith("DNS")


def test_per_host_limit_is_never_exceeded(server: LinkServer) -> None:
    urls = [server.url(f"/count/{i}") for i in range(30)] + [server.url(f"/count/{i}", "localhost") for i in range(30)]
    options = CheckOptions(**{**FAST.__dict__, "per_host": 3})
    results = check_urls(urls, options)
    assert [r.status for r in results] == [Status.ok] * 60
    assert server.recorder.peak[f"127.0.0.1:{server.port}"] == 3  # reached, never passed
    assert server.recorder.peak[f"localhost:{server.port}"] == 3


def test_connections_are_reused_and_never_more_than_the_per_host_limit(server: LinkServer) -> None:
    urls = [server.url(f"/count/{i}", "reuse.test") for i in range(40)]
    results = check_named(urls, CheckOptions(**{**FAST.__dict__, "per_host": 3}))
    assert all(r.status is Status.ok for r in results)
    assert 1 <= len(server.recorder.connections[f"reuse.test:{server.port}"]) <= 3  # 40 requests, 3 connections


def test_a_connection_the_server_closes_is_not_reused(server: LinkServer) -> None:
    urls = [server.url(f"/close/{i}", "closing.test") for i in range(6)]
    results = check_named(urls, CheckOptions(**{**FAST.__dict__, "per_host": 1}))
    assert [(r.status, r.attempts) for r in results] == [(Status.ok, 1)] * 6
    assert len(server.recorder.connections[f"closing.test:{server.port}"]) == 6  # one new connection each


def test_global_limit_is_never_exceeded(server: LinkServer) -> None:
    hosts = ["a.test", "b.test", "c.test"]
    options = CheckOptions(**{**FAST.__dict__, "concurrency": 2})
    results = check_named([server.url(f"/count/{i}", h) for h in hosts for i in range(8)], options)
    assert all(r.status is Status.ok for r in results)
    assert sum(server.recorder.peak[f"{h}:{server.port}"] for h in hosts) >= 2
    # The server counts per host; at most 2 in flight overall means no host ever saw more than 2.
    assert max(server.recorder.peak[f"{h}:{server.port}"] for h in hosts) <= 2


def test_rate_limited_host_slows_only_itself(server: LinkServer) -> None:
    check_named(
        [server.url("/retry-after/pause/seconds", "slow.test")]
        + [server.url(f"/other/{i}", "fast.test") for i in range(8)]
    )
    paused = server.recorder.times["/retry-after/pause/seconds"]
    others = [t for i in range(8) for t in server.recorder.times[f"/other/{i}"]]
    assert max(others) < paused[1]  # the other host finished while this one waited out its Retry-After


def test_polite_minimum_interval(server: LinkServer) -> None:
    config = LinkConfig(hosts={"127.0.0.1": HostSettings(min_interval=0.2)})
    results = check_urls([server.url(f"/interval/{i}") for i in range(4)], FAST, config)
    assert all(r.status is Status.ok for r in results)
    assert len({server.recorder.times[f"/interval/{i}"][0] for i in range(4)}) == 4


def test_pacing_keeps_min_interval_and_pauses_on_an_injected_clock() -> None:
    """The host's turn-taking on a fake clock: exact, and no real time spent (a wall-clock check was flaky)."""
    now = [100.0]
    starts: list[float] = []

    async def sleep(seconds: float) -> None:
        now[0] += seconds

    async def four_turns() -> None:
        host = Host("h", HostSettings(min_interval=0.2), asyncio.Semaphore(1), clock=lambda: now[0], sleep=sleep)
        for i in range(4):
            if i == 2:
                host.pause(1.0)  # a 429 asked for a second's rest
            await host._wait_turn()
            starts.append(now[0])

    asyncio.run(four_turns())
    assert [round(b - a, 6) for a, b in itertools.pairwise(starts)] == [0.2, 1.0, 0.2]


def test_retry_after_parsing() -> None:
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    later = email.utils.format_datetime(now + dt.timedelta(seconds=30), usegmt=True)
    assert retry_after_seconds("120", now) == 120
    assert retry_after_seconds(later, now) == 30
    assert retry_after_seconds("Thu, 01 Jan 1970 00:00:00 GMT", now) == 0
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds(None, now) is None
