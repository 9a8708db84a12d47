"""The site builds with `--strict`, and its HTML says what the catalog says, with catalog text shown as text."""

from __future__ import annotations

import datetime as dt
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from kb.catalog.load import load_catalog
from kb.site import pages
from kb.site.exports import FEED_SIZE, catalog_feed
from reference_impls import _shipped

from .conftest import CATALOG, EVIL_TITLE

pytestmark = pytest.mark.slow


def soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def heading(tag) -> str:
    """A heading's text without the permalink sign that the toc extension appends."""
    for anchor in tag.select("a.headerlink"):
        anchor.decompose()
    return tag.get_text(strip=True)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(CATALOG)[0]


def test_every_entry_has_a_page_with_its_title_summary_and_bibtex(built_site: Path, catalog) -> None:
    for entry in catalog.entries:
        page = soup(built_site / "entries" / entry.id / "index.html")
        article = page.select_one("article")
        assert heading(article.h1) == " ".join(entry.title.split())
        if entry.summary:
            assert " ".join(entry.summary.split()) in article.get_text(" ", strip=False).replace("\n", " ")
        bibtex = article.select_one("h2#cite + div.highlight code").get_text()
        assert bibtex.lstrip().startswith("@") and f"{{{entry.id}," in bibtex
        for claim in entry.claims:
            assert claim.where in article.get_text()


def test_category_pages_list_their_entries(built_site: Path, catalog) -> None:
    for category in catalog.vocabulary.categories:
        page = soup(built_site / "categories" / category / "index.html")
        linked = {a["href"].split("/")[-2] for a in page.select("article table a") if "/entries/" in a["href"]}
        expected = {e.id for e in catalog.in_category(category)}
        assert expected <= linked | {"hacker2020pipes"}
        assert linked - {"hacker2020pipes"} == expected


def test_home_counts_and_cards(built_site: Path, catalog) -> None:
    text = soup(built_site / "index.html").select_one("article").get_text(" ")
    assert f"{len(catalog.entries) + 1} entries" in text  # the evil test entry is in the built catalog too
    for category in catalog.vocabulary.children(None):
        assert category.title in text
    latest = max(e.year for e in catalog.entries if e.kind.value == "paper" and e.year)
    new = text[text.index("New in the catalog") :]
    assert f"from {latest}" in new


def test_entry_pages_stay_out_of_the_navigation(built_site: Path) -> None:
    nav = soup(built_site / "index.html").select_one("nav.md-nav--primary")
    assert nav is not None and "/entries/" not in str(nav)


def test_catalog_text_is_escaped(built_site: Path) -> None:
    page = soup(built_site / "entries" / "hacker2020pipes" / "index.html")
    article = page.select_one("article")
    assert heading(article.h1) == EVIL_TITLE
    assert article.find("script") is None and article.find("img") is None and article.find("b") is None
    assert "<img src=x onerror=alert(1)>" in article.get_text()
    assert "Mallory ] Smith" in article.get_text()
    claims = [td.get_text() for td in article.select("table td")]
    assert "Accuracy | <i>tricky</i>" in claims
    # The escaped title stays one cell of the category table.
    row = next(
        tr
        for tr in soup(built_site / "categories" / "pruning" / "index.html").select("article table tr")
        if "hacker2020pipes" in str(tr)
    )
    assert len(row.find_all("td")) == 6 and row.td.get_text() == EVIL_TITLE
    assert row.find_all("td")[1].get_text() == "Hacker, Smith"  # the authors column, escaped like the rest


def test_browse_data_and_api_reference(built_site: Path, catalog) -> None:
    data = json.loads((built_site / "downloads" / "catalog.json").read_text())
    assert {e["id"] for e in data["entries"]} == {e.id for e in catalog.entries} | {"hacker2020pipes"}
    assert len(data["categories"]) == len(catalog.vocabulary.categories)
    api = soup(built_site / "reference" / "catalog" / "index.html").get_text()
    assert "load_checked_catalog" in api and "normalize_arxiv" in api


def test_entry_pages_are_titled_by_the_paper_and_old_ids_redirect(built_site: Path, catalog) -> None:
    page = soup(built_site / "entries" / "han2016deep" / "index.html")
    assert page.title.get_text().startswith("Deep Compression: Compressing Deep Neural Networks")
    assert "---" not in page.find("article").get_text().split("\n")[0]
    renamed = [e for e in catalog.entries if e.aliases]
    assert len(renamed) > 100
    for entry in renamed[:50]:
        for alias in entry.aliases:
            redirect = (built_site / "entries" / alias / "index.html").read_text()
            assert f'url=../{entry.id}/"' in redirect and (built_site / "entries" / entry.id / "index.html").exists()


def test_unknown_citation_fails_generation(catalog) -> None:
    category = catalog.vocabulary.categories["pruning"]
    with pytest.raises(pages.GenerationError, match="unknown catalog entry 'nobody2099nothing'"):
        pages.render_category(catalog, category, "As shown by [@nobody2099nothing].")


