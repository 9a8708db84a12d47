"""The theme's search against Pagefind on the benchmark catalog: `kb bench search`.

The site of `kb bench site` (the real catalog topped up with synthetic entries to N, 5,000 by default) is built once.
MkDocs runs in this process so that the time of the theme's search plugin (indexing each page, then writing
`search/search_index.json`) is measured apart from the rest of the build. Pagefind then indexes the same built
pages: the article of each (`PAGEFIND_ARGS`), the four API reference pages included, which the theme leaves out.
For each query of `QUERIES`, a fresh Chromium (empty cache) opens the home page, types the query into the engine's
own search box and waits for the first result; every file the local server sent up to then is added up. For
Pagefind the theme's index and worker are blocked, as on a site that serves Pagefind instead.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kb import paths
from kb.bench import browser
from kb.bench.site import copy_project, load_benchmark_catalog, top_up
from kb.catalog.schema import Entry
from kb.site import build as site

# Each query with what a reader typing it wants near the top; the catalog lacks Frankle & Carbin's ICLR 2019 paper,
# so "lottery ticket" asks for lottery-ticket papers. The browser tests hold the site's engine to these.
EXPECTED = {
    "Han": "a paper by Song Han among the first 3",
    "quantization aware training": "Jacob et al. 2018 (jacob2018quantization) among the first 3",
    "MobileNets": "the MobileNets paper (howard2017mobilenets) first",
    "lottery ticket": "the first 3 are lottery-ticket papers",
    "distillation temperature": "Hinton et al. 2015 (hinton2015distilling) among the first 3",
}
QUERIES = tuple(EXPECTED)
TOP = 5
_LOTTERY = re.compile(r"(?i)\blottery\b.*\btickets?\b")
# The article only: Material repeats the whole navigation on every page, and permalink signs are no words.
PAGEFIND_ARGS = ["--root-selector", "article.md-content__inner", "--exclude-selectors", ".headerlink", "--quiet"]
# What each engine loads for search only (everything else is the page itself, the same for both).
SEARCH_PATHS = {
    "theme": ("search/", "assets/javascripts/workers/search.", "assets/javascripts/lunr/"),
    "pagefind": ("pagefind/",),
}
PAGEFIND_INDEX = ("index/", "fragment/", "filter/", "pagefind-entry.json")


def meets_expectation(query: str, top: list[str], entries: Iterable[Entry]) -> bool:
    """Whether the titles `top` (best first) give what `EXPECTED` says a reader of `query` wants."""
    by_title = {" ".join(e.title.split()): e for e in entries}
    found = [by_title.get(" ".join(title.split())) for title in top]

    def within(entry_id: str, rank: int) -> bool:
        return any(e is not None and e.id == entry_id for e in found[:rank])

    checks: dict[str, Callable[[], bool]] = {
        "Han": lambda: any(e is not None and "Song Han" in e.authors for e in found[:3]),
        "quantization aware training": lambda: within("jacob2018quantization", 3),
        "MobileNets": lambda: within("howard2017mobilenets", 1),
        "lottery ticket": lambda: len(found) >= 3 and all(e and _LOTTERY.search(e.title) for e in found[:3]),
        "distillation temperature": lambda: within("hinton2015distilling", 3),
    }
    return checks[query]()


def build_timing_theme_search(config_file: Path, site_dir: Path) -> tuple[float, float]:
    """Run `mkdocs build --strict` in this process; returns (seconds of the whole build, of the search plugin)."""
    from material.plugins.search.plugin import SearchPlugin
    from mkdocs.commands.build import build
    from mkdocs.config import load_config

    config = load_config(str(config_file), site_dir=str(site_dir), strict=True)
    spent = [0.0]

    def timed(method: Callable[..., Any]) -> Callable[..., Any]:
        def run(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - start

        return run

    events = config.plugins.events
    for name, methods in events.items():
        events[name] = [timed(m) if isinstance(getattr(m, "__self__", None), SearchPlugin) else m for m in methods]
    os.environ["NO_MKDOCS_2_WARNING"] = "1"
    start = time.perf_counter()
    with contextlib.chdir(config_file.parent):  # mkdocstrings' `paths: [.]`, as `kb build` runs MkDocs
        config.plugins.on_startup(command="build", dirty=False)
        try:
            build(config)
        finally:
            config.plugins.on_shutdown()
    return time.perf_counter() - start, spent[0]


def pagefind_executable() -> Path:
    """The Pagefind binary of the `pagefind-bin` wheel."""
    import pagefind_bin

    return pagefind_bin.get_executable()


def run_pagefind(site_dir: Path, runs: int = 3) -> float:
    """Index `site_dir` with Pagefind `runs` times (into `site_dir/pagefind/`); returns the median seconds."""
    times = []
    for _ in range(runs):
        shutil.rmtree(site_dir / "pagefind", ignore_errors=True)
        start = time.perf_counter()
        subprocess.run([str(pagefind_executable()), "--site", str(site_dir), *PAGEFIND_ARGS], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def folder_bytes(folder: Path, prefixes: tuple[str, ...] = ("",)) -> int:
    """Bytes of the files under `folder` whose relative path starts with one of `prefixes`."""
    return sum(
        p.stat().st_size
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix().startswith(prefixes)
    )


def gzip_bytes(site_dir: Path, url_path: str) -> int:
    """The size of a served file gzip-compressed (what a host that compresses, such as GitHub Pages, sends)."""
    path = site_dir / url_path
    if url_path == "" or url_path.endswith("/"):
        path = path / "index.html"
    return len(gzip.compress(path.read_bytes(), compresslevel=6, mtime=0)) if path.is_file() else 0


def open_theme_search(page: Any, query: str) -> None:
    """Type `query` into the theme's search box of the open page and wait for its first result."""
    page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator("input.md-search__input").fill(query)
    page.locator(".md-search-result__item").first.wait_for(timeout=120_000)


