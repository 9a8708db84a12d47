"""`kb import awesome FILE.md`: bring the papers of an awesome-list into the catalog, once each.

The importer reads the list (`kb.importer.markdown_links`), reads each item's fields
(`kb.importer.list_entries`), files it under the taxonomy (`kb.importer.section_map`), then matches it against the
catalog as `kb.catalog.works` defines the same work. A paper already catalogued is not added again: the list is
recorded in the entry's `sources`; an entry that came from lists alone also gains the facts it lacked (arXiv id,
venue, authors, code). Hand-written entries keep every field they have.

It is a dry run unless `--write` is given, and it reports every line it skipped with the reason, every fragile link
and every venue it could not place (those are left out: add real venues to `catalog/venues.yaml` and run it again).
Running it twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from kb.catalog.load import Catalog, entry_yaml
from kb.catalog.schema import CodeLink, Entry, Kind, Source
from kb.catalog.works import WorkIndex, unique_id
from kb.catalog.yamlio import stage_text
from kb.importer.fields import Fields, Skip
from kb.importer.list_entries import read_fields
from kb.importer.markdown_links import links, plain, read_items
from kb.importer.section_map import OffTopic, SectionMap

SOURCE_PREFIX = "awesome-list:"
_HEADING_YEAR = re.compile(r"^\s*((?:19|20)\d{2})\s*$")


def list_source(repository: str, section: str | None = None) -> Source:
    """The `sources` item of a list given as `owner/repo` or as its GitHub URL."""
    slug = re.sub(r"^https?://github\.com/", "", repository.strip()).strip("/").removesuffix(".git")
    return Source(name=SOURCE_PREFIX + slug, url=f"https://github.com/{slug}", section=section)


def arxiv_year(arxiv: str) -> int:
    """The year an arXiv id was issued: `1704.04861` is 2017, `cs/9901001` is 1999."""
    yy = int(arxiv.split("/")[-1][:2])
    return 2000 + yy if yy < 90 else 1900 + yy


@dataclass
class Outcome:
    """One parsed paper and what the import does with it: new, merged, duplicate (within the list) or unchanged."""

    fields: Fields
    categories: list[str]
    venue: str | None
    year: int | None
    action: str
    entry_id: str
    duplicate_of_line: int | None = None

    def as_json(self) -> dict[str, object]:
        """The object printed by `--format json`."""
        f = self.fields
        return {
            "line": f.line,
            "title": f.title,
            "url": f.url,
            "arxiv": f.arxiv,
            "doi": f.doi,
            "year": self.year,
            "venue": self.venue,
            "venue_flags": f.venue_flags,
            "authors": f.authors,
            "code": f.code,
            "section": f.section,
            "categories": self.categories,
            "action": self.action,
            "id": self.entry_id,
            "duplicate_of_line": self.duplicate_of_line,
        }


@dataclass
class ImportReport:
    """Everything one import did or would do."""

    source: Source
    outcomes: list[Outcome] = field(default_factory=list)
    skipped: list[tuple[int, str]] = field(default_factory=list)
    notes: list[tuple[int, str]] = field(default_factory=list)
    unknown_venues: dict[str, list[int]] = field(default_factory=dict)
    changed: dict[str, Entry] = field(default_factory=dict)
    # Lines under headings that no section rule maps, filed by their own words or the list's category.
    fallback: list[tuple[int, str]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Parsed papers by action, and skipped lines by the kind of reason (the text before its first colon)."""
        counts = {"parsed": len(self.outcomes)}
        for outcome in self.outcomes:
            counts[outcome.action] = counts.get(outcome.action, 0) + 1
        for _, reason in self.skipped:
            key = "skipped: " + reason.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        return counts


def _handwritten(entry: Entry) -> bool:
    return not entry.sources or any(not s.name.startswith(SOURCE_PREFIX) for s in entry.sources)


