"""`kb enrich`: fill the empty metadata of catalog entries from open scholarly sources, the upkeep of curation.

Four sources, each asked only for what it knows well: the arXiv API (authors and the DOI of a paper with an arXiv
id, up to 50 ids in one request, one request every 3 s as its terms ask), Crossref (authors and year by DOI, in its
polite pool when `KB_CONTACT_EMAIL` gives an address), OpenAlex (authors, year and DOI by DOI or title;
`OPENALEX_API_KEY` when set) and DBLP (venue and year by title). Nothing is taken before the source's title matches
the entry's. A field the entry already has is never changed silently: a different value is reported as a conflict
and taken only with `--overwrite FIELD`. Every field filled adds the source to the entry's `sources`.

Requests go through the link checker's address policy and limits (`kb.links.safety.fetch`); answers are cached in
`.cache/enrich.json`, and `--offline` answers from that cache alone. A 429 or 503 is retried after its `Retry-After`
(at most a minute). Metadata only: abstracts are never copied. Files are edited with ruamel.yaml's round-trip mode,
so their comments and key order stay.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import difflib
import io
import json
import os
import sys
import time
import urllib.parse
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpcore
from ruamel.yaml import YAML

from kb import paths
from kb.catalog.checked import clean_catalog
from kb.catalog.identifiers import normalize_doi, normalize_title
from kb.catalog.load import Catalog, Record
from kb.catalog.schema import Entry, Kind
from kb.catalog.yamlio import write_atomic
from kb.links.safety import Refused, fetch
from kb.lookup.arxiv import _ATOM, ARXIV_API, CROSSREF_API, HEADERS, Paper, arxiv_paper, crossref_paper

OPENALEX_API = "https://api.openalex.org/works"
DBLP_API = "https://dblp.org/search/publ/api"
SOURCES = ("arxiv", "crossref", "openalex", "dblp")
FIELDS = ("authors", "year", "doi", "venue")
ARXIV_BATCH = 50
TITLE_MATCH = 0.9  # difflib ratio of the normalized titles: punctuation and case never matter, words do


@dataclass
class Finding:
    """One value a source gives for one field of one entry."""

    entry_id: str
    field: str
    value: Any
    source: str
    url: str
    current: Any = None

    def __str__(self) -> str:
        was = f" (now {self.current!r})" if self.current not in (None, [], "") else ""
        return f"{self.entry_id}: {self.field} = {self.value!r} from {self.source}{was}"


@dataclass
class Report:
    """What a run found: fields to fill, conflicts with recorded values, titles that did not match, failures."""

    filled: list[Finding] = field(default_factory=list)
    conflicts: list[Finding] = field(default_factory=list)
    mismatched: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


class Client:
    """GETs through the address policy, with a response cache, per-host spacing and `Retry-After`."""

    def __init__(
        self,
        cache_path: Path | None,
        *,
        offline: bool = False,
        allow_networks: tuple[str, ...] = (),
        spacing: dict[str, float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.cache_path, self.offline, self.allow_networks = cache_path, offline, allow_networks
        self.spacing = spacing if spacing is not None else {"export.arxiv.org": 3.0}
        self.sleep = sleep
        self.last: dict[str, float] = {}
        self.requests = 0
        self.cache: dict[str, list[Any]] = {}
        if cache_path and cache_path.exists():
            self.cache = json.loads(cache_path.read_text(encoding="utf-8"))

    def get(self, url: str) -> tuple[int, bytes]:
        """The status and body for `url`, from the cache or the network; raises `Refused` or a network error."""
        if url in self.cache:
            status, body = self.cache[url]
            return status, body.encode("utf-8")
        if self.offline:
            raise Refused(f"not in the cache and --offline: {url[:100]}")
        host = urllib.parse.urlsplit(url).hostname or ""
        for attempt in range(2):
            wait = self.last.get(host, 0.0) + self.spacing.get(host, 0.0) - time.monotonic()
            if wait > 0:
                self.sleep(wait)
            self.last[host] = time.monotonic()
            self.requests += 1
            answer = fetch(url, headers=HEADERS, allow_networks=self.allow_networks, max_bytes=5_000_000, deadline_s=60)
            status, body = answer.status, answer.body
            if status in (429, 503) and attempt == 0:
                retry_after = answer.retry_after()
                self.sleep(min(60.0, retry_after if retry_after is not None else 5.0))
                continue
            break
        if status < 500 and status != 429:
            self.cache[url] = [status, body.decode("utf-8", "replace")]
        return status, body

    def save(self) -> None:
        """Write the cache (atomically)."""
        if self.cache_path:
            write_atomic(self.cache_path, json.dumps(self.cache, indent=0, sort_keys=True) + "\n")


def titles_match(a: str, b: str) -> bool:
    """Whether two titles name the same paper (normalized, then nearly equal)."""
    x, y = normalize_title(a), normalize_title(b)
    return x == y or difflib.SequenceMatcher(None, x, y).ratio() >= TITLE_MATCH


def _query(base: str, params: dict[str, str]) -> str:
    return f"{base}?{urllib.parse.urlencode(params)}"


def from_arxiv(client: Client, entries: list[Entry], base: str) -> list[tuple[Entry, Paper, str]]:
    """Papers for the entries with an arXiv id, `ARXIV_BATCH` ids per request."""
    found = []
    with_id = [e for e in entries if e.arxiv]
    for start in range(0, len(with_id), ARXIV_BATCH):
        batch = with_id[start : start + ARXIV_BATCH]
        url = _query(base, {"id_list": ",".join(e.arxiv or "" for e in batch), "max_results": str(len(batch))})
        status, body = client.get(url)
        if status >= 400:
            raise Refused(f"the arXiv API answered {status}")
        feed = ET.fromstring(body)
        by_id = {}
        for item in feed.findall("atom:entry", _ATOM):
            paper = arxiv_paper(item, "")
            if paper.arxiv:
                by_id[paper.arxiv] = paper
        found += [(e, by_id[e.arxiv], url) for e in batch if e.arxiv in by_id]
    return found


def from_crossref(client: Client, entries: list[Entry], base: str) -> list[tuple[Entry, Paper, str]]:
    """Papers for the entries with a DOI, one request each."""
    found = []
    contact = os.environ.get("KB_CONTACT_EMAIL")
    for entry in (e for e in entries if e.doi):
        url = (
            base.rstrip("/")
            + "/"
            + urllib.parse.quote(entry.doi or "", safe="/")
            + (f"?{urllib.parse.urlencode({'mailto': contact})}" if contact else "")
        )
        status, body = client.get(url)
        if status == 200:
            found.append((entry, crossref_paper(json.loads(body)["message"], entry.doi or ""), url))
    return found


def from_openalex(client: Client, entries: list[Entry], base: str) -> list[tuple[Entry, Paper, str]]:
    """Papers by DOI where the entry has one, else by title search (first result)."""
    found = []
    key = os.environ.get("OPENALEX_API_KEY")
    extra = {"api_key": key} if key else {}
    for entry in entries:
        if entry.doi:
            url = f"{base.rstrip('/')}/doi:{urllib.parse.quote(entry.doi, safe='/')}" + (
                f"?{urllib.parse.urlencode(extra)}" if extra else ""
            )
        else:
            url = _query(base, {"search": entry.title, "per-page": "1", **extra})
        status, body = client.get(url)
        if status != 200:
            continue
        data = json.loads(body)
        work = (data.get("results") or [None])[0] if "results" in data else data
        if not work or not work.get("title"):
            continue
        doi = work.get("doi")
        found.append(
            (
                entry,
                Paper(
                    title=work["title"],
                    authors=[a["author"]["display_name"] for a in work.get("authorships", []) if a.get("author")],
                    year=work.get("publication_year"),
                    doi=normalize_doi(doi) if doi else None,
                    source="openalex",
                ),
                url,
            )
        )
    return found


def from_dblp(client: Client, entries: list[Entry], base: str) -> list[tuple[Entry, Paper, str]]:
    """Venue and year by title search (the first hit)."""
    found = []
    for entry in entries:
        url = _query(base, {"q": entry.title, "format": "json", "h": "1"})
        status, body = client.get(url)
        if status != 200:
            continue
        hits = json.loads(body).get("result", {}).get("hits", {}).get("hit") or []
        if not hits:
            continue
        info = hits[0].get("info", {})
        paper = Paper(
            title=str(info.get("title", "")).rstrip("."),
            authors=[],
            year=int(info["year"]) if str(info.get("year", "")).isdigit() else None,
            source="dblp",
        )
        paper.notes.append(str(info.get("venue", "")))
        found.append((entry, paper, url))
    return found


LOOKUPS = {"arxiv": from_arxiv, "crossref": from_crossref, "openalex": from_openalex, "dblp": from_dblp}


def values_of(paper: Paper, source: str, catalog: Catalog) -> dict[str, Any]:
    """The fields this source is asked for, in catalog form (a venue only when the vocabulary knows it)."""
    values: dict[str, Any] = {}
    if source != "dblp" and paper.authors:
        values["authors"] = paper.authors
    if source in ("crossref", "openalex", "dblp") and paper.year:
        values["year"] = paper.year
    if source in ("arxiv", "crossref", "openalex") and paper.doi:
        values["doi"] = paper.doi
    if source == "dblp" and paper.notes and paper.notes[0]:
        with contextlib.suppress(ValueError):  # a venue the vocabulary does not know is left out
            values["venue"] = catalog.vocabulary.normalize_venue(paper.notes[0])
    return values


def enrich(
    catalog: Catalog,
    client: Client,
    sources: list[str],
    bases: dict[str, str],
    overwrite: set[str],
    only: set[str] | None = None,
) -> Report:
    """Ask each source about the catalog's papers and sort what they say into fills and conflicts."""
    report = Report()
    papers = [e for e in catalog.entries if e.kind is Kind.paper and (only is None or e.id in only)]
    taken: set[tuple[str, str]] = set()
    for source in sources:
        try:
            answers = LOOKUPS[source](client, papers, bases[source])
        except (Refused, ET.ParseError, ValueError, httpcore.TimeoutException, httpcore.NetworkError) as error:
            report.failures.append(f"{source}: {error}")
            continue
        for entry, paper, url in answers:
            if not titles_match(entry.title, paper.title):
                report.mismatched.append(f"{entry.id}: {source} answered for '{paper.title[:80]}'")
                continue
            for name, value in values_of(paper, source, catalog).items():
                current = getattr(entry, name)
                finding = Finding(entry.id, name, value, source, url, current)
                if (entry.id, name) in taken or current == value:
                    continue
                if current in (None, []) or name in overwrite:
                    report.filled.append(finding)
                    taken.add((entry.id, name))
                else:
                    report.conflicts.append(finding)
    return report