def theme_titles(page: Any, top: int = TOP) -> list[str]:
    """The titles of the first `top` pages that the theme's search lists."""
    return page.locator(".md-search-result__item").evaluate_all(
        f"items => items.slice(0, {top}).map((i) => i.querySelector('h1, h2').textContent.trim())"
    )


def open_pagefind_search(page: Any, query: str, base_url: str) -> None:
    """Add Pagefind's search box to the open page, type `query` and wait for its first result."""
    page.evaluate("() => document.body.prepend(Object.assign(document.createElement('div'), {id: 'kb-pagefind'}))")
    page.add_style_tag(url=f"{base_url}pagefind/pagefind-ui.css")
    page.add_script_tag(url=f"{base_url}pagefind/pagefind-ui.js")
    page.evaluate("new PagefindUI({element: '#kb-pagefind', showImages: false, showSubResults: false})")
    page.locator(".pagefind-ui__search-input").fill(query)
    page.locator(".pagefind-ui__result-link").first.wait_for(timeout=120_000)


def pagefind_titles(page: Any, query: str, base_url: str) -> list[str]:
    """The titles of Pagefind's first `TOP` results for `query`, through its JavaScript API."""
    return page.evaluate(
        """async ([module, query, top]) => {
          const pagefind = await import(module);
          const found = await pagefind.search(query);
          const data = await Promise.all(found.results.slice(0, top).map((r) => r.data()));
          return data.map((d) => d.meta.title);
        }""",
        [f"{base_url}pagefind/pagefind.js", query, TOP],
    )


def measure_query(
    chromium: Any, base_url: str, served: list[tuple[str, int]], site_dir: Path, engine: str, query: str
) -> dict[str, Any]:
    """One query in a fresh browser context: bytes and time up to the first result, and the top titles.

    `served` is the server's log of the files it sent; what it logged up to the first result is what was downloaded.
    """
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    browser.local_only(page, base_url)
    if engine == "pagefind":  # a site that serves Pagefind has no theme index and no theme search worker
        page.route("**/search/search_index.json", lambda route: route.abort())
        page.route("**/assets/javascripts/workers/search.*", lambda route: route.abort())
    served.clear()
    start = time.perf_counter()
    page.goto(base_url, wait_until="load")
    if engine == "theme":
        open_theme_search(page, query)
    else:
        open_pagefind_search(page, query, base_url)
    first_result_s = time.perf_counter() - start
    downloaded = list(served)  # the titles below may load more
    titles = theme_titles(page) if engine == "theme" else pagefind_titles(page, query, base_url)
    context.close()
    search = other = search_gzip = 0
    for url, size in downloaded:
        path = urlsplit(url).path.lstrip("/")
        if path.startswith(SEARCH_PATHS[engine]):
            search += size
            search_gzip += gzip_bytes(site_dir, path)
        else:
            other += size
    return {
        "query": query,
        "search_bytes": search,
        "search_bytes_gzip": search_gzip,
        "page_bytes": other,
        "files": len(downloaded),
        "first_result_ms": round(1000 * first_result_s),
        "top": titles,
    }


def measure_engines(site_dir: Path, queries: tuple[str, ...] = QUERIES) -> dict[str, list[dict[str, Any]]]:
    """Every query with each engine, in Chromium, on `site_dir` served from 127.0.0.1."""
    served: list[tuple[str, int]] = []
    with browser.serve(site_dir, served) as base_url, browser.chromium() as chromium:
        return {
            engine: [measure_query(chromium, base_url, served, site_dir, engine, q) for q in queries]
            for engine in ("theme", "pagefind")
        }


def run_search_benchmark(entries: int = 5000, project: Path = paths.ROOT) -> dict[str, Any]:
    """Build the site of `entries` entries once, index it with Pagefind, and measure both engines."""
    with tempfile.TemporaryDirectory(prefix="kb-searchbench-") as tmp:
        work = Path(tmp)
        copy_project(project, work)
        real_entries = top_up(work / "catalog", entries)
        catalog = load_benchmark_catalog(work / "catalog")
        site.generate(catalog, work / "docs")
        site_dir = work / "site"
        mkdocs_s, theme_index_s = build_timing_theme_search(work / "mkdocs.yml", site_dir)
        pagefind_s = run_pagefind(site_dir)
        bundle = site_dir / "pagefind"
        record = {
            "entries": entries,
            "real_entries": real_entries,
            "pages": sum(1 for _ in site_dir.rglob("*.html")),
            "queries": list(QUERIES),
            "pagefind_command": ["pagefind", "--site", "site", *PAGEFIND_ARGS],
            "theme": {
                "index_bytes": (site_dir / "search" / "search_index.json").stat().st_size,
                "index_build_s": round(theme_index_s, 2),
                "index_build": "the search plugin's events (on_page_context, on_post_build) inside the MkDocs build",
                "mkdocs_build_s": round(mkdocs_s, 2),
            },
            "pagefind": {
                "index_bytes": folder_bytes(bundle, PAGEFIND_INDEX),
                "bundle_bytes": folder_bytes(bundle),
                "files": sum(1 for p in bundle.rglob("*") if p.is_file()),
                "index_build_s": round(pagefind_s, 2),
                "index_build": "median of 3 runs of the pagefind binary over the built site",
            },
        }
        for engine, results in measure_engines(site_dir).items():
            for result in results:
                result["expected"] = EXPECTED[result["query"]]
                result["met"] = meets_expectation(result["query"], result["top"], catalog.entries)
            record[engine]["results"] = results
            record[engine]["expectations_met"] = sum(r["met"] for r in results)
    return record
