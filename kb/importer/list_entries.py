"""Turn one item of an awesome-list into the fields of a paper: title, link, arXiv id, DOI, year, venue, authors, code.

Lists write the same facts in many ways; each reader below handles one way of writing a fact, not one list:

- year and venue before the link: `2018-IJCAI-[Title](url)`, `2018.05-[Title](url)`, `2018-ICLRo-` (a lower-case
  letter glued to an acronym is a flag: `o` oral, `s` spotlight, `b` best paper, `w` workshop);
- bracket tags anywhere outside links: `[ICLR'16]`, `[arXiv '17, Google]`, `[Best paper!]`;
- comma-separated text after the link: `[Title](url), First Last, First Last, ECCV 2022, [code](url)`, a venue in
  parentheses `(ICCV 2019)`; text after a dash (`[Title](url) - a description`) is a description, not authors;
- the title before a link that only says what it is: `**Title**, CVPR 2018 [[paper](url)] [[code](url)]`,
  `Title. First Last, First Last. CVPR 2019. [[pdf](url)]`;
- table cells: a venue cell such as `CVPR **(Oral)**`, a code cell such as `[PyTorch(Author)](url)`;
- no link at all: `Title. Authors. Venue Year` or `Title. Authors. arXiv:1503.02531`.

Which link names the paper, and where the title stands when the link only marks it, is `kb.importer.titles`;
what the links point to (the stored address, DOI, arXiv id, code) is `kb.importer.addresses`.

Venues come back as written; the importer normalizes them through the venue vocabulary, since only the vocabulary
knows that `NIPS` is NeurIPS and that `IHT` is no venue at all.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from itertools import pairwise
from urllib.parse import urlsplit

from kb.importer.addresses import ARXIV_TEXT, NOT_PAPER_HOST, clean_url, code_link, doi_from_url, read_arxiv
from kb.importer.fields import Fields, Skip
from kb.importer.markdown_links import MAX_ITEM, Item, Link, link_spans, links, plain, remove_links
from kb.importer.titles import (
    BRACKET_TAG,
    BREAK,
    GENERIC_LINK,
    first_sentence,
    is_badge,
    link_marks,
    shield_venues,
    title_after,
    title_before,
    title_segment,
)

# A year from 1950 to 2039, not part of a number range (`pages 2074–2082`, `1993-1995` is two years' range).
_YEAR = re.compile(r"(?<![\d–-])((?:19[5-9]|20[0-3])\d)(?![\d]|[–-]\d)")
_SHORT_YEAR = re.compile(r"[’'`]\s*(\d{2})\b")
_MONTH = re.compile(r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?(?=\s|$)", re.IGNORECASE)
_PREFIX = re.compile(r"^\s*(?P<year>(?:19|20)\d{2})(?:\.\d{1,2})?\s*(?:[-–:]\s*(?P<venue>[^\[\]]*?))?\s*[-–:]?\s*$")
_FLAG_WORDS = [
    (re.compile(r"best\s+student\s+paper", re.I), "best-student-paper"),
    (re.compile(r"\bbest(?:\s+paper)?\b", re.I), "best-paper"),
    (re.compile(r"honou?rable\s+mention", re.I), "honorable-mention"),
    (re.compile(r"\boral\b", re.I), "oral"),
    (re.compile(r"\bspotlight\b", re.I), "spotlight"),
    (re.compile(r"\bhighlight\b", re.I), "highlight"),
    (re.compile(r"\bposter\b", re.I), "poster"),
]
# `ICLRo`, `NIPSw`: one lower-case letter glued to an upper-case acronym.
_GLUED_FLAG = re.compile(r"^([A-Z][A-Za-z]*[A-Z])([osbw])$")
_GLUED_MEANING = {"o": "oral", "s": "spotlight", "b": "best-paper"}
# One to six words, each capitalised or a particle (`de`, `van`): `Advances in neural information` is no name.
_NAME = re.compile(
    r"^[A-Z][\w'’´.\-]*(?:\s+(?:[A-Z\u00C0-\u024F´'’][\w'’´.\-]*|de|da|di|du|del|der|den|van|von|le|la|bin)){0,5}$"
)


def _add_flag(fields: Fields, flag: str) -> None:
    if flag not in fields.venue_flags:
        fields.venue_flags.append(flag)


def _venue_and_year(text: str, fields: Fields, is_venue: Callable[[str], bool], known: bool = False) -> bool:
    """Read `CVPR'19`, `ICLR 2016 (Oral)`, `NIPSw`, `arXiv '17` into `fields`; True when it held a venue or year.

    With `known`, a name without a year is a venue only when the vocabulary knows it: a tag such as `[qnn]` is a
    keyword, not a venue.
    """
    text = plain(text).strip(" []()-,;:!")
    for pattern, flag in _FLAG_WORDS:
        if pattern.search(text):
            _add_flag(fields, flag)
            text = pattern.sub(" ", text)
    year = _YEAR.search(text) or _SHORT_YEAR.search(text)
    if year:
        value = int(year.group(1))
        fields.year = fields.year or (value if value > 100 else (2000 + value if value < 50 else 1900 + value))
        text = text[: year.start()] + " " + text[year.end() :]
    name = " ".join(_MONTH.sub(" ", text.replace("(", " ").replace(")", " ")).split()).strip(" .-,;:!'’")
    glued = _GLUED_FLAG.match(name)
    if glued and not is_venue(name) and is_venue(glued.group(1)):
        name, letter = glued.groups()
        if letter == "w":
            name += " Workshop"
        else:
            _add_flag(fields, _GLUED_MEANING[letter])
    if re.search(r"[A-Za-z]", name) and not fields.venue and (not known or year or is_venue(name)):
        fields.venue = name
    return bool(name or year)


def _names(segment: str) -> list[str] | None:
    """The authors in one comma-separated segment (`A and B`, `A & B`), or None when it is no list of names."""
    names = []
    for part in re.split(r"\s+and\s+|\s*&\s*", segment):
        name = re.sub(r"(?<=[a-z])\d+$", "", part.strip())  # affiliation marks: `Gongfan Fang1`
        if not _NAME.match(name) or name.lower() in ("anonymous", "et al", "et al."):
            return None
        names.append(name)
    return names


def _trailing(text: str, fields: Fields, is_venue: Callable[[str], bool]) -> None:
    """Authors, venue and year from the comma-separated text after the title link.

    `(CVPR 2019)` in parentheses counts as a venue; text after a dash or colon is a description, read only when it
    is no more than a venue and year (`- CVPR 2019`).
    """
    text = BRACKET_TAG.sub(" ", remove_links(text))
    for aside in re.findall(r"\(([^()]*)\)", text):
        if _YEAR.search(aside) or is_venue(aside.strip()):
            _venue_and_year(aside, fields, is_venue)
    text = re.sub(r"\([^()]*\)", " ", text)
    if description := re.match(r"\s*[-–—:|]\s*(.*)", text):
        first = description.group(1).split(",")[0]
        if _YEAR.search(first) and len(first.split()) <= 4:
            _venue_and_year(first, fields, is_venue)
        return
    segments = [piece for raw in text.split(",") for piece in re.split(r"(?<=[a-z]{2})\.\s+", raw)]
    for raw in segments:
        segment = raw.strip(" .;:-")
        if not segment:
            continue
        if _YEAR.fullmatch(segment):
            fields.year = fields.year or int(segment)
        elif _YEAR.search(segment) or is_venue(segment):
            _venue_and_year(segment, fields, is_venue)
        elif re.match(r"(?:in|proceedings)\b", segment, re.IGNORECASE):  # `In Design Automation Conference`
            _venue_and_year(re.sub(r"^in\s+", "", segment, flags=re.IGNORECASE), fields, is_venue, known=True)
        elif (names := _names(segment)) is not None and not fields.venue:
            fields.authors += names


# `[Title]` without a link, of three words or more: the title of a paper named without a link.
_BRACKETED_TITLE = re.compile(r"\[([^\[\]]*\w\s+\w+\s+\w[^\[\]]*)\](?![(\[])")
# `[text][label]`: a reference-style link, its address defined elsewhere in the file.
_REFERENCE = re.compile(r"\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\[[^\[\]]*\]")


def _section(item: Item) -> str:
    return " > ".join(item.sections[1:] or item.sections)


def _read_unlinked(item: Item, is_venue: Callable[[str], bool]) -> Fields:
    """A paper named without a link: `Title. Authors. Venue Year` or `Title. Authors. arXiv:1503.02531`.

    It is a paper when the text after the title holds a year or an arXiv id. Its authors are left out: `Li, Yuncheng
    et al.` cannot be told from a list of two names. Reference-style links (`[[code]][1.10]`) are read as text.

    Raises:
        Skip: When nothing after the title says it is a paper.
    """
    text = _REFERENCE.sub(lambda m: "" if m.group(1).startswith("[") else m.group(1), item.text)
    if bracketed := _BRACKETED_TITLE.search(text):  # `Authors. [Title]. In Venue, Year`
        title, rest = bracketed.group(1).strip(" ."), text[bracketed.end() :]
    else:
        title, rest = first_sentence(text)
    written = ARXIV_TEXT.search(rest)
    dated = next((c for c in reversed(re.split(r"[.,;()]\s*", ARXIV_TEXT.sub(" ", rest))) if _YEAR.search(c)), None)
    if not (written or dated) or len(title.split()) < 2:
        raise Skip("no link")
    fields = Fields(item.line, _section(item), title)
    read_arxiv(None, rest, fields)
    if dated:
        _venue_and_year(dated, fields, is_venue)
    return fields


def _names_of_links(text: str, spans: list[tuple[Link, int, int]], marks: list[str | None]) -> bool:
    """Whether the item opens with three or more links joined only by commas: people or links, not one paper.

    Two are not enough: `[Title](url), [notes](url), Authors, 2016` names a paper.
    """
    joined = [re.fullmatch(r"\s*,\s*(?:and\s+)?", text[a[2] : b[1]]) for a, b in pairwise(spans[:3])]
    named = all(_names(link.text.strip("*")) for link, _, _ in spans[:3])
    return len(spans) >= 3 and marks[:3] == [None] * 3 and all(joined) and named


def read_fields(item: Item, is_venue: Callable[[str], bool]) -> Fields:
    """The paper that `item` describes.

    Args:
        item: A list item or table row.
        is_venue: Tells whether a spelling is a known venue (it decides whether a lone word is a venue or a name).

    Raises:
        Skip: When the item holds no usable paper link; the message is the reason for the report.
    """
    if len(item.text) > MAX_ITEM:
        raise Skip(f"longer than {MAX_ITEM:,} characters: not a list entry, not read")
    title_text = item.cells.get("title", item.text) if item.is_row else item.text
    if item.is_row and not links(title_text):  # a table without a title column: the first cell with a link
        title_text = next((c for c in item.cells.values() if links(c)), "")
    badges = shield_venues(title_text)
    if item.is_row and BREAK.search(title_text):  # `[stars](..) <br> [Title](url) <br> Authors` in one cell
        title_text, others_text = title_segment(title_text, is_venue)
        names = [n for seg in plain(remove_links(others_text)).split(",") for n in (_names(seg.strip(" .")) or [])]
        if "authors" not in item.cells and names:
            item.cells["authors"] = ", ".join(names)
    spans = link_spans(title_text)
    if not spans:
        if item.is_row:
            raise Skip("no link")
        return _read_unlinked(item, is_venue)
    if item.is_row:
        marks: list[str | None] = ["badge" if is_badge(k, is_venue) else None for k, _, _ in spans]
    else:
        marks = link_marks(title_text, spans, is_venue)
    # The paper is the first link that names it and is no repository, else the first mark that is no repository
    # (`[[arXiv](url)] Title`, `[[ICLR](url)] Title [[torch](github)]`), else a repository (reported as such).
    named = [i for i, tag in enumerate(marks) if tag is None]
    papers = [i for i, (link, _, _) in enumerate(spans) if link.url and not code_link(link)]
    papers.sort(key=lambda i: not GENERIC_LINK.match(spans[i][0].text))  # `[blog](..) [pdf](..)`: the pdf
    index = next((i for i in named if i in papers), papers[0] if papers else named[0] if named else 0)
    main, start, end = spans[index]
    if not main.url:
        raise Skip("empty link")
    if main.url.startswith("#"):
        raise Skip("link inside the page (table of contents)")
    if not item.is_row and _names_of_links(title_text, spans, marks):
        raise Skip("a list of names or links, not a paper")  # `[Haotong Qin](url), [Ruihao Gong](url), ...`
    if urlsplit(main.url).path in ("", "/") and not urlsplit(main.url).query:
        raise Skip(f"link to the front page of a site, not a paper: {main.url}")
    if marks[index] is None and re.fullmatch(r"[\w.-]+/[\w.-]+", main.text):
        raise Skip(f"link text names a repository or list ({main.text}), not a paper")
    if NOT_PAPER_HOST.search(urlsplit(main.url).netloc.lower()):
        raise Skip(f"link to a shop, blog, video or social site, not a paper: {main.url}")
    lead, tail = title_text[:start], title_text[end:]
    title = re.sub(r"\s+\(?github\)?$", "", main.text, flags=re.IGNORECASE).strip(" .-:")  # `Title github`
    if marks[index] is not None:
        # The title is written outside the link: before it (`**Title**, CVPR 2019 [[paper](url)]`) or, when only
        # marks stand there, after the links (`[[arXiv](url)] [[Code](url)] Title`).
        before = BRACKET_TAG.sub(" ", remove_links(lead)).strip(" -–—:|,[]")
        if len(before) >= 3:
            title, rest = title_before(lead)
            lead, tail = "", f"{rest} {tail}"
        else:
            title, tail = title_after(tail)
    if len(title) < 3:
        raise Skip("link without a title")
    fields = Fields(item.line, _section(item), title)
    for badge in badges:
        _venue_and_year(badge, fields, is_venue)
    for (link, _, _), tag in zip(spans, marks, strict=True):
        if tag == "venue":  # `[[ICML](url)] Title`
            _venue_and_year(link.text, fields, is_venue)
    fields.url = clean_url(main.url, fields)
    fields.doi = doi_from_url(main.url)
    read_arxiv(main.url, remove_links(title_text), fields)
    if code_link(Link("", main.url)) and not fields.arxiv:
        raise Skip("repository, not a paper")
    if prefix_match := _PREFIX.match(plain(lead)):
        fields.year = int(prefix_match.group("year"))
        if venue := prefix_match.group("venue"):  # `2017-CVPR-ResNeXt-`: the venue, then a nickname
            parts = venue.split("-")
            known = next(("-".join(parts[:n]) for n in range(len(parts), 0, -1) if is_venue("-".join(parts[:n]))), None)
            _venue_and_year(known or venue, fields, is_venue)
    for tag in BRACKET_TAG.findall(remove_links(title_text)):
        _venue_and_year(tag.split(",")[0], fields, is_venue, known=True)
    if item.is_row:
        if "venue" in item.cells:
            _venue_and_year(item.cells["venue"], fields, is_venue)
        if "year" in item.cells and (year := _YEAR.search(item.cells["year"])):
            fields.year = fields.year or int(year.group(1))
        if "authors" in item.cells:
            fields.authors = [n for seg in plain(item.cells["authors"]).split(",") for n in (_names(seg.strip()) or [])]
        others = [link for cell in (item.cells.get("code", ""),) for link in links(cell)]
    else:
        _trailing(tail, fields, is_venue)
        others = [link for i, (link, _, _) in enumerate(spans) if i != index]
    for link in others:
        code = code_link(link)
        if code and code["url"] not in [c["url"] for c in fields.code]:
            fields.code.append(code)
    return fields
