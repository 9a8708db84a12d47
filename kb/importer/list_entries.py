"""Turn one item of an awesome-list into the fields of a paper: title, link, arXiv id, DOI, year, venue, authors, code.

Lists write the same facts in many ways; each reader below handles one way of writing a fact, not one list:

- year and venue before the link: `2018-IJCAI-[Title](url)`, `2018.05-[Title](url)`, `2018-ICLRo-` (a lower-case
  letter glued to an acronym is a flag: `o` oral, `s` spotlight, `b` best paper, `w` workshop);
- bracket tags anywhere outside links: `[ICLR'16]`, `[arXiv '17, Google]`, `[Best paper!]`;
- comma-separated text after the link: `[Title](url), First Last, First Last, ECCV 2022, [code](url)`, a venue in
  parentheses `(ICCV 2019)`; text after a dash (`[Title](url) - a description`) is a description, not authors;
- the title before a link that only says what it is: `**Title**, CVPR 2018 [[paper](url)] [[code](url)]`,
  `Title. First Last, First Last. CVPR 2019. [[pdf](url)]`;
- table cells: a venue cell such as `CVPR **(Oral)**`, a code cell such as `[PyTorch(Author)](url)`.

Venues come back as written; the importer normalizes them through the venue vocabulary, since only the vocabulary
knows that `NIPS` is NeurIPS and that `IHT` is no venue at all.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from kb.catalog.identifiers import find_arxiv, normalize_doi
from kb.importer.markdown_links import MAX_ITEM, Item, Link, link_spans, links, plain, remove_links

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d{2})(?!\d)")
_SHORT_YEAR = re.compile(r"[’'`]\s*(\d{2})\b")
_PREFIX = re.compile(r"^\s*(?P<year>(?:19|20)\d{2})(?:\.\d{1,2})?\s*(?:[-–:]\s*(?P<venue>[^\[\]]*?))?\s*[-–:]?\s*$")
_BRACKET_TAG = re.compile(r"\[([^\[\]]+)\](?!\()")
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
_NAME = re.compile(r"^[A-Z][\w'’´.\-]*(?:\s+[\w'’´.\-]+){0,5}$")
_CODE_HOSTS = ("github.com", "gitlab.com", "bitbucket.org", "gitee.com", "codeberg.org", "sourceforge.net")
_FRAMEWORKS = [
    (re.compile(r"pytorch|torch", re.I), "pytorch"),
    (re.compile(r"tensorflow|\btf\b", re.I), "tensorflow"),
    (re.compile(r"keras", re.I), "keras"),
    (re.compile(r"\bjax\b|flax", re.I), "jax"),
    (re.compile(r"caffe", re.I), "caffe"),
    (re.compile(r"mxnet|gluon", re.I), "mxnet"),
    (re.compile(r"paddle", re.I), "paddle"),
    (re.compile(r"onnx", re.I), "onnx"),
    (re.compile(r"c\+\+|\bcuda\b|\bcpp\b", re.I), "cpp"),
    (re.compile(r"matlab|theano|chainer|darknet|lasagne", re.I), "other"),
]
# Link texts that say what the link is, not which paper: the title is then written before the link.
_GENERIC_LINK = re.compile(r"^\W*(?:paper|pdf|arxiv|abs|link|here|url|html|openreview|doi|publication|page)?\W*$", re.I)
_EMPHASIZED = re.compile(r"\*\*(.+?)\*\*|__(.+?)__|(?<![\w*])\*(?!\s)(.+?)\*|\"(.+?)\"|“(.+?)”")
_SESSION_PARAMS = {"casa_token", "token", "sessionid", "session_id", "jsessionid", "phpsessid", "sid", "auth"}


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


def _add_flag(fields: Fields, flag: str) -> None:
    if flag not in fields.venue_flags:
        fields.venue_flags.append(flag)


def _venue_and_year(text: str, fields: Fields, is_venue: Callable[[str], bool]) -> bool:
    """Read `CVPR'19`, `ICLR 2016 (Oral)`, `NIPSw`, `arXiv '17` into `fields`; True when it held a venue or year."""
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
    name = " ".join(text.replace("(", " ").replace(")", " ").split()).strip(" .-,;:!'’")
    glued = _GLUED_FLAG.match(name)
    if glued and not is_venue(name) and is_venue(glued.group(1)):
        name, letter = glued.groups()
        if letter == "w":
            name += " Workshop"
        else:
            _add_flag(fields, _GLUED_MEANING[letter])
    if re.search(r"[A-Za-z]", name) and not fields.venue:
        fields.venue = name
    return bool(name or year)


def _code_link(link: Link) -> dict[str, object] | None:
    """A code link from `[PyTorch(Author)](https://github.com/...)`, or None for a link to something else."""
    host = urlsplit(link.url).netloc.lower().removeprefix("www.")
    says_code = re.search(r"\bcode\b|implementation|reimpl", link.text, re.I)
    framework = next((name for pattern, name in _FRAMEWORKS if pattern.search(link.text)), None)
    document = re.search(r"\.(?:pdf|md|html?)$", urlsplit(link.url).path, re.I)
    on_code_host = any(host == h or host.endswith("." + h) for h in _CODE_HOSTS) and not document
    if not (on_code_host or says_code or framework) or re.search(r"deleted|removed", link.text, re.I):
        return None
    if not link.url.lower().startswith(("http://", "https://")):
        return None
    found: dict[str, object] = {"url": link.url}
    if framework:
        found["framework"] = framework
    if re.search(r"author|official", link.text, re.I):
        found["official"] = True
    return found


def clean_url(url: str, fields: Fields) -> str | None:
    """The link as stored: session tokens dropped, ftp and broken links left out; each noted for the report.

    Raises:
        Skip: For a link that is neither http(s), ftp nor broken text: a relative link or another scheme.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() == "ftp":
        fields.notes.append(f"fragile link (ftp), paper kept without it: {url}")
        return None
    if " " in url.strip():  # `[Title](Title)`: the list put text where the address belongs
        fields.notes.append(f"broken link (not an address), paper kept without it: {url}")
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        raise Skip(f"link is not an http(s) address: {url}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in query if k.lower() not in _SESSION_PARAMS]
    if len(kept) != len(query):
        dropped = ", ".join(sorted({k for k, _ in query} - {k for k, _ in kept}))
        fields.notes.append(f"fragile link (session token {dropped}), stored without it: {url}")
        url = urlunsplit(parts._replace(query=urlencode(kept)))
    return url


def doi_from_url(url: str) -> str | None:
    """The DOI of a resolver or publisher URL (`doi.org/10...`, `.../doi/abs/10...`, Springer `article/10...`)."""
    parts = urlsplit(url)
    path = unquote(parts.path)
    if parts.netloc.lower().endswith("doi.org"):
        candidate = path.lstrip("/")
    else:
        match = re.search(r"/(?:doi(?:/(?:abs|full|pdf|pdfplus|epdf))?|article|chapter)/(10\.\d{4,9}/\S+)", path)
        candidate = match.group(1) if match else ""
    if not candidate.startswith("10."):
        return None
    try:
        return normalize_doi(candidate)
    except ValueError:
        return None


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
    text = _BRACKET_TAG.sub(" ", remove_links(text))
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
        elif (names := _names(segment)) is not None and not fields.venue:
            fields.authors += names


# Link texts that mark a link rather than name a paper: code, stars, a project page, a venue tag (`cvpr2023`,
# `ICML'24`); together with `_GENERIC_LINK` and image-only links (shields.io badges) they are never the title.
_BADGE_TEXT = re.compile(
    r"^\W*(?:code|codes|github|gitlab|star|stars|project|project page|website|demo|video|slides|blog|poster|"
    r"supp|supplementary|bibtex|model|models|weights|[a-z]{2,12}[-' ]?'?(?:19|20)?\d{2})\W*$",
    re.IGNORECASE,
)
_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
# A shields.io badge `https://img.shields.io/badge/<label>-<message>-<colour>`: `Conference-ICML'24-blue`.
_SHIELD = re.compile(r"img\.shields\.io/badge/([^-/)\s]+)-([^-/)\s]+)-", re.IGNORECASE)


def _is_badge(link: Link) -> bool:
    """A link that marks something about the paper (its PDF, code, venue, stars) instead of naming it."""
    return not link.text.strip() or bool(_GENERIC_LINK.match(link.text) or _BADGE_TEXT.match(link.text))


def _shield_venues(text: str) -> list[str]:
    """Venues written as shields.io badges (`Conference-ICML'24`, `Publish-CVPR'23`); stars and the like are not."""
    found = []
    for label, message in _SHIELD.findall(text):
        label = urllib.parse.unquote(label).lower()
        if label in ("conference", "publish", "venue", "journal", "accepted", "workshop") or label.isdigit():
            found.append(urllib.parse.unquote(message).replace("_", " "))
    return found


def _title_segment(cell: str) -> tuple[str, str]:
    """The `<br>`-separated part of a cell whose link names the paper, and the rest of the cell."""
    parts = _BREAK.split(cell)
    chosen = next((i for i, part in enumerate(parts) if any(not _is_badge(link) for link in links(part))), 0)
    return parts[chosen], " ".join(parts[chosen + 1 :])


def _title_after(text: str) -> tuple[str, str]:
    """The title written after the badge links (`] Title, Authors`), up to the next link, and the rest."""
    rest = text
    while (match := re.match(r"\s*[\[\]\s]*(?:\[[^\]]*\]\([^)]*\)[\]\s]*)+", rest)) and match.end():
        rest = rest[match.end() :]  # more badge links right after the first one
    title_part = re.split(r"\[[^\]]*\]\(|<br", rest, maxsplit=1)[0]
    title = plain(_BRACKET_TAG.sub(" ", title_part)).strip(" .,-–—:|[]")
    return title, rest[len(title_part) :]


def _title_before(text: str) -> tuple[str, str]:
    """The title written before a `[paper](url)` link (`**Title**, ...` or `Title. Authors. ...`) and the rest."""
    if match := _EMPHASIZED.search(text):
        return plain(next(group for group in match.groups() if group)), text[match.end() :]
    parts = re.split(r"(?<=[a-z0-9?!)]{2})\.\s+", plain(text).rstrip(" [(,"), maxsplit=1)
    return parts[0].strip(" .,-:"), (", " + parts[1]) if len(parts) > 1 else ""


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
    badges = _shield_venues(title_text)
    if item.is_row and _BREAK.search(title_text):  # `[stars](..) <br> [Title](url) <br> Authors` in one cell
        title_text, others_text = _title_segment(title_text)
        names = [n for seg in plain(remove_links(others_text)).split(",") for n in (_names(seg.strip(" .")) or [])]
        if "authors" not in item.cells and names:
            item.cells["authors"] = ", ".join(names)
    spans = link_spans(title_text)
    if not spans:
        raise Skip("no link")
    index = next((i for i, (link, _, _) in enumerate(spans) if not _is_badge(link)), None)
    if index is None:  # only badges (`[[arXiv](url)] Title`): the paper is the first link that is not code
        index = next((i for i, (link, _, _) in enumerate(spans) if link.url and not _code_link(link)), 0)
    main, start, end = spans[index]
    if not main.url:
        raise Skip("empty link")
    if main.url.startswith("#"):
        raise Skip("link inside the page (table of contents)")
    lead, tail = title_text[:start], title_text[end:]
    title = re.sub(r"\s+\(?github\)?$", "", main.text, flags=re.IGNORECASE).strip(" .-:")  # `Title github`
    if _is_badge(main):
        # The title is written outside the link: before it (`**Title**, CVPR 2019 [[paper](url)]`) or, when only
        # tags stand there, after the links (`[[arXiv](url)] [[Code](url)] Title`).
        before = _BRACKET_TAG.sub(" ", remove_links(lead)).strip(" -–—:|,[]")
        if len(before) >= 3:
            title, rest = _title_before(lead)
            lead, tail = "", f"{rest} {tail}"
        else:
            title, tail = _title_after(tail)
    if len(title) < 3:
        raise Skip("link without a title")
    section = " > ".join(item.sections[1:] or item.sections)
    fields = Fields(item.line, section, title)
    for badge in badges:
        _venue_and_year(badge, fields, is_venue)
    fields.url = clean_url(main.url, fields)
    fields.arxiv = find_arxiv(main.url)
    fields.doi = doi_from_url(main.url)
    if fields.arxiv:
        fields.url = f"https://arxiv.org/abs/{fields.arxiv}"
    if _code_link(Link("", main.url)) and not fields.arxiv:
        raise Skip("repository, not a paper")
    if prefix_match := _PREFIX.match(plain(lead)):
        fields.year = int(prefix_match.group("year"))
        if venue := prefix_match.group("venue"):  # `2017-CVPR-ResNeXt-`: the venue, then a nickname
            parts = venue.split("-")
            known = next(("-".join(parts[:n]) for n in range(len(parts), 0, -1) if is_venue("-".join(parts[:n]))), None)
            _venue_and_year(known or venue, fields, is_venue)
    for tag in _BRACKET_TAG.findall(remove_links(title_text)):
        _venue_and_year(tag.split(",")[0], fields, is_venue)
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
        others = [link for link, _, _ in spans[1:]]
    for link in others:
        code = _code_link(link)
        if code and code["url"] not in [c["url"] for c in fields.code]:
            fields.code.append(code)
    return fields
