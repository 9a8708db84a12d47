"""Which link of an awesome-list item names the paper, and where the item writes its title.

Most items link the title (`[Title](url)`). Many link only marks and write the title beside them, and this module
tells the two apart:

- badges: link texts that say what a link is (`PDF`, `Paper`, `[Paper]`, `code`, `Code (DeepSpeed)`, `GitHub
  Page`, `stars`), image-only links (shields.io badges) and venue tags (`ICML`, `cvpr2023`);
- bracketed links that open an item and are followed by its title: `[[ICML](url)] Title`, `[[arXiv](url)] Title`;
- a one-word link after a quoted or bold title: `"Title", ICLR, 2023. [[papar](url)]`;
- the title then stands before the marks (`**Title**, CVPR 2018 [[paper](url)]`, `Title <br> Arxiv 2023
  [[Paper]](url)`, `Title. Authors. Venue`) or after them (`[[arXiv](url)] [[Code](url)] Title`); in a table cell
  split by `<br>` (`[stars](..) <br> [Title](url) <br> Authors`), the part whose link is no badge.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable

from kb.importer.markdown_links import Link, links, plain, remove_links

# `[ICLR'16]`, `[**`qnn`**]`: a bracketed tag that is no link.
BRACKET_TAG = re.compile(r"\[([^\[\]]+)\](?!\()")
# Link texts that say what the link is, not which paper: the title is then written before the link.
GENERIC_LINK = re.compile(r"^\W*(?:paper|pdf|arxiv|abs|link|here|url|html|openreview|doi|publication|page)?\W*$", re.I)
# A title set off in bold, italics or quotes: `**Title**`, `"Title"`.
EMPHASIZED = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|(?<![\w*])\*(?!\s)(.+?)\*|\"(.+?)\"|“(.+?)”")
# Link texts that mark a link rather than name a paper: code, stars, a project page, a venue tag (`cvpr2023`,
# `ICML'24`); together with `GENERIC_LINK` and image-only links (shields.io badges) they are never the title.
BADGE_TEXT = re.compile(
    r"^\W*(?:(?:code|codes|github|gitlab)(?:\s+page|\s*\([^()]*\))?|star|stars|project|project page|website|demo|"
    r"video|slides|blog|poster|"
    r"supp|supplementary|bibtex|model|models|weights|[a-z]{2,12}[-' ]?'?(?:19|20)?\d{2})\W*$",
    re.IGNORECASE,
)
BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A shields.io badge `https://img.shields.io/badge/<label>-<message>-<colour>`: `Conference-ICML'24-blue`.
_SHIELD = re.compile(r"img\.shields\.io/badge/([^-/)\s]+)-([^-/)\s]+)-", re.IGNORECASE)
# Bracketed links that open an item and are followed by its title: `[[ICML](url)] Title`, `[[arXiv](url)] Title`.
_LEADING_TAGS = re.compile(r"^\s*(?:\[\s*\[[^\[\]]*\]\([^()\s]*\)\s*\]\s*)+(?=[^\s\[])")
# The end of the title in `Title. Authors` or `Title? Authors` (not `J. L. Holi` or `Mr.BiQ`).
_SENTENCE_END = re.compile(r"(?<=[a-z0-9?!)]{2})\.\s+|(?<=[A-Za-z]{2}[?!])\s+(?=[A-Z])")


def is_badge(link: Link, is_venue: Callable[[str], bool]) -> bool:
    """A link that marks something about the paper (its PDF, code, venue, stars) instead of naming it."""
    text = link.text.strip()
    return not text or bool(GENERIC_LINK.match(text) or BADGE_TEXT.match(text)) or is_venue(text)


def shield_venues(text: str) -> list[str]:
    """Venues written as shields.io badges (`Conference-ICML'24`, `Publish-CVPR'23`); stars and the like are not."""
    found = []
    for label, message in _SHIELD.findall(text):
        label = urllib.parse.unquote(label).lower()
        if label in ("conference", "publish", "venue", "journal", "accepted", "workshop") or label.isdigit():
            found.append(urllib.parse.unquote(message).replace("_", " "))
    return found


def title_segment(cell: str, is_venue: Callable[[str], bool]) -> tuple[str, str]:
    """The `<br>`-separated part of a cell whose link names the paper, and the rest of the cell."""
    parts = BREAK.split(cell)
    chosen = next((i for i, part in enumerate(parts) if any(not is_badge(k, is_venue) for k in links(part))), 0)
    return parts[chosen], " ".join(parts[chosen + 1 :])


def title_after(text: str) -> tuple[str, str]:
    """The title written after the badge links (`] Title, Authors`), up to the next link, and the rest."""
    rest = text
    while (match := re.match(r"\s*[\[\]\s]*(?:\[[^\]]*\]\([^)]*\)[\]\s]*)+", rest)) and match.end():
        rest = rest[match.end() :]  # more badge links right after the first one
    title_part = re.split(r"\[[^\]]*\]\(|<br", rest, maxsplit=1)[0]
    title = plain(BRACKET_TAG.sub(" ", title_part)).strip(" .,-–—:|[]")
    return title, rest[len(title_part) :]


def _marks_removed(text: str) -> str:
    """`text` without its links and bracket tags: `Title | [blog](url) ` is `Title | `."""
    return BRACKET_TAG.sub(" ", remove_links(text))


def first_sentence(text: str) -> tuple[str, str]:
    """`Title. Authors. Venue` (or `Title? Authors`) split after the title; the rest starts with a comma."""
    parts = _SENTENCE_END.split(plain(text).rstrip(" [(,|"), maxsplit=1)
    return parts[0].strip(" .,-:|"), (", " + parts[1]) if len(parts) > 1 else ""


def title_before(text: str) -> tuple[str, str]:
    """The title written before a `[paper](url)` link, and the rest.

    `**Title**, ...`, `"Title", ...`, `Title. Authors. ...`, `Title <br> Venue`; a bold nickname in brackets
    before the title is its first word: `**[HAQ]** Hardware-Aware ... |` is `HAQ: Hardware-Aware ...`.
    """
    head, *after = BREAK.split(text, maxsplit=1)
    match = EMPHASIZED.search(head)
    emphasized = plain(next(group for group in match.groups() if group)) if match else ""
    if match and (nickname := re.fullmatch(r"\[([^\[\]]{1,40})\]", emphasized)):
        title, rest = first_sentence(_marks_removed(head[match.end() :]))
        title = f"{nickname.group(1)}: {title}" if title else nickname.group(1)
    elif match:
        title, rest = emphasized, head[match.end() :]
    else:
        title, rest = first_sentence(_marks_removed(head))
    return title, rest + (f", {after[0]}" if after else "")


def link_marks(text: str, spans: list[tuple[Link, int, int]], is_venue: Callable[[str], bool]) -> list[str | None]:
    """What each link of a list item marks: None where it may name the paper, `venue`, or `badge` (PDF, code, stars).

    The bracketed links that open an item followed by its title are tags (`[[ICML](url)] Title`, a venue;
    `[[arXiv](url)] Title`, a badge), and so is a one-word link after a quoted or bold title (`"Title", ICLR, 2023.
    [[papar](url)]`).
    """
    opening = _LEADING_TAGS.match(text)
    emphasized = EMPHASIZED.search(text)  # searched once: once per link would be quadratic on a long item
    title_end = emphasized.end() if emphasized and len(emphasized.group(0).split()) > 1 else None
    tags: list[str | None] = []
    for link, start, end in spans:
        after_title = len(link.text.split()) == 1 and title_end is not None and title_end <= start
        leading = bool(opening and end <= opening.end())
        marks = bool(GENERIC_LINK.match(link.text) or BADGE_TEXT.match(link.text))
        if (leading and link.text and not marks) or is_venue(link.text):
            tags.append("venue")
        else:
            tags.append("badge" if leading or after_title or is_badge(link, is_venue) else None)
    return tags
