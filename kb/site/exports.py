"""Exports of the whole catalog, published with the site under `docs/downloads/` and made by `kb export`.

- `catalog.json`: every entry (all fields, `null` where unset) with the taxonomy and the venues, and beside it
  `entry.schema.json`, the JSON Schema each item of `entries` validates against. The browse page reads this file.
- `references.bib`: one BibTeX record per entry; the citation key is the entry id, so it stays stable.
- `catalog.csv`: one row per entry, the columns of `CSV_COLUMNS`; list fields are joined with `; `.
- `feed.xml`: an Atom feed of the most recently added entries.

Nothing here carries the time of the export, so exporting the same catalog twice gives the same bytes.
"""

from __future__ import annotations

import argparse
import csv
import io
import re
import json
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

from kb import paths
from kb.site.bibtex import entry_bibtex
from kb.catalog.checked import clean_catalog
from kb.catalog.load import Catalog
from kb.catalog.schema import Entry, entry_json_schema
from kb.catalog.yamlio import write_atomic
from kb.site.markdown import table

SITE_URL = "https://efficient-dnn-kb.github.io/"
FEED_SIZE = 50
LIST_SEPARATOR = "; "

# Column -> what it holds. The order is the order in the file.
CSV_COLUMNS: dict[str, str] = {
    "id": "The entry id, also its BibTeX key and page address.",
    "kind": "paper, repository, article, tool or list.",
    "title": "The title as published.",
    "authors": "Authors in order, separated by '; '.",
    "organizations": "Organisations or projects credited as authors, separated by '; '.",
    "year": "Year of first publication (empty when unknown).",
    "venue": "Venue id from catalog/venues.yaml.",
    "venue_flags": "Distinctions such as oral or best-paper, separated by '; '.",
    "arxiv": "arXiv id without version.",
    "doi": "DOI, lower case.",
    "url": "The main page.",
    "code": "Code repository URLs, separated by '; '.",
    "categories": "Category ids, the main one first, separated by '; '.",
    "tags": "Tags, separated by '; '.",
    "summary": "Our one-to-three-sentence summary (empty until written).",
    "reference_impl": "Id of our reference implementation, if any.",
    "added": "Day the entry joined the catalog (YYYY-MM-DD).",
}


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection): such a cell gets a
# leading apostrophe, which spreadsheets show as text and hide.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(text: str) -> str:
    """`text` as a CSV cell that no spreadsheet reads as a formula."""
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_value(entry: Entry, column: str) -> str:
    value = getattr(entry, column)
    if column == "code":
        return csv_cell(LIST_SEPARATOR.join(link.url for link in value))
    if isinstance(value, list):
        return csv_cell(LIST_SEPARATOR.join(str(item) for item in value))
    return "" if value is None else csv_cell(str(value))


def catalog_json(catalog: Catalog) -> str:
    """The whole catalog as JSON: `entries`, `categories` and `venues`."""
    data = {
        "schema": "entry.schema.json",
        "entries": [entry.model_dump(mode="json") for entry in catalog.entries],
        "categories": [c.model_dump(mode="json") for c in catalog.vocabulary.categories.values()],
        "venues": [v.model_dump(mode="json") for v in catalog.vocabulary.venues.values()],
    }
    return json.dumps(data, indent=1, ensure_ascii=False) + "\n"


def catalog_bibtex(catalog: Catalog) -> str:
    """One BibTeX record per entry, sorted by key."""
    venues = catalog.vocabulary.venues
    records = [entry_bibtex(e, venues[e.venue].type if e.venue in venues else None) for e in catalog.entries]
    return "\n".join(records)


