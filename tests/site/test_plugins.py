"""The site's own Pelican plugins: unit tests of their functions and a build of a small
throwaway site that exercises what the real content does not (pagination, drafts,
future dates, hostile titles)."""

import json
import os
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest

from sitebuild.articles import (
    annotate_articles,
    count_words,
    html_to_text,
    reading_minutes,
    related_articles,
)
from sitebuild.seo import faq_entries, html_blocks
from sitebuild.sitemap import sitemap_xml
from tests.conftest import ROOT, build_site
from tests.site.test_pages import jsonld, page

# --- Reading time --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("words", "minutes"), [(1, 1), (199, 1), (200, 1), (201, 2), (400, 2), (401, 3)]
)
def test_reading_time_rounds_up(words, minutes):
    assert reading_minutes(words) == minutes


def test_reading_time_of_an_empty_body_is_one_minute():
    assert reading_minutes(0) == 1


def test_word_count_ignores_markup_and_heading_permalinks():
    html = (
        '<h2 id="a">Two words<a class="headerlink" href="#a" title="Link">#</a></h2>\n'
        "<p>One <em>two</em> &ldquo;three&rdquo; &mdash; four.</p>"
    )
    assert count_words(html_to_text(html)) == 6


# --- Neighbours and related articles -------------------------------------------------------


def make_article(name, day, category, tags=()):
    """A plain stand-in with the attributes the plugin reads."""
    return SimpleNamespace(
        title=name,
        date=datetime(2026, 1, day),
        category=category,
        tags=list(tags),
        _content="<p>" + "word " * 401 + "</p>",
    )


def test_annotate_sets_neighbours_by_date_whatever_the_order():
    old, middle, new = (make_article(n, d, "c") for n, d in (("old", 1), ("mid", 2), ("new", 3)))
    annotate_articles([middle, new, old])
    assert (middle.prev_article, middle.next_article) == (old, new)
    assert (old.prev_article, new.next_article) == (None, None)
    assert middle.reading_time == 3


def test_related_ranks_shared_tags_before_category():
    target = make_article("target", 10, "strategy", ["data", "pilots"])
    both_tags = make_article("both", 1, "delivery", ["data", "pilots"])
    one_tag = make_article("one", 9, "delivery", ["data"])
    same_category = make_article("category", 8, "strategy")
    unrelated = make_article("none", 7, "governance", ["risk"])
    articles = [target, one_tag, same_category, unrelated, both_tags]
    assert related_articles(target, articles) == [both_tags, one_tag, same_category]


def test_related_is_limited_to_three():
    target = make_article("target", 10, "strategy")
    others = [make_article(f"o{day}", day, "strategy") for day in range(1, 6)]
    assert len(related_articles(target, [target, *others])) == 3


# --- FAQ extraction ------------------------------------------------------------------------

FAQ_HTML = """
<h2 id="agenda">Agenda<a class="headerlink" href="#agenda">#</a></h2>
<h3>Not a question</h3><p>Outside the FAQ.</p>
<h2 id="faq">Frequently asked questions<a class="headerlink" href="#faq">#</a></h2>
<h3 id="q1">Is it &ldquo;free&rdquo;?<a class="headerlink" href="#q1">#</a></h3>
<p>No. It has a <strong>fixed</strong> fee.</p>
<ul><li>Agreed first.</li><li>Nested <ul><li>list</li></ul></li></ul>
<h3 id="q2">How long?</h3>
<p>Ninety minutes.</p>
<h2>After</h2>
<p>Not an answer.</p>
"""


def test_faq_entries_pair_each_question_with_its_answer():
    assert faq_entries(FAQ_HTML) == [
        ("Is it \u201cfree\u201d?", "No. It has a fixed fee. Agreed first. Nested list"),
        ("How long?", "Ninety minutes."),
    ]


def test_html_blocks_keep_nested_lists_in_one_block():
    assert html_blocks("<ul><li>a<ul><li>b</li></ul></li></ul><p>c</p>") == [
        ("ul", "a b"),
        ("p", "c"),
    ]


def test_page_without_faq_has_no_entries():
    assert faq_entries("<h2>About</h2><p>Text.</p>") == []


# --- Sitemap -------------------------------------------------------------------------------


def test_sitemap_xml_escapes_and_parses():
    xml = sitemap_xml([("http://example.test/?a=1&b=2", "2026-01-02T03:04:05+00:00")])
    root = ET.fromstring(xml)
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    assert root.findtext("s:url/s:loc", namespaces=ns) == "http://example.test/?a=1&b=2"


# --- A throwaway site ----------------------------------------------------------------------

HOSTILE_TITLE = 'Closing </script><script>alert("x")</script> & more'
PUBLISHED = 12  # more than DEFAULT_PAGINATION (10), so the index has a second page


