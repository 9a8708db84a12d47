"""`kb add` against a real HTTP server on 127.0.0.1 serving recorded arXiv (Atom) and Crossref (JSON) answers."""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
import yaml

from kb import paths
from kb.catalog.load import write_entry
from kb.catalog.schema import Entry, Kind
from kb.cli import main
from kb.lookup import arxiv
from kb.lookup.arxiv import PLACEHOLDER_SUMMARY, LookupFailed, add_paper, parse_reference

FIXTURES = Path(__file__).parent / "fixtures"
TODAY = dt.date(2026, 11, 25)


class Recorded(BaseHTTPRequestHandler):
    """Answers like the arXiv API (`/api/query`) and Crossref (`/works/<doi>`) from the recorded files."""

    requests: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        Recorded.requests.append(self.path)
        if parts.path == "/api/query":
            arxiv_id = parse_qs(parts.query)["id_list"][0]
            recorded = FIXTURES / "arxiv" / f"{arxiv_id}.xml"
            if not recorded.exists():
                name = "incorrect-id-format.xml" if arxiv_id.startswith("9999.") else "unknown-id.xml"
                recorded = FIXTURES / "arxiv" / name
            self._send(200, recorded.read_bytes(), "application/atom+xml; charset=utf-8")
        elif parts.path.startswith("/works/"):
            doi = unquote(parts.path.removeprefix("/works/"))
            recorded = FIXTURES / "crossref" / f"{doi.replace('/', '_')}.json"
            if recorded.exists():
                self._send(200, recorded.read_bytes(), "application/json")
            else:
                self._send(404, b"Resource not found.", "text/plain")
        else:  # the broken API: a server error
            self._send(503, b"Service Unavailable", "text/plain")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:  # keep the test output quiet
        pass


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorded)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    for name in ("taxonomy.yaml", "venues.yaml"):
        shutil.copy(paths.CATALOG / name, tmp_path / name)
    return tmp_path


def add(root: Path, server: str, reference: str, categories: tuple[str, ...] = ("knowledge-distillation",)) -> tuple:
    return add_paper(reference, list(categories), root, f"{server}/api/query", f"{server}/works/", TODAY, LOCAL)


pytestmark = pytest.mark.network_local
LOCAL = ("127.0.0.0/8",)  # the test server: the address policy refuses loopback otherwise


def test_add_writes_the_entry_from_the_arxiv_answer(root: Path, server: str) -> None:
    path, problems = add(root, server, "arxiv:1503.02531", ("knowledge-distillation", "compression"))
    assert path == root / "paper" / "hinton2015distilling.yaml"
    entry = yaml.safe_load(path.read_text())
    assert entry["title"] == "Distilling the Knowledge in a Neural Network"
    assert entry["authors"] == ["Geoffrey Hinton", "Oriol Vinyals", "Jeff Dean"]
    assert (entry["year"], entry["arxiv"], entry["url"]) == (2015, "1503.02531", "https://arxiv.org/abs/1503.02531")
    assert entry["categories"] == ["knowledge-distillation", "compression"]
    assert entry["summary"] == PLACEHOLDER_SUMMARY and entry["added"] == TODAY
    # Validated right away: the only problem left is the summary the contributor has to write.
    assert len(problems) == 1 and "[summary-written]" in problems[0]
    assert "id_list=1503.02531" in Recorded.requests[-1]


@pytest.mark.parametrize("reference", ["https://arxiv.org/abs/1503.02531v1", "1503.02531", "arXiv:1503.02531"])
def test_arxiv_urls_and_bare_ids_are_accepted(root: Path, server: str, reference: str) -> None:
    path, _ = add(root, server, reference)
    assert yaml.safe_load(path.read_text())["arxiv"] == "1503.02531"


def test_a_paper_already_catalogued_is_not_added_twice(root: Path, server: str) -> None:
    existing = Entry(
        id="hinton2015distilling",
        kind=Kind.paper,
        title="Distilling the Knowledge in a Neural Network",
        authors=["Geoffrey Hinton"],
        year=2015,
        arxiv="1503.02531",
        categories=["knowledge-distillation"],
        added=TODAY,
    )
    write_entry(root, existing)
    with pytest.raises(LookupFailed, match="already catalogued as 'hinton2015distilling'"):
        add(root, server, "arxiv:1503.02531")


