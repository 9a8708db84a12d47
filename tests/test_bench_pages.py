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

    # A record measured later replaces the figures; a hostile title from a search result stays text.
    record["theme"]["index_bytes"] = 1_230_000
    record["theme"]["results"][0]["top"] = ["<script>alert(1)</script> | x"]
    record["measured_at"] = "2999-01-01T00:00:00+00:00"
    (tmp_path / "search.other.json").write_text(json.dumps(record))
    page = render_benchmarks(tmp_path)
    assert "1.23 MB, one file" in page and "<script>" not in page and "&#124; x" in page

    # The time in the record decides, not the file's: one written last but measured earlier does not win.
    record["theme"]["index_bytes"] = 4_560_000
    record["measured_at"] = "2000-01-01T00:00:00+00:00"
    (tmp_path / "search.written-last.json").write_text(json.dumps(record))
    assert "1.23 MB, one file" in render_benchmarks(tmp_path)


def test_without_a_record_the_page_names_the_command(tmp_path):
    assert "run `kb bench search`" in render_benchmarks(tmp_path)
