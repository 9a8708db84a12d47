"""`kb import awesome FILE.md`: the command line of `kb.importer.merge`.

Dry run by default: it prints what it would create and merge, every skipped line with its reason, fragile links and
venues it could not place. `--write` writes the files; `--format json` prints one object per parsed paper.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import yaml

from kb import paths
from kb.catalog.checked import clean_catalog
from kb.catalog.yamlio import YamlError, read_text_bounded
from kb.importer.merge import ImportReport, WriteFailed, import_list, list_source, write_changes
from kb.importer.section_map import DEFAULT_SECTIONS, SectionMap

MAX_LIST_BYTES = 10_000_000  # the largest awesome-lists are a few hundred kilobytes


def _print_text(report: ImportReport) -> None:
    for outcome in report.outcomes:
        f = outcome.fields
        where = ", ".join(str(x) for x in (outcome.year, outcome.venue) if x)
        print(
            f"  {outcome.action:9} L{f.line:<5} {outcome.entry_id:40} {f.title[:70]} ({where}) "
            f"[{', '.join(outcome.categories)}]"
        )
    if report.skipped:
        print("skipped lines:")
        for line, reason in report.skipped:
            print(f"  L{line:<5} {reason}")
    if report.notes:
        print("notes:")
        for line, note in report.notes:
            print(f"  L{line:<5} {note}")
    if report.unknown_venues:
        print("venues not in catalog/venues.yaml (left out; add the real ones there and import again):")
        for venue, lines in sorted(report.unknown_venues.items()):
            print(f"  {venue!r} on line(s) {', '.join(map(str, lines))}")
    if report.fallback:
        print(
            "under headings that catalog/sections.yaml does not map, filed by their own words or the list's category:"
        )
        for line, category in report.fallback:
            print(f"  L{line:<5} {category}")


def _run(args: argparse.Namespace) -> int:
    try:
        markdown = read_text_bounded(args.file, MAX_LIST_BYTES)
    except YamlError as error:
        print(f"kb import: {error}", file=sys.stderr)
        return 2
    repository = args.source or _repository_of(args.file)
    if repository is None:
        print(f"cannot tell which repository {args.file} comes from; pass --source owner/repo", file=sys.stderr)
        return 2
    catalog = clean_catalog(args.catalog)
    if catalog is None:
        return 1
    try:
        sections = SectionMap.load(args.sections, catalog.vocabulary)
    except (OSError, ValueError) as error:
        print(error, file=sys.stderr)
        return 2
    same_work = []
    if args.same_work.exists():
        same_work = yaml.safe_load(args.same_work.read_text(encoding="utf-8"))["same_work"]
    if args.category and args.category not in catalog.vocabulary.categories:
        print(f"kb import: unknown category '{args.category}'; use an id of catalog/taxonomy.yaml", file=sys.stderr)
        return 2
    report = import_list(
        markdown, list_source(repository), catalog, sections, same_work=same_work, category=args.category
    )
    try:
        written = write_changes(args.catalog, report.changed.values()) if args.write else None
    except WriteFailed as error:
        print(f"kb import: {error}", file=sys.stderr)
        return 1
    if args.format == "json":
        for outcome in report.outcomes:
            print(json.dumps(outcome.as_json(), ensure_ascii=False))
    else:
        _print_text(report)
    counts = ", ".join(f"{key} {value}" for key, value in report.counts().items())
    what = (
        f"wrote {len(written)} file(s)"
        if written is not None
        else (f"dry run: --write would write {len(report.changed)} file(s)")
    )
    print(f"{report.source.name}: {counts}; {what}", file=sys.stderr)
    return 0


def _repository_of(path: Path) -> str | None:
    """The repository named by a `SOURCE.txt` beside the list (`repository: https://github.com/owner/repo`)."""
    source = path.parent / "SOURCE.txt"
    if source.exists():
        match = re.search(r"^repository:\s*(\S+)", source.read_text(encoding="utf-8"), re.MULTILINE)
        if match:
            return match.group(1)
    return None


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    """Add `kb import awesome`."""
    group = subparsers.add_parser("import", help="import papers from other collections").add_subparsers(
        dest="import_kind", required=True, metavar="KIND"
    )
    awesome = group.add_parser(
        "awesome",
        help="import a Markdown awesome-list (dry run unless --write)",
        description="Read an awesome-list, file its papers under the taxonomy and merge them into the catalog.",
    )
    awesome.add_argument("file", type=Path, help="the list's README.md")
    awesome.add_argument("--source", help="the list's repository, owner/repo (default: from SOURCE.txt beside FILE)")
    awesome.add_argument(
        "--format", choices=["text", "json"], default="text", help="json: one object per parsed paper on stdout"
    )
    awesome.add_argument("--write", action="store_true", help="create and update catalog files")
    awesome.add_argument(
        "--sections",
        type=Path,
        default=DEFAULT_SECTIONS,
        help="mapping of sections to categories (default: catalog/sections.yaml)",
    )
    awesome.add_argument(
        "--same-work",
        type=Path,
        default=paths.CATALOG / "same-work.yaml",
        help="groups of titles that name one work (default: catalog/same-work.yaml)",
    )
    awesome.add_argument("--catalog", type=Path, default=paths.CATALOG, help="catalog folder")
    awesome.add_argument(
        "--category",
        help="category of papers under headings that sections.yaml does not map (default: from the list's title)",
    )
    awesome.set_defaults(handler=_run)