class _Importer:
    """The catalog's entries indexed by every match key, updated as the list is read."""

    def __init__(
        self, catalog: Catalog, sections: SectionMap, source: Source, today: dt.date, same_work: list[list[str]]
    ) -> None:
        self.catalog, self.sections, self.today = catalog, sections, today
        self.entries: dict[str, Entry] = {e.id: e for e in catalog.entries}
        self.works = WorkIndex(self.entries.values(), same_work, loose=True)
        # Works removed as out of scope (catalog/excluded.yaml): a re-import must not bring them back.
        self.excluded = {
            key: exclusion
            for exclusion in catalog.excluded
            for key in self.works.keys(exclusion.title, exclusion.arxiv, exclusion.doi)
        }
        self.report = ImportReport(source)
        self.first_line: dict[str, int] = {}
        self.fallback: str | None = None

    def is_venue(self, text: str) -> bool:
        """Whether the venue vocabulary knows `text` (any spelling, with or without a year)."""
        try:
            self.catalog.vocabulary.normalize_venue(text)
        except ValueError:
            return False
        return True

    def _venue(self, fields: Fields) -> str | None:
        if not fields.venue:
            return None
        try:
            return self.catalog.vocabulary.normalize_venue(fields.venue)
        except ValueError:
            self.report.unknown_venues.setdefault(fields.venue, []).append(fields.line)
            return None

    def add(self, fields: Fields, headings: tuple[str, ...]) -> None:
        keys = self.works.keys(fields.title, fields.arxiv, fields.doi)
        excluded = next((self.excluded[k] for k in keys if k in self.excluded), None)
        if excluded is not None:
            self.report.skipped.append((fields.line, f"excluded: {excluded.reason} (catalog/excluded.yaml)"))
            return
        try:
            categories = self.sections.categories(headings, fields.title, self.fallback)
            if not self.sections.mapped(headings):
                self.report.fallback.append((fields.line, categories[0]))
        except OffTopic as error:
            self.report.skipped.append((fields.line, str(error)))
            return
        year = fields.year or next((int(m.group(1)) for h in reversed(headings) if (m := _HEADING_YEAR.match(h))), None)
        year = year or (arxiv_year(fields.arxiv) if fields.arxiv else None)
        venue = self._venue(fields)
        found = self.works.find(fields.title, fields.arxiv, fields.doi)
        if found is None:
            self._create(fields, categories, venue, year)
        else:
            self._merge(self.entries[found.id], fields, categories, venue, year)

    def _create(self, fields: Fields, categories: list[str], venue: str | None, year: int | None) -> None:
        taken = {*self.entries, *(alias for e in self.entries.values() for alias in e.aliases)}
        entry_id = unique_id(fields.authors, year, fields.title, taken)
        data = {
            "id": entry_id,
            "kind": Kind.paper,
            "title": fields.title,
            "authors": fields.authors,
            "year": year,
            "venue": venue,
            "venue_flags": fields.venue_flags,
            "arxiv": fields.arxiv,
            "doi": fields.doi,
            "url": fields.url,
            "code": fields.code,
            "categories": categories,
            "added": self.today,
            "sources": [self._source(fields)],
        }
        try:
            entry = Entry.model_validate(data, context={"vocabulary": self.catalog.vocabulary})
        except ValidationError as error:
            problem = error.errors()[0]
            self.report.skipped.append((fields.line, f"invalid entry: {problem['loc'][0]}: {problem['msg']}"))
            return
        self.entries[entry_id] = self.report.changed[entry_id] = entry
        self.works.add(entry)
        self.first_line[entry_id] = fields.line
        self.report.outcomes.append(Outcome(fields, categories, venue, year, "new", entry_id))

    def _source(self, fields: Fields) -> Source:
        return self.report.source.model_copy(update={"section": fields.section or None})

    def _merge(self, entry: Entry, fields: Fields, categories: list[str], venue: str | None, year: int | None) -> None:
        name = self.report.source.name
        if entry.id in self.first_line:
            action, first = "duplicate", self.first_line[entry.id]
        elif any(s.name == name for s in entry.sources):
            action, first = "unchanged", None
            self.first_line[entry.id] = fields.line
        else:
            action, first = "merged", None
            self.first_line[entry.id] = fields.line
        update: dict[str, object] = {}
        if action == "merged":
            update["sources"] = [*entry.sources, self._source(fields)]
        if not _handwritten(entry):
            update.update(self._missing_facts(entry, fields, categories, venue, year))
        if update:
            entry = Entry.model_validate({**dict(entry), **update}, context={"vocabulary": self.catalog.vocabulary})
            self.entries[entry.id] = self.report.changed[entry.id] = entry
            self.works.add(entry)
        if action == "duplicate":
            self.report.skipped.append((fields.line, f"duplicate: the same paper as line {first} ({entry.id})"))
        self.report.outcomes.append(Outcome(fields, categories, venue, year, action, entry.id, first))

    def _missing_facts(
        self, entry: Entry, fields: Fields, categories: list[str], venue: str | None, year: int | None
    ) -> dict[str, object]:
        """Facts this item adds to an entry that came from lists alone (an arXiv id or DOI only when still free)."""
        update: dict[str, object] = {}
        if not entry.arxiv and fields.arxiv and f"arxiv:{fields.arxiv}" not in self.works.index:
            update["arxiv"] = fields.arxiv
            update["url"] = fields.url
        if not entry.doi and fields.doi and f"doi:{fields.doi}" not in self.works.index:
            update["doi"] = fields.doi
        for key, value in (("year", year), ("venue", venue), ("authors", fields.authors)):
            if value and not getattr(entry, key):
                update[key] = value
        if not entry.url and fields.url and "url" not in update:
            update["url"] = fields.url
        flags = [f for f in fields.venue_flags if f not in entry.venue_flags]
        if flags and (entry.venue is None or entry.venue == venue):
            update["venue_flags"] = [*entry.venue_flags, *flags]
        known = {c.url for c in entry.code}
        code = [CodeLink.model_validate(c) for c in fields.code if c["url"] not in known]
        if code:
            update["code"] = [*entry.code, *code]
        new_categories = [c for c in categories if c not in entry.categories]
        if new_categories:
            update["categories"] = [*entry.categories, *new_categories]
        return update


