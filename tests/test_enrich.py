"""`kb enrich` against a real HTTP server on 127.0.0.1 that answers as arXiv, Crossref, OpenAlex and DBLP do."""

from __future__ import annotations

import http.server
import shutil
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest
import yaml

from kb import paths
from kb.catalog.checked import load_checked_catalog
from kb.cli import main
from kb.lookup.enrich import Client, apply, enrich

FIXTURES = Path(__file__).parent / "fixtures"
pytestmark = pytest.mark.network_local


class Services(http.server.BaseHTTPRequestHandler):
    """Routes by path prefix; `/crossref/` answers 503 with Retry-After the first time, as a busy service does."""

    seen: ClassVar[Counter[str]] = Counter()

    def do_GET(self) -> None:
        path, _, query = self.path.partition("?")
        params = urllib.parse.parse_qs(query)
        Services.seen[path] += 1
        if path == "/arxiv":
            assert params["id_list"] == ["1503.02531"]  # batched: every id of the catalog in one request
            body, kind = (FIXTURES / "arxiv" / "1503.02531.xml").read_bytes(), "application/atom+xml"
        elif path.startswith("/crossref/"):
            if Services.seen[path] == 1:
                self._send(503, b"busy", "text/plain", {"Retry-After": "0"})
                return
            body, kind = (FIXTURES / "crossref" / "10.1109_cvpr.2016.90.json").read_bytes(), "application/json"
        elif path.startswith("/openalex/doi:"):
            body, kind = (FIXTURES / "enrich" / "openalex-doi.json").read_bytes(), "application/json"
        elif path == "/openalex":
            body, kind = (FIXTURES / "enrich" / "openalex-search.json").read_bytes(), "application/json"
        elif path == "/dblp":
            if "Residual" not in params["q"][0]:
                self._send(200, b'{"result": {"hits": {"@total": "0"}}}', "application/json")
                return
            body, kind = (FIXTURES / "enrich" / "dblp.json").read_bytes(), "application/json"
        else:
            self._send(404, b"not found", "text/plain")
            return
        self._send(200, body, kind)

    def _send(self, status: int, body: bytes, kind: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Services.seen.clear()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Services)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


PAPERS = {
    "hinton2015distilling": "title: Distilling the Knowledge in a Neural Network\narxiv: '1503.02531'\nyear: 2015\n",
    "he2016deep": "# curated by hand: keep this comment\ntitle: Deep Residual Learning for Image Recognition\n"
    "authors: [Kaiming He]\ndoi: 10.1109/cvpr.2016.90\n",
    "graph2020neural": "title: Neural Graph Pruning for Mobile Phones\nyear: 2020\n",
}


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("taxonomy.yaml", "venues.yaml"):
        shutil.copy(paths.CATALOG / name, tmp_path / name)
    (tmp_path / "paper").mkdir()
    for entry_id, fields in PAPERS.items():
        text = f"id: {entry_id}\nkind: paper\n{fields}categories: [pruning]\nadded: 2026-01-01\n"
        (tmp_path / "paper" / f"{entry_id}.yaml").write_text(text)
    return tmp_path


def bases(server: str) -> dict[str, str]:
    return {s: f"{server}/{s}" for s in ("arxiv", "crossref", "openalex", "dblp")}


def test_fills_empty_fields_reports_conflicts_and_never_takes_a_mismatched_title(root: Path, server: str) -> None:
    catalog, problems = load_checked_catalog(root)
    client = Client(root / "cache.json", allow_networks=("127.0.0.0/8",), spacing={}, sleep=lambda _: None)
    report = enrich(catalog, client, ["arxiv", "crossref", "openalex", "dblp"], bases(server), set())
    filled = {(f.entry_id, f.field): (f.value, f.source) for f in report.filled}
    assert filled[("hinton2015distilling", "authors")] == (["Geoffrey Hinton", "Oriol Vinyals", "Jeff Dean"], "arxiv")
    assert filled[("he2016deep", "year")] == (2016, "crossref")  # Crossref answered after its Retry-After
    assert filled[("he2016deep", "venue")] == ("CVPR", "dblp")
    assert Services.seen["/crossref/10.1109/cvpr.2016.90"] == 2
    # The recorded one-author list differs from Crossref's and OpenAlex's: reported, not changed.
    assert {(c.entry_id, c.field, c.source) for c in report.conflicts} >= {("he2016deep", "authors", "crossref")}
    assert ("he2016deep", "authors") not in filled
    assert any(line.startswith("graph2020neural: openalex") for line in report.mismatched)
    assert not any(f.entry_id == "graph2020neural" for f in report.filled)

    client.save()
    offline = Client(root / "cache.json", offline=True)
    again = enrich(catalog, offline, ["arxiv", "crossref", "openalex", "dblp"], bases(server), set())
    assert offline.requests == 0 and {(f.entry_id, f.field) for f in again.filled} == set(filled)

    changed = apply(catalog, report.filled, today=__import__("datetime").date(2026, 12, 2))
    assert len(changed) == 2
    he = (root / "paper" / "he2016deep.yaml").read_text()
    assert "\n# curated by hand: keep this comment\n" in he and "venue: CVPR" in he and "*id0" not in he
    data = yaml.safe_load(he)
    assert {s["name"] for s in data["sources"]} == {"crossref-api", "dblp-api"}
    after = load_checked_catalog(root)[1]
    assert set(after) < set(problems)  # still valid, and the year it filled is no longer a problem


def test_overwrite_takes_the_sources_value(root: Path, server: str) -> None:
    catalog, _ = load_checked_catalog(root)
    client = Client(None, allow_networks=("127.0.0.0/8",), spacing={}, sleep=lambda _: None)
    report = enrich(catalog, client, ["crossref"], bases(server), {"authors"}, only={"he2016deep"})
    (authors,) = [f for f in report.filled if f.field == "authors"]
    assert authors.value[:2] == ["Kaiming He", "Xiangyu Zhang"] and authors.current == ["Kaiming He"]


def test_the_command_runs_offline_from_an_empty_cache_with_a_clear_failure(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["enrich", "--catalog", str(root), "--offline", "--cache", str(root / "none.json")]) == 1
    assert "not in the cache and --offline" in capsys.readouterr().err
