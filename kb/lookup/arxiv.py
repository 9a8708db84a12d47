"""`kb add arxiv:1503.02531`: look a paper up and write its catalog file, leaving the summary for the contributor.

An arXiv id (`arxiv:1503.02531`, `1503.02531`, an arXiv URL) is looked up in the arXiv API, which answers in Atom
(https://info.arxiv.org/help/api/user-manual.html); at most one request every 3 seconds goes to the real API, as its
terms ask. A DOI (`doi:10.1109/CVPR.2016.90`, a doi.org URL) is looked up in a Crossref-style JSON endpoint
(`https://api.crossref.org/works/<doi>`). Both addresses can be changed (`--api-url`, `--crossref-url`, or the
environment variables `KB_ARXIV_API` and `KB_CROSSREF_API`), which is how the tests point them at a local server.

The entry gets title, authors, year, arXiv id or DOI, the categories given with `--category`, and the placeholder
summary `TODO: ...`, which `kb validate` reports (rule `summary-written`) until the contributor replaces it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import sys
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx

from kb import paths
from kb.catalog import rules
from kb.catalog.checked import clean_catalog
from kb.catalog.identifiers import find_arxiv, normalize_arxiv, normalize_doi
from kb.catalog.load import Record, write_entry
from kb.catalog.problems import display_path
from kb.catalog.schema import Entry, Kind, Source, suggest
from kb.catalog.works import WorkIndex, load_same_work, unique_id
from kb.catalog.yamlio import load_yaml, write_atomic
from kb.links.safety import Refused, fetch

ARXIV_API = "https://export.arxiv.org/api/query"
CROSSREF_API = "https://api.crossref.org/works/"
# Starts with the marker that the rule `summary-written` looks for, so the two cannot drift apart.
PLACEHOLDER_SUMMARY = (
    f"{rules.PLACEHOLDER}: say in one to three sentences of your own what the paper does and why it matters."
)
POLITE_INTERVAL_S = 3.0  # arXiv's API terms: no more than one request every three seconds
HEADERS = {"User-Agent": "efficient-dnn-kb (kb add)"}
_ATOM = {"atom": "http://www.w3.org/2005/Atom", "arxiv": "http://arxiv.org/schemas/atom"}


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class LookupFailed(Exception):
    """The paper could not be looked up; the message says why and what to do."""


@dataclass
class Paper:
    """The metadata a lookup found."""

    title: str
    authors: list[str]
    year: int | None
    arxiv: str | None = None
    doi: str | None = None
    url: str | None = None
    source: str = "arxiv"
    notes: list[str] = field(default_factory=list)


def parse_reference(text: str) -> tuple[str, str]:
    """`("arxiv", id)` or `("doi", doi)` for what a contributor typed.

    Raises:
        LookupFailed: When it is neither, with the accepted forms.
    """
    value = text.strip()
    if value.lower().startswith("doi:") or "doi.org/" in value.lower() or re.match(r"^10\.\d{4,9}/", value):
        try:
            return "doi", normalize_doi(value.removeprefix("doi:").removeprefix("DOI:"))
        except ValueError as error:
            raise LookupFailed(str(error)) from None
    try:
        return "arxiv", find_arxiv(value) or normalize_arxiv(value)
    except ValueError:
        raise LookupFailed(
            f"not an arXiv id or DOI: {text!r}; write arxiv:1503.02531, an arXiv URL, or doi:10.1109/CVPR.2016.90"
        ) from None


def _wait_politely(url: str, stamp: Path) -> None:
    """Sleep so that requests to arxiv.org are at least 3 s apart, across runs of `kb add` too.

    The time of the last request is kept in `stamp`, a file of the user's own (not a fixed name in /tmp that
    another user could plant a link at); only arxiv.org and its subdomains count.
    """
    host = (urlsplit(url).hostname or "").lower()
    if host != "arxiv.org" and not host.endswith(".arxiv.org"):
        return
    try:
        last = float(stamp.read_text())
    except (OSError, ValueError):
        last = 0.0
    delay = last + POLITE_INTERVAL_S - time.time()
    if delay > 0:
        time.sleep(delay)
    stamp.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(stamp, str(time.time()))


@dataclass
class Answer:
    """A lookup's answer: the HTTP status and the body."""

    status: int
    content: bytes

    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.content)