def import_list(
    markdown: str,
    source: Source,
    catalog: Catalog,
    sections: SectionMap,
    today: dt.date | None = None,
    same_work: list[list[str]] | None = None,
    category: str | None = None,
) -> ImportReport:
    """Plan the import of one list into `catalog`: nothing is written; `report.changed` holds the entries to write.

    Args:
        markdown: The list.
        source: The list as a `sources` item (`list_source("owner/repo")`).
        catalog: The catalog to merge into.
        sections: The mapping of sections to categories.
        today: The `added` date of new entries.
        same_work: Groups of titles that name one work (`catalog/same-work.yaml`).
        category: The category of papers under headings that `sections` does not map and whose titles name none;
            without it, the one the list's own title and name point to.
    """
    importer = _Importer(catalog, sections, source, today or dt.date.today(), same_work or [])
    title = next((line.lstrip("# ").strip() for line in markdown.splitlines() if line.startswith("# ")), "")
    importer.fallback = category or sections.infer(f"{title} {source.name}")
    for item in read_items(markdown):
        try:
            found = links(item.text)
            if found and not found[0].url.startswith("#"):  # off-topic sections are reported as such
                sections.categories(item.sections, plain(item.text), importer.fallback)
            fields = read_fields(item, importer.is_venue)
        except (OffTopic, Skip) as reason:
            importer.report.skipped.append((item.line, str(reason)))
            continue
        importer.report.notes += [(fields.line, note) for note in fields.notes]
        importer.add(fields, item.sections)
    return importer.report


class WriteFailed(Exception):
    """`--write` could not finish; the message says what was and was not written."""


def write_changes(root: Path, entries: Iterable[Entry]) -> list[Path]:
    """Write every entry to its file under `root`, all or nothing as far as the file system allows.

    Each file is written in full to a temporary file beside its target first; only when all are written are they
    renamed into place, so a full disk or a read-only folder leaves the catalog as it was.

    Raises:
        WriteFailed: Naming the file that failed and, when renames had begun, the files already in place.
    """
    staged: list[tuple[Path, Path]] = []
    try:
        for entry in entries:
            target = root / entry.kind.value / f"{entry.id}.yaml"
            staged.append((stage_text(target, entry_yaml(entry)), target))
    except OSError as error:
        for temporary, _ in staged:
            temporary.unlink(missing_ok=True)
        raise WriteFailed(f"cannot write {error.filename or root}: {error.strerror}; nothing was written") from None
    done: list[Path] = []
    for number, (temporary, target) in enumerate(staged):
        try:
            os.replace(temporary, target)
        except OSError as error:
            for left, _ in staged[number:]:
                left.unlink(missing_ok=True)
            written = ", ".join(str(p) for p in done) or "none"
            raise WriteFailed(f"cannot replace {target}: {error.strerror}; already written: {written}") from None
        done.append(target)
    return done
