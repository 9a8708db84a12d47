"""The Markdown side of the importer: items, links, cells and sections (`kb.importer.markdown_links`), with
property tests that arbitrary text never raises, never runs long, and never loses a well-formed link."""

from __future__ import annotations

import time

from hypothesis import given, settings
from hypothesis import strategies as st

from kb.importer.markdown_links import MAX_LINK_TEXT, Link, links, plain, read_items, remove_links


def test_list_items_keep_their_line_sections_and_continuations():
    markdown = "# Pruning\n\n## 2019\n\n- [A title split\n  over two lines](https://a.org/1) CVPR\n- [Second](https://a.org/2)\n"
    first, second = read_items(markdown)
    assert first.line == 5 and first.sections == ("Pruning", "2019")
    assert links(first.text) == [Link("A title split over two lines", "https://a.org/1")]
    assert second.line == 7 and links(second.text)[0].url == "https://a.org/2"


def test_bold_lines_are_headings_and_code_blocks_are_skipped():
    markdown = "# List\n**2018**\n- [In 2018](https://a.org/1)\n```\n- [In code](https://a.org/2)\n```\n"
    (item,) = read_items(markdown)
    assert item.sections == ("List", "2018")


def test_table_rows_have_cells_by_column_role():
    markdown = "| Title | Venue | Code |\n|---|---|---|\n| [T](https://a.org/1) | ICLR | [code](https://g.com/x) |\n"
    (row,) = read_items(markdown)
    assert row.is_row and row.cells["venue"] == "ICLR"
    assert links(row.cells["code"]) == [Link("code", "https://g.com/x")]


def test_links_inside_brackets_parentheses_in_urls_and_images():
    text = "[[Code](https://g.com/a)] ![badge](https://img.shields.io/x.svg) [W](https://en.wikipedia.org/wiki/A_(b))"
    assert links(text) == [Link("Code", "https://g.com/a"), Link("W", "https://en.wikipedia.org/wiki/A_(b)")]
    assert plain("**Bold** [link](https://a.org) `x`") == "Bold link x"
    assert "https" not in remove_links(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from("[]()!<>*_`|#-+ \nab:/."), max_size=400))
def test_arbitrary_markdown_never_raises(markdown: str):
    for item in read_items(markdown):
        links(item.text)
        plain(item.text)


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["[x](", "[[x]", "[a", "](", "[x]", "**", "|"]), st.integers(20_000, 200_000))
def test_hostile_lines_parse_in_linear_time(piece: str, length: int):
    line = "- " + piece * (length // len(piece))
    start = time.process_time()
    for item in read_items(line):
        links(item.text)
    assert time.process_time() - start < 1.0  # 80 KB took 55 s before the link pattern was made linear


@settings(max_examples=200, deadline=None)
@given(
    st.text(
        alphabet=st.characters(blacklist_characters="[]\n\r", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=MAX_LINK_TEXT,
    ).filter(lambda t: t.strip()),
    st.from_regex(r"https://[a-z]{1,10}\.org/[a-z0-9_/-]{0,30}", fullmatch=True),
)
def test_a_well_formed_link_is_always_found(text: str, url: str):
    assert links(f"- [{text}]({url}) CVPR 2020") == [Link(plain(text), url)]
