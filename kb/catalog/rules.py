"""The second layer of checks: named rules over the whole catalog, each with a passing and a failing fixture.

The schema says what a single file may hold; these rules say what the catalog as a whole must keep true (no
paper twice, ids that follow the convention, references that resolve). Each rule is a function registered with
`@rule(name, description)` that yields problems; the decorator stamps the rule's name on each, so it is written
once. Its fixtures live in `tests/fixtures/rules/<name>/{pass,fail}`. Every message says how to fix what it reports.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

from kb import paths
from kb.catalog.identifiers import find_arxiv, make_id, normalize_title
from kb.catalog.load import Catalog, Record
from kb.catalog.problems import Problem
from kb.catalog.schema import Kind
from kb.catalog.works import WorkIndex, load_same_work

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
        def named(catalog: Catalog) -> Iterator[Problem]:
            # The rule's name is written once, here; the checks yield problems without it.
            return (replace(problem, rule=name) for problem in check(catalog))

        RULES[name] = Rule(name, description, named)
        return check

    return decorator


@rule("id-matches-file", "An entry's id is its file name: catalog/<kind>/<id>.yaml.")
def _id_matches_file(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        if record.entry.id != record.path.stem:
            yield record.problem(
                ("id",), f"id '{record.entry.id}' differs from the file name; rename the file to {record.entry.id}.yaml"
            )


@rule("kind-matches-folder", "An entry's kind is the folder it lives in.")
def _kind_matches_folder(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        if record.entry.kind.value != record.path.parent.name:
            yield record.problem(
                ("kind",),
                f"kind '{record.entry.kind.value}' but the file is in {record.path.parent.name}/; "
                f"move it to catalog/{record.entry.kind.value}/",
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
                    field, f"id '{value}' is also used by {taken.path} (as id or alias); choose another"
                )


@rule(
    "no-duplicate-work",
    "The same work is catalogued once: no shared arXiv id, DOI, normalized title or same-work group.",
)
def _no_duplicate_work(catalog: Catalog) -> Iterator[Problem]:
    works = WorkIndex([], load_same_work(catalog.root / "same-work.yaml"), loose=False)
    first: dict[str, Record] = {}
    for record in catalog.records:
        entry = record.entry
        for key in works.keys(entry.title, entry.arxiv, entry.doi):
            taken = first.setdefault(key, record)
            if taken is not record:
                field = key.split(":")[0] if key.split(":")[0] in ("arxiv", "doi") else "title"
                yield record.problem(
                    (field,), f"the same work as '{taken.entry.id}' ({taken.path}); merge the two files into one"
                )
                break


@rule("not-excluded", "No entry is a work that `catalog/excluded.yaml` removed as out of scope.")
def _not_excluded(catalog: Catalog) -> Iterator[Problem]:
    removed = {}
    index = WorkIndex([], [], loose=False)
    for exclusion in catalog.excluded:
        for key in index.keys(exclusion.title, exclusion.arxiv, exclusion.doi):
            removed[key] = exclusion
    for record in catalog.records:
        entry = record.entry
        hit = next((removed[k] for k in index.keys(entry.title, entry.arxiv, entry.doi) if k in removed), None)
        if hit is not None:
            yield record.problem(
                ("title",),
                f"out of scope ({hit.reason}): catalog/excluded.yaml removed it as '{hit.id}'; delete this file, or "
                "take the work out of excluded.yaml if it belongs here after all",
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
            yield record.problem((), "a paper lists its authors; add `authors:` with one name per item")
        if record.entry.year is None:
            yield record.problem((), "a paper has a year; add `year:`")


@rule(
    "paper-id-convention",
    "A paper's id is first-author surname + year + first significant title word, optionally `-word` to tell two apart.",
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
            )


@rule("url-needed", "Repositories, articles, tools and lists have a `url`.")
def _url_needed(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        if record.entry.kind is not Kind.paper and record.entry.url is None:
            yield record.problem((), f"a {record.entry.kind.value} needs `url:`, its address")


@rule("arxiv-consistent", "When the url is an arXiv page, `arxiv` holds the same id.")
def _arxiv_consistent(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        in_url = find_arxiv(record.entry.url or "")
        if in_url and in_url != record.entry.arxiv:
            fix = f"set `arxiv: {in_url}`" if record.entry.arxiv is None else "make the two agree"
            yield record.problem(
                ("arxiv",), f"the url points to arXiv {in_url} but arxiv is {record.entry.arxiv}; {fix}"
            )


PLACEHOLDER = "TODO"


@rule("summary-written", "The summary is written in our own words: not a placeholder, not the title again.")
def _summary_written(catalog: Catalog) -> Iterator[Problem]:
    for record in catalog.records:
        summary = record.entry.summary
        if summary is None:
            continue
        if PLACEHOLDER in summary:
            yield record.problem(("summary",), "the summary is still a placeholder; write 1-3 sentences of your own")
        elif normalize_title(summary) == normalize_title(record.entry.title):
            yield record.problem(
                ("summary",), "the summary repeats the title; say what the work does and why it matters"
            )


_REGISTER = re.compile(r"""\bregister\(\s*["']([A-Za-z0-9_]+)["']""")


def registered_impls(folder: Path | None = None) -> list[str]:
    """The ids that `reference_impls/` registers, read from its source without importing it (no torch needed).

    `folder` defaults to the checkout's `reference_impls/`, else the installed package's. A test compares this with
    the registry itself, so the scan cannot drift from what `@register` does.
    """
    if folder is None:
        spec = importlib.util.find_spec("reference_impls")  # locates the package without running it
        installed = Path(spec.origin).parent if spec and spec.origin else paths.REFERENCE_IMPLS
        folder = paths.REFERENCE_IMPLS if paths.REFERENCE_IMPLS.is_dir() else installed
    found = [m.group(1) for path in sorted(folder.glob("[!_]*.py")) for m in _REGISTER.finditer(path.read_text())]
    return sorted(set(found))


@rule("reference-impl-registered", "`reference_impl` names an implementation registered in reference_impls/.")
def _reference_impl_registered(catalog: Catalog) -> Iterator[Problem]:
    wanted = [r for r in catalog.records if r.entry.reference_impl]
    known = registered_impls() if wanted else []
    for record in wanted:
        if record.entry.reference_impl not in known:
            yield record.problem(
                ("reference_impl",),
                f"no reference implementation '{record.entry.reference_impl}'"
                f" (registered: {', '.join(known) or 'none'})",
            )


def check(catalog: Catalog, names: list[str] | None = None) -> list[Problem]:
    """Run the named rules (all by default) over the catalog."""
    return [p for name in (names or list(RULES)) for p in RULES[name].check(catalog)]
