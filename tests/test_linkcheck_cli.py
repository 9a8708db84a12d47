"""`kb linkcheck` end to end against a local server: cache, formats, exit codes, --fix, --changed, site output."""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.bench.links import run_linkcheck_benchmark
from kb.catalog.load import load_catalog
from kb.catalog.schema import Entry
from kb.cli import main as kb_main
from kb.links.cli import looks_offline
from kb.links.config import load_link_config
from kb.links.report import escape, link_badge, render_link_health
from kb.links.results import DEFAULT_CACHE, LinkResult, Status, load_link_results, save_link_results
from tests.conftest import CATALOG
from tests.linkcheck_server import LinkServer

pytestmark = pytest.mark.network_local


def main(argv: list[str]) -> int:
    return kb_main(["linkcheck", *argv])


ENTRY = """\
# yaml-language-server: $schema=../entry.schema.json
# A comment that --fix must keep.
id: {id}
kind: tool
title: A tool to check
url: {url}   # the home page
code:
- url: '{code}'
  framework: cpp
categories:
- deployment
added: 2026-11-25
"""


@pytest.fixture(scope="module")
def server() -> Iterator[LinkServer]:
    with LinkServer() as running:
        yield running


def run(*args: str | Path) -> int:
    return main(["--allow-private", "--timeout", "2", "--retries", "0", *map(str, args)])


def make_catalog(tmp: Path, entries: dict[str, tuple[str, str]]) -> Path:
    root = tmp / "catalog"
    (root / "tool").mkdir(parents=True)
    for name in ("taxonomy.yaml", "venues.yaml"):
        shutil.copy(CATALOG / name, root / name)
    for entry_id, (url, code) in entries.items():
        (root / "tool" / f"{entry_id}.yaml").write_text(ENTRY.format(id=entry_id, url=url, code=code), "utf-8")
    return root


def test_cache_hits_and_expiry(server: LinkServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"# a comment\n{server.url('/cache/a')}\n\n{server.url('/cache/b')}\n")
    cache = tmp_path / "cache.json"
    assert run("--url-file", urls, "--cache", cache) == 0
    hits = dict(server.recorder.hits)
    assert hits["/cache/a"] == hits["/cache/b"] == 1
    assert set(load_link_results(cache)) == {server.url("/cache/a"), server.url("/cache/b")}

    assert run("--url-file", urls, "--cache", cache) == 0  # fresh results: no request at all
    assert server.recorder.hits["/cache/a"] == 1
    assert "(2 from the cache)" in capsys.readouterr().out

    results = load_link_results(cache)
    results[server.url("/cache/a")].checked_at = "2026-01-01T00:00:00Z"  # older than 7 days
    save_link_results(cache, results)
    assert run("--url-file", urls, "--cache", cache) == 0
    assert (server.recorder.hits["/cache/a"], server.recorder.hits["/cache/b"]) == (2, 1)

    assert run("--url-file", urls, "--cache", cache, "--max-age", "0") == 0
    assert (server.recorder.hits["/cache/a"], server.recorder.hits["/cache/b"]) == (3, 2)


def test_transient_results_are_checked_again(server: LinkServer, tmp_path: Path) -> None:
    url = server.url("/cache/transient")
    cache = tmp_path / "cache.json"
    save_link_results(cache, {url: LinkResult(url, Status.timeout, checked_at="2099-01-01T00:00:00Z")})
    (tmp_path / "urls.txt").write_text(url + "\n")
    assert run("--url-file", tmp_path / "urls.txt", "--cache", cache) == 0
    assert server.recorder.hits["/cache/transient"] == 1
    assert load_link_results(cache)[url].status is Status.ok


def test_json_format_and_exit_codes(server: LinkServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.url('/ok')}\n{server.url('/status/404')}\n{server.url('/status/403')}\n")
    assert run("--url-file", urls, "--no-cache", "--format", "json") == 1  # one broken link
    items = json.loads(capsys.readouterr().out)
    assert [i["status"] for i in items] == ["ok", "broken", "blocked"]
    assert {"url", "status", "http_status", "final_url", "checked_at", "attempts", "error"} <= set(items[0])
    assert run("--url-file", urls, "--no-cache", "--fail-on", "none") == 0
    assert run("--url-file", urls, "--no-cache", "--fail-on", "blocked") == 1
    urls.write_text(f"{server.url('/status/403')}\n")
    assert run("--url-file", urls, "--no-cache") == 0  # blocked is not broken


