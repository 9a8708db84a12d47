"""Read a Markdown awesome-list as a sequence of items: list items, table rows and link paragraphs.

A link paragraph opens with a link (`[Title](url) ...`) or with a bold title and a link (`**Title** [[Paper](url)]`).

An item keeps its line number, the headings above it (bold lines such as `**2019**` count as headings, since many
lists use them for years) and its text with continuation lines joined, so that a link whose text is split over two
lines reads as one link. Table rows also carry their cells keyed by the role of their column (title, venue, code,
authors, year), read from the header row. What an item means is for `kb.importer.list_entries` to decide.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# `[text](target)` but not an image `![alt](src)`; the text may hold one level of brackets (`[[Code](url)]`
# is a bracket around a link, and the regex finds the inner link). Linear time on hostile lines: the target
# holds no brackets, line breaks or angle brackets (one level of parentheses, as in Wikipedia URLs), so a failed
# match stops at the next `[`; the text is at most `MAX_LINK_TEXT` characters, so no start scans far.
MAX_LINK_TEXT = 500
_TARGET = r"[^()<>\[\]\n]*(?:\([^()<>\[\]\n]*\)[^()<>\[\]\n]*)*"
_LINK = re.compile(
    rf"(?<!!)\[((?:[^\[\]]|\[[^\[\]]{{0,{MAX_LINK_TEXT}}}\]){{0,{MAX_LINK_TEXT}}})\]\(\s*<?({_TARGET})>?\s*\)"
)
# An item longer than this is no list entry (the longest line of the real lists we read is under 500 characters);
# it is reported, not parsed, so that no line can make the parser slow.
MAX_ITEM = 20_000
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
_BOLD_HEADING = re.compile(r"^\s*(?:\*\*|__)([^*_]+)(?:\*\*|__)\s*:?\s*$")
_LIST_ITEM = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(.*)$")
# A row opens with a pipe; what follows its last cell is kept too (`|[Paper](url)|[//]: #06/05`, a comment).
_TABLE_ROW = re.compile(r"^\s*\|.*\|")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_EMPHASIS = re.compile(r"(\*\*|__|`)")
# A paragraph that opens with a bold title and then a link: `**Title**  [[Paper](url)]`.
_BOLD_LEAD = re.compile(r"^\s*(\*\*|__)[^*_]+\1\s*[-–:,.]?\s*\[")
_CONTENTS = re.compile(r"^\s*(?:table of )?contents\s*$", re.IGNORECASE)

# Header words that tell what a table column holds; other columns keep their own (lower-case) name.
_COLUMN_ROLES = {
    "title": ("title", "paper", "name", "papers"),
    "venue": ("venue", "conference", "conf", "journal", "publication", "published", "pub"),
    "code": ("code", "codes", "implementation", "github", "repo", "repository", "links"),
    "authors": ("author", "authors"),
    "year": ("year", "date"),
}

BOLD_LEVEL = 7  # a bold pseudo-heading sits below every real heading


@dataclass(frozen=True)
class Link:
    """One Markdown link."""

    text: str
    url: str


@dataclass
class Item:
    """One list item, table row or paragraph that starts with a link."""

    line: int
    sections: tuple[str, ...]
    text: str
    cells: dict[str, str] = field(default_factory=dict)

    @property
    def is_row(self) -> bool:
        """True for a table row."""
        return bool(self.cells)


def plain(text: str) -> str:
    """Markdown inline text as plain text: links become their text, emphasis and images go, spaces collapse."""
    text = _IMAGE.sub("", text)
    text = _LINK.sub(lambda m: m.group(1), text)
    return " ".join(_EMPHASIS.sub("", text).split())


def link_spans(text: str) -> list[tuple[Link, int, int]]:
    """The links in `text`, in order, each with its start and end offsets in `text`."""
    return [(Link(plain(m.group(1)), m.group(2).strip()), m.start(), m.end()) for m in _LINK.finditer(text)]


def links(text: str) -> list[Link]:
    """The links in `text`, in order, with their text as plain text."""
    return [link for link, _, _ in link_spans(text)]


def remove_links(text: str) -> str:
    """`text` without its links and images."""
    return _LINK.sub(" ", _IMAGE.sub(" ", text))


def _cells(line: str) -> list[str]:
    body = line.strip().removeprefix("|").removesuffix("|").replace("\\|", "\u0000")
    return [cell.replace("\u0000", "|").strip() for cell in body.split("|")]


def _role(header: str) -> str:
    """The role of a column: its first word that names one (`Title & Authors` is the title), else its name."""
    name = plain(header).lower().strip()
    for word in [name, *re.findall(r"[a-z]+", name)]:
        for role, words in _COLUMN_ROLES.items():
            if word in words:
                return role
    return name


class _Sections:
    """The stack of headings above the current line."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, str]] = []

    def push(self, level: int, title: str) -> None:
        while self.stack and (self.stack[-1][0] >= level or _CONTENTS.match(self.stack[-1][1])):
            self.stack.pop()  # a table of contents holds no section: `## Contents` then `### 2019` is not nested
        self.stack.append((level, title))

    def path(self) -> tuple[str, ...]:
        return tuple(title for _, title in self.stack)


def read_items(markdown: str) -> Iterator[Item]:
    """Every item of the list, in document order.

    Code blocks are skipped; a line that continues an item (not blank, not the start of another block) is joined to
    it with a space.
    """
    sections = _Sections()
    current: Item | None = None
    columns: list[str] | None = None
    in_fence = False
    lines = markdown.splitlines()
    for number, line in enumerate(lines, start=1):
        if _FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        if not line.strip():
            if current is not None:
                yield current
                current = None
            columns = None
            continue
        heading = _HEADING.match(line)
        bold = _BOLD_HEADING.match(line)
        row = _TABLE_ROW.match(line)
        item = _LIST_ITEM.match(line)
        starts_block = heading or bold or row or item or _TABLE_RULE.match(line)
        if current is not None and not starts_block:
            current.text += " " + line.strip()
            continue
        if current is not None:
            yield current
            current = None
        if heading:
            sections.push(len(heading.group(1)), plain(heading.group(2)))
            columns = None
        elif bold:
            sections.push(BOLD_LEVEL, plain(bold.group(1)))
        elif _TABLE_RULE.match(line):
            continue
        elif row:
            following = lines[number] if number < len(lines) else ""
            if columns is None and _TABLE_RULE.match(following):
                columns = [_role(cell) for cell in _cells(line)]
            elif columns is not None:
                values = _cells(line)
                cells = {role: values[i] for i, role in enumerate(columns) if i < len(values) and role}
                yield Item(number, sections.path(), line.strip(), cells)
        elif item:
            current = Item(number, sections.path(), item.group(1).strip())
            columns = None
        elif (line.lstrip().startswith("[") or _BOLD_LEAD.match(line)) and links(line):
            current = Item(number, sections.path(), line.strip())
    if current is not None:
        yield current