def test_downloads_page_lists_every_export_and_every_page_links_the_feed(built_site: Path) -> None:
    downloads = soup(built_site / "downloads" / "index.html")
    text = downloads.get_text()
    for name in ("catalog.json", "entry.schema.json", "references.bib", "catalog.csv", "feed.xml"):
        assert name in text and (built_site / "downloads" / name).exists()
    assert re.search(r"\d+(\.\d)? (kB|MB)", text)
    for page in ("index.html", "entries/han2016deep/index.html", "categories/pruning/index.html"):
        head = soup(built_site / page).head
        feed = head.find("link", rel="alternate", type="application/atom+xml")
        assert feed is not None and feed["href"].endswith("downloads/feed.xml")


def test_no_page_loads_anything_from_another_host(built_site: Path) -> None:
    pages = [built_site / "index.html", built_site / "browse" / "index.html"]
    pages += sorted((built_site / "categories").glob("*/index.html"))[:5]
    pages.append(built_site / "entries" / "han2016deep" / "index.html")
    for path in pages:
        html = soup(path)
        loaded = [t.get("src") for t in html.find_all(["script", "img", "iframe"])]
        # Links that name a page (canonical, alternate) load nothing; stylesheets, icons and preloads do.
        loaded += [t.get("href") for t in html.find_all("link") if not {"canonical", "alternate"} & set(t.get("rel"))]
        outside = [u for u in loaded if u and u.startswith(("http://", "https://", "//"))]
        assert not outside, (path, outside)


def test_articles_say_run_it_and_implementation_pages_link_their_source(built_site: Path) -> None:
    pruning = soup(built_site / "categories" / "pruning" / "index.html")
    run_it = pruning.find(id="run-it")
    assert run_it is not None and "../../impls/pruning/" in str(run_it.find_next("ul"))
    page = soup(built_site / "impls" / "pruning" / "index.html")
    assert any(a["href"].endswith("reference_impls/pruning.py") for a in page.select("article a[href]"))


def test_search_ranks_entries_first_and_leaves_the_api_out(built_site: Path) -> None:
    index = json.loads((built_site / "search" / "search_index.json").read_text())["docs"]
    assert not [d for d in index if d["location"].startswith("reference/")]  # the API is for contributors
    boosts = {d["location"].split("/")[0]: d.get("boost") for d in index if "boost" in d}
    assert boosts.get("entries") == 2 and boosts.get("categories") == 1.5


ATOM = "{http://www.w3.org/2005/Atom}"


def feed_items(xml: str) -> list[tuple[str, str]]:
    """(entry id, updated) of each item of an Atom feed, in order."""
    items = ET.fromstring(xml).findall(f"{ATOM}entry")
    return [(i.findtext(f"{ATOM}id").rstrip("/").split("/")[-1], i.findtext(f"{ATOM}updated")) for i in items]


def test_feed_is_ordered_by_date_added_newest_first(built_site: Path, catalog) -> None:
    added = {e.id: e.added for e in catalog.entries} | {"hacker2020pipes": dt.date(2026, 1, 1)}
    xml = (built_site / "downloads" / "feed.xml").read_text(encoding="utf-8")
    items = feed_items(xml)
    assert len(items) == FEED_SIZE
    assert all(updated == f"{added[i].isoformat()}T00:00:00Z" for i, updated in items)  # the catalog's `added`
    newest = max(added.values())
    assert items[0][1].startswith(newest.isoformat())
    assert ET.fromstring(xml).findtext(f"{ATOM}updated") == f"{newest.isoformat()}T00:00:00Z"
    # The built feed holds only the newest day of the real catalog; the whole catalog's feed crosses the days.
    everything = feed_items(catalog_feed(catalog, size=len(catalog.entries)))
    assert len(everything) == len(catalog.entries)
    order = [(added[i], i) for i, _ in everything]
    assert order == sorted(order, reverse=True)  # newest day first, then by id
    assert len({day for day, _ in order}) > 1
    assert all(updated == f"{added[i].isoformat()}T00:00:00Z" for i, updated in everything)


@pytest.mark.skipif(not _shipped.available(), reason="needs the shipped model files: python scripts/fetch_models.py")
def test_port_pages_draw_the_ports_outputs_on_real_photographs(built_site: Path) -> None:
    mesh = soup(built_site / "impls" / "face_mesh" / "index.html")
    figures = mesh.select("figure svg")
    assert len(figures) == 2
    assert all(len(svg.select("circle")) == 468 for svg in figures)  # every landmark of one face, drawn
    detector = soup(built_site / "impls" / "blazeface_front" / "index.html")
    assert all(len(svg.select("rect")) >= 1 for svg in detector.select("figure svg"))  # a face box per photograph
    for svg in figures:
        assert all(image["href"].startswith("data:image/") for image in svg.select("image"))  # nothing fetched
