"""Real awesome-lists imported one after the other in memory, and eight more it was not developed on.

Trimmed excerpts of four real lists are committed in `tests/fixtures/lists/` (every heading, the first six items of
each section), so this regression runs everywhere; the whole lists, in `../shared/anchors/awesome-lists/` beside
the repository where they exist, are imported too.

Eight more excerpts there carry a `ground-truth.yaml`, counted without the importer: `kb bench importer` measures
the importer against it, and the targets of issue #12 are asserted here on the same measurement. Five of them taught
the parser its newer rules; two (gigwegbe, ChanChiChoi) were held out until those rules were in place and then
taught more; the last (cedrickchee) was measured with the parser frozen and taught nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from kb import paths
from kb.bench.importer import run_importer_benchmark
from kb.catalog import rules
from kb.catalog.identifiers import find_arxiv, normalize_title
from kb.catalog.load import Catalog, Record, load_catalog
from kb.catalog.schema import Entry
from kb.catalog.yamlio import Located, load_yaml
from kb.importer.merge import ImportReport, import_list, list_source
from kb.importer.section_map import SectionMap

EXCERPTS = Path(__file__).resolve().parent / "fixtures" / "lists"
WHOLE = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "awesome-lists"
ORDER = [
    "he-y__Awesome-Pruning",
    "lhyfst__knowledge-distillation-papers",
    "MingSun-Tse__EfficientDNNs",
    "EMDL__awesome-emdl",
]
# Papers each list yields (table rows and list items with a usable link in on-topic sections).
PARSED_EXCERPTS = {
    "he-y__Awesome-Pruning": 39,
    "lhyfst__knowledge-distillation-papers": 56,
    "MingSun-Tse__EfficientDNNs": 36,
    "EMDL__awesome-emdl": 33,
}
EMDL_OFF_TOPIC_EXCERPT = 38
PARSED = {
    "he-y__Awesome-Pruning": 278,
    "lhyfst__knowledge-distillation-papers": 165,
    "MingSun-Tse__EfficientDNNs": 641,
    "EMDL__awesome-emdl": 52,
}

pytestmark = pytest.mark.slow
LISTS = [
    pytest.param(EXCERPTS, id="excerpts"),
    pytest.param(
        WHOLE,
        id="whole",
        marks=pytest.mark.skipif(
            not WHOLE.is_dir(), reason="the whole lists of shared/anchors are not beside the repo"
        ),
    ),
]


def apply(catalog: Catalog, report: ImportReport) -> None:
    """Put the report's new and updated entries into the in-memory catalog, as `--write` would on disk."""
    kept = [r for r in catalog.records if r.entry.id not in report.changed]
    made = [Record(e, Located(catalog.root / "paper" / f"{e.id}.yaml", None, {})) for e in report.changed.values()]
    catalog.records = sorted(kept + made, key=lambda r: r.entry.id)


@pytest.fixture(scope="module", params=LISTS)
def imported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Catalog, dict[str, ImportReport]]:
    lists: Path = request.param
    root = tmp_path_factory.mktemp("catalog")
    for name in ("taxonomy.yaml", "venues.yaml"):
        shutil.copy(paths.CATALOG / name, root / name)
    catalog, _ = load_catalog(root)
    # The hand-written seed papers, as committed: the import must merge into them, not add them again.
    for path in sorted((paths.CATALOG / "paper").glob("*.yaml")):
        record = Record(*load_catalog_entry(path, catalog))
        if all(not s.name.startswith("awesome-list:") for s in record.entry.sources):
            catalog.records.append(record)
    sections = SectionMap.load(paths.SECTIONS, catalog.vocabulary)
    same_work = yaml.safe_load((paths.CATALOG / "same-work.yaml").read_text())["same_work"]
    reports = {}
    for name in ORDER:
        repository = re.search(r"^repository:\s*(\S+)", (lists / name / "SOURCE.txt").read_text(), re.M).group(1)
        markdown = (lists / name / "README.md").read_text()
        reports[name] = import_list(
            markdown, list_source(repository), catalog, sections, dt.date(2026, 11, 25), same_work
        )
        apply(catalog, reports[name])
    return catalog, reports, lists


def load_catalog_entry(path: Path, catalog: Catalog) -> tuple[Entry, Located]:
    located = load_yaml(path)
    data = dict(located.data)
    # A committed seed may already list the awesome-lists; start from its hand-written sources only.
    data["sources"] = [s for s in data.get("sources", []) if not s["name"].startswith("awesome-list:")]
    return Entry.model_validate(data, context={"vocabulary": catalog.vocabulary}), located


Imported = tuple[Catalog, dict[str, ImportReport], Path]


def list_items(markdown: str) -> list[str]:
    """Lines of a list that hold an arXiv abstract link: each is a paper the importer must not lose."""
    return [line for line in markdown.splitlines() if "arxiv.org/abs/" in line]


def test_each_list_yields_its_papers(imported: Imported) -> None:
    _, reports, lists = imported
    expected = PARSED if lists == WHOLE else PARSED_EXCERPTS
    assert {name: report.counts()["parsed"] for name, report in reports.items()} == expected
    for report in reports.values():
        assert not any(reason.startswith("invalid entry") for _, reason in report.skipped)


