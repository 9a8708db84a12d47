"""When two records are the same work, and which id a new entry gets.

One definition serves the importer (is this list item already catalogued?), `kb add` (is this paper already
here?) and the `no-duplicate-work` rule (is anything catalogued twice?): records are the same work when they share
an arXiv id, a DOI, a normalized title, or a group of `catalog/same-work.yaml`. The importer also accepts the
loose title (plurals and small words ignored), since lists word the same title differently.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import yaml

from kb.catalog.identifiers import STOPWORDS, make_id, normalize_title
from kb.catalog.schema import Entry


def loose_title(title: str) -> str:
    """A title key that also equates singular and plural (`Network`/`Networks`) and ignores small words."""
    return " ".join(w.removesuffix("s") for w in normalize_title(title).split() if w not in STOPWORDS)


def load_same_work(path: Path) -> list[list[str]]:
    """The title groups of `same-work.yaml` (none when the file is absent)."""
    if not path.exists():
        return []
    return yaml.safe_load(path.read_text(encoding="utf-8")).get("same_work") or []


class WorkIndex:
    """Entries indexed by every key under which another record would be the same work."""

    def __init__(self, entries: Iterable[Entry], same_work: list[list[str]], *, loose: bool) -> None:
        self.loose = loose
        self.same = {loose_title(title): loose_title(group[0]) for group in same_work for title in group}
        self.index: dict[str, Entry] = {}
        for entry in entries:
            self.add(entry)

    def keys(self, title: str, arxiv: str | None, doi: str | None) -> list[str]:
        """The keys of a record, strongest first."""
        keys = [f"arxiv:{arxiv}"] if arxiv else []
        keys += [f"doi:{doi}"] if doi else []
        keys.append(f"title:{normalize_title(title)}")
        if self.loose:
            keys.append(f"loose:{loose_title(title)}")
            name, colon, rest = title.partition(":")
            if colon and len(name.split()) <= 2 and len(rest.split()) >= 5:  # `NasNet: Learning Transferable ...`
                keys.append(f"loose:{loose_title(rest)}")
        if loose_title(title) in self.same:
            keys.append(f"same:{self.same[loose_title(title)]}")
        return keys

    def find(self, title: str, arxiv: str | None, doi: str | None) -> Entry | None:
        """The catalogued entry that is the same work as this record, if any."""
        return next((self.index[k] for k in self.keys(title, arxiv, doi) if k in self.index), None)

    def add(self, entry: Entry) -> Entry | None:
        """Index `entry`; returns an entry indexed before that is the same work (None when it is new)."""
        keys = self.keys(entry.title, entry.arxiv, entry.doi)
        earlier = next((self.index[k] for k in keys if k in self.index and self.index[k].id != entry.id), None)
        for key in keys:
            self.index.setdefault(key, entry)
        return earlier


def unique_id(authors: list[str], year: int | None, title: str, taken: set[str] | dict[str, object]) -> str:
    """`make_id`'s id; when taken, the next title words are appended (`li2020dynamic-pruning`), then a number."""
    base = make_id(authors, year, title)
    words = [w for w in normalize_title(title).split() if w not in STOPWORDS and w not in base]
    candidates = [base] + ["-".join([base, *words[:n]]) for n in range(1, min(len(words), 3) + 1)]
    for candidate in candidates:
        if candidate not in taken:
            return candidate
    number = 2
    while f"{candidates[-1]}-{number}" in taken:
        number += 1
    return f"{candidates[-1]}-{number}"
