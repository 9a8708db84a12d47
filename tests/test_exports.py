"""The exports read back: BibTeX through bibtexparser, JSON against the JSON Schema, CSV row by row, the Atom feed."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import bibtexparser
import jsonschema
import pytest

from kb import paths
from kb.catalog.load import Catalog, load_catalog, write_entry
from kb.catalog.schema import CodeLink, Entry, Kind, Source, entry_json_schema
from kb.cli import main
from kb.site.exports import CSV_COLUMNS, LIST_SEPARATOR, catalog_bibtex, catalog_csv, catalog_feed, export_all

ATOM = "{http://www.w3.org/2005/Atom}"


def entries() -> list[Entry]:
    day = dt.date(2026, 11, 20)
    return [
        Entry(
            id="howard2017mobilenets",
            kind=Kind.paper,
            title="MobileNets: Efficient CNNs for {Mobile} & 100% Vision",
            authors=["Andrew G. Howard", "Menglong Zhu"],
            year=2017,
            venue="arXiv",
            arxiv="1704.04861",
            url="https://arxiv.org/abs/1704.04861",
            categories=["decrease-complexity"],
            tags=["depthwise-separable"],
            code=[CodeLink(url="https://github.com/tensorflow/models", framework="tensorflow", official=True)],
            summary="Builds image classifiers from depthwise separable convolutions. Two multipliers trade cost.",
            added=day,
        ),
        Entry(
            id="he2016deep",
            kind=Kind.paper,
            title="Deep Residual Learning for Image Recognition",
            authors=["Kaiming He", "Xiangyu Zhang"],
            year=2016,
            venue="CVPR",
            venue_flags=["best-paper"],
            doi="10.1109/cvpr.2016.90",
            categories=["improve-accuracy", "architecture"],
            added=day,
        ),
        Entry(
            id="optimal1990brain",
            kind=Kind.paper,
            title="Optimal Brain Damage",
            year=1990,
            venue="NeurIPS",
            url="https://papers.nips.cc/paper/1989/file/6c9882bbac1c7093bd25041881277658-Paper.pdf",
            categories=["pruning"],
            added=dt.date(2026, 11, 25),
            sources=[
                Source(
                    name="awesome-list:MingSun-Tse/EfficientDNNs", url="https://github.com/MingSun-Tse/EfficientDNNs"
                )
            ],
        ),
        Entry(
            id="lecun1998gradient",
            kind=Kind.paper,
            title="Gradient-Based Learning Applied to Document Recognition",
            authors=["Yann LeCun", "Léon Bottou"],
            year=1998,
            venue="Proceedings of the IEEE",
            categories=["architecture"],
            added=dt.date(2026, 11, 21),
        ),
        Entry(
            id="onnxruntime",
            kind=Kind.tool,
            title="ONNX Runtime",
            url="https://onnxruntime.ai/",
            categories=["deployment"],
            added=day,
        ),
    ]


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    root = tmp_path / "catalog"
    root.mkdir()
    for name in ("taxonomy.yaml", "venues.yaml"):
        shutil.copy(paths.CATALOG / name, root / name)
    for entry in entries():
        write_entry(root, entry)
    loaded, problems = load_catalog(root)
    assert problems == []
    return loaded


def test_bibtex_parses_back_with_every_key_and_field(catalog: Catalog) -> None:
    library = bibtexparser.parse_string(catalog_bibtex(catalog))
    assert library.failed_blocks == []
    by_key = {e.key: e for e in library.entries}
    assert sorted(by_key) == sorted(e.id for e in catalog.entries)
    assert by_key["he2016deep"].entry_type == "inproceedings"
    assert by_key["he2016deep"].fields_dict["doi"].value == "10.1109/cvpr.2016.90"
    assert by_key["lecun1998gradient"].entry_type == "article"  # a journal
    assert by_key["howard2017mobilenets"].fields_dict["eprint"].value == "1704.04861"
    assert r"\& 100\%" in by_key["howard2017mobilenets"].fields_dict["title"].value
    assert by_key["onnxruntime"].entry_type == "misc"


def test_json_export_validates_against_the_schema(catalog: Catalog, tmp_path: Path) -> None:
    paths = export_all(catalog, tmp_path / "downloads")
    assert sorted(p.name for p in paths) == [
        "catalog.csv",
        "catalog.json",
        "entry.schema.json",
        "feed.xml",
        "references.bib",
    ]
    data = json.loads((tmp_path / "downloads" / "catalog.json").read_text())
    schema = json.loads((tmp_path / "downloads" / "entry.schema.json").read_text())
    assert schema == entry_json_schema()
    validator = jsonschema.Draft202012Validator(schema)
    for item in data["entries"]:
        validator.validate(item)
    assert [e["id"] for e in data["entries"]] == [e.id for e in catalog.entries]
    assert {c["id"] for c in data["categories"]} == set(catalog.vocabulary.categories)
    broken = dict(data["entries"][0], kind="poster")
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(broken)


def test_csv_round_trips(catalog: Catalog) -> None:
    rows = list(csv.DictReader(io.StringIO(catalog_csv(catalog))))
    assert list(rows[0]) == list(CSV_COLUMNS)
    for row, entry in zip(rows, catalog.entries, strict=True):
        split = lambda value: value.split(LIST_SEPARATOR) if value else []  # noqa: E731
        assert row["id"] == entry.id and row["title"] == entry.title
        assert split(row["authors"]) == entry.authors
        assert (int(row["year"]) if row["year"] else None) == entry.year
        assert split(row["categories"]) == entry.categories
        assert split(row["code"]) == [c.url for c in entry.code]
        assert split(row["venue_flags"]) == [f.value for f in entry.venue_flags]
        assert (row["venue"] or None, row["arxiv"] or None, row["doi"] or None) == (entry.venue, entry.arxiv, entry.doi)
        assert (row["summary"] or None) == entry.summary and row["added"] == entry.added.isoformat()


def test_feed_lists_the_newest_entries_first(catalog: Catalog) -> None:
    feed = ET.fromstring(catalog_feed(catalog, "https://example.org/", size=3))
    items = feed.findall(f"{ATOM}entry")
    assert [i.findtext(f"{ATOM}id") for i in items] == [
        "https://example.org/entries/optimal1990brain/",
        "https://example.org/entries/lecun1998gradient/",
        "https://example.org/entries/onnxruntime/",
    ]
    assert feed.findtext(f"{ATOM}updated") == "2026-11-25T00:00:00Z"
    assert items[0].findtext(f"{ATOM}summary") == "Optimal Brain Damage (NeurIPS, 1990)"  # no summary yet
    assert [c.get("term") for c in items[0].findall(f"{ATOM}category")] == ["pruning"]


def test_export_command_writes_each_format_and_repeats_byte_for_byte(catalog: Catalog, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert main(["export", "bibtex", "--catalog", str(catalog.root), "--out", str(out)]) == 0
    assert [p.name for p in out.iterdir()] == ["references.bib"]
    assert main(["export", "all", "--catalog", str(catalog.root), "--out", str(out)]) == 0
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert main(["export", "all", "--catalog", str(catalog.root), "--out", str(out)]) == 0
    assert {p.name: p.read_bytes() for p in out.iterdir()} == first and len(first) == 5


@pytest.mark.slow
def test_the_whole_catalog_exports_cleanly(tmp_path: Path) -> None:
    catalog, problems = load_catalog()
    assert problems == []
    export_all(catalog, tmp_path)
    library = bibtexparser.parse_string((tmp_path / "references.bib").read_text())
    assert library.failed_blocks == []
    assert sorted(e.key for e in library.entries) == sorted(e.id for e in catalog.entries)
    validator = jsonschema.Draft202012Validator(entry_json_schema())
    for item in json.loads((tmp_path / "catalog.json").read_text())["entries"]:
        validator.validate(item)
    rows = list(csv.DictReader((tmp_path / "catalog.csv").open(newline="")))
    assert [r["id"] for r in rows] == [e.id for e in catalog.entries]
