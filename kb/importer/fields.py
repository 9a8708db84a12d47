"""What the importer reads from one item of a list: its `Fields`, or `Skip` with the reason it is no paper."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Fields:
    """What one item says about a paper. `venue` is the raw spelling; `notes` are warnings for the report."""

    line: int
    section: str
    title: str
    url: str | None = None
    arxiv: str | None = None
    doi: str | None = None
    year: int | None = None
    venue: str | None = None
    venue_flags: list[str] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    code: list[dict[str, object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class Skip(Exception):
    """The item is no paper; the message says why."""
