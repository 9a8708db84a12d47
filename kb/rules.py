"""The second layer of checks: named rules over the whole catalog, each with a passing and a failing fixture.

The schema says what a single file may hold; these rules say what the catalog as a whole must keep true (no
paper twice, ids that follow the convention, references that resolve). Each rule is a function registered with
`@rule(name, description)` that yields problems; its fixtures live in `tests/fixtures/rules/<name>/{pass,fail}`.
Every message says how to fix what it reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from kb.catalog import Catalog, Record
from kb.identifiers import find_arxiv, make_id, normalize_title
from kb.problems import Problem
from kb.schema import Kind

Check = Callable[[Catalog], Iterator[Problem]]


@dataclass(frozen=True)
class Rule:
    """A named check with a one-line description (listed by `kb validate --rules`)."""

    name: str
    description: str
    check: Check


RULES: dict[str, Rule] = {}


def rule(name: str, description: str) -> Callable[[Check], Check]:
    """Register a rule under `name`."""

    def decorator(check: Check) -> Check:
        RULES[name] = Rule(name, description, check)
        return check

    return decorator


@rule("id-matches-file", "An entry's id is its file name: catalog/<kind>/<id>.yaml.")
def _id_matches_file(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        if record.entry.id != record.path.stem:
            yield record.problem(
                ("id",),
                f"id '{record.entry.id}' differs from the file name; rename the file to {record.entry.id}.yaml",
                "id-matches-file",
            )


@rule("kind-matches-folder", "An entry's kind is the folder it lives in.")
def _kind_matches_folder(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        if record.entry.kind.value != record.path.parent.name:
            yield record.problem(
                ("kind",),
                f"kind '{record.entry.kind.value}' but the file is in {record.path.parent.name}/; "
                f"move it to catalog/{record.entry.kind.value}/",
                "kind-matches-folder",
            )


@rule("unique-id", "No two entries share an id (ids are BibTeX keys and page addresses).")
def _unique_id(catalog: Catalog) -> Iterator[Problem]:
    first: dict[str, Record] = {}
    for record in catalog.records:
        for field, value in [(("id",), record.entry.id)] + [
            (("aliases", i), alias) for i, alias in enumerate(record.entry.aliases)
        ]:
            taken = first.setdefault(value, record)
            if taken is not record:
                yield record.problem(
                    field, f"id '{value}' is also used by {taken.path} (as id or alias); choose another", "unique-id"
                )


@rule("no-duplicate-work", "The same work is catalogued once: no shared arXiv id, DOI or normalized title.")
def _no_duplicate_work(catalog: Catalog) -> Iterator[Problem]:
    keys: list[tuple[str, Callable[[Record], str | None]]] = [
        ("arxiv", lambda r: r.entry.arxiv),
        ("doi", lambda r: r.entry.doi),
        ("title", lambda r: normalize_title(r.entry.title)),
    ]
    for field, key in keys:
        first: dict[str, Record] = {}
        for record in catalog.records:
            value = key(record)
            if not value:
                continue
            taken = first.setdefault(value, record)
            if taken is not record:
                yield record.problem(
                    (field,),
                    f"the same work as '{taken.entry.id}' ({taken.path}); merge the two files into one",
                    "no-duplicate-work",
                )


@rule("paper-metadata", "A paper names its authors (unless imported from lists that name none) and its year.")
def _paper_metadata(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        if record.entry.kind is not Kind.paper:
            continue
        # Most awesome-lists give no authors; an imported entry waits for them rather than carry invented ones, and
        # a curated one says that its own pages did not show them (`unconfirmed: [authors]`).
        imported = bool(record.entry.sources) and all(s.name.startswith("awesome-list:") for s in record.entry.sources)
        if not record.entry.authors and not imported and "authors" not in record.entry.unconfirmed:
            yield record.problem(
                (), "a paper lists its authors; add `authors:` with one name per item", "paper-metadata"
            )
        if record.entry.year is None:
            yield record.problem((), "a paper has a year; add `year:`", "paper-metadata")


@rule(
    "paper-id-convention",
    "A paper's id is first-author surname + year + first significant title word, optionally `-word` to tell two "
    "apart.",
)
def _paper_id_convention(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        entry = record.entry
        # Without authors (lists often give none) there is no surname to name the paper by yet.
        if entry.kind is not Kind.paper or entry.year is None or not entry.authors:
            continue
        expected = make_id(entry.authors, entry.year, entry.title)
        if entry.id != expected and not entry.id.startswith(expected + "-"):
            yield record.problem(
                ("id",),
                f"the id of this paper is '{expected}' (or '{expected}-<word>' when that is taken); rename the file "
                f"and keep '{entry.id}' under `aliases:`",
                "paper-id-convention",
            )


@rule("url-needed", "Repositories, articles, tools and lists have a `url`.")
def _url_needed(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        if record.entry.kind is not Kind.paper and record.entry.url is None:
            yield record.problem((), f"a {record.entry.kind.value} needs `url:`, its address", "url-needed")


@rule("arxiv-consistent", "When the url is an arXiv page, `arxiv` holds the same id.")
def _arxiv_consistent(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        in_url = find_arxiv(record.entry.url or "")
        if in_url and in_url != record.entry.arxiv:
            fix = f"set `arxiv: {in_url}`" if record.entry.arxiv is None else "make the two agree"
            yield record.problem(
                ("arxiv",),
                f"the url points to arXiv {in_url} but arxiv is {record.entry.arxiv}; {fix}",
                "arxiv-consistent",
            )


PLACEHOLDER = "TODO"


@rule("summary-written", "The summary is written in our own words: not a placeholder, not the title again.")
def _summary_written(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        summary = record.entry.summary
        if summary is None:
            continue
        if PLACEHOLDER in summary:
            yield record.problem(
                ("summary",), "the summary is still a placeholder; write 1-3 sentences of your own", "summary-written"
            )
        elif normalize_title(summary) == normalize_title(record.entry.title):
            yield record.problem(
                ("summary",),
                "the summary repeats the title; say what the work does and why it matters",
                "summary-written",
            )


@rule("reference-impl-registered", "`reference_impl` names an implementation registered in reference_impls/.")
def _reference_impl_registered(catalog: Catalog) -> Iterator[Problem]:
    wanted = [r for r in catalog.records if r.entry.reference_impl]
    if not wanted:
        return
    from reference_impls.registry import all_impls  # imports torch: only when an entry names an implementation

    known = sorted(spec.id for spec in all_impls())
    for record in wanted:
        if record.entry.reference_impl not in known:
            yield record.problem(
                ("reference_impl",),
                f"no reference implementation '{record.entry.reference_impl}'"
                f" (registered: {', '.join(known) or 'none'})",
                "reference-impl-registered",
            )


def check(catalog: Catalog, names: list[str] | None = None) -> list[Problem]:
    """Run the named rules (all by default) over the catalog."""
    return [p for name in (names or list(RULES)) for p in RULES[name].check(catalog)]
