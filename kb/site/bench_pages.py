"""The page of the site's own benchmarks, generated from the records `kb bench` commits under `results/bench/`.

Nothing on it is typed by hand: each figure is read from the newest record of its benchmark, and the page names the
record, the command and the machine, so a reader can run the same command and compare.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from kb import paths
from kb.site.markdown import escape, table


def _span(values: list[float], unit: str, digits: int = 2) -> str:
    """`4.5–5.6 s`, or `4.5 s` when every value is the same."""
    low, high = f"{min(values):.{digits}g}", f"{max(values):.{digits}g}"
    return f"{low} {unit}" if low == high else f"{low}–{high} {unit}"


def _mb(value: float) -> str:
    return f"{value / 1e6:.2f} MB"


def _ratio_span(ours: list[float], theirs: list[float]) -> str:
    """How many times larger `ours` is than `theirs`, query by query, as a range."""
    return _span([a / b for a, b in zip(ours, theirs, strict=True)], "times", 2)


def newest(pattern: str, folder: Path = paths.BENCH_RESULTS) -> tuple[Path, dict[str, Any]] | None:
    """The record whose file name matches `pattern` and whose `measured_at` is latest, with its path.

    By the time in the record, not the file's: a fresh clone gives every file the same age.
    """
    records = [(json.loads(path.read_text(encoding="utf-8")), path) for path in folder.glob(pattern)]
    if not records:
        return None
    record, path = max(records, key=lambda pair: (pair[0].get("measured_at", ""), pair[1].name))
    return path, record


def search_section(path: Path, record: dict[str, Any]) -> str:
    """The theme's search against Pagefind on the benchmark catalog: sizes, downloads, speed, and the query set."""
    theme, pagefind = record["theme"], record["pagefind"]
    env = record.get("environment", {})
    versions = env.get("versions", {})

    def figures(engine: dict[str, Any], key: str) -> list[float]:
        return [r[key] for r in engine["results"]]

    engine = f"Pagefind {versions.get('pagefind-bin', '')}".strip()
    rows = [
        (
            "index on disk",
            f"{_mb(theme['index_bytes'])}, one file",
            f"{_mb(pagefind['index_bytes'])} in {pagefind['files']:,} files "
            f"({_mb(pagefind['bundle_bytes'])} with its scripts)",
        ),
        (
            "download up to the first result",
            f"{_span([b / 1e6 for b in figures(theme, 'search_bytes')], 'MB', 3)} "
            f"({_span([b / 1e6 for b in figures(theme, 'search_bytes_gzip')], 'MB', 2)} gzip)",
            f"{_span([b / 1e3 for b in figures(pagefind, 'search_bytes')], 'kB', 3)} "
            f"({_span([b / 1e3 for b in figures(pagefind, 'search_bytes_gzip')], 'kB', 3)} gzip)",
        ),
        (
            "first result, page opened from 127.0.0.1",
            _span([t / 1e3 for t in figures(theme, "first_result_ms")], "s"),
            _span([t / 1e3 for t in figures(pagefind, "first_result_ms")], "s"),
        ),
        (
            "index build",
            f"{theme['index_build_s']:.3g} s of a {theme['mkdocs_build_s']:.3g} s MkDocs build (the search plugin)",
            f"{pagefind['index_build_s']:.3g} s ({escape(pagefind['index_build'])})",
        ),
        (
            "queries that bring up what a reader wants",
            f"{theme['expectations_met']} of {len(theme['results'])}",
            f"{pagefind['expectations_met']} of {len(pagefind['results'])}",
        ),
    ]

    def verdict(result: dict[str, Any]) -> str:
        first = "; ".join(escape(title) for title in result["top"][:3]) or "nothing"
        return ("**met**" if result["met"] else "missed") + f": {first}"

    by_query = {r["query"]: r for r in pagefind["results"]}
    queries = [
        (escape(r["query"]), escape(r["expected"]), verdict(r), verdict(by_query[r["query"]])) for r in theme["results"]
    ]
    fewer = _ratio_span(figures(theme, "search_bytes"), figures(pagefind, "search_bytes"))
    fewer_gzip = _ratio_span(figures(theme, "search_bytes_gzip"), figures(pagefind, "search_bytes_gzip"))
    sooner = _ratio_span(figures(theme, "first_result_ms"), figures(pagefind, "first_result_ms"))
    return (
        "## Search: the theme's against Pagefind\n\n"
        f"Record `results/bench/{escape(path.name)}`, measured with `{escape(record['command'])}` on "
        f"{escape(env.get('cpu', '?'))} ({env.get('cores', '?')} cores): the {record['entries']:,}-entry benchmark "
        f"catalog ({record['real_entries']:,} real entries topped up with "
        f"synthetic ones, {record['pages']:,} pages), in Chromium with an empty cache.\n\n"
        + table(["", "theme search", engine], rows)
        + f"\nPer query, Pagefind downloads {fewer} fewer bytes ({fewer_gzip} compressed) and shows its first "
        f"result {sooner} sooner. What each query must bring up, and the first three results:\n\n"
        + table(["query", "a reader wants", "theme search", engine], queries)
    )


def render_benchmarks(folder: Path = paths.BENCH_RESULTS) -> str:
    """The benchmarks page, from the newest record of each benchmark in `folder`."""
    parts = [
        "# Benchmarks of the site\n",
        "Generated from the records of `kb bench` under `results/bench/`; run the command a record names to "
        "measure it again on your machine.\n",
    ]
    found = newest("search.*.json", folder)
    parts.append(search_section(*found) if found else "No search benchmark recorded yet: run `kb bench search`.\n")
    return "\n".join(parts)
