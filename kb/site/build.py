"""Build the site: validate the catalog, generate its pages into `docs/`, then run MkDocs.

Generated pages go to folders and files that `.gitignore` lists (`docs/index.md`, `docs/categories/`,
`docs/entries/`, `docs/impls/`, `docs/downloads/`, `docs/tags.md`); hand-written pages and the category articles
(`docs/articles/<id>.md`, excluded from the build itself) stay untouched. Each generated folder is written
completely beside its final place and then swapped in, so a failed generation leaves the last good pages.
"""

from __future__ import annotations

import html
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from kb.catalog.load import Catalog
from kb.links.report import link_badge, render_link_health
from kb.links.results import DEFAULT_CACHE, load_link_results
from kb.site import bench_pages, exports, impl_pages, pages
from kb.site.pictures import render_pictures

GENERATED_DIRS = ("categories", "entries", "impls", "downloads")
GENERATED_FILES = ("index.md", "tags.md", "link-health.md", "contributing.md", "benchmarks.md")


@dataclass(frozen=True)
class BuildTimes:
    """Seconds spent in our generation and in MkDocs."""

    generate: float
    mkdocs: float


def render_site(catalog: Catalog, docs_dir: Path) -> dict[str, str]:
    """Every generated page, by path relative to `docs_dir`."""
    files = {"index.md": pages.render_home(catalog), "tags.md": pages.render_tags()}
    # The contributor guide is the repository's CONTRIBUTING.md, copied here rather than included with the
    # snippets extension, which could be made to include any file of the checkout.
    contributing = docs_dir.parent / "CONTRIBUTING.md"
    if contributing.is_file():
        files["contributing.md"] = contributing.read_text(encoding="utf-8")
    for category in catalog.vocabulary.categories.values():
        article_path = docs_dir / "articles" / f"{category.id}.md"
        article = article_path.read_text(encoding="utf-8") if article_path.exists() else ""
        try:
            files[f"categories/{category.id}.md"] = pages.render_category(catalog, category, article)
        except pages.GenerationError as error:
            raise pages.GenerationError(f"{article_path}: {error}") from None
    return files


def write_generated(files: dict[str, str], docs_dir: Path, catalog: Catalog) -> None:
    """Write the generated files and the exports: all into a staging folder first, then each swapped into place."""
    staging = docs_dir / ".generated"
    shutil.rmtree(staging, ignore_errors=True)
    for relative, text in files.items():
        target = staging / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    exports.export_all(catalog, staging / "downloads")  # the browse page reads downloads/catalog.json
    (staging / "downloads" / "index.md").write_text(exports.render_downloads(staging / "downloads"), encoding="utf-8")
    for name in GENERATED_DIRS:
        shutil.rmtree(docs_dir / name, ignore_errors=True)
        if (staging / name).exists():
            (staging / name).rename(docs_dir / name)
    for name in GENERATED_FILES:
        if (staging / name).exists():
            (staging / name).replace(docs_dir / name)
    shutil.rmtree(staging, ignore_errors=True)


def generate(catalog: Catalog, docs_dir: Path, link_results: Path = DEFAULT_CACHE) -> None:
    """Generate every page of the site from `catalog` into `docs_dir`, with each link's last checked status."""
    files = render_site(catalog, docs_dir)
    files.update(impl_pages.render_impl_pages(catalog, pictures=render_pictures()))
    results = load_link_results(link_results)
    files["benchmarks.md"] = bench_pages.render_benchmarks()
    files["link-health.md"] = render_link_health(results, catalog.entries, lambda entry_id: f"entries/{entry_id}.md")
    for entry in catalog.entries:
        files[f"entries/{entry.id}.md"] = pages.render_entry(catalog, entry, lambda url: link_badge(results.get(url)))
    write_generated(files, docs_dir, catalog)
    write_redirects(catalog, docs_dir / "entries")


def write_redirects(catalog: Catalog, entries_dir: Path) -> None:
    """A small HTML page at every old id (`entries/<alias>/index.html`) that sends the reader to the entry.

    Plain HTML that MkDocs copies as it is (no theme plugin): a link to an old id, from a citation or a bookmark,
    keeps working after an entry is renamed.
    """
    for entry in catalog.entries:
        for alias in entry.aliases:
            target = f"../{entry.id}/"
            page = (
                '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
                f'<title>Moved: {html.escape(entry.title)}</title>'
                f'<meta http-equiv="refresh" content="0; url={target}">'
                f'<link rel="canonical" href="{target}"></head>\n'
                f'<body><p>This entry is now <a href="{target}">{html.escape(entry.title)}</a>.</p></body></html>\n'
            )
            (entries_dir / alias).mkdir(parents=True, exist_ok=True)
            (entries_dir / alias / "index.html").write_text(page, encoding="utf-8")


def run_mkdocs(config: Path, site_dir: Path) -> None:
    """`mkdocs build --strict`; raises CalledProcessError with MkDocs' output when the build fails."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mkdocs",
            "build",
            "--strict",
            "--config-file",
            str(config),
            "--site-dir",
            str(site_dir),
        ],
        check=True,
        cwd=config.parent,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},  # the end-of-life banner is news, not a problem
    )


def build(catalog: Catalog, config: Path, site_dir: Path) -> BuildTimes:
    """Generate the pages next to `config`'s docs folder, then build the site into `site_dir`."""
    start = time.perf_counter()
    generate(catalog, config.parent / "docs")
    generated = time.perf_counter()
    run_mkdocs(config, site_dir)
    return BuildTimes(generated - start, time.perf_counter() - generated)