def write_article(folder: Path, slug: str, date: str, title: str, status: str = "published"):
    """Write one minimal Markdown article."""
    (folder / f"{slug}.md").write_text(
        f"Title: {title}\nDate: {date}\nCategory: Notes\nTags: testing\nSlug: {slug}\n"
        f"Author: Test Author\nSummary: A summary of {slug}.\nStatus: {status}\n\n"
        + "A sentence of body text for the reading time.\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def small_site(tmp_path_factory) -> Path:
    """A site of 12 published articles, a draft, a future-dated one and a hostile title."""
    content = tmp_path_factory.mktemp("content")
    shutil.copytree(ROOT / "content" / "extra", content / "extra")
    articles = content / "articles"
    articles.mkdir()
    for number in range(1, PUBLISHED):
        write_article(
            articles, f"post-{number:02d}", f"2026-03-{number:02d} 09:00", f"Post {number}"
        )
    write_article(articles, "hostile", "2026-03-20 09:00", HOSTILE_TITLE)
    write_article(articles, "a-draft", "2026-03-21 09:00", "A draft", status="draft")
    future = (datetime.now() + timedelta(days=365)).strftime("%Y-%m-%d 09:00")
    write_article(articles, "from-the-future", future, "From the future")
    output = tmp_path_factory.mktemp("small") / "output"
    result = build_site(output, content=content)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def test_drafts_are_not_published(small_site):
    assert not (small_site / "blog" / "a-draft").exists()
    assert not (small_site / "drafts").exists()
    assert "a-draft" not in (small_site / "sitemap.xml").read_text(encoding="utf-8")


def test_future_articles_are_not_published(small_site):
    assert not (small_site / "blog" / "from-the-future").exists()
    assert "from-the-future" not in (small_site / "feeds" / "all.atom.xml").read_text()


def test_index_is_paginated_with_rel_links(small_site):
    first, second = page(small_site, "/"), page(small_site, "/page/2/")
    assert first.find("link", rel="next").attrs["href"] == "/page/2/"
    assert first.find("link", rel="prev") is None
    assert second.find("link", rel="prev").attrs["href"] == "/"
    assert second.find("nav", class_="pagination").find("a", rel="prev").attrs["href"] == "/"


def test_index_pages_run_newest_first(small_site):
    hrefs = []
    for path in ("/", "/page/2/"):
        cards = page(small_site, path).find_all("li", class_="post-card")
        hrefs += [card.find("a").attrs["href"] for card in cards]
    expected = ["/blog/hostile/"] + [f"/blog/post-{n:02d}/" for n in range(PUBLISHED - 1, 0, -1)]
    assert hrefs == expected


def test_jsonld_cannot_be_closed_by_content(small_site):
    html = (small_site / "blog" / "hostile" / "index.html").read_text(encoding="utf-8")
    script = html.split('<script type="application/ld+json">')[2].split("</script>")[0]
    assert "<" not in script and "&" not in script
    posting = [d for d in jsonld(page(small_site, "/blog/hostile/")) if d["@type"] == "BlogPosting"]
    assert json.loads(json.dumps(posting[0]))["headline"] == HOSTILE_TITLE


def test_feed_links_and_ids_are_absolute(small_site):
    atom = "{http://www.w3.org/2005/Atom}"
    feed = ET.parse(small_site / "feeds" / "all.atom.xml").getroot()
    assert feed.findtext(f"{atom}id") == "http://127.0.0.1:8000/feeds/all.atom.xml"
    for entry in feed.findall(f"{atom}entry"):
        assert entry.find(f"{atom}link").get("href").startswith("http://127.0.0.1:8000/blog/")
        assert entry.findtext(f"{atom}id").startswith("tag:127.0.0.1,")


# --- The production build ------------------------------------------------------------------


@pytest.fixture(scope="module")
def published_site(tmp_path_factory) -> Path:
    """The real content built with publishconf.py (absolute SITEURL)."""
    output = tmp_path_factory.mktemp("published") / "output"
    result = build_site(output, settings="publishconf.py")
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def public_origin() -> str:
    """The public origin publishconf.py uses (overridable there with $SITEURL)."""
    return os.environ.get("SITEURL", "https://www.tessellate.example").rstrip("/")


def test_published_canonical_uses_the_public_domain(published_site):
    doc = page(published_site, "/about/")
    assert doc.find("link", rel="canonical").attrs["href"] == f"{public_origin()}/about/"


def test_published_sitemap_and_robots_use_the_public_domain(published_site):
    robots = (published_site / "robots.txt").read_text(encoding="utf-8")
    assert f"Sitemap: {public_origin()}/sitemap.xml" in robots.splitlines()
    sitemap = ET.parse(published_site / "sitemap.xml").getroot()
    locs = [loc.text for loc in sitemap.iter("{http://www.sitemaps.org/schemas/sitemap/0.9}loc")]
    assert locs and all(loc.startswith(f"{public_origin()}/") for loc in locs)


def test_published_feed_id_uses_the_public_domain(published_site):
    feed = ET.parse(published_site / "feeds" / "all.atom.xml").getroot()
    assert (
        feed.findtext("{http://www.w3.org/2005/Atom}id") == f"{public_origin()}/feeds/all.atom.xml"
    )
