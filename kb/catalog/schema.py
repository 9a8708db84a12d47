"""The data model of the catalog: one `Entry` per YAML file, and the vocabularies it draws on.

Every model forbids unknown keys and documents every field; `kb schema` turns these models into the JSON Schema
that editors use to validate a catalog file as you type. Checks that need the vocabularies (categories, venues)
read them from the validation context (`Entry.model_validate(data, context={"vocabulary": vocabulary})`), so the
models stay usable without them, for instance to write the JSON Schema.
"""

from __future__ import annotations

import datetime as dt
import difflib
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from kb.catalog.identifiers import normalize_arxiv, normalize_doi

ID_PATTERN = r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$"
TAG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_URL = re.compile(r"^https?://[^/\s?#@]+(?:[/?#]\S*)?$", re.IGNORECASE)
MAX_URL = 2000
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])")
# Typographic "(" after a sentence end is rare; abbreviations such as "e.g." are followed by lower case.


# Control characters have no place in catalog text: `\r` is a line break to Markdown (and so a way to start a
# snippet or a heading inside a page), `\n` likewise, NUL and the C1 range break XML and terminals.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def check_text(value: str) -> str:
    """Accept one line of text: no line breaks, tabs or other control characters."""
    found = _CONTROL.search(value)
    if found:
        raise ValueError(
            f"holds a control character ({found.group()!r}, a line break, tab or similar) at character "
            f"{found.start() + 1}; write the text on one line"
        )
    return value


def Text(max_length: int, min_length: int = 1) -> Any:
    """One line of free text of at most `max_length` characters (every free-text field of the catalog)."""
    return Annotated[str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(check_text)]


def check_url(value: str) -> str:
    """Accept an absolute http(s) URL with a host; reject everything else with the allowed form."""
    if len(value) > MAX_URL or _CONTROL.search(value) or not _URL.match(value):
        raise ValueError(f"not an http(s) URL with a host: {value[:80]!r}; write it as https://host/path")
    return value


Url = Annotated[
    str,
    AfterValidator(check_url),
    Field(json_schema_extra={"format": "uri", "pattern": r"^https?://[^/\s?#@]+"}),
]


def suggest(value: str, allowed: list[str], canonical: dict[str, str] | None = None) -> str:
    """`; did you mean 'x'?` for the closest allowed value, or an empty string."""
    close = difflib.get_close_matches(value, allowed, n=1, cutoff=0.6)
    if not close:
        return ""
    return f"; did you mean '{(canonical or {}).get(close[0], close[0])}'?"


class Strict(BaseModel):
    """Base of every model: unknown keys are errors, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Kind(StrEnum):
    """What an entry is."""

    paper = "paper"
    repository = "repository"
    article = "article"
    tool = "tool"
    list = "list"


class Framework(StrEnum):
    """The framework a code repository is written for."""

    pytorch = "pytorch"
    tensorflow = "tensorflow"
    keras = "keras"
    jax = "jax"
    caffe = "caffe"
    mxnet = "mxnet"
    paddle = "paddle"
    onnx = "onnx"
    cpp = "cpp"
    other = "other"


class VenueFlag(StrEnum):
    """A distinction at the venue, kept apart from the venue's name."""

    oral = "oral"
    spotlight = "spotlight"
    poster = "poster"
    highlight = "highlight"
    best_paper = "best-paper"
    best_student_paper = "best-student-paper"
    honorable_mention = "honorable-mention"


class Category(Strict):
    """One technique category of the taxonomy (`catalog/taxonomy.yaml`)."""

    id: str = Field(pattern=TAG_PATTERN, description="Stable slug used by entries' `categories`, e.g. `pruning`.")
    title: Text(80, 3) = Field(description="Title shown on the site.")
    description: Text(1000, 40) = Field(description="One paragraph, in our own words, shown on the site.")
    parent: str | None = Field(default=None, description="The id of the enclosing category; none for a top level.")
    icon: str = Field(default="material/book-open-variant", description="Material icon of the category's card.")


class Venue(Strict):
    """One venue of the vocabulary (`catalog/venues.yaml`)."""

    id: str = Field(min_length=2, description="The canonical short name stored in entries, e.g. `NeurIPS`.")
    name: Text(200, 2) = Field(description="The full name.")
    type: str = Field(
        pattern=r"^(conference|journal|workshop|preprint|other)$",
        description="conference, journal, workshop, preprint or other.",
    )
    aliases: list[Text(100)] = Field(
        default_factory=list, description="Other spellings that normalize to `id`, e.g. `NIPS` for NeurIPS."
    )


