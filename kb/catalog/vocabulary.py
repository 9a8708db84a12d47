"""The two vocabularies entries draw on: the taxonomy of techniques and the venues."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from kb.catalog.schema import Category, Venue, suggest

# `CVPR'19`, `CVPR 2019`, `CVPR2019`, `CVPR-2019`: a year glued to a venue name is not part of the name.
_YEAR_SUFFIX = re.compile(r"[\s'’\-_]*(?:19|20)?\d{2}$")


@dataclass
class Vocabulary:
    """Categories by id and venues by id, with a lookup from every spelling of a venue to its id."""

    categories: dict[str, Category] = field(default_factory=dict)
    venues: dict[str, Venue] = field(default_factory=dict)
    _spellings: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        for venue in self.venues.values():
            for spelling in (venue.id, venue.name, *venue.aliases):
                self._spellings[spelling.casefold()] = venue.id

    def normalize_venue(self, value: str) -> str:
        """The canonical id of a venue written in any known spelling, with or without a year.

        Raises:
            ValueError: For an unknown venue, with the closest known one.
        """
        text = value.strip()
        for candidate in (text, _YEAR_SUFFIX.sub("", text)):
            found = self._spellings.get(candidate.casefold())
            if found:
                return found
        spellings = [s for venue in self.venues.values() for s in (venue.id, *venue.aliases)]
        canonical = {s: venue.id for venue in self.venues.values() for s in (venue.id, *venue.aliases)}
        hint = suggest(_YEAR_SUFFIX.sub("", text), spellings, canonical)
        return_hint = hint or "; add it to catalog/venues.yaml (or as an alias of an existing venue)"
        raise ValueError(f"unknown venue '{value}'{return_hint}")

    def ancestors(self, category_id: str) -> list[str]:
        """The parents of a category, nearest first."""
        chain: list[str] = []
        parent = self.categories[category_id].parent
        while parent is not None and parent not in chain:
            chain.append(parent)
            parent = self.categories[parent].parent
        return chain

    def children(self, category_id: str | None) -> list[Category]:
        """The categories directly below `category_id` (below the root for None), in file order."""
        return [c for c in self.categories.values() if c.parent == category_id]