def _get(url: str, params: dict[str, str] | None, service: str, allow_networks: tuple[str, ...]) -> Answer:
    if params:
        url = str(httpx.URL(url, params=params))
    _wait_politely(url, paths.USER_STATE / "arxiv-last-request")
    try:
        answer = fetch(url, headers=HEADERS, allow_networks=allow_networks, max_bytes=2_000_000, deadline_s=60)
    except Refused as error:
        raise LookupFailed(f"the {service}: {error}") from None
    except (httpcore.ConnectError, httpcore.ConnectTimeout) as error:
        raise LookupFailed(f"cannot reach the {service} at {url} ({error}); check the network or the address") from None
    except httpcore.TimeoutException:
        raise LookupFailed(f"the {service} at {url} did not answer in time; try again later") from None
    except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as error:
        raise LookupFailed(f"request to the {service} at {url} failed: {error}") from None
    return Answer(answer.status, answer.body)


def fetch_arxiv(arxiv_id: str, api_url: str, allow_networks: tuple[str, ...] = ()) -> Paper:
    """The metadata of one arXiv paper from the arXiv API's Atom answer.

    Raises:
        LookupFailed: On a network or HTTP error, an answer that is not Atom, or an id arXiv does not know.
    """
    response = _get(api_url, {"id_list": arxiv_id, "max_results": "1"}, "arXiv API", allow_networks)
    if response.status >= 400:
        raise LookupFailed(
            f"the arXiv API answered {response.status} {_reason(response.status)} for {arxiv_id}; try again later"
        )
    try:
        feed = ET.fromstring(response.content)
    except ET.ParseError:
        raise LookupFailed(f"the arXiv API at {api_url} did not answer in Atom; check --api-url") from None
    if feed.tag != f"{{{_ATOM['atom']}}}feed":
        raise LookupFailed(
            f"the arXiv API at {api_url} sent XML that is no Atom feed ({feed.tag[:60]}); check --api-url"
        )
    entry = feed.find("atom:entry", _ATOM)
    entry_id = entry.findtext("atom:id", "", _ATOM) if entry is not None else ""
    title = entry.findtext("atom:title", "", _ATOM) if entry is not None else ""
    if entry is None or "/api/errors" in entry_id or not title.strip():
        detail = entry.findtext("atom:summary", "", _ATOM).strip() if entry is not None else ""
        raise LookupFailed(f"arXiv has no paper {arxiv_id}{f' ({detail})' if detail else ''}; check the id")
    return arxiv_paper(entry, arxiv_id)


def arxiv_paper(entry: ET.Element, arxiv_id: str) -> Paper:
    """One `<entry>` of an arXiv API feed as a `Paper`."""
    entry_id = entry.findtext("atom:id", "", _ATOM)
    published = entry.findtext("atom:published", "", _ATOM)
    doi = entry.findtext("arxiv:doi", None, _ATOM)
    return Paper(
        title=" ".join(entry.findtext("atom:title", "", _ATOM).split()),
        authors=[" ".join(a.findtext("atom:name", "", _ATOM).split()) for a in entry.findall("atom:author", _ATOM)],
        year=int(published[:4]) if published[:4].isdigit() else None,
        arxiv=normalize_arxiv(entry_id) if find_arxiv(entry_id) else arxiv_id,
        doi=normalize_doi(doi) if doi else None,
        url=f"https://arxiv.org/abs/{arxiv_id}",
    )


def crossref_paper(message: dict[str, Any], doi: str) -> Paper:
    """The `message` of a Crossref works answer as a `Paper`.

    Raises:
        KeyError, IndexError, TypeError: When it has no title.
    """
    title = " ".join(message["title"][0].split())
    authors = [" ".join(filter(None, (a.get("given"), a.get("family")))) for a in message.get("author", [])]
    parts = (message.get("issued") or message.get("published") or {}).get("date-parts") or [[None]]
    year = parts[0][0]
    return Paper(title, [a for a in authors if a], year, doi=doi, url=f"https://doi.org/{doi}", source="crossref")


def fetch_doi(doi: str, api_url: str, allow_networks: tuple[str, ...] = ()) -> Paper:
    """The metadata of a DOI from a Crossref-style JSON endpoint (`GET <api_url><doi>` -> `{"message": {...}}`).

    Raises:
        LookupFailed: On a network or HTTP error, a DOI the service does not know, or an answer without a title.
    """
    url = api_url.rstrip("/") + "/" + doi
    response = _get(url, None, "DOI service", allow_networks)
    if response.status == 404:
        raise LookupFailed(f"the DOI service knows no DOI {doi}; check it at https://doi.org/{doi}")
    if response.status >= 400:
        raise LookupFailed(f"the DOI service answered {response.status} {_reason(response.status)}; try later")
    try:
        return crossref_paper(response.json()["message"], doi)
    except (ValueError, KeyError, IndexError, TypeError):
        raise LookupFailed(f"the DOI service at {api_url} sent no title for {doi}; check --crossref-url") from None


