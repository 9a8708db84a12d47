"""How well `kb import awesome` reads real lists it was not developed on: `kb bench importer`.

Each folder of `tests/fixtures/lists/` holds an excerpt of a real awesome-list (`README.md`), where it comes from
(`SOURCE.txt`) and, for the lists the importer was not developed on, what it holds (`ground-truth.yaml`, counted
without the importer): the lines that are paper items and the arXiv ids they carry. The importer reads the excerpt
into an empty catalog with the project's vocabularies (with `--category` when the ground truth names one: a list
whose title and headings name no category `catalog/sections.yaml` knows needs it), and the result is set against
the ground truth:

- `recall`: the share of the list's arXiv ids that some parsed entry carries;
- `parsed_ratio`: parsed entries over paper items (the target of issue #12 is within ±10%);
- `unreported_lines`: paper items that were neither parsed nor reported as skipped (the target is none);
- `not_paper_lines`: lines parsed as papers that the ground truth counts as none (the target is none);
- `fallback_lines`: papers under headings that `catalog/sections.yaml` does not map, filed by their own words or
  the list's category (the import report names each).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import yaml

from kb import paths
from kb.catalog.load import load_catalog
from kb.importer.merge import ImportReport, import_list, list_source
from kb.importer.section_map import SectionMap

LISTS = paths.ROOT / "tests" / "fixtures" / "lists"
GROUND_TRUTH = "ground-truth.yaml"
TODAY = dt.date(2026, 11, 25)  # the `added` date of the entries made in memory; it changes no figure


def source_field(folder: Path, key: str) -> str:
    """One `key: value` line of the list's `SOURCE.txt` (`repository`, `commit`).

    Raises:
        ValueError: When the file lacks the key.
    """
    match = re.search(rf"^{key}:\s*(\S+)", (folder / "SOURCE.txt").read_text(encoding="utf-8"), re.MULTILINE)
    if match is None:
        raise ValueError(f"{folder / 'SOURCE.txt'}: no '{key}:' line; add '{key}: ...' as the other lists have")
    return match.group(1)


def import_excerpt(folder: Path, category: str | None = None) -> ImportReport:
    """The import report of the list in `folder`, read into an empty catalog with the project's vocabularies.

    `category` is what `kb import awesome --category` would be given.
    """
    with tempfile.TemporaryDirectory(prefix="kb-importbench-") as tmp:
        root = Path(tmp)
        for name in ("taxonomy.yaml", "venues.yaml"):
            shutil.copy(paths.CATALOG / name, root / name)
        catalog, _ = load_catalog(root)
        sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
        markdown = (folder / "README.md").read_text(encoding="utf-8")
        source = list_source(source_field(folder, "repository"))
        return import_list(markdown, source, catalog, sections, TODAY, category=category)


def measure(folder: Path) -> dict[str, Any]:
    """The figures of one list against its ground truth."""
    truth = yaml.safe_load((folder / GROUND_TRUTH).read_text(encoding="utf-8"))
    report = import_excerpt(folder, truth.get("category"))
    papers, ids = truth["paper_lines"], truth["arxiv_ids"]
    found = {outcome.fields.arxiv for outcome in report.outcomes}
    parsed_lines = {outcome.fields.line for outcome in report.outcomes}
    skipped_lines = {line for line, _ in report.skipped}
    recalled = sum(arxiv in found for arxiv in ids)
    parsed = report.counts()["parsed"]
    return {
        "list": folder.name,
        "repository": source_field(folder, "repository"),
        "commit": source_field(folder, "commit"),
        "category": truth.get("category"),
        "paper_items": len(papers),
        "parsed": parsed,
        "parsed_ratio": round(parsed / len(papers), 3),
        "arxiv_ids": len(ids),
        "recalled": recalled,
        "recall": round(recalled / len(ids), 3),
        "skipped_lines": len(report.skipped),
        "unreported_lines": [line for line in papers if line not in parsed_lines | skipped_lines],
        "not_paper_lines": sorted(parsed_lines - set(papers)),
        "fallback_lines": len(report.fallback),
    }


def run_importer_benchmark(lists: Path = LISTS) -> dict[str, Any]:
    """The figures of every list in `lists` that has a ground truth, and their totals."""
    measured = [measure(folder) for folder in sorted(lists.iterdir()) if (folder / GROUND_TRUTH).is_file()]
    if not measured:
        raise ValueError(f"no list in {lists} has a {GROUND_TRUTH}; add one (paper_lines, arxiv_ids), counted by hand")
    ids = sum(m["arxiv_ids"] for m in measured)
    return {
        "lists": measured,
        "paper_items": sum(m["paper_items"] for m in measured),
        "parsed": sum(m["parsed"] for m in measured),
        "arxiv_ids": ids,
        "recall": round(sum(m["recalled"] for m in measured) / ids, 3),
    }
