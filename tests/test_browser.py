"""The built site in a real headless Chromium (Debian's, driven by Playwright; no browser is downloaded).

Screenshots of each step are saved under `test-artifacts/screenshots/` for a person to look at.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kb.bench import browser as site_browser
from kb.bench.search import open_theme_search, theme_titles

from .conftest import EVIL_TITLE, ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = ROOT / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def base_url(built_site: Path) -> Iterator[str]:
    with site_browser.serve(built_site) as url:
        yield url


@pytest.fixture(scope="module")
def chromium():
    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        with site_browser.chromium() as browser:
            yield browser
    except FileNotFoundError as error:
        pytest.fail(f"{error} (.ci/run does it)")


@pytest.fixture(scope="module")
def page(chromium, base_url: str):
    page = chromium.new_page(viewport={"width": 1280, "height": 900})
    # Only the local site: the CDN copy of MathJax and everything else outside stays unreachable in tests.
    site_browser.local_only(page, base_url)
    yield page
    page.close()


@pytest.fixture(scope="module")
def phone(chromium, base_url: str):
    """A phone-sized page: 390 x 844 CSS pixels, touch, the mobile viewport rules."""
    page = chromium.new_page(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    site_browser.local_only(page, base_url)
    yield page
    page.close()


@pytest.fixture(scope="module")
def entries_by_title(built_site: Path) -> dict[str, dict]:
    data = json.loads((built_site / "downloads" / "catalog.json").read_text(encoding="utf-8"))
    return {e["title"]: e for e in data["entries"]}


def test_home_page_renders(page, base_url: str) -> None:
    page.goto(base_url)
    assert page.locator("article h1").first.inner_text().startswith("Efficient DNN KB")
    assert page.locator(".grid.cards > ul > li").count() >= 8
    page.screenshot(path=SHOTS / "home.png")


def search(page, base_url: str, query: str) -> list[str]:
    """The titles of the first five pages the site's search lists for `query`."""
    page.goto(base_url)
    open_theme_search(page, query)
    return theme_titles(page, 5)


def test_search_ranks_the_papers_a_reader_means(page, base_url: str, entries_by_title: dict[str, dict]) -> None:
    """The fixed query set of `kb bench search`, each with the result it must bring to the top."""
    top = search(page, base_url, "MobileNets")
    assert top[0] == "MobileNets: Efficient Convolutional Neural Networks for Mobile Vision Applications", top

    top = search(page, base_url, "Han")
    assert any("Song Han" in entries_by_title.get(t, {}).get("authors", []) for t in top[:3]), top

    top = search(
        page, base_url, "quantization aware training"
    )  # Jacob et al., the quantization-aware training of TFLite
    assert "Quantization and Training of Neural Networks for Efficient Integer-Arithmetic-Only Inference" in top[:3], (
        top
    )

    # The catalog does not hold Frankle & Carbin's ICLR 2019 paper; its lottery-ticket papers must lead all the same.
    top = search(page, base_url, "lottery ticket")
    assert all(t in entries_by_title and re.search(r"(?i)\blottery\b.*\btickets?\b", t) for t in top[:3]), top

    top = search(page, base_url, "distillation temperature")  # Hinton et al.: the softmax temperature
    assert "Distilling the Knowledge in a Neural Network" in top[:3], top
    page.screenshot(path=SHOTS / "search.png")


