"""File the papers of an awesome-list under taxonomy categories, from the headings they sit under and their titles.

The mapping is data, not code: `catalog/sections.yaml` lists heading patterns that mark a section off-topic (with the
reason the import report prints), heading patterns that give categories, and title keywords that add categories. The
headings are tried from the nearest one up, so `Papers [Pruning] > 2019` is filed by `Papers [Pruning]`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from kb import paths
from kb.catalog.vocabulary import Vocabulary

DEFAULT_SECTIONS = paths.SECTIONS


class OffTopic(Exception):
    """The section holds no papers for the catalog; the message says why."""


@dataclass(frozen=True)
class SectionRule:
    """Headings matching `pattern` hold papers of `categories`; `default` files those no keyword places."""

    pattern: re.Pattern[str]
    categories: tuple[str, ...]
    default: str


@dataclass(frozen=True)
class SectionMap:
    """The three lists of `sections.yaml`."""

    skips: tuple[tuple[re.Pattern[str], str], ...]
    sections: tuple[SectionRule, ...]
    keywords: tuple[tuple[re.Pattern[str], str], ...]
    vocabulary: Vocabulary

    @classmethod
    def load(cls, path: Path, vocabulary: Vocabulary) -> SectionMap:
        """Read the mapping file, checking that every category it names is in the taxonomy.

        Raises:
            ValueError: For an unknown category or a missing key, naming the file and the entry.
        """
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}

        def category(name: str, where: str) -> str:
            if name not in vocabulary.categories:
                raise ValueError(f"{path}: {where}: unknown category '{name}'; use an id from taxonomy.yaml")
            return name

        def pattern(text: str) -> re.Pattern[str]:
            return re.compile(text, re.IGNORECASE)

        try:
            skips = tuple((pattern(s["match"]), str(s["reason"])) for s in data.get("skip", []))
            sections = tuple(
                SectionRule(
                    pattern(s["match"]),
                    tuple(category(c, s["match"]) for c in s["categories"]),
                    category(s.get("default", s["categories"][0]), s["match"]),
                )
                for s in data.get("sections", [])
            )
            keywords = tuple(
                (pattern(k["match"]), category(k["category"], k["match"])) for k in data.get("keywords", [])
            )
        except KeyError as error:
            raise ValueError(f"{path}: an entry lacks the key {error}") from None
        return cls(skips, sections, keywords, vocabulary)

    def infer(self, text: str) -> str | None:
        """The category that the keywords find first in `text` (a list's title and name), if any."""
        return next((c for pattern, c in self.keywords if pattern.search(text)), None)

    def mapped(self, headings: tuple[str, ...]) -> bool:
        """Whether a section rule (or a skip rule) speaks for these headings."""
        return any(rule.pattern.search(h) for h in headings for rule in self.sections) or any(
            skip.search(h) for h in headings for skip, _ in self.skips
        )

    def categories(self, headings: tuple[str, ...], title: str, fallback: str | None = None) -> list[str]:
        """The categories of a paper titled `title` under `headings`, the main one first.

        The nearest heading that a rule matches decides: a skip rule raises `OffTopic`; a section rule gives its
        candidate categories, of which the first that a title keyword names (or a category below it) becomes the main
        one, else the rule's default. Other keyword categories follow. A category is dropped when a more specific one
        below it is there.

        Under headings that no rule maps, the title's keywords decide, else `fallback` (the list's category).

        Raises:
            OffTopic: When the section is off-topic, or no rule maps it and neither keywords nor `fallback` help.
        """
        rule = None
        for heading in reversed(headings):
            for skip, reason in self.skips:
                if skip.search(heading):
                    raise OffTopic(f"off-topic section: '{heading}' ({reason})")
            rule = next((r for r in self.sections if r.pattern.search(heading)), None)
            if rule is not None:
                break
        named = list(dict.fromkeys(c for pattern, c in self.keywords if pattern.search(title)))
        if rule is None:
            # A paper is never dropped for its heading: the title's own words, else the list's category, file it.
            main = named[0] if named else fallback
            if main is None:
                where = " > ".join(headings) or "(no heading)"
                raise OffTopic(
                    f"unmapped section: '{where}'; pass --category or add a pattern to catalog/sections.yaml"
                )
            rule = SectionRule(re.compile(""), (main,), main)
        candidates = set(rule.categories)
        main = next((c for c in named if candidates & {c, *self.vocabulary.ancestors(c)}), rule.default)
        chosen = [main, *(c for c in named if c != main)]
        below = {a for c in chosen for a in self.vocabulary.ancestors(c)}
        return [c for c in chosen if c not in below or c == main]
