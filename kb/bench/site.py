"""How long the site takes to build at scale, and how much of it is ours: `kb bench site`.

The real catalog, topped up with synthetic entries (made by code, each valid and distinct) to N entries (5,000 by
default), is written as YAML files beside a temporary copy of the project's docs, then built the way `kb build`
builds: load and validate, generate the pages, run MkDocs. The real entries stay because the articles cite them.
The result separates our part (validation and generation) from MkDocs' own.
"""

from __future__ import annotations

import datetime as dt
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kb import paths
from kb.catalog.checked import load_checked_catalog
from kb.catalog.identifiers import make_id
from kb.catalog.load import Catalog, load_catalog, write_entry
from kb.catalog.schema import Entry
from kb.site import build as site

_WORDS = (
    "efficient sparse quantized binary mobile tiny fast pruned distilled compact neural network convolution "
    "attention channel filter search latency accelerator embedded learning training inference"
).split()


def synthetic_entries(count: int, categories: list[str], seed: int = 0) -> list[Entry]:
    """`count` distinct, valid paper entries with made-up titles (never real papers)."""
    rng = random.Random(seed)
    entries = []
    for i in range(count):
        title = " ".join(rng.choice(_WORDS).capitalize() for _ in range(6)) + f" {i}"
        year = rng.randint(2012, 2026)
        authors = [f"Ada Synthetic{i}", f"Coauthor {i % 97}"]
        entries.append(
            Entry(
                id=make_id(authors, year, title),  # the convention the rule checks: synthetic<i><year><word>
                kind="paper",
                title=title,
                authors=authors,
                year=year,
                venue=rng.choice(["CVPR", "NeurIPS", "ICLR", "ICML", "arXiv"]),
                arxiv=f"{year % 100:02d}{rng.randint(1, 12):02d}.{i:05d}",
                categories=[rng.choice(categories)],
                tags=[rng.choice(_WORDS)],
                summary=f"Synthetic entry number {i}, generated to measure how the site build scales.",
                added=dt.date(2026, 1, 1),
            )
        )
    return entries


def validate_command_seconds(project: Path, runs: int = 5) -> float:
    """Median wall time of `kb validate` run as a command in `project` (a fresh interpreter each time)."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "kb", "validate"], cwd=project, capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return round(statistics.median(times), 3)


def copy_project(project: Path, work: Path) -> None:
    """Copy what `kb build` reads (the catalog, the hand-written docs, `mkdocs.yml`) from `project` into `work`."""
    shutil.copytree(project / "catalog", work / "catalog")
    ignore = shutil.ignore_patterns(*site.GENERATED_DIRS, *site.GENERATED_FILES)
    shutil.copytree(project / "docs", work / "docs", ignore=ignore)
    for name in ("mkdocs.yml", "CONTRIBUTING.md"):
        shutil.copy(project / name, work / name)


def top_up(catalog_dir: Path, entries: int) -> int:
    """Add synthetic entries to the catalog in `catalog_dir` until it holds `entries`; returns the real ones."""
    real, _ = load_catalog(catalog_dir)
    for entry in synthetic_entries(entries - len(real.records), sorted(real.vocabulary.categories)):
        write_entry(catalog_dir, entry)
    return len(real.records)


def load_benchmark_catalog(catalog_dir: Path) -> Catalog:
    """The topped-up catalog, checked; raises RuntimeError if a synthetic entry broke a rule."""
    catalog, problems = load_checked_catalog(catalog_dir)
    if problems:
        raise RuntimeError(f"the synthetic catalog has problems, first: {problems[0]}")
    return catalog


def run_site_benchmark(entries: int = 5000, project: Path = paths.ROOT) -> dict[str, Any]:
    """Build the site from a synthetic catalog of `entries` papers and time each part."""
    with tempfile.TemporaryDirectory(prefix="kb-sitebench-") as tmp:
        work = Path(tmp)
        copy_project(project, work)
        # What a contributor waits for: the whole `kb validate` command, interpreter and imports included.
        validate_real = validate_command_seconds(work)
        real_entries = top_up(work / "catalog", entries)

        start = time.perf_counter()
        catalog = load_benchmark_catalog(work / "catalog")
        validated = time.perf_counter()
        validate_all = validate_command_seconds(work)
        times = site.build(catalog, work / "mkdocs.yml", work / "site")
        size = sum(p.stat().st_size for p in (work / "site").rglob("*") if p.is_file())
    ours = (validated - start) + times.generate
    total = ours + times.mkdocs
    return {
        "entries": entries,
        "validate_s": round(validated - start, 2),
        "validate_command_s": validate_all,
        "real_entries": real_entries,
        "validate_command_s_real": validate_real,
        "generate_s": round(times.generate, 2),
        "mkdocs_s": round(times.mkdocs, 2),
        "total_s": round(total, 2),
        "ours_share": round(ours / total, 3),
        "site_mb": round(size / 1e6, 1),
    }