def test_browse_filters_narrow_the_table(page, base_url: str) -> None:
    page.goto(base_url + "browse/")
    count = page.locator("#kb-count")
    page.wait_for_function("document.querySelector('#kb-count').textContent.includes(' of ')")
    total = int(count.inner_text().split(" of ")[1].split()[0])
    rows = page.locator("#kb-table tbody tr")
    assert rows.count() == total

    page.select_option("#kb-category", "knowledge-distillation")
    narrowed = rows.count()
    assert 0 < narrowed < total
    page.fill("#kb-q", "distilling knowledge neural")
    assert 0 < rows.count() <= narrowed
    assert "Distilling the Knowledge in a Neural Network" in page.locator("#kb-table tbody").inner_text()
    page.screenshot(path=SHOTS / "browse-filtered.png", full_page=False)

    page.fill("#kb-q", "")
    page.select_option("#kb-category", "")
    page.fill("#kb-year-min", "2019")
    page.fill("#kb-year-max", "2019")
    years = {int(y) for y in page.locator("#kb-table tbody tr td:nth-child(3)").all_inner_texts()}
    assert years == {2019}
    page.locator("#kb-table th[data-key='title']").click()
    titles = page.locator("#kb-table tbody tr td:nth-child(1)").all_inner_texts()
    assert titles == sorted(titles, key=str.lower)


def test_a_shared_browse_address_restores_its_view_and_author_search_is_by_whole_word(page, base_url: str) -> None:
    page.goto(base_url + "browse/")
    page.wait_for_function("document.querySelector('#kb-count').textContent.includes(' of ')")
    page.select_option("#kb-category", "pruning")
    page.fill("#kb-q", "author:han")
    page.fill("#kb-year-min", "2015")
    page.check("#kb-code")
    shared = page.url
    assert "category=pruning" in shared and "q=author%3Ahan" in shared and "from=2015" in shared and "code=1" in shared
    rows = page.locator("#kb-table tbody tr")
    expected = rows.count()
    assert expected > 0
    data = page.evaluate("fetch('../downloads/catalog.json').then((r) => r.json())")
    by_title = {e["title"]: e for e in data["entries"]}
    for title in page.locator("#kb-table tbody tr td:nth-child(1)").all_inner_texts():
        names = " ".join(by_title[title]["authors"]).lower().replace("-", " ").split()
        assert "han" in names, title  # a whole word of an author's name
    page.goto(shared)  # a fresh load of the shared link
    page.wait_for_function("document.querySelector('#kb-count').textContent.includes(' of ')")
    assert page.input_value("#kb-q") == "author:han" and page.input_value("#kb-category") == "pruning"
    assert page.is_checked("#kb-code") and rows.count() == expected
    page.fill("#kb-q", "han")  # whole words: Han, not Hanson or "enhance"
    texts = page.locator("#kb-table tbody").inner_text().lower()
    assert rows.count() >= expected and "enhanc" not in texts.replace("han", "")
    page.screenshot(path=SHOTS / "browse-shared.png", full_page=False)


def test_entry_page_shows_bibtex(page, base_url: str) -> None:
    page.goto(base_url + "entries/hinton2015distilling/")
    code = page.locator("#cite + .highlight code")
    assert code.is_visible()
    assert code.inner_text().startswith("@inproceedings{hinton2015distilling,")
    page.screenshot(path=SHOTS / "entry.png")


def test_light_dark_toggle(page, base_url: str) -> None:
    page.emulate_media(color_scheme="light")
    page.goto(base_url)
    body = page.locator("body")
    assert body.get_attribute("data-md-color-scheme") == "default"
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'slate'")
    page.screenshot(path=SHOTS / "dark.png")
    page.locator("form[data-md-component='palette'] label:visible").first.click()
    page.wait_for_function("document.body.getAttribute('data-md-color-scheme') === 'default'")


def test_a_formula_renders_with_every_other_host_blocked(page, base_url: str) -> None:
    page.goto(base_url + "categories/architecture/")  # the article writes its cost formula in TeX
    page.wait_for_selector("mjx-container", timeout=15000)
    assert page.locator("mjx-container").count() >= 1
    assert "\\frac" not in page.locator("article").inner_text()  # typeset, not shown as raw TeX
    page.screenshot(path=SHOTS / "formula-offline.png", full_page=False)


def wait_for_table(page) -> None:
    page.wait_for_function("document.querySelector('#kb-count').textContent.includes(' of ')")


