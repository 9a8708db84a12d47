"""The site's pages from the catalog, as plain Markdown strings.

Every function here takes data and returns Markdown; none knows about MkDocs. `kb.site.build` writes the strings into
`docs/` before the build, so any engine that reads Markdown (MkDocs today, Zensical tomorrow) can render them.
Everything that comes from a catalog file is escaped: a title holding `|`, `<script>`, backticks or `]` is shown
as text and never becomes markup.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable

from kb.site.bibtex import entry_bibtex
from kb.catalog.load import Catalog
from kb.catalog.schema import Category, Entry
from kb.site.markdown import escape, link, table

_CITATION = re.compile(r"\[@([a-z0-9-]+)\]")


class GenerationError(Exception):
    """Content that cannot become a page, such as a citation of an unknown entry."""


def short_cite(entry: Entry) -> str:
    """The label of a citation: `Howard et al., 2017` for people, `PyTorch team, 2023` for an organisation, the
    name of a list or an article."""
    year = f", {entry.year}" if entry.year else ""
    if entry.kind.value in ("list", "article") or not (entry.authors or entry.organizations):
        return f"{entry.title}{year}"
    if not entry.authors:
        return f"{entry.organizations[0]}{year}"
    surnames = [surname(name) for name in entry.authors[:2]]
    who = surnames[0] if len(entry.authors) == 1 else (" & ".join(surnames) if len(entry.authors) == 2 else "")
    return f"{who or surnames[0] + ' et al.'}{year}"


def surname(name: str) -> str:
    """The family name of `First Last` (the last word)."""
    return name.split()[-1] if name.split() else name


def author_line(entry: Entry, most: int = 3) -> str:
    """Authors for a table cell: `Han, Mao, Dally`, `Han, Pool, Tran et al.`, or the organisations."""
    if not entry.authors:
        return ", ".join(entry.organizations)
    names = ", ".join(surname(name) for name in entry.authors[:most])
    return names + (" et al." if len(entry.authors) > most else "")


def resolve_citations(markdown: str, catalog: Catalog, entry_prefix: str) -> str:
    """Turn `[@id]` into a link to the entry page.

    Raises:
        GenerationError: When an id is not in the catalog.
    """
    entries = catalog.by_id()

    def replace(match: re.Match[str]) -> str:
        entry = entries.get(match.group(1))
        if entry is None:
            raise GenerationError(f"citation of unknown catalog entry '{match.group(1)}'")
        return link(short_cite(entry), f"{entry_prefix}{entry.id}.md")

    return _CITATION.sub(replace, markdown)


def _fenced(body: str, language: str) -> str:
    """A fenced code block whose fence is longer than any run of backticks inside, so content cannot close it."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body.rstrip()}\n{fence}\n"


def entries_table(entries: list[Entry], entry_prefix: str, impl_prefix: str) -> str:
    """A sortable table of entries: title, year, venue, code, reference implementation."""
    if not entries:
        return "_No entries yet._\n"
    rows = []
    for e in entries:
        code = " ".join(link("code", c.url) for c in e.code[:2])
        impl = link(e.reference_impl, f"{impl_prefix}{e.reference_impl}.md") if e.reference_impl else ""
        title = link(e.title, f"{entry_prefix}{e.id}.md")
        rows.append([title, escape(author_line(e)), str(e.year or ""), escape(e.venue or ""), code, impl])
    return table(["Title", "Authors", "Year", "Venue", "Code", "Reference implementation"], rows)


def render_home(catalog: Catalog) -> str:
    """The home page: what the knowledge base is, its counts, and the categories as cards."""
    kinds = Counter(e.kind.value for e in catalog.entries)
    with_code = sum(1 for e in catalog.entries if e.code)
    impls = sum(1 for e in catalog.entries if e.reference_impl)
    counts = ", ".join(f"{n} {kind}{'s' if n != 1 else ''}" for kind, n in sorted(kinds.items()))
    cards = []
    for category in catalog.vocabulary.children(None):
        n = len(catalog.in_category(category.id))
        icon = category.icon.replace("/", "-")
        cards.append(
            f"-   :{icon}:{{ .lg .middle }} **{link(category.title, f'categories/{category.id}.md')}**"
            f"\n\n    ---\n\n    {escape(category.description)}\n\n    {n} entries\n"
        )
    return (
        "---\nhide:\n  - navigation\n---\n\n# Efficient DNN KB\n\n"
        "The knowledge base for running neural networks well on phones and small boards: the literature, sorted by "
        "technique, its entries curated against the papers' own pages; an article per technique in our own words; "
        "the [reference implementations](impls/index.md) "
        "measured on a CPU beside the papers' claims; and the catalog as [downloads](downloads/index.md).\n\n"
        f"The catalog holds **{len(catalog.entries)} entries** ({counts}); {with_code} link to code and {impls} to "
        "one of our reference implementations. Browse them all on the [catalog table](browse.md).\n\n"
        '<div class="grid cards" markdown>\n\n' + "\n".join(cards) + "\n</div>\n\n" + render_new(catalog)
    )


