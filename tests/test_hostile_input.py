"""Hostile input, case by case: each test reproduces an attack or a bad input that `kb` once mishandled.

The numbers in the test names follow the issue that listed them ("Hostile input"); `docs/security.md` says what a
pull request can and cannot make `kb` do.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import os
import re
import socket
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from kb import paths
from kb.catalog.load import load_catalog
from kb.catalog.problems import Problem
from kb.catalog.schema import Entry
from kb.catalog.yamlio import YamlError, load_yaml
from kb.cli import main
from kb.importer.merge import WriteFailed, import_list, list_source, write_changes
from kb.importer.section_map import SectionMap
from kb.links.results import LinkResult, Status, load_link_results, save_link_results
from kb.links.safety import Refused, address_problem, fetch
from kb.lookup import arxiv
from kb.site.exports import csv_cell, xml_text
from kb.site.markdown import escape, link
from tests.conftest import CATALOG
from tests.linkcheck_server import LinkServer

ENTRY = """\
id: han2016deep
kind: paper
title: {title}
authors: [Song Han]
year: 2016
categories: [pruning]
added: 2026-01-01
"""
LOCAL = ("127.0.0.0/8",)


def entry(**fields: object) -> dict:
    return {"id": "han2016deep", "kind": "paper", "title": "Deep Compression", "categories": ["pruning"],
            "added": dt.date(2026, 1, 1), **fields}  # fmt: skip


# 1. A carriage return in a title made MkDocs' snippets extension inline `.git/config` into a page.
@pytest.mark.parametrize(
    "fields",
    [
        {"title": 'Deep\r--8<-- ".git/config"\rCompression'},
        {"title": "Deep\nCompression"},
        {"authors": ["Song\rHan"]},
        {"summary": "A summary of twenty characters\nand a second line that starts anything."},
        {"claims": [{"what": "top\r-1", "value": 1, "unit": "%", "where": "Table 1"}]},
        {"title": "x" * 301},
    ],
)
def test_1_control_characters_and_overlong_text_are_refused(fields: dict) -> None:
    with pytest.raises(ValidationError, match=r"control character|at most"):
        Entry.model_validate(entry(**fields))


def test_1_no_page_can_include_a_file_of_the_checkout() -> None:
    assert "snippets" not in (paths.ROOT / "mkdocs.yml").read_text()  # nothing reads files named in Markdown


# 2. A 427-byte file of nested aliases ran `kb validate` past 120 s and 5.4 GB.
def test_2_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    rows = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    rows += [f"{b}: &{b} [{', '.join(['*' + a] * 9)}]" for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
    (tmp_path / "bomb.yaml").write_text("\n".join(rows) + "\n")
    start = time.process_time()
    with pytest.raises(YamlError, match="aliases"):
        load_yaml(tmp_path / "bomb.yaml")
    assert time.process_time() - start < 1.0


def test_2_an_alias_of_a_plain_value_is_fine(tmp_path: Path) -> None:
    (tmp_path / "dates.yaml").write_text("a: &d 2026-12-02\nb: *d\n")  # what PyYAML's dumper writes
    assert load_yaml(tmp_path / "dates.yaml").data == {"a": dt.date(2026, 12, 2), "b": dt.date(2026, 12, 2)}


# 3. One 80 KB line of `[x](` took the importer 55 s.
def test_3_a_megabyte_line_is_imported_quickly() -> None:
    catalog, _ = load_catalog(CATALOG)
    sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
    markdown = (
        "# Pruning\n- "
        + "[x](" * 250_000
        + "\n- [Pruning Filters for Efficient ConvNets](https://arxiv.org/abs/1608.08710)\n"
    )
    start = time.process_time()
    report = import_list(markdown, list_source("a/b"), catalog, sections, dt.date(2026, 1, 1), [])
    assert time.process_time() - start < 3.0
    assert any("longer than" in reason for _, reason in report.skipped)  # reported, not silently dropped


# 4. IPv6 forms that embed an IPv4 address reached private addresses.
@pytest.mark.parametrize(
    "address",
    ["::127.0.0.1", "::10.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b:1::808:808", "2002:7f00:1::",
     "::ffff:0:10.0.0.1", "::ffff:192.168.1.1", "fec0::1", "2001:0:4136:e378:8000:63bf:3fff:fdd2"],
)  # fmt: skip
def test_4_ipv6_forms_of_private_addresses_are_refused(address: str) -> None:
    assert address_problem(address) is not None


def test_4_public_addresses_stay_allowed() -> None:
    assert [address_problem(a) for a in ("8.8.8.8", "2606:4700::1111", "64:ff9b::808:808")] == [None] * 3


@pytest.fixture(scope="module")
def server() -> Iterator[LinkServer]:
    with LinkServer() as running:
        yield running


# 5. A cached `ok` from an --allow-private run answered for a run without it; --url-file runs wrote the catalog's
# committed cache.
def test_5_a_cached_result_holds_only_under_its_address_policy(server: LinkServer, tmp_path: Path) -> None:
    urls, cache = tmp_path / "urls.txt", tmp_path / "cache.json"
    urls.write_text(server.url("/ok") + "\n")
    assert main(["linkcheck", "--url-file", str(urls), "--cache", str(cache), "--allow-private"]) == 0
    assert load_link_results(cache)[server.url("/ok")].status is Status.ok
    assert main(["linkcheck", "--url-file", str(urls), "--cache", str(cache), "--fail-on", "unsafe"]) == 1
    assert load_link_results(cache)[server.url("/ok")].status is Status.unsafe


def test_5_a_url_file_run_leaves_the_catalog_cache_alone(server: LinkServer, tmp_path: Path) -> None:
    before = paths.LINK_CACHE.read_bytes() if paths.LINK_CACHE.exists() else None
    urls = tmp_path / "urls.txt"
    urls.write_text(server.url("/ok") + "\n")
    assert main(["linkcheck", "--url-file", str(urls), "--allow-private"]) == 0
    assert (paths.LINK_CACHE.read_bytes() if paths.LINK_CACHE.exists() else None) == before


class _Hostile(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/metadata"):
            self.send_response(302)
            self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
            self.end_headers()
        elif self.path.startswith("/endless"):
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"x" * 65536)
            except OSError:
                pass
        elif self.path.startswith("/drip"):
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(40):
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(0.2)
            except OSError:
                pass
        elif self.path.startswith("/xhtml"):
            body = b'<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><body>hi</body></html>'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def hostile() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hostile)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


# 6. `kb add` followed a redirect to 169.254.169.254, read an endless body, waited forever on a drip.
def test_6_a_redirect_to_the_metadata_address_is_refused(hostile: str) -> None:
    with pytest.raises(Refused, match=r"169\.254\.169\.254.*link-local"):
        fetch(f"{hostile}/metadata", allow_networks=LOCAL)


def test_6_an_endless_body_stops_at_the_cap(hostile: str) -> None:
    with pytest.raises(Refused, match="larger than 1,000,000 bytes"):
        fetch(f"{hostile}/endless", allow_networks=LOCAL, max_bytes=1_000_000)


def test_6_a_dripping_server_stops_at_the_deadline(hostile: str) -> None:
    start = time.monotonic()
    with pytest.raises(Refused, match="longer than 1 s"):
        fetch(f"{hostile}/drip", allow_networks=LOCAL, deadline_s=1.0)
    assert time.monotonic() - start < 3.0


def test_6_loopback_needs_an_explicit_allowance(hostile: str) -> None:
    with pytest.raises(Refused, match="loopback"):
        fetch(f"{hostile}/xhtml")


def test_6_xhtml_from_the_api_is_named_for_what_it_is(hostile: str) -> None:
    with pytest.raises(arxiv.LookupFailed, match="no Atom feed"):
        arxiv.fetch_arxiv("1503.02531", f"{hostile}/xhtml", LOCAL)


def test_6_the_request_stamp_replaces_a_planted_link_instead_of_following_it(tmp_path: Path) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    stamp = tmp_path / "stamp"
    stamp.symlink_to(victim)
    arxiv._wait_politely("https://export.arxiv.org/api/query", stamp)
    assert victim.read_text() == "keep me" and not stamp.is_symlink()


# 7. Symbolic links were followed out of the catalog (and /dev/zero, a FIFO, a folder link).
def test_7_links_fifos_and_devices_are_refused_without_reading_them(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    (root / "paper").mkdir(parents=True)
    secret = tmp_path / "secret.txt"
    secret.write_text("TOKEN=abc123\n")
    (root / "paper" / "leak.yaml").symlink_to(secret)
    (root / "paper" / "zero.yaml").symlink_to("/dev/zero")
    os.mkfifo(root / "paper" / "pipe.yaml")
    (root / "tool").symlink_to(tmp_path, target_is_directory=True)
    _, problems = load_catalog(root, CATALOG)
    text = "\n".join(map(str, problems))
    assert "TOKEN" not in text
    assert "leak.yaml:1: a symbolic link" in text and "zero.yaml:1: a symbolic link" in text
    assert "pipe.yaml:1: not a regular file" in text and "tool:1: a symbolic link" in text


# 8. A file name with a newline or a comma forged GitHub annotations or their fields.
def test_8_annotations_escape_the_file_name() -> None:
    problem = Problem(Path("paper/a,line=9,title=x\n::warning::forged.yaml"), 3, "title", "bad\nvalue")
    annotation = problem.annotation()
    assert "\n" not in annotation and annotation.count("::") == 2 and ",line=3," in annotation
    assert "a%2Cline=9%2Ctitle=x%0A%3A%3Awarning%3A%3Aforged.yaml" in annotation


# 9. Two link-check runs on one cache lost the first run's results.
def test_9_two_runs_on_one_cache_keep_both(tmp_path: Path) -> None:
    cache = tmp_path / "cache.json"
    save_link_results(
        cache, {"https://a.org/": LinkResult("https://a.org/", Status.ok, checked_at="2026-01-01T00:00:00Z")}
    )
    loaded = load_link_results(cache)  # run 2 starts and reads the cache
    save_link_results(
        cache, {"https://b.org/": LinkResult("https://b.org/", Status.ok, checked_at="2026-01-02T00:00:00Z")}
    )
    mine = {"https://c.org/": LinkResult("https://c.org/", Status.broken, checked_at="2026-01-03T00:00:00Z")}
    save_link_results(cache, mine, loaded=loaded)  # run 2 saves: run 1's and run 3's results stay
    assert set(load_link_results(cache)) == {"https://a.org/", "https://b.org/", "https://c.org/"}
    assert ".*.tmp" in (paths.ROOT / ".gitignore").read_text()  # a killed writer's temp file is not committed


# 10. Defaults pointed at the installed package's folder, not the checkout the command runs in.
def test_10_the_checkout_is_the_one_around_the_current_directory(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    (clone / "catalog").mkdir(parents=True)
    (clone / "catalog" / "taxonomy.yaml").write_text("categories: []\n")
    (clone / "mkdocs.yml").write_text("site_name: x\n")
    (clone / "docs" / "deep").mkdir(parents=True)
    assert paths.find_root(clone / "docs" / "deep") == clone.resolve()
    assert paths.find_root(tmp_path) == paths.find_root(Path("/"))  # outside a checkout: the package's own


# 11. The smaller ones.
def test_11_an_error_never_echoes_a_huge_value(tmp_path: Path) -> None:
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "big.yaml").write_text(ENTRY.format(title="T") + "year: '" + "9" * 500_000 + "'\n")
    _, problems = load_catalog(tmp_path, CATALOG)
    assert problems and all(len(str(p)) < 400 for p in problems)


def test_11_an_oversized_file_is_refused_unread(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("title: " + "x" * 1_100_000 + "\n")
    with pytest.raises(YamlError, match="larger than 1,000,000 bytes"):
        load_yaml(tmp_path / "big.yaml")


def test_11_csv_cells_never_start_a_formula() -> None:
    assert [csv_cell(v) for v in ("=cmd|' /C calc'!A0", "+1", "-2", "@SUM(A1)", "plain")] == [
        "'=cmd|' /C calc'!A0", "'+1", "'-2", "'@SUM(A1)", "plain"]  # fmt: skip


def test_11_import_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "list.md").write_bytes(b"# Papers\n- [T\xff](https://arxiv.org/abs/1608.08710)\n")
    assert main(["import", "awesome", str(tmp_path / "list.md"), "--source", "a/b"]) == 2
    err = capsys.readouterr().err.strip()
    assert "not UTF-8" in err and len(err.splitlines()) == 1


def test_11_a_refused_write_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "catalog"
    (root / "paper").mkdir(parents=True)
    first = Entry.model_validate(entry(id="aaa2020a", title="First title"))
    second = Entry.model_validate(entry(id="bbb2020b", title="Second title", kind="tool", url="https://b.org"))
    (root / "tool").write_text("a file where the tool folder should be")  # the second file cannot be written
    with pytest.raises(WriteFailed, match="nothing was written"):
        write_changes(root, [first, second])
    assert not list((root / "paper").iterdir())


def test_11_ctrl_c_ends_with_a_message(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted(_: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr("kb.cli._schema", interrupted)
    assert main(["schema"]) == 130
    assert "interrupted" in capsys.readouterr().err


# Property tests: arbitrary input never raises outside the documented errors, and escaped text is never markup.
@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_any_bytes_load_or_fail_with_a_yaml_error(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path = tmp_path_factory.mktemp("y") / "x.yaml"
    path.write_bytes(data)
    with contextlib.suppress(YamlError):
        load_yaml(path)


_ENTITY = re.compile(r"&#\d+;")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_escaped_text_holds_no_live_markup(text: str) -> None:
    out = _ENTITY.sub("", escape(text))
    assert not set(out) & set("\\`*_{}[]()<>#+!|~$&:\"'=^\n\r")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=100), st.text(max_size=100))
def test_links_keep_their_target_inside_the_angle_brackets(text: str, href: str) -> None:
    target = link(text, href).rsplit("](<", 1)[1]
    assert target.endswith(">)") and not set(target[:-2]) & set("<>\n\r ")


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_feed_text_is_always_well_formed_xml(text: str) -> None:
    element = ET.Element("title")
    element.text = xml_text(text)
    ET.fromstring(ET.tostring(element))


def test_a_closed_port_is_a_clear_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(arxiv.LookupFailed, match="cannot reach"):
        arxiv.fetch_arxiv("1503.02531", f"http://127.0.0.1:{port}/api/query", LOCAL)
