"""What a prospect decides on: the offer and its price, the people, proof, share cards.

Expectations come from site.toml and the Markdown sources (tests/site/test_pages.py reads
them), never from today's wording.
"""

import gzip
import re
import subprocess
import sys

import pytest
from PIL import Image

from sitebuild.diagrams import wrap_diagrams
from tests.conftest import ROOT
from tests.site.checkers import serve_folder
from tests.site.test_pages import (
    ARTICLES,
    BASE,
    NEWEST_FIRST,
    PAGES,
    SITE,
    html_files,
    meta,
    of_type,
    page,
    parse,
)

ASSESSMENT = SITE["assessment"]
PEOPLE = SITE["people"]
PEOPLE_BY_NAME = {person["name"]: key for key, person in PEOPLE.items()}
BOOK_FROM_HOME = f"{ASSESSMENT['booking_path']}?from=home"


# --- Home page -----------------------------------------------------------------------------


def test_home_introduces_the_firm_and_offers_the_assessment_with_its_price(built_site):
    main = page(built_site, "/").find("main")
    assert SITE["home"]["intro"] in main.text()
    offer = main.find("aside", class_="offer")
    assert ASSESSMENT["price"] in offer.text()
    assert ASSESSMENT["name"] in offer.text()
    assert BOOK_FROM_HOME in [a.attrs["href"] for a in offer.find_all("a")]


def test_home_shows_the_client_outcomes(built_site):
    text = page(built_site, "/").find("section", class_="outcomes").text()
    for outcome in SITE["home"]["outcomes"]:
        assert outcome["result"] in text and outcome["client"] in text


def test_home_still_lists_the_latest_articles_under_the_offer(built_site):
    main = page(built_site, "/").find("main")
    links = [a.attrs["href"] for a in main.find("section", class_="latest").find_all("a")]
    assert links[: len(NEWEST_FIRST)] == [f"/blog/{slug}/" for slug in NEWEST_FIRST][:10]


def parse_file(path):
    """Parse a built HTML file that is not a directory index (404.html)."""
    return parse(path.read_text(encoding="utf-8"))


ABOVE_THE_FOLD = """(selectors) => selectors.map((selector) => {
  const box = document.querySelector(selector).getBoundingClientRect();
  return {selector, top: box.top, bottom: box.bottom, width: box.width};
})"""


@pytest.mark.browser
def test_home_price_and_booking_button_are_above_the_fold(browser, built_site):
    """At 1280 x 800 the price and the booking button show without scrolling."""
    with serve_folder(built_site) as url:
        context = browser.new_context(viewport={"width": 1280, "height": 800})
        try:
            tab = context.new_page()
            tab.goto(url + "/", wait_until="load")
            selectors = [".offer__price", f'.offer a[href="{BOOK_FROM_HOME}"]']
            boxes = tab.evaluate(ABOVE_THE_FOLD, selectors)
            price = tab.inner_text(".offer__price")
        finally:
            context.close()
    assert ASSESSMENT["price"] in price
    for box in boxes:
        assert box["width"] > 0 and box["top"] >= 0 and box["bottom"] <= 800, box


# --- People --------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ASSESSMENT["consultants"])
def test_assessment_page_shows_each_consultant(built_site, key):
    person = PEOPLE[key]
    doc = page(built_site, ASSESSMENT["page_path"])
    cards = [c for c in doc.find_all("li", class_="person") if person["name"] in c.text()]
    assert len(cards) == 1
    card = cards[0]
    assert person["role"] in card.text() and person["bio"] in card.text()
    assert card.find("img").attrs["src"] == person["photo"]
    assert (built_site / person["photo"].lstrip("/")).is_file()
    assert card.find("a").attrs["href"] == f"/about/#{key}"
    assert person["name"] in doc.find("dl", class_="facts").text()


@pytest.mark.parametrize("key", PEOPLE)
def test_about_has_a_section_for_each_person(built_site, key):
    doc = page(built_site, "/about/")
    section = doc.find(id=key)
    assert section is not None and PEOPLE[key]["name"] in section.text()
    assert PEOPLE[key]["photo"] in [img.attrs["src"] for img in doc.find_all("img")]


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_byline_links_to_the_author_on_about(built_site, slug):
    author = ARTICLES[slug][0]["author"]
    byline = page(built_site, f"/blog/{slug}/").find("p", class_="byline")
    assert author in byline.text()
    if author in PEOPLE_BY_NAME:
        assert byline.find("a").attrs["href"] == f"/about/#{PEOPLE_BY_NAME[author]}"