def test_arxiv_linked_items_end_up_catalogued(imported: Imported) -> None:
    """arXiv-id recall: an item that links an arXiv abstract becomes (or merges into) an entry with that id."""
    catalog, reports, lists = imported
    ids = {e.arxiv for e in catalog.entries if e.arxiv}
    seen = found = 0
    for name in ORDER:
        off_topic = {line for line, reason in reports[name].skipped if reason.startswith("off-topic")}
        for number, line in enumerate((lists / name / "README.md").read_text().splitlines(), start=1):
            arxiv = find_arxiv(line) if "arxiv.org/abs/" in line else None
            if arxiv and number not in off_topic:
                seen += 1
                found += arxiv in ids
    assert seen > 20 and found / seen >= 0.9


def test_every_paper_is_catalogued_once(imported: Imported) -> None:
    catalog, _, _ = imported
    papers = [e for e in catalog.entries if e.kind.value == "paper"]
    assert 900 <= len(papers) <= 1100  # the catalog's papers, into which the lists merge
    assert rules.check(catalog, ["no-duplicate-work", "unique-id"]) == []
    titles = [normalize_title(e.title) for e in papers]
    assert len(set(titles)) == len(titles)


def test_seed_entries_keep_their_fields(imported: Imported) -> None:
    catalog, _, _ = imported
    distilling = catalog.by_id()["hinton2015distilling"]
    assert distilling.title == "Distilling the Knowledge in a Neural Network" and distilling.summary
    assert {s.name for s in distilling.sources} >= {
        "founding-notes",
        "awesome-list:lhyfst/knowledge-distillation-papers",
        "awesome-list:MingSun-Tse/EfficientDNNs",
    }


def test_off_topic_sections_are_left_out(imported: Imported) -> None:
    catalog, reports, lists = imported
    sections = {s.section or "" for e in catalog.entries for s in e.sources}
    assert not any(re.search(r"interpretab|tutorial|course", s, re.I) for s in sections)
    emdl = reports["EMDL__awesome-emdl"]
    off_topic = sum(reason.startswith("off-topic section") for _, reason in emdl.skipped)
    assert off_topic == (50 if lists == WHOLE else EMDL_OFF_TOPIC_EXCERPT)


# Measured on the unseen excerpts (parsed entries, arXiv ids recalled, lines parsed that are no paper), against their
# ground truth. Before the rules the first five taught, the importer parsed 0, 37, 61, 0 and 39 of them and recalled
# 0, 34, 37, 0 and 11 ids. The two held-out lists, first measured with those rules and the `--category` their
# ground truth names, parsed 47 of 47 (ChanChiChoi, one no paper) and 47 of 42 (gigwegbe, six no papers) and recalled
# 18 of 19 and 36 of 37 ids; without `--category` they lose every paper under an unmapped heading (21 and 8 parsed).
# The rules they then taught are in the commit that added them. gigwegbe's line 67 is a project under "Awesome TinyML
# Projects", a heading catalog/sections.yaml does not yet skip; cedrickchee's line 145 an article under "Articles >
# Howtos", and its three lost ids sit under "General" and "Parallelism", which no rule maps (reported, skipped).
UNSEEN = {
    "ChanChiChoi__awesome-model-compression": (47, 19, []),
    "cedrickchee__awesome-ml-model-compression": (67, 56, [145]),
    "FLHonker__Awesome-Knowledge-Distillation": (86, 30, []),
    "HuangOwen__Awesome-LLM-Compression": (43, 40, []),
    "Zhen-Dong__Awesome-Quantization-Papers": (60, 37, []),
    "gigwegbe__tinyml-papers-and-projects": (43, 37, [67]),
    "horseee__Awesome-Efficient-LLM": (24, 24, []),
    "htqin__awesome-model-quantization": (41, 13, []),
}
UNSEEN_RESULTS = paths.BENCH_RESULTS / "importer.unseen-lists.json"


@pytest.fixture(scope="module")
def unseen() -> dict[str, Any]:
    return run_importer_benchmark(EXCERPTS)


def test_unseen_lists_meet_the_targets(unseen: dict[str, Any]) -> None:
    """arXiv-id recall >= 90%, parsed entries within 10% of the paper items, every paper item parsed or reported."""
    measured = {m["list"]: m for m in unseen["lists"]}
    assert {name: (m["parsed"], m["recalled"], m["not_paper_lines"]) for name, m in measured.items()} == UNSEEN
    for m in measured.values():
        assert m["recall"] >= 0.9, m["list"]
        assert abs(m["parsed"] - m["paper_items"]) <= 0.1 * m["paper_items"], m["list"]
        assert m["unreported_lines"] == [], m["list"]


def test_committed_unseen_results_are_the_current_measurement(unseen: dict[str, Any]) -> None:
    """`results/bench/importer.unseen-lists.json` is what `kb bench importer` writes now: run it after a change."""
    assert json.loads(UNSEEN_RESULTS.read_text()) == {"command": "kb bench importer", **unseen}