def apply(catalog: Catalog, findings: list[Finding], today: dt.date) -> list[Path]:
    """Write the findings into the entry files, keeping their comments and order; returns the files changed."""
    yaml = YAML()  # round-trip mode
    yaml.width = 110
    yaml.representer.ignore_aliases = lambda *_: True  # one date in two sources is written twice, not as an alias
    records: dict[str, Record] = {r.entry.id: r for r in catalog.records}
    by_entry: dict[str, list[Finding]] = {}
    for finding in findings:
        by_entry.setdefault(finding.entry_id, []).append(finding)
    changed = []
    for entry_id, items in by_entry.items():
        path = records[entry_id].path
        data = yaml.load(path.read_text(encoding="utf-8"))
        for finding in items:
            data[finding.field] = finding.value
        sources = data.setdefault("sources", [])
        for name, url in dict.fromkeys((f"{f.source}-api", f.url) for f in items):
            sources.append({"name": name, "url": url, "checked": today})
        Entry.model_validate(dict(data), context={"vocabulary": catalog.vocabulary})  # never write an invalid file
        buffer = io.StringIO()
        yaml.dump(data, buffer)
        write_atomic(path, buffer.getvalue())
        changed.append(path)
    return changed


def _run(args: argparse.Namespace) -> int:
    # What enrichment fills is what these rules wait for; everything else must be clean first.
    catalog = clean_catalog(args.catalog, waiting=("paper-metadata", "paper-id-convention", "summary-written"))
    if catalog is None:
        return 1
    args.source = args.source or list(SOURCES)
    client = Client(args.cache, offline=args.offline, allow_networks=tuple(args.allow_network))
    bases = {
        "arxiv": args.arxiv_api,
        "crossref": args.crossref_api,
        "openalex": args.openalex_api,
        "dblp": args.dblp_api,
    }
    report = enrich(catalog, client, args.source, bases, set(args.overwrite), set(args.only) if args.only else None)
    client.save()
    for title, items in (("fill", report.filled), ("conflict (kept; --overwrite FIELD to take)", report.conflicts)):
        for item in items:
            print(f"{title}: {item}")
    for line in report.mismatched:
        print(f"title mismatch, nothing taken: {line}")
    for line in report.failures:
        print(f"failed: {line}", file=sys.stderr)
    written = apply(catalog, report.filled, dt.date.today()) if args.write else []
    print(
        f"kb enrich: {len(report.filled)} field(s) to fill, {len(report.conflicts)} conflict(s), "
        f"{len(report.mismatched)} title mismatch(es), {client.requests} request(s); "
        + (f"wrote {len(written)} file(s)" if args.write else "dry run: --write applies the fills"),
        file=sys.stderr,
    )
    return 1 if report.failures else 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb enrich`."""
    command = subparsers.add_parser("enrich", help="fill empty metadata from arXiv, Crossref, OpenAlex and DBLP")
    command.add_argument("--source", action="append", choices=SOURCES, help="sources to ask (default: all)")
    command.add_argument("--only", action="append", metavar="ID", help="only these entries (repeat)")
    command.add_argument("--write", action="store_true", help="write the fills into the entry files")
    command.add_argument(
        "--overwrite",
        action="append",
        default=[],
        choices=FIELDS,
        help="take a source's value over a recorded one for this field (repeat)",
    )
    command.add_argument("--offline", action="store_true", help="answer from the cache only")
    command.add_argument("--cache", type=Path, default=paths.ROOT / ".cache" / "enrich.json", help="response cache")
    command.add_argument("--catalog", type=Path, default=paths.CATALOG, help="catalog folder")
    env = os.environ.get
    command.add_argument("--arxiv-api", default=env("KB_ARXIV_API", ARXIV_API), help="(env KB_ARXIV_API)")
    command.add_argument("--crossref-api", default=env("KB_CROSSREF_API", CROSSREF_API), help="(env KB_CROSSREF_API)")
    command.add_argument("--openalex-api", default=env("KB_OPENALEX_API", OPENALEX_API), help="(env KB_OPENALEX_API)")
    command.add_argument("--dblp-api", default=env("KB_DBLP_API", DBLP_API), help="(env KB_DBLP_API)")
    command.add_argument(
        "--allow-network",
        action="append",
        default=[n for n in env("KB_ALLOW_NETWORK", "").split(",") if n],
        metavar="CIDR",
        help="also allow these private networks (tests; env KB_ALLOW_NETWORK)",
    )
    command.set_defaults(handler=_run)