def catalog_csv(catalog: Catalog) -> str:
    """One row per entry with the columns of `CSV_COLUMNS`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in catalog.entries:
        writer.writerow([_csv_value(entry, column) for column in CSV_COLUMNS])
    return buffer.getvalue()


# Characters XML 1.0 cannot hold at all, not even escaped; the schema refuses them, this keeps the feed well-formed
# whatever reaches it.
_NOT_XML = re.compile("[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def xml_text(text: str) -> str:
    """`text` without the characters that would make an XML document ill-formed."""
    return _NOT_XML.sub("", text)


def catalog_feed(catalog: Catalog, site_url: str = SITE_URL, size: int = FEED_SIZE) -> str:
    """An Atom feed of the `size` most recently added entries, newest first; each links to its page on the site."""
    atom = "http://www.w3.org/2005/Atom"
    ET.register_namespace("", atom)

    def sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{atom}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
        element.text = None if text is None else xml_text(text)
        return element

    recent = sorted(catalog.entries, key=lambda e: (e.added, e.id), reverse=True)[:size]
    feed = ET.Element(f"{{{atom}}}feed")
    sub(feed, "id", site_url)
    sub(feed, "title", "Efficient DNN KB: recently added")
    sub(feed, "link", href=site_url)
    sub(feed, "link", rel="self", href=f"{site_url}downloads/feed.xml")
    sub(feed, "updated", f"{recent[0].added.isoformat()}T00:00:00Z" if recent else "1970-01-01T00:00:00Z")
    sub(sub(feed, "author"), "name", "Efficient DNN KB contributors")
    for entry in recent:
        page = f"{site_url}entries/{entry.id}/"
        item = sub(feed, "entry")
        sub(item, "id", page)
        sub(item, "title", entry.title)
        sub(item, "link", href=page)
        if entry.url:
            sub(item, "link", rel="related", href=entry.url)
        sub(item, "updated", f"{entry.added.isoformat()}T00:00:00Z")
        for name in entry.authors + entry.organizations:
            sub(sub(item, "author"), "name", name)
        for category in entry.categories:
            sub(item, "category", term=category)
        where = ", ".join(str(x) for x in (entry.venue, entry.year) if x)
        sub(item, "summary", entry.summary or f"{entry.title}{f' ({where})' if where else ''}")
    ET.indent(feed)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(feed, encoding="unicode") + "\n"


def _schema_json(_: Catalog) -> str:
    return json.dumps(entry_json_schema(), indent=2, ensure_ascii=False) + "\n"


# Format -> the files it writes, each with the function that makes its text.
FORMATS: dict[str, list[tuple[str, Callable[[Catalog], str]]]] = {
    "json": [("catalog.json", catalog_json), ("entry.schema.json", _schema_json)],
    "bibtex": [("references.bib", catalog_bibtex)],
    "csv": [("catalog.csv", catalog_csv)],
    "feed": [("feed.xml", catalog_feed)],
}


# What each file holds, for the Downloads page.
DESCRIPTIONS = {
    "catalog.json": "every entry with every field, and the categories; what the browse page reads",
    "entry.schema.json": "the JSON Schema of one entry, with a description of every field",
    "references.bib": "one BibTeX record per entry, keyed by the entry id (organisations braced)",
    "catalog.csv": "one row per entry; list fields joined with `; `",
    "feed.xml": "an Atom feed of the most recently added entries, newest first",
}


def render_downloads(out_dir: Path) -> str:
    """The Downloads page: each export written into `out_dir`, its size and what it holds."""
    rows = []
    for files in FORMATS.values():
        for name, _ in files:
            size = (out_dir / name).stat().st_size
            shown = f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.0f} kB"
            rows.append([f"[{name}]({name})", shown, DESCRIPTIONS[name]])
    header = (
        "# Downloads\n\nThe whole catalog, regenerated with every build of the site (`kb export all` writes the same "
        "files locally).\n\n"
    )
    return header + table(["File", "Size", "What it holds"], rows)


def export(catalog: Catalog, out_dir: Path, formats: list[str]) -> list[Path]:
    """Write the files of `formats` into `out_dir`, atomically; returns their paths."""
    written = []
    for name in formats:
        for file_name, make in FORMATS[name]:
            path = out_dir / file_name
            write_atomic(path, make(catalog))
            written.append(path)
    return written


def export_all(catalog: Catalog, out_dir: Path) -> list[Path]:
    """Write every export into `out_dir` (the site build calls it with `docs/downloads`)."""
    return export(catalog, out_dir, list(FORMATS))


def _run(args: argparse.Namespace) -> int:
    catalog = clean_catalog(args.catalog)
    if catalog is None:
        return 1
    formats = list(FORMATS) if args.format == "all" else [args.format]
    for path in export(catalog, args.out, formats):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb export`."""
    command = subparsers.add_parser("export", help="export the catalog as JSON, BibTeX, CSV or an Atom feed")
    command.add_argument("format", choices=[*FORMATS, "all"], help="what to export")
    command.add_argument(
        "--out",
        type=Path,
        default=paths.ROOT / "docs" / "downloads",
        help="output folder (default: docs/downloads, published with the site)",
    )
    command.add_argument("--catalog", type=Path, default=paths.CATALOG, help="catalog folder")
    command.set_defaults(handler=_run)