class Exclusion(Strict):
    """A work removed from the catalog as out of scope (`catalog/excluded.yaml`); imports skip it."""

    id: str = Field(pattern=ID_PATTERN, description="The id the entry had, so that old links can be explained.")
    title: Text(300, 3) = Field(description="Its title, as the lists write it (an import matches it by title).")
    arxiv: Text(40) | None = Field(default=None, description="Its arXiv id, when it has one.")
    doi: Text(200) | None = Field(default=None, description="Its DOI, when it has one.")
    reason: Text(200, 5) = Field(description="Why it is out of scope, e.g. `gradient compression for training`.")


class CodeLink(Strict):
    """A repository with code for the entry."""

    url: Url = Field(description="The repository's address (http or https).")
    framework: Framework | None = Field(default=None, description="The framework the code is written for.")
    official: bool = Field(default=False, description="True when the paper's authors published it.")


class Claim(Strict):
    """A headline number the paper reports, so that our measurements can stand beside it."""

    what: Text(200, 3) = Field(description="What was measured, with model and data, e.g. `ImageNet top-1`.")
    value: float | None = Field(
        default=None,
        description="The number as reported; left out for a finding the paper states without one (in its abstract, "
        "say), which the site then shows as stated, not as a figure.",
    )
    unit: Text(30, 0) = Field(
        default="", description="Its unit: `%`, `x`, `M params`, `M MACs`, `ms`, ... (empty for a count)."
    )
    where: Text(100, 2) = Field(description="Where the paper reports it, e.g. `Table 8` or `Section 4.2`.")

    @property
    def figure(self) -> str:
        """The value with its unit as a reader sees it, or "stated, no figure" for a finding without a number."""
        return "stated, no figure" if self.value is None else f"{self.value:g} {self.unit}".strip()


class Source(Strict):
    """Where an entry came from: the founding notes, an awesome-list, a contributor."""

    name: Text(200, 2) = Field(
        description="The source, e.g. `founding-notes`, `awesome-list:he-y/Awesome-Pruning` or `arxiv`."
    )
    url: Url | None = Field(default=None, description="Its address, when it has one.")
    section: Text(300) | None = Field(default=None, description="The section of the source the entry sat in.")
    checked: dt.date | None = Field(
        default=None,
        description="The day the entry's facts were checked against this page (YYYY-MM-DD); set only for the "
        "paper's own pages (arXiv, proceedings, publisher, OpenReview, the authors' project page).",
    )


class Unconfirmed(StrEnum):
    """A field looked for on the paper's own pages and not confirmed there, so left empty on purpose."""

    authors = "authors"
    year = "year"
    venue = "venue"
    arxiv = "arxiv"
    doi = "doi"
    code = "code"
    claims = "claims"


