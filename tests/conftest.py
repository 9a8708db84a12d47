"""Shared fixtures: paths of the project and a site built once per test session from a copy of the docs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "catalog"
FIXTURES = Path(__file__).resolve().parent / "fixtures"

# An entry whose title and summary try every way of breaking out of Markdown or HTML.
EVIL_ENTRY = """\
id: hacker2020pipes
kind: paper
title: 'Pipes | <script>alert("x")</script> `code` [link](https://e.com) *stars* _under_ :material-alert:'
authors: ['Eve <b>Bold</b> Hacker', 'Mallory ] Smith']
year: 2020
venue: arXiv
url: https://example.com/evil?a=1&b=<2>
categories: [pruning]
tags: [escaping]
summary: 'A summary with | pipes, <img src=x onerror=alert(1)>, ```fences``` and ] brackets.'
claims:
  - {what: 'Accuracy | <i>tricky</i>', value: 1.5, unit: '%', where: 'Table ` 1'}
added: 2026-01-01
"""
EVIL_TITLE = 'Pipes | <script>alert("x")</script> `code` [link](https://e.com) *stars* _under_ :material-alert:'


def _shipped_marks() -> list[pytest.MarkDecorator]:
    """Slow, and skipped with the command that fetches them when the shipped models are not in the cache."""
    from reference_impls import _shipped

    missing = not _shipped.available()
    reason = f"shipped models not in {_shipped.cache_dir()}: run {_shipped.FETCH_COMMAND}"
    return [pytest.mark.slow, pytest.mark.skipif(missing, reason=reason)]


# The marks of every test of a shipped-model port (`pytestmark = SHIPPED`).
SHIPPED = _shipped_marks()


def copy_catalog(target: Path) -> Path:
    """A writable copy of the real catalog."""
    shutil.copytree(CATALOG, target)
    return target


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The site built with `--strict` from the real catalog plus the evil entry, in a copy of the project's docs.

    Returns the site folder. Built once per session: it is what the site and browser tests read.
    """
    from kb.catalog.checked import load_checked_catalog
    from kb.site import build as site

    work = tmp_path_factory.mktemp("project")
    catalog_dir = copy_catalog(work / "catalog")
    (catalog_dir / "paper" / "hacker2020pipes.yaml").write_text(EVIL_ENTRY, encoding="utf-8")
    shutil.copytree(
        ROOT / "docs", work / "docs", ignore=shutil.ignore_patterns(*site.GENERATED_DIRS, *site.GENERATED_FILES)
    )
    shutil.copy(ROOT / "mkdocs.yml", work / "mkdocs.yml")
    shutil.copy(ROOT / "CONTRIBUTING.md", work / "CONTRIBUTING.md")
    catalog, problems = load_checked_catalog(catalog_dir)
    assert not problems, "\n".join(map(str, problems))
    site.build(catalog, work / "mkdocs.yml", work / "site")
    return work / "site"
