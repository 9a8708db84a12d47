"""The checker never reaches the machine it runs on or its network, and sends no secret to the wrong host."""

from __future__ import annotations

import asyncio
import shutil
import ssl
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import httpcore
import pytest

from kb.links.checker import CheckOptions, LinkChecker, check_urls
from kb.links.config import HostSettings, LinkConfig
from kb.links.results import LinkResult, Status
from kb.links.safety import PinnedBackend, address_problem
from tests.linkcheck_server import LinkServer

pytestmark = pytest.mark.network_local

STRICT = CheckOptions(timeout=2.0, retries=0)  # private addresses refused, as in real runs
# The test server is on loopback: allow exactly its address, nothing else that is private.
SERVER_ONLY = CheckOptions(timeout=2.0, retries=0, allow_networks=("127.0.0.1/32",))


@pytest.fixture(scope="module")
def server() -> Iterator[LinkServer]:
    with LinkServer() as running:
        yield running


async def _loopback(host: str, port: int) -> list[str]:
    return ["127.0.0.1"]


def check_named(url: str, options: CheckOptions, config: LinkConfig | None = None) -> list[LinkResult]:
    """Check with every host name resolving to 127.0.0.1 (no DNS involved)."""

    async def run() -> list[LinkResult]:
        async with LinkChecker(options, config, resolver=_loopback) as checker:
            return await checker.check_all([url])

    return asyncio.run(run())


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "100.100.100.200",
        "224.0.0.1",
        "0.0.0.0",
        "::1",
        "::",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "ff02::1",
        "192.0.2.1",
        "255.255.255.255",
    ],
)
def test_refused_addresses(address: str) -> None:
    assert address_problem(address) is not None


@pytest.mark.parametrize("address", ["8.8.8.8", "140.82.112.3", "2606:4700:4700::1111", "::ffff:1.1.1.1"])
def test_public_addresses(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "169.254.169.254", "0.0.0.0"])
def test_local_targets_are_refused_before_connecting(server: LinkServer, host: str) -> None:
    before = server.recorder.total()
    result = check_urls([server.url("/ok", host)], STRICT)[0]
    assert result.status is Status.unsafe and "refused" in (result.error or "")
    assert server.recorder.total() == before


@pytest.mark.parametrize(
    "target", ["http://10.0.0.1/x", "http://127.0.0.2:{port}/ok", "http://169.254.169.254/", "http://[::1]:{port}/ok"]
)
def test_redirect_to_a_private_address_is_unsafe(server: LinkServer, target: str) -> None:
    target = target.format(port=server.port)
    result = check_urls([server.url("/to/" + urllib.parse.quote(target, safe=""))], SERVER_ONLY)[0]
    assert (result.status, result.final_url) == (Status.unsafe, target)


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "file:///etc/passwd", "gopher://127.0.0.1:70/", "http://user:secret@example.com/"]
)
def test_other_schemes_and_credentials_are_refused(url: str) -> None:
    assert check_urls([url], STRICT)[0].status is Status.unsafe


def test_redirect_to_another_scheme_is_unsafe(server: LinkServer) -> None:
    result = check_urls([server.url("/to/" + urllib.parse.quote("file:///etc/passwd", safe=""))], SERVER_ONLY)[0]
    assert result.status is Status.unsafe


def test_connection_goes_to_the_checked_address(server: LinkServer) -> None:
    # `.invalid` never resolves: the request can only succeed by connecting to the address the check resolved.
    result = check_named(server.url("/ok", "pinned.invalid"), SERVER_ONLY)[0]
    assert result.status is Status.ok
    assert server.recorder.hosts[-1] == f"pinned.invalid:{server.port}"  # the URL's host, not the address


def test_pinned_backend_refuses_other_hosts() -> None:
    backend = PinnedBackend("a.test", ["127.0.0.1"])
    with pytest.raises(httpcore.ConnectError, match="pinned"):
        asyncio.run(backend.connect_tcp("b.test", 80))


def test_host_headers_do_not_cross_hosts(server: LinkServer) -> None:
    config = LinkConfig(hosts={"a.test": HostSettings(headers={"X-Secret": "s3cret"})})
    target = urllib.parse.quote(server.url("/ok", "b.test"), safe="")
    result = check_named(server.url(f"/to/{target}", "a.test"), SERVER_ONLY, config)[0]
    assert result.status is Status.ok
    sent = {h["Host"].split(":")[0]: h for h in server.recorder.headers[-2:]}
    assert sent["a.test"].get("X-Secret") == "s3cret"
    assert "X-Secret" not in sent["b.test"]


def test_token_goes_to_its_host_over_https_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "tok")
    config = LinkConfig(hosts={"github.com": HostSettings(token_env="GITHUB_TOKEN")})
    assert config.headers_for("github.com", "https") == {"Authorization": "Bearer tok"}
    assert config.headers_for("github.com", "http") == {}
    assert config.headers_for("gitlab.com", "https") == {}
    monkeypatch.delenv("GITHUB_TOKEN")
    assert config.headers_for("github.com", "https") == {}


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LinkServer, Path]]:
    """The test server behind TLS, with a self-signed certificate for `pinned.test` only."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command to make a certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    command = "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=pinned.test"
    extra = ["-addext", "subjectAltName=DNS:pinned.test", "-keyout", str(key), "-out", str(cert)]
    subprocess.run(command.split() + extra, check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with LinkServer() as running:
        running.server.socket = context.wrap_socket(running.server.socket, server_side=True)
        yield running, cert


def check_tls(url: str, cert: Path) -> LinkResult:
    async def run() -> LinkResult:
        trusting = ssl.create_default_context(cafile=str(cert))
        async with LinkChecker(SERVER_ONLY, resolver=_loopback, ssl_context=trusting) as checker:
            return await checker.check(url)

    return asyncio.run(run())


def test_tls_connection_to_the_checked_address_verifies_the_url_host(tls_server: tuple[LinkServer, Path]) -> None:
    server, cert = tls_server
    result = check_tls(f"https://pinned.test:{server.port}/ok", cert)
    assert (result.status, result.http_status) == (Status.ok, 200)
    # Same address, another name: the certificate is checked against the URL's host, so this must fail.
    wrong = check_tls(f"https://other.test:{server.port}/ok", cert)
    assert wrong.status is Status.error and "certificate" in (wrong.error or "").lower()