class Entry(Strict):
    """One paper, repository, article, tool or list: the content of one file `catalog/<kind>/<id>.yaml`."""

    id: str = Field(
        pattern=ID_PATTERN,
        description="Stable, readable slug that is also the BibTeX key and the file name, e.g. `howard2017mobilenets`.",
    )
    aliases: list[Annotated[str, Field(pattern=ID_PATTERN)]] = Field(
        default_factory=list,
        description="Earlier ids of this entry; citations and page addresses that use them keep working.",
    )
    kind: Kind = Field(description="paper, repository, article (blog post), tool (framework, profiler) or list.")
    title: Text(300, 3) = Field(description="The title exactly as published.")
    authors: list[Text(120, 2)] = Field(
        max_length=500, default_factory=list, description="Authors in publication order, `First Last` each."
    )
    organizations: list[Text(120, 2)] = Field(
        default_factory=list,
        description="Organisations or projects credited as authors (a framework's team, a company), one name each, "
        "written as a whole: `PyTorch team`, `Google AI Edge`. Never split into given name and surname.",
    )
    year: int | None = Field(default=None, ge=1950, le=2100, description="Year of first publication.")
    venue: Text(100) | None = Field(
        default=None, description="Where it was published, from `catalog/venues.yaml` (aliases are normalized)."
    )
    venue_flags: list[VenueFlag] = Field(
        default_factory=list, description="Distinctions at the venue: oral, spotlight, best-paper, ..."
    )
    arxiv: Text(40) | None = Field(
        default=None, description="arXiv id without version; URLs and `arXiv:` forms are normalized on load."
    )
    doi: Text(200) | None = Field(default=None, description="DOI without resolver prefix, lower case.")
    url: Url | None = Field(default=None, description="The main page: paper page, blog post, repository or tool home.")
    code: list[CodeLink] = Field(default_factory=list, description="Repositories with code for this entry.")
    categories: list[str] = Field(
        min_length=1, description="Technique categories from `catalog/taxonomy.yaml`; the first is the main one."
    )
    tags: list[Annotated[str, Field(pattern=TAG_PATTERN)]] = Field(
        default_factory=list, description="Free lower-case tags such as `depthwise-separable` or `imagenet`."
    )
    summary: Text(700, 20) | None = Field(
        default=None,
        description="One to three sentences in our own words: what it does and why it matters. Imported entries may "
        "have none yet; the site then asks for one.",
    )
    claims: list[Claim] = Field(default_factory=list, description="Headline numbers the work reports.")
    reference_impl: Annotated[str, Field(pattern=r"^[a-z0-9_]{1,60}$")] | None = Field(
        default=None, description="The id of our reference implementation in `reference_impls/`, if there is one."
    )
    added: dt.date = Field(description="The day the entry joined the catalog (YYYY-MM-DD).")
    sources: list[Source] = Field(default_factory=list, description="Where the entry came from.")
    unconfirmed: list[Unconfirmed] = Field(
        default_factory=list,
        description="Fields looked for on the paper's own pages and not confirmed there; they stay empty rather than "
        "guessed.",
    )

    @field_validator("arxiv", mode="before")
    @classmethod
    def _arxiv_not_number(cls, value: Any) -> Any:
        if isinstance(value, int | float):
            # YAML reads 1704.04860 as the number 1704.0486: the trailing zero, and the paper, are lost.
            raise ValueError(
                f"YAML read this arXiv id as the number {value!r}; put the id in quotes: arxiv: '1704.04860'"
            )
        return value

    @field_validator("arxiv")
    @classmethod
    def _arxiv(cls, value: str | None) -> str | None:
        return None if value is None else normalize_arxiv(value)

    @field_validator("doi")
    @classmethod
    def _doi(cls, value: str | None) -> str | None:
        return None if value is None else normalize_doi(value)

    @field_validator("summary")
    @classmethod
    def _sentences(cls, value: str | None) -> str | None:
        if value is None:
            return None
        count = len(_SENTENCE_END.split(value.strip()))
        if count > 3:
            raise ValueError(f"a summary has 1 to 3 sentences, this one has {count}; shorten it")
        return value

    @field_validator("venue")
    @classmethod
    def _venue(cls, value: str | None, info: ValidationInfo) -> str | None:
        vocabulary = (info.context or {}).get("vocabulary")
        if value is None or vocabulary is None:
            return value
        return vocabulary.normalize_venue(value)

    @field_validator("categories")
    @classmethod
    def _categories(cls, value: list[str], info: ValidationInfo) -> list[str]:
        vocabulary = (info.context or {}).get("vocabulary")
        if len(set(value)) != len(value):
            raise ValueError("a category is listed twice; list each once")
        if vocabulary is not None:
            for category in value:
                if category not in vocabulary.categories:
                    allowed = sorted(vocabulary.categories)
                    raise ValueError(
                        f"unknown category '{category}' (allowed: {', '.join(allowed)}){suggest(category, allowed)}"
                    )
        return value

    @field_validator("tags")
    @classmethod
    def _unique_tags(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a tag is listed twice; list each once")
        return value

    def urls(self) -> list[str]:
        """Every address of the entry: its page, arXiv, DOI and code."""
        found = [self.url] if self.url else []
        if self.arxiv:
            found.append(f"https://arxiv.org/abs/{self.arxiv}")
        if self.doi:
            found.append(f"https://doi.org/{self.doi}")
        found.extend(link.url for link in self.code)
        return list(dict.fromkeys(found))


def entry_json_schema() -> dict[str, Any]:
    """The JSON Schema of one catalog file."""
    schema = Entry.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = "https://efficient-dnn-kb.github.io/entry.schema.json"
    return schema
