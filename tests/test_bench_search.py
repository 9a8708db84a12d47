"""`kb bench search`: the relevance checks of the query set, and both engines measured on the small test site."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb.bench.search import EXPECTED, measure_engines, meets_expectation, run_pagefind
from kb.catalog.load import load_catalog

from .conftest import CATALOG

MOBILENETS = "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications"
HINTON = "Distilling the Knowledge in a Neural Network"


@pytest.fixture(scope="module")
def entries():
    return load_catalog(CATALOG)[0].entries


def test_each_query_has_an_expectation_that_can_fail(entries) -> None:
    assert meets_expectation("MobileNets", [MOBILENETS, HINTON], entries)
    assert not meets_expectation("MobileNets", [HINTON, MOBILENETS], entries)  # first, not second
    assert meets_expectation("distillation temperature", ["Compression", "Pruning", HINTON], entries)
    assert not meets_expectation(
        "distillation temperature", ["Compression", "Pruning", "Quantization", HINTON], entries
    )
    amc = "AMC: AutoML for Model Compression and Acceleration on Mobile Devices"  # He, Lin, Liu, Wang, Li and Song Han
    assert meets_expectation("Han", ["Compression", amc], entries)
    assert not meets_expectation("Han", ["Compression", "Pruning", HINTON, amc], entries)
    lottery = [e.title for e in entries if "lottery ticket" in e.title.lower()][:3]
    assert len(lottery) == 3 and meets_expectation("lottery ticket", lottery, entries)
    assert not meets_expectation("lottery ticket", [*lottery[:2], "Pruning"], entries)  # a category page is no paper
    assert not meets_expectation("lottery ticket", lottery[:2], entries)
    assert set(EXPECTED) == {
        "Han",
        "quantization aware training",
        "MobileNets",
        "lottery ticket",
        "distillation temperature",
    }


@pytest.mark.slow
@pytest.mark.browser
def test_both_engines_are_measured_on_the_test_site(built_site: Path, tmp_path: Path, entries) -> None:
    site = tmp_path / "site"
    shutil.copytree(built_site, site)  # Pagefind writes its bundle into the site it indexes
    assert run_pagefind(site, runs=1) > 0
    assert any((site / "pagefind" / "index").iterdir())
    results = measure_engines(site, ("MobileNets",))
    theme, pagefind = results["theme"][0], results["pagefind"][0]
    # The theme downloads its whole index before the first result; Pagefind the chunks that the query needs.
    assert theme["search_bytes"] > (site / "search" / "search_index.json").stat().st_size
    assert 0 < pagefind["search_bytes"] < theme["search_bytes"]
    assert theme["page_bytes"] == pagefind["page_bytes"] > 0  # the same home page under both
    assert len(theme["top"]) == len(pagefind["top"]) == 5
    assert meets_expectation("MobileNets", theme["top"], entries)
