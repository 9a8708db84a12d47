"""The four real awesome-lists in `../shared/anchors/awesome-lists/`, imported one after the other in memory."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest
import yaml

from kb import paths
from kb.catalog import rules
from kb.catalog.identifiers import normalize_title
from kb.catalog.load import Catalog, Record, load_catalog
from kb.catalog.schema import Entry
from kb.catalog.yamlio import Located, load_yaml
from kb.importer.merge import ImportReport, import_list, list_source
from kb.importer.section_map import SectionMap

LISTS = Path(__file__).resolve().parents[1].parent / "shared" / "anchors" / "awesome-lists"
ORDER = [
    "he-y__Awesome-Pruning",
    "lhyfst__knowledge-distillation-papers",
    "MingSun-Tse__EfficientDNNs",
    "EMDL__awesome-emdl",
]
# Papers each list yields (table rows and list items with a usable link in on-topic sections).
PARSED = {
    "he-y__Awesome-Pruning": 278,
    "lhyfst__knowledge-distillation-papers": 165,
    "MingSun-Tse__EfficientDNNs": 641,
    "EMDL__awesome-emdl": 52,
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not LISTS.is_dir(), reason="the awesome-lists of shared/anchors are not beside the repository"),
]


def apply(catalog: Catalog, report: ImportReport) -> None:
    """Put the report's new and updated entries into the in-memory catalog, as `--write` would on disk."""
    kept = [r for r in catalog.records if r.entry.id not in report.changed]
    made = [Record(e, Located(catalog.root / "paper" / f"{e.id}.yaml", None, {})) for e in report.changed.values()]
    catalog.records = sorted(kept + made, key=lambda r: r.entry.id)


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Catalog, dict[str, ImportReport]]:
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
        repository = re.search(r"^repository:\s*(\S+)", (LISTS / name / "SOURCE.txt").read_text(), re.M).group(1)
        markdown = (LISTS / name / "README.md").read_text()
        reports[name] = import_list(
            markdown, list_source(repository), catalog, sections, dt.date(2026, 11, 25), same_work
        )
        apply(catalog, reports[name])
    return catalog, reports


def load_catalog_entry(path: Path, catalog: Catalog) -> tuple[Entry, Located]:
    located = load_yaml(path)
    data = dict(located.data)
    # A committed seed may already list the awesome-lists; start from its hand-written sources only.
    data["sources"] = [s for s in data.get("sources", []) if not s["name"].startswith("awesome-list:")]
    return Entry.model_validate(data, context={"vocabulary": catalog.vocabulary}), located


def test_each_list_yields_its_papers(imported: tuple[Catalog, dict[str, ImportReport]]) -> None:
    _, reports = imported
    assert {name: report.counts()["parsed"] for name, report in reports.items()} == PARSED
    for report in reports.values():
        assert not any(reason.startswith("invalid entry") for _, reason in report.skipped)


def test_every_paper_is_catalogued_once(imported: tuple[Catalog, dict[str, ImportReport]]) -> None:
    catalog, _ = imported
    papers = [e for e in catalog.entries if e.kind.value == "paper"]
    assert 900 <= len(papers) <= 1000  # about 975 papers across the four lists, minus those without a usable link
    assert rules.check(catalog, ["no-duplicate-work", "unique-id", "paper-metadata", "paper-id-convention"]) == []
    titles = [normalize_title(e.title) for e in papers]
    assert len(set(titles)) == len(titles)
    cross_listed = [e for e in papers if len({s.name for s in e.sources}) > 1]
    assert len(cross_listed) > 100  # the lists overlap; those papers were merged, not duplicated


def test_seed_entries_keep_their_fields(imported: tuple[Catalog, dict[str, ImportReport]]) -> None:
    catalog, _ = imported
    seeds = {e.id: e for e in catalog.entries if any(s.name == "founding-notes" for s in e.sources)}
    distilling = seeds["hinton2015distilling"]
    assert distilling.title == "Distilling the Knowledge in a Neural Network" and distilling.summary
    assert {s.name for s in distilling.sources} >= {
        "founding-notes",
        "awesome-list:lhyfst/knowledge-distillation-papers",
        "awesome-list:MingSun-Tse/EfficientDNNs",
    }


def test_off_topic_sections_are_left_out(imported: tuple[Catalog, dict[str, ImportReport]]) -> None:
    catalog, reports = imported
    sections = {s.section or "" for e in catalog.entries for s in e.sources}
    assert not any(re.search(r"interpretab|tutorial|course", s, re.I) for s in sections)
    emdl = reports["EMDL__awesome-emdl"]
    assert sum(reason.startswith("off-topic section") for _, reason in emdl.skipped) == 50
