"""The benchmarks page is generated from the committed records of `kb bench`: no figure on it is typed by hand."""

from __future__ import annotations

import json
import shutil

from kb import paths
from kb.site.bench_pages import render_benchmarks


def test_the_search_figures_come_from_the_newest_record(tmp_path):
    source = next(paths.BENCH_RESULTS.glob("search.*.json"))
    shutil.copy(source, tmp_path / source.name)
    record = json.loads(source.read_text())
    page = render_benchmarks(tmp_path)
    assert f"{record['theme']['index_bytes'] / 1e6:.2f} MB, one file" in page
    assert f"{record['pagefind']['files']:,} files" in page
    met = record["theme"]["expectations_met"]
    assert f"| queries that bring up what a reader wants | {met} of {len(record['theme']['results'])} |" in page

    # A newer record replaces the figures; a hostile title from a search result stays text.
    record["theme"]["index_bytes"] = 1_230_000
    record["theme"]["results"][0]["top"] = ["<script>alert(1)</script> | x"]
    (tmp_path / "search.other.json").write_text(json.dumps(record))
    page = render_benchmarks(tmp_path)
    assert "1.23 MB, one file" in page and "<script>" not in page and "&#124; x" in page


def test_without_a_record_the_page_names_the_command(tmp_path):
    assert "run `kb bench search`" in render_benchmarks(tmp_path)
