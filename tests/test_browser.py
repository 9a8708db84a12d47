"""The built site in a real headless Chromium (Debian's, driven by Playwright; no browser is downloaded).

Screenshots of each step are saved under `test-artifacts/screenshots/` for a person to look at.
"""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import ROOT

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = ROOT / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def base_url(built_site: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=built_site))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


@pytest.fixture(scope="module")
def page(base_url: str):
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.fail("Debian's chromium is not installed: `apt-get install chromium` (.ci/run does it)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        # Only the local site: the CDN copy of MathJax and everything else outside stays unreachable in tests.
        page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(base_url) else route.abort())
        yield page
        browser.close()


def test_home_page_renders(page, base_url: str) -> None:
    page.goto(base_url)
    assert page.locator("article h1").first.inner_text().startswith("Efficient DNN KB")
    assert page.locator(".grid.cards > ul > li").count() >= 8
    page.screenshot(path=SHOTS / "home.png")


def test_search_finds_mobilenets(page, base_url: str) -> None:
    page.goto(base_url)
    page.locator("label.md-search__icon, .md-search__input").first.click()
    page.locator("input.md-search__input").fill("MobileNets")
    result = page.locator(".md-search-result__item").filter(has_text="MobileNets").first
    result.wait_for(timeout=15_000)
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
