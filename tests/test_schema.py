"""The schema accepts good entries and rejects each class of bad input with a message that says the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb.catalog.identifiers import make_id, normalize_arxiv, normalize_doi, normalize_title
from kb.catalog.load import load_catalog
from kb.catalog.schema import Entry

from .conftest import CATALOG

GOOD = """\
id: howard2017mobilenets
kind: paper
title: 'MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications'
authors: [Andrew G. Howard]
year: 2017
venue: arXiv
arxiv: https://arxiv.org/pdf/1704.04861v3.pdf
categories: [decrease-complexity]
code:
  - url: https://github.com/a/b
  - url: https://github.com/c/d
    framework: pytorch
summary: Builds image classifiers from depthwise separable convolutions. Two multipliers trade accuracy for speed.
added: 2026-11-25
"""


def problems_for(tmp_path: Path, text: str, name: str = "howard2017mobilenets") -> list[str]:
    """Load a one-entry catalog with the real vocabularies and return the problems as printed."""
    (tmp_path / "paper").mkdir(exist_ok=True)
    path = tmp_path / "paper" / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    _, problems = load_catalog(tmp_path, CATALOG)
    return [str(p).replace(str(tmp_path) + "/", "") for p in problems]


def test_good_entry_loads_and_normalizes(tmp_path: Path) -> None:
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "howard2017mobilenets.yaml").write_text(GOOD)
    catalog, problems = load_catalog(tmp_path, CATALOG)
    assert problems == []
    entry = catalog.entries[0]
    assert entry.arxiv == "1704.04861"
    assert entry.code[1].framework == "pytorch"


@pytest.mark.parametrize(
    ("replace", "by", "expected"),
    [
        (
            "venue: arXiv",
            "venue: NIPSW",
            "paper/howard2017mobilenets.yaml:6: venue: unknown venue 'NIPSW'; did you mean 'NeurIPS Workshop'?",
        ),
        (
            "venue: arXiv",
            "venue: Zzqx Qqzz Symposium",
            "venue: unknown venue 'Zzqx Qqzz Symposium'; add it to catalog/venues.yaml",
        ),
        (
            "categories: [decrease-complexity]",
            "categories: [prunning]",
            "categories: unknown category 'prunning' (allowed: architecture,",
        ),
        ("categories: [decrease-complexity]", "categories: [prunning]", "did you mean 'pruning'?"),
        (
            "categories: [decrease-complexity]",
            "categories: []",
            "categories: List should have at least 1 item after validation",
        ),
        (
            "year: 2017",
            "year: soon",
            ":5: year: Input should be a valid integer, unable to parse string as an integer, got 'soon'",
        ),
        ("year: 2017", "year: 1066", "year: Input should be greater than or equal to 1950, got 1066"),
        (
            "kind: paper",
            "kind: papre",
            "kind: Input should be 'paper', 'repository', 'article', 'tool' or 'list', got 'papre'",
        ),
        (
            "year: 2017",
            "year: 2017\ncolour: red",
            ":6: colour: unknown key 'colour' (allowed keys: id, aliases, kind, title,",
        ),
        (
            "    framework: pytorch",
            "    framwork: pytorch",
            ":12: code[1].framwork: unknown key 'framwork'; did you mean 'framework'? (allowed keys: url, framework, official)",
        ),
        (
            "  - url: https://github.com/c/d",
            "  - url: ftp://github.com/c/d",
            ":11: code[1].url: not an http(s) URL with a host: 'ftp://github.com/c/d'",
        ),
        (
            "  - url: https://github.com/a/b",
            "  - url: https:///nohost",
            ":10: code[0].url: not an http(s) URL with a host",
        ),
        (
            "arxiv: https://arxiv.org/pdf/1704.04861v3.pdf",
            "arxiv: '17040.4861'",
            "arxiv: not an arXiv id: '17040.4861'; write it as 1704.04861",
        ),
        (
            "arxiv: https://arxiv.org/pdf/1704.04861v3.pdf",
            "arxiv: 1704.04860",
            "arxiv: YAML read this arXiv id as the number 1704.0486; put the id in quotes",
        ),
        ("added: 2026-11-25", "added: yesterday", "added: Input should be a valid date"),
        (
            "summary: Builds image classifiers from depthwise separable convolutions. Two multipliers trade accuracy for speed.",
            "summary: One. Two. Three. Four sentences here.",
            "summary: a summary has 1 to 3 sentences, this one has 4; shorten it",
        ),
        (
            "title: 'MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications'\n",
            "",
            ":1: title: required field is missing; add it",
        ),
    ],
)
def test_bad_field_is_reported_with_file_line_field_and_fix(
    tmp_path: Path, replace: str, by: str, expected: str
) -> None:
    assert replace in GOOD
    problems = problems_for(tmp_path, GOOD.replace(replace, by))
    assert any(expected in p for p in problems), problems


def test_duplicate_key_and_syntax_errors_name_the_line(tmp_path: Path) -> None:
    problems = problems_for(tmp_path, GOOD.replace("year: 2017", "year: 2017\nyear: 2018"))
    assert problems == ["paper/howard2017mobilenets.yaml:6: duplicate key 'year' (first set on line 5)"]
    problems = problems_for(tmp_path, GOOD.replace("categories: [decrease-complexity]", "categories: [decrease"))
    assert len(problems) == 1 and "invalid YAML" in problems[0]


def test_not_a_mapping(tmp_path: Path) -> None:
    assert problems_for(tmp_path, "- just\n- a list\n") == [
        "paper/howard2017mobilenets.yaml:1: the file must hold a mapping of fields (key: value lines)"
    ]


def test_one_bad_file_does_not_hide_the_others(tmp_path: Path) -> None:
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "a.yaml").write_text("id: [broken\n")
    (tmp_path / "paper" / "b.yaml").write_text(GOOD.replace("venue: arXiv", "venue: NIPSW"))
    (tmp_path / "paper" / "howard2017mobilenets.yaml").write_text(GOOD)
    (tmp_path / "papers").mkdir()
    catalog, problems = load_catalog(tmp_path, CATALOG)
    assert [e.id for e in catalog.entries] == ["howard2017mobilenets"]
    messages = [str(p) for p in problems]
    assert len(messages) == 3
    assert any("a.yaml:2: invalid YAML" in m for m in messages)
    assert any("b.yaml:6: venue" in m for m in messages)
    assert any("papers:1: unknown folder" in m and "did you mean 'paper'?" in m for m in messages)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("NIPS", "NeurIPS"),
        ("nips 2017", "NeurIPS"),
        ("CVPR'19", "CVPR"),
        ("CVPR 2019", "CVPR"),
        ("CVPR2019", "CVPR"),
        ("NeurIPS-W", "NeurIPS Workshop"),
        ("CVPRW", "CVPR Workshop"),
        ("arXiv preprint", "arXiv"),
    ],
)
def test_venue_aliases_normalize_on_load(tmp_path: Path, given: str, canonical: str) -> None:
    (tmp_path / "paper").mkdir()
    (tmp_path / "paper" / "howard2017mobilenets.yaml").write_text(GOOD.replace("venue: arXiv", f'venue: "{given}"'))
    catalog, problems = load_catalog(tmp_path, CATALOG)
    assert problems == []
    assert catalog.entries[0].venue == canonical


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("1704.04861", "1704.04861"),
        ("1704.04861v3", "1704.04861"),
        ("arXiv:1704.04861", "1704.04861"),
        ("https://arxiv.org/abs/1704.04861v2", "1704.04861"),
        ("http://arxiv.org/pdf/1704.04861.pdf", "1704.04861"),
        ("2301.00001", "2301.00001"),
        ("cs/0112017", "cs/0112017"),
        ("math.GT/0309136v1", "math/0309136"),
        ("https://arxiv.org/abs/hep-th/9901001", "hep-th/9901001"),
    ],
)
def test_arxiv_forms(given: str, canonical: str) -> None:
    assert normalize_arxiv(given) == canonical


def test_doi_title_and_id_normalization() -> None:
    assert normalize_doi("https://doi.org/10.1109/CVPR.2016.90") == "10.1109/cvpr.2016.90"
    with pytest.raises(ValueError, match="a DOI looks like"):
        normalize_doi("doi please")
    assert normalize_title("Xception: Deep Learning with Depthwise-Separable Convolutions.") == normalize_title(
        "XCEPTION — deep learning with depthwise separable convolutions"
    )
    assert make_id(["Andrew G. Howard"], 2017, "MobileNets: Efficient Convolutional") == "howard2017mobilenets"
    assert make_id(["François Chollet"], 2017, "Xception: Deep Learning") == "chollet2017xception"
    assert make_id(["Rich Caruana"], 1997, "Multitask Learning") == "caruana1997multitask"


def test_json_schema_forbids_unknown_keys_and_documents_every_field() -> None:
    schema = Entry.model_json_schema()
    assert schema["additionalProperties"] is False
    for name, field in schema["properties"].items():
        assert field.get("description"), f"{name} has no description"
    for definition in schema["$defs"].values():
        if definition.get("type") == "object":
            assert definition["additionalProperties"] is False
            assert all(p.get("description") for p in definition["properties"].values())


def test_id_without_authors_uses_two_title_words() -> None:
    assert make_id([], 1990, "Optimal Brain Damage") == "optimal1990brain"


def test_a_claim_without_a_number_reads_as_stated() -> None:
    from kb.catalog.schema import Claim

    assert Claim(what="Shared layers generalize better", where="Abstract").figure == "stated, no figure"
    assert Claim(what="ImageNet top-1", value=70.6, unit="%", where="Table 8").figure == "70.6 %"