def add_paper(
    reference: str,
    categories: list[str],
    root: Path,
    api_url: str,
    crossref_url: str,
    today: dt.date | None = None,
    allow_networks: tuple[str, ...] = (),
) -> tuple[Path, list[str]]:
    """Look `reference` up and write its entry file under `root`; returns the path and the remaining problems.

    Raises:
        LookupFailed: For an unknown category, a failed lookup, or a paper the catalog already holds.
    """
    catalog = clean_catalog(root, waiting=("summary-written",))
    if catalog is None:
        raise LookupFailed("the catalog has problems (listed above); run `kb validate` and fix them first")
    for category in categories:
        if category not in catalog.vocabulary.categories:
            allowed = sorted(catalog.vocabulary.categories)
            hint = suggest(category, allowed)
            raise LookupFailed(f"unknown category '{category}'{hint} (allowed: {', '.join(allowed)})")
    kind, value = parse_reference(reference)
    if kind == "arxiv":
        paper = fetch_arxiv(value, api_url, allow_networks)
    else:
        paper = fetch_doi(value, crossref_url, allow_networks)
    same_work = load_same_work(root / "same-work.yaml")
    duplicate = WorkIndex(catalog.entries, same_work, loose=False).find(paper.title, paper.arxiv, paper.doi)
    if duplicate is not None:
        raise LookupFailed(
            f"already catalogued as '{duplicate.id}' ({duplicate.kind.value}/{duplicate.id}.yaml); "
            "edit that file instead of adding a second one"
        )
    taken = {e.id for e in catalog.entries} | {alias for e in catalog.entries for alias in e.aliases}
    entry_id = unique_id(paper.authors, paper.year, paper.title, taken)
    entry = Entry.model_validate(
        {
            "id": entry_id,
            "kind": Kind.paper,
            "title": paper.title,
            "authors": paper.authors,
            "year": paper.year,
            "arxiv": paper.arxiv,
            "doi": paper.doi,
            "url": paper.url,
            "categories": categories,
            "summary": PLACEHOLDER_SUMMARY,
            "added": today or dt.date.today(),
            "sources": [Source(name=paper.source, url=paper.url)],
        },
        context={"vocabulary": catalog.vocabulary},
    )
    path = write_entry(root, entry)
    catalog.records.append(Record(entry, load_yaml(path)))
    return path, [str(p) for p in sorted(rules.check(catalog)) if p.path == path]


def _run(args: argparse.Namespace) -> int:
    try:
        path, problems = add_paper(
            args.reference,
            args.category,
            args.catalog,
            args.api_url,
            args.crossref_url,
            allow_networks=tuple(args.allow_network),
        )
    except LookupFailed as error:
        print(f"kb add: {error}", file=sys.stderr)
        return 1
    print(f"wrote {display_path(path)}")
    for problem in problems:
        print(f"  {problem}")
    print("next: replace the TODO summary with 1-3 sentences of your own, run `kb validate`, open a pull request")
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb add`."""
    add = subparsers.add_parser("add", help="look up a paper by arXiv id or DOI and write its catalog file")
    add.add_argument("reference", help="arxiv:1503.02531, an arXiv URL, or doi:10.1109/CVPR.2016.90")
    add.add_argument(
        "--category",
        action="append",
        required=True,
        help="a category id from catalog/taxonomy.yaml (repeat for more; the first is the main one)",
    )
    add.add_argument(
        "--api-url",
        default=os.environ.get("KB_ARXIV_API", ARXIV_API),
        help="arXiv API query address (env KB_ARXIV_API)",
    )
    add.add_argument(
        "--crossref-url",
        default=os.environ.get("KB_CROSSREF_API", CROSSREF_API),
        help="Crossref-style works address for DOIs (env KB_CROSSREF_API)",
    )
    add.add_argument("--catalog", type=Path, default=paths.CATALOG, help="catalog folder")
    add.add_argument(
        "--allow-network",
        action="append",
        default=[n for n in os.environ.get("KB_ALLOW_NETWORK", "").split(",") if n],
        metavar="CIDR",
        help="also allow these private networks, e.g. 127.0.0.0/8 for a local test server (env KB_ALLOW_NETWORK)",
    )
    add.set_defaults(handler=_run)