# --- JSON-LD -------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_jsonld_names_the_author_as_a_person(built_site, slug):
    author = ARTICLES[slug][0]["author"]
    data = of_type(page(built_site, f"/blog/{slug}/"), "BlogPosting")["author"]
    assert (data["@type"], data["name"]) == ("Person", author)
    if author in PEOPLE_BY_NAME:
        key = PEOPLE_BY_NAME[author]
        assert data["url"] == f"{BASE}/about/#{key}"
        assert data["jobTitle"] == PEOPLE[key]["role"]


def test_assessment_service_offers_the_price(built_site):
    offer = of_type(page(built_site, ASSESSMENT["page_path"]), "Service")["offers"]
    assert offer["@type"] == "Offer"
    assert offer["price"] == re.sub(r"\D", "", ASSESSMENT["price"])
    assert offer["priceCurrency"] == {"£": "GBP", "€": "EUR", "$": "USD"}[ASSESSMENT["price"][0]]


# --- Share cards ---------------------------------------------------------------------------


def content_pages() -> list[str]:
    """Every article and page address (pages by their Save_as or slug)."""
    paths = [f"/blog/{slug}/" for slug in ARTICLES]
    for slug, (fields, _) in PAGES.items():
        paths.append("/" + fields["save_as"] if "save_as" in fields else f"/{slug}/")
    return paths


@pytest.mark.parametrize("path", content_pages())
def test_every_article_and_page_has_a_1200_by_630_share_card(built_site, path):
    doc = page(built_site, path) if path.endswith("/") else parse_file(built_site / path[1:])
    image = meta(doc, "og:image")
    assert image and image.startswith(f"{BASE}/"), image
    assert meta(doc, "twitter:card") == "summary_large_image"
    with Image.open(built_site / image[len(BASE) + 1 :]) as card:
        assert (card.format, card.size) == ("PNG", (1200, 630))


def test_lists_and_home_share_the_site_card(built_site):
    images = {meta(page(built_site, path), "og:image") for path in ("/", "/archives/", "/tag/")}
    assert len(images) == 1 and None not in images


def card_build(content, output, cache):
    """Build `content` with the share-card cache in `cache`."""
    cmd = [sys.executable, "-m", "pelican", str(content), "-s", "pelicanconf.py", "-o", str(output)]
    cmd += ["-e", f'SHARE_CARDS_CACHE="{cache}"']
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr


def test_cards_are_drawn_again_only_for_changed_content(tmp_path):
    content, cache = tmp_path / "content", tmp_path / "cache"
    subprocess.run(["cp", "-r", str(ROOT / "content"), str(content)], check=True)
    card_build(content, tmp_path / "first", cache)
    before = {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}
    source = content / "articles" / f"{ARTICLES[NEWEST_FIRST[0]][0]['slug']}.md"
    text = source.read_text(encoding="utf-8")
    source.write_text(re.sub(r"^Title: (.*)$", r"Title: \1, revised", text, count=1, flags=re.M))
    card_build(content, tmp_path / "second", cache)
    after = {path.name: path.stat().st_mtime_ns for path in cache.iterdir()}
    new = set(after) - set(before)
    assert len(new) == 1  # the edited article's card, and no other
    assert all(after[name] == mtime for name, mtime in before.items())  # none redrawn
    doc = parse((tmp_path / "second" / "blog" / NEWEST_FIRST[0] / "index.html").read_text())
    assert meta(doc, "og:image").endswith("/cards/" + new.pop())


# --- Details -------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_states_the_firm_blurb_once(built_site, slug):
    html = (built_site / "blog" / slug / "index.html").read_text(encoding="utf-8")
    assert parse(html).find("body").text().count(SITE["firm"]["blurb"]) == 1


def test_404_page_lists_each_link_once(built_site):
    links = [a.attrs["href"] for a in parse((built_site / "404.html").read_text()).find("main")
             .find_all("a")]  # fmt: skip
    assert links and len(links) == len(set(links)), links