def test_unknown_and_malformed_ids_say_so(root: Path, server: str) -> None:
    with pytest.raises(LookupFailed, match=r"arXiv has no paper 1503\.99999; check the id"):
        add(root, server, "arxiv:1503.99999")
    with pytest.raises(LookupFailed, match=r"arXiv has no paper 9999\.99999 \(incorrect id format"):
        add(root, server, "arxiv:9999.99999")
    assert not list(root.glob("paper/*.yaml"))


def test_server_errors_and_refused_connections_give_clear_messages(root: Path, server: str) -> None:
    with pytest.raises(LookupFailed, match="answered 503 Service Unavailable"):
        add_paper("arxiv:1503.02531", ["pruning"], root, f"{server}/broken", f"{server}/works/", TODAY, LOCAL)
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(LookupFailed, match="cannot reach the arXiv API"):
        add_paper("arxiv:1503.02531", ["pruning"], root, f"http://127.0.0.1:{port}/api/query", "", TODAY, LOCAL)


def test_unknown_category_and_unreadable_reference_are_refused_before_any_request(root: Path, server: str) -> None:
    count = len(Recorded.requests)
    with pytest.raises(LookupFailed, match="unknown category 'prunning'; did you mean 'pruning'"):
        add(root, server, "arxiv:1503.02531", ("prunning",))
    with pytest.raises(LookupFailed, match="not an arXiv id or DOI"):
        add(root, server, "mobilenets")
    assert len(Recorded.requests) == count


def test_a_doi_is_looked_up_in_a_crossref_style_service(root: Path, server: str) -> None:
    path, _ = add(root, server, "doi:10.1109/CVPR.2016.90", ("improve-accuracy",))
    entry = yaml.safe_load(path.read_text())
    assert path.name == "he2016deep.yaml"
    assert (entry["title"], entry["year"], entry["doi"]) == (
        "Deep Residual Learning for Image Recognition",
        2016,
        "10.1109/cvpr.2016.90",
    )
    assert entry["authors"][0] == "Kaiming He" and entry["sources"][0]["name"] == "crossref"
    with pytest.raises(LookupFailed, match=r"knows no DOI 10\.1000/nothing"):
        add(root, server, "https://doi.org/10.1000/nothing")


def test_the_command_uses_the_api_from_the_environment(
    root: Path, server: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv("KB_ARXIV_API", f"{server}/api/query")
    monkeypatch.setenv("KB_ALLOW_NETWORK", "127.0.0.0/8")
    assert main(["add", "arxiv:1503.02531", "--category", "knowledge-distillation", "--catalog", str(root)]) == 0
    out = capsys.readouterr().out
    assert "hinton2015distilling.yaml" in out and "summary-written" in out
    assert main(["validate", str(root)]) == 1  # CI fails until the placeholder summary is replaced
    assert main(["add", "arxiv:1503.99999", "--category", "pruning", "--catalog", str(root)]) == 1
    assert "kb add: arXiv has no paper 1503.99999" in capsys.readouterr().err


def test_parse_reference_tells_arxiv_from_doi() -> None:
    assert parse_reference("https://arxiv.org/pdf/1704.04861v2.pdf") == ("arxiv", "1704.04861")
    assert parse_reference("cs/0112017") == ("arxiv", "cs/0112017")
    assert parse_reference("https://doi.org/10.1109/CVPR.2016.90") == ("doi", "10.1109/cvpr.2016.90")


def test_requests_to_arxiv_org_are_three_seconds_apart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    clock = [1000.0]
    stamp = tmp_path / "state" / "last"
    monkeypatch.setattr(arxiv.time, "time", lambda: clock[0])
    monkeypatch.setattr(arxiv.time, "sleep", slept.append)
    arxiv._wait_politely("https://export.arxiv.org/api/query", stamp)
    clock[0] += 1.0
    arxiv._wait_politely("https://export.arxiv.org/api/query", stamp)
    arxiv._wait_politely("http://127.0.0.1:8000/api/query", stamp)  # a local server is not throttled
    arxiv._wait_politely("https://notarxiv.org/api/query", stamp)  # nor a host that merely ends in arxiv.org
    assert slept == [pytest.approx(2.0)]


def test_the_add_paper_issue_form_offers_the_taxonomy(root: Path) -> None:
    form = yaml.safe_load((paths.ROOT / ".github" / "ISSUE_TEMPLATE" / "add-paper.yml").read_text())
    options = next(b for b in form["body"] if b.get("id") == "categories")["attributes"]["options"]
    taxonomy = yaml.safe_load((paths.CATALOG / "taxonomy.yaml").read_text())["categories"]
    assert options == [c["id"] for c in taxonomy]