def test_browse_on_a_phone_keeps_title_year_and_links_in_view(phone, base_url: str) -> None:
    width = 390
    phone.goto(base_url + "browse/?code=1")  # rows with a code link, so that the links cell holds two links
    wait_for_table(phone)
    assert phone.evaluate("document.documentElement.scrollWidth") <= width  # the page does not scroll sideways
    wrap = phone.evaluate(
        "(() => { const w = document.getElementById('kb-table').closest('.md-typeset__scrollwrap');"
        " return w ? [w.scrollWidth, w.clientWidth] : [0, 0]; })()"
    )
    assert wrap[0] <= wrap[1], wrap  # nor does the table inside its scroll box
    rows = phone.locator("#kb-table tbody tr.kb-entry")
    assert rows.count() > 10
    for i in range(10):
        row = rows.nth(i)
        for cell in ("title", "year", "links"):
            box = row.locator(f".kb-col-{cell}").bounding_box()
            assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (i, cell, box)
        for link in row.locator(".kb-col-links a").all():
            box = link.bounding_box()
            assert box is not None and box["x"] + box["width"] <= width, (i, box)
        for cell in ("authors", "venue", "categories", "impl"):
            assert not row.locator(f".kb-col-{cell}").is_visible(), (i, cell)
    assert rows.first.locator(".kb-col-links a").all_inner_texts() == ["paper", "code"]
    phone.screenshot(path=SHOTS / "browse-phone.png")
    rows.first.locator(".kb-more").click()  # on a phone the unfolded row carries the hidden columns
    assert phone.locator("#kb-table tr.kb-detail .kb-detail-about").first.is_visible()
    phone.screenshot(path=SHOTS / "browse-phone-summary.png")


def test_browse_on_a_desktop_shows_every_column(page, base_url: str) -> None:
    page.goto(base_url + "browse/")
    wait_for_table(page)
    row = page.locator("#kb-table tbody tr.kb-entry").first
    for cell in ("title", "authors", "year", "venue", "categories", "links", "impl"):
        assert row.locator(f".kb-col-{cell}").is_visible(), cell
    page.screenshot(path=SHOTS / "browse-desktop.png")


def test_a_row_unfolds_to_its_summary_shown_as_text(page, base_url: str, entries_by_title: dict[str, dict]) -> None:
    page.goto(base_url + "browse/")
    wait_for_table(page)
    page.fill("#kb-q", "id:hinton2015distilling")
    row = page.locator("#kb-table tr.kb-entry")
    assert row.count() == 1
    button = row.locator(".kb-more")
    assert button.get_attribute("aria-expanded") == "false"
    row.locator(".kb-col-year").click()  # a click anywhere on the row
    detail = page.locator("#kb-detail-hinton2015distilling")
    summary = entries_by_title["Distilling the Knowledge in a Neural Network"]["summary"]
    assert " ".join(summary.split()) in " ".join(detail.inner_text().split())
    assert button.get_attribute("aria-expanded") == "true"
    page.screenshot(path=SHOTS / "browse-summary.png")
    button.click()  # the button folds it again
    assert detail.count() == 0 and button.get_attribute("aria-expanded") == "false"

    page.fill("#kb-q", "id:hacker2020pipes")
    page.locator("#kb-table tr.kb-entry .kb-more").click()
    detail = page.locator("#kb-detail-hacker2020pipes")
    assert "<img src=x onerror=alert(1)>" in detail.inner_text()  # shown as text, never parsed
    assert page.locator("#kb-table img, #kb-table script, #kb-table b").count() == 0
    assert page.locator("#kb-table tr.kb-entry .kb-col-title a").inner_text() == EVIL_TITLE

    unwritten = next(e for e in entries_by_title.values() if not e["summary"])
    page.fill("#kb-q", f"id:{unwritten['id']}")
    page.locator("#kb-table tr.kb-entry .kb-col-year").click()
    assert page.locator(f"#kb-detail-{unwritten['id']}").inner_text().startswith("Summary wanted.")
