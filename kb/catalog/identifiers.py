"""Normalize the identifiers that tell two records are the same work: arXiv ids, DOIs and titles."""

from __future__ import annotations

import re
import unicodedata

# New-style ids (since April 2007): YYMM.NNNN or YYMM.NNNNN, an optional version.
_NEW_ARXIV = r"(?P<new>\d{4}\.\d{4,5})(?:v\d+)?"
# Old-style ids: archive(.SUBJECT-CLASS)/YYMMNNN, e.g. cs/0112017, math.GT/0309136, hep-th/9901001v2.
_OLD_ARXIV = r"(?P<old>[a-z][a-z\-]+(?:\.[A-Z]{2})?/\d{7})(?:v\d+)?"
_ARXIV_BARE = re.compile(rf"^(?:arxiv:)?\s*(?:{_NEW_ARXIV}|{_OLD_ARXIV})$", re.IGNORECASE)
_ARXIV_URL = re.compile(rf"arxiv\.org/(?:abs|pdf|html|format)/(?:{_NEW_ARXIV}|{_OLD_ARXIV})(?:\.pdf)?", re.IGNORECASE)
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>]+)", re.IGNORECASE)


def _arxiv_from_match(match: re.Match[str]) -> str:
    if match.group("new"):
        return match.group("new")
    archive, number = match.group("old").split("/")
    # The subject class (".GT") is not part of the identifier: math.GT/0309136 is math/0309136.
    return f"{archive.split('.')[0].lower()}/{number}"


def normalize_arxiv(value: str) -> str:
    """Return the canonical arXiv id (no version, no prefix) of an id or an arXiv URL.

    Accepts `1704.04861`, `1704.04861v3`, `arXiv:1704.04861`, `https://arxiv.org/abs/1704.04861v2`,
    `https://arxiv.org/pdf/1704.04861.pdf` and old-style ids such as `cs/0112017` or `math.GT/0309136`.

    Raises:
        ValueError: When the value is no arXiv id; the message shows the accepted forms.
    """
    text = value.strip()
    match = _ARXIV_BARE.match(text) or _ARXIV_URL.search(text)
    if match is None:
        raise ValueError(f"not an arXiv id: {value!r}; write it as 1704.04861 (new style) or cs/0112017 (old style)")
    return _arxiv_from_match(match)


def find_arxiv(text: str) -> str | None:
    """The arXiv id of the first arXiv URL in `text`, or None."""
    match = _ARXIV_URL.search(text)
    return _arxiv_from_match(match) if match else None


def normalize_doi(value: str) -> str:
    """Return a DOI in its canonical lower-case form, without a resolver prefix (`https://doi.org/`).

    Raises:
        ValueError: When the value holds no DOI.
    """
    match = _DOI.search(value.strip())
    if match is None:
        raise ValueError(f"not a DOI: {value!r}; a DOI looks like 10.1109/CVPR.2016.90")
    return match.group(1).rstrip(".,;)").lower()


def normalize_title(title: str) -> str:
    """A key under which two spellings of the same title compare equal.

    Case, accents, punctuation, spacing and a trailing period do not make two papers different.
    """
    folded = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(re.findall(r"[a-z0-9]+", folded))


# Words that never make an id: an id names the paper by its first significant title word.
STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "do",
        "does",
        "for",
        "from",
        "how",
        "in",
        "into",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "the",
        "to",
        "towards",
        "via",
        "what",
        "when",
        "where",
        "which",
        "why",
        "with",
        "without",
    ]
)


# Generational suffixes are not surnames: "Robert Smith Jr." is smith.
_NAME_SUFFIXES = frozenset(["jr", "sr", "ii", "iii", "iv"])


def make_id(authors: list[str], year: int | None, title: str) -> str:
    """The conventional entry id: first author's surname, year, first significant title word.

    `make_id(["Andrew G. Howard"], 2017, "MobileNets: Efficient ...")` is `howard2017mobilenets`. Without authors
    (many lists give none) the second significant title word takes the surname's place:
    `make_id([], 1990, "Optimal Brain Damage")` is `optimal1990brain`.
    """
    words = [w for w in normalize_title(title).split() if w not in STOPWORDS and not w.isdigit()]
    words = words or normalize_title(title).split() or ["untitled"]
    if authors:
        names = [n for n in authors[0].split(",")[0].split() if n.rstrip(".").lower() not in _NAME_SUFFIXES]
        surname = normalize_title(names[-1] if names else authors[0]).replace(" ", "")
        return f"{surname}{year or ''}{words[0]}"
    return f"{words[0]}{year or ''}{words[1] if len(words) > 1 else ''}"