def test_article_page_weight_is_under_20_kb_gzipped(built_site):
    """HTML + CSS of every article, gzip -6 (the bench reports the same figure)."""
    css = gzip.compress((built_site / "theme/css/site.css").read_bytes(), compresslevel=6)
    for slug in NEWEST_FIRST:
        html = (built_site / "blog" / slug / "index.html").read_bytes()
        assert len(gzip.compress(html, compresslevel=6)) + len(css) < 20 * 1024, slug


def test_no_page_keeps_a_fact_placeholder(built_site):
    files = html_files(built_site)
    leftovers = [name for name in files if "{fact:" in (built_site / name).read_text()]
    assert leftovers == []


SEARCH_EXCERPTS = """async (query) => {
  const pagefind = await import('/pagefind/pagefind.js');
  const search = await pagefind.search(query);
  return Promise.all(search.results.map(async (r) => (await r.data()).content));
}"""


@pytest.mark.browser
def test_search_text_of_the_assessment_facts_has_spaces(browser, built_site):
    """Pagefind reads "Length 90 minutes", not "Length90 minutes" (text nodes kept apart)."""
    with serve_folder(built_site) as url:
        context = browser.new_context()
        try:
            tab = context.new_page()
            tab.goto(url + "/search/", wait_until="load")
            contents = tab.evaluate(SEARCH_EXCERPTS, ASSESSMENT["name"])
        finally:
            context.close()
    text = " ".join(contents)
    assert f"Length {ASSESSMENT['minutes']} minutes" in text
    assert f"Fee {ASSESSMENT['price']}" in text


# --- Diagrams ------------------------------------------------------------------------------

DIAGRAMS = sorted((ROOT / "content" / "images").glob("*.svg"))


def test_a_lone_svg_becomes_a_scrollable_figure_and_a_portrait_does_not():
    diagram = '<p><img alt="a" src="{static}/images/x.svg" /></p>'
    portrait = '<p><img alt="b" class="person__photo" src="/images/p.svg" /></p>'
    assert wrap_diagrams(diagram).startswith('<figure class="diagram" tabindex="0"><img')
    assert wrap_diagrams(portrait) == portrait
    assert wrap_diagrams("<p>Text <img alt='c' src='x.svg'> inline</p>").startswith("<p>")


@pytest.mark.parametrize("path", DIAGRAMS, ids=lambda path: path.name)
def test_diagram_follows_the_colour_scheme(path):
    svg = path.read_text(encoding="utf-8")
    assert "@media (prefers-color-scheme: dark)" in svg
    assert "var(--" in svg


DIAGRAM_SIZES = """() => [...document.querySelectorAll('figure.diagram img')].map((img) => ({
  src: img.getAttribute('src'), shown: img.getBoundingClientRect().width,
  page: document.documentElement.scrollWidth,
}))"""


def smallest_label(svg: str) -> tuple[float, float]:
    """(viewBox width, smallest font-size in px) of an SVG drawing."""
    width = float(re.search(r'viewBox="[\d.]+ [\d.]+ ([\d.]+)', svg)[1])
    sizes = [float(size) for size in re.findall(r"font-size:\s*([\d.]+)px", svg)]
    sizes += [float(size) for size in re.findall(r'font-size="([\d.]+)"', svg)]
    return width, min(sizes)


@pytest.mark.browser
def test_diagram_labels_stay_readable_on_a_phone(browser, built_site):
    """At 375 px each diagram's smallest label renders at 11 px or more; the page itself does
    not scroll sideways (the figure does)."""
    found = []
    with serve_folder(built_site) as url:
        context = browser.new_context(viewport={"width": 375, "height": 800})
        try:
            tab = context.new_page()
            for slug in NEWEST_FIRST:
                tab.goto(f"{url}/blog/{slug}/", wait_until="load")
                found += tab.evaluate(DIAGRAM_SIZES)
        finally:
            context.close()
    assert found, "no article has a diagram"
    for shown in found:
        width, label = smallest_label((built_site / shown["src"].lstrip("/")).read_text())
        assert label * shown["shown"] / width >= 11, shown
        assert shown["page"] <= 375, shown