def render_new(catalog: Catalog, years: int = 3, shown: int = 12) -> str:
    """What is new: papers per year of the last `years` years in the catalog, and the newest of them."""
    papers = [e for e in catalog.entries if e.kind.value == "paper" and e.year]
    if not papers:
        return ""
    latest = max(e.year or 0 for e in papers)
    recent = sorted(
        (e for e in papers if (e.year or 0) > latest - years), key=lambda e: (-(e.year or 0), e.title.casefold())
    )
    per_year = Counter(e.year for e in recent)
    counts = ", ".join(f"{per_year[y]} from {y}" for y in sorted(per_year, reverse=True))
    rows = [
        [link(e.title, f"entries/{e.id}.md"), escape(author_line(e)), str(e.year), escape(e.venue or "")]
        for e in recent[:shown]
    ]
    more = f"[browse all {len(recent)}](browse.md?from={latest - years + 1})" if len(recent) > shown else ""
    return (
        f"## New in the catalog\n\nPapers of the last {years} years: {counts}. The newest, {more or 'all of them'}:\n\n"
        + table(["Title", "Authors", "Year", "Venue"], rows)
    )


def render_category(catalog: Catalog, category: Category, article: str) -> str:
    """A category page: its article, its sub-categories, then a table of its entries."""
    # Category pages rank above articles' mentions and below the entries themselves in search.
    parts = ["---\nsearch:\n  boost: 1.5\n---\n", f"# {escape(category.title)}\n", f"{escape(category.description)}\n"]
    parents = catalog.vocabulary.ancestors(category.id)
    if parents:
        trail = " › ".join(link(catalog.vocabulary.categories[p].title, f"{p}.md") for p in reversed(parents))
        parts.insert(2, f"<small>Part of {trail}</small>\n")
    parts.append(resolve_citations(article, catalog, "../entries/"))
    children = catalog.vocabulary.children(category.id)
    if children:
        parts.append("## Sub-categories\n\n" + "\n".join(f"- {link(c.title, f'{c.id}.md')}" for c in children) + "\n")
    entries = catalog.in_category(category.id)
    runnable = [e for e in entries if e.reference_impl]
    if runnable:
        items = "\n".join(
            f"- {link(e.reference_impl or '', f'../impls/{e.reference_impl}.md')}, after {link(short_cite(e), f'../entries/{e.id}.md')}"
            for e in runnable
        )
        parts.append(
            "## Run it\n\nThe reference implementations of this technique, each measured against its own baseline on "
            f"a CPU, with the command that runs it on your machine:\n\n{items}\n"
        )
    parts.append(f"## Literature ({len(entries)})\n\n" + entries_table(entries, "../entries/", "../impls/"))
    return "\n".join(parts)


def render_entry(catalog: Catalog, entry: Entry, link_status: Callable[[str], str] | None = None) -> str:
    """An entry page: metadata, summary, links with their last checked status, claims and BibTeX."""
    vocabulary = catalog.vocabulary
    # The page's <title> and search result: the paper's title (JSON is valid YAML, and escapes what YAML reads).
    # Search ranks entry pages above the site's other pages: a reader searching "Han" wants Song Han's papers.
    front = (
        f"---\ntitle: {json.dumps(entry.title)}\nsearch:\n  boost: 2\n"
        + (f"tags: {json.dumps(entry.tags)}\n" if entry.tags else "")
        + "---\n\n"
    )
    rows = [["Kind", entry.kind.value]]
    if entry.authors or entry.organizations:
        rows.append(["Authors", escape(", ".join(entry.authors + entry.organizations))])
    if entry.year:
        rows.append(["Year", str(entry.year)])
    if entry.venue:
        flags = f" ({escape(', '.join(f.value for f in entry.venue_flags))})" if entry.venue_flags else ""
        venue = vocabulary.venues.get(entry.venue)
        rows.append(["Venue", f"{escape(entry.venue)}{flags}" + (f" — {escape(venue.name)}" if venue else "")])
    categories = ", ".join(link(vocabulary.categories[c].title, f"../categories/{c}.md") for c in entry.categories)
    rows.append(["Categories", categories])
    if entry.reference_impl:
        rows.append(["Reference implementation", link(entry.reference_impl, f"../impls/{entry.reference_impl}.md")])
    summary = (
        escape(entry.summary)
        if entry.summary
        else (
            "**Summary wanted.** Nobody has written this entry's summary yet: one to three sentences in your own "
            "words, checked against the paper's own page, are a welcome [contribution](../contributing.md)."
        )
    )
    parts = [front, f"# {escape(entry.title)}\n", summary + "\n", table(["Field", "Value"], rows)]
    urls = entry.urls()
    if urls:
        status = link_status or (lambda _url: "")
        parts.append("## Links\n\n" + "\n".join(f"- {link(u, u)} {status(u)}".rstrip() for u in urls) + "\n")
    if entry.claims:
        claim_rows = [[escape(c.what), escape(c.figure), escape(c.where)] for c in entry.claims]
        parts.append("## Claims of the paper\n\n" + table(["Claim", "Value", "Where"], claim_rows))
    if entry.sources:
        parts.append(
            "## Sources\n\n"
            + "\n".join(
                f"- {link(s.name, s.url) if s.url else escape(s.name)}"
                + (f", section “{escape(s.section)}”" if s.section else "")
                for s in entry.sources
            )
            + "\n"
        )
    venue_type = vocabulary.venues[entry.venue].type if entry.venue in vocabulary.venues else None
    parts.append("## Cite\n\n" + _fenced(entry_bibtex(entry, venue_type), "bibtex"))
    return "\n".join(parts)


def render_tags() -> str:
    """The tags index; the theme's tags plugin fills the listing at the marker."""
    return "# Tags\n\nEvery tag used in the catalog, with the entries that carry it.\n\n<!-- material/tags -->\n"