def test_markdown_format(server: LinkServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    urls = tmp_path / "urls.txt"
    urls.write_text(f"{server.url('/status/410')}\n{server.url('/ok')}\n")
    run("--url-file", urls, "--no-cache", "--format", "markdown")
    out = capsys.readouterr().out
    assert "1 broken" in out and "1 ok" in out
    assert f'href="{server.url("/status/410")}"' in out and "/ok" not in out


def test_fix_rewrites_only_the_moved_urls(server: LinkServer, tmp_path: Path) -> None:
    moved, temporary = server.url("/redirect/301/ok"), server.url("/redirect/302/ok")
    root = make_catalog(
        tmp_path, {"movedtool": (moved, server.url("/redirect/308/ok")), "tempotool": (temporary, server.url("/ok"))}
    )
    before = {p.name: p.read_text() for p in (root / "tool").iterdir()}
    assert run("--catalog", root, "--cache", tmp_path / "cache.json", "--fix") == 0
    after = {p.name: p.read_text() for p in (root / "tool").iterdir()}
    expected = (
        before["movedtool.yaml"]
        .replace(moved, server.url("/ok"))
        .replace(server.url("/redirect/308/ok"), server.url("/ok"))
    )
    assert after["movedtool.yaml"] == expected  # comments, quotes and spacing kept
    assert after["tempotool.yaml"] == before["tempotool.yaml"]
    catalog, problems = load_catalog(root)
    assert problems == []
    assert catalog.by_id()["movedtool"].url == server.url("/ok")
    assert load_link_results(tmp_path / "cache.json")[server.url("/ok")].status is Status.ok


def test_changed_checks_only_changed_entries(server: LinkServer, tmp_path: Path) -> None:
    root = make_catalog(
        tmp_path,
        {
            "keptone": (server.url("/changed/kept"), server.url("/changed/kept-code")),
            "editone": (server.url("/changed/old"), server.url("/changed/edit-code")),
        },
    )

    def git(*args: str) -> None:
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path, check=True, capture_output=True
        )

    git("init", "-q")
    git("add", ".")
    git("commit", "-q", "-m", "start")
    edited = root / "tool" / "editone.yaml"
    edited.write_text(edited.read_text().replace("/changed/old", "/changed/new"))
    before = DEFAULT_CACHE.read_bytes() if DEFAULT_CACHE.exists() else None
    assert run("--catalog", root, "--no-cache", "--changed", "HEAD") == 0
    assert (DEFAULT_CACHE.read_bytes() if DEFAULT_CACHE.exists() else None) == before  # --no-cache writes none
    hits = server.recorder.hits
    assert hits["/changed/new"] == hits["/changed/edit-code"] == 1
    assert hits["/changed/kept"] == hits["/changed/old"] == 0


def test_site_page_and_badge_escape_what_comes_from_outside() -> None:
    entries = [
        Entry.model_validate(
            {
                "id": f"tool{i}",
                "kind": "tool",
                "title": f"Tool {i} | <i>x</i>",
                "categories": ["x"],
                "added": "2026-11-25",
                "url": f"https://t{i}.example.org/",
                "arxiv": f"1704.0486{i}",
            }
        )
        for i in range(3)
    ]
    urls = [url for entry in entries for url in entry.urls()]
    evil = "https://e.com/a|b<script>*x*</script>"
    results = {
        urls[0]: LinkResult(urls[0], Status.broken, 404, checked_at="2026-11-20T10:00:00Z", error="HTTP 404 <b>|"),
        urls[1]: LinkResult(urls[1], Status.redirected, 200, checked_at="2026-11-21T10:00:00Z", moved_to=evil),
        urls[2]: LinkResult(urls[2], Status.ok, 200, checked_at="2026-11-22T10:00:00Z"),
    }
    page = render_link_health(results, entries)
    assert "## Broken (1)" in page and "## Moved (1)" in page
    assert "2026-11-20" in page
    assert f"Not checked yet: {len(set(urls)) - 3} of the {len(set(urls))} addresses" in page
    assert "<script>" not in page and "<b>" not in page and "<i>" not in page
    for line in page.splitlines():
        if line.startswith("| ") and "---" not in line:
            assert line.count("|") == 5  # no cell was split by a | from outside
    assert link_badge(None) == ""  # no badge before a check has a result
    badge = link_badge(results[urls[1]])
    assert "moved" in badge and "2026-11-21" in badge and "<script>" not in badge
    assert escape("a|b") == "a&#124;b"


def test_committed_settings_load() -> None:
    config = load_link_config()
    assert config.for_host("export.arxiv.org").min_interval == 3  # the arXiv API's own rule
    assert config.for_host("github.com").token_env == "GITHUB_TOKEN"
    assert "efficient-dnn-kb" in config.user_agent
    assert config.excluded_by("https://www.linkedin.com/in/someone") is not None


@pytest.mark.slow  # two Python processes start up
@pytest.mark.skipif(sys.platform != "linux", reason="needs 127.0.0.2 and up, which only Linux routes by default")
def test_benchmark_setup_counts_and_stays_polite() -> None:
    report = run_linkcheck_benchmark(urls=60, hosts=3, delay=0.02, per_host=2, linkinator=False, rounds=2)
    ours = report["kb_linkcheck"]
    assert ours["statuses"] == {"ok": 60} and ours["requests"] == 60
    assert len(ours["urls_per_s_rounds"]) == 2
    # The figure is the median of the rounds (with two rounds: their mean), not the best round.
    assert ours["urls_per_s"] == pytest.approx(statistics.median(ours["urls_per_s_rounds"]), abs=0.1)
    assert ours["max_in_flight_per_host"] == 2  # the limit, reached and never passed
    assert report["ceiling_urls_per_s"] == 3 * 2 / 0.02


def test_no_name_resolving_anywhere_is_offline_not_broken() -> None:
    gone = [LinkResult(f"https://h{i}.example.org/", Status.broken, error="DNS: no such name") for i in range(3)]
    assert looks_offline(gone)
    assert not looks_offline(gone[:2])  # two hosts may really be gone
    assert not looks_offline([*gone, LinkResult("https://ok.example.org/", Status.ok)])
