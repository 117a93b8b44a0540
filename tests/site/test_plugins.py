"""The site's own Pelican plugins: unit tests of their functions and a build of a small
throwaway site that exercises what the real content does not (pagination, drafts,
future dates, hostile titles)."""

import json
import random
import re
import shutil
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import markdown
import pytest
from pelican.contents import Article, Page
from pelican.settings import read_settings
from pelican.urlwrappers import Category
from pelican.utils import SafeDatetime

from bench.sitegen import generate
from sitebuild.articles import (
    BLOCK_LEVEL,
    RelatedIndex,
    annotate_articles,
    count_html_words,
    count_words,
    freeze_urls,
    hide_permalinks_from_search,
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


# --- Word count: the regex text extraction against html.parser ---------------------------

REAL_SOURCES = sorted((ROOT / "content").glob("**/*.md"))


def render(source: str, typography: str = "sitebuild.typography") -> str:
    """Markdown to HTML with pelicanconf.py's MARKDOWN setting, `typography` as the extension."""
    settings = read_settings(str(ROOT / "pelicanconf.py"))["MARKDOWN"]
    configs = dict(settings["extension_configs"])
    if typography != "sitebuild.typography":
        configs = {k: v for k, v in configs.items() if k != "sitebuild.typography"}
        configs[typography] = {}
    options = {**settings, "extension_configs": configs}
    return markdown.Markdown(extensions=list(configs), **options).convert(source)


class ReferenceTextExtractor(HTMLParser):
    """The html.parser extraction html_to_text replaced, kept as the reference it must match."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts, self.skip_depth = [], 0

    def handle_starttag(self, tag, attrs):
        """Separate blocks; skip inside a heading permalink, counting nested tags."""
        if tag in BLOCK_LEVEL:
            self.parts.append(" ")
        if self.skip_depth or "headerlink" in (dict(attrs).get("class") or "").split():
            self.skip_depth += 1

    def handle_endtag(self, tag):
        """Leave a skipped element; a block's end separates words too."""
        if tag in BLOCK_LEVEL:
            self.parts.append(" ")
        self.skip_depth = max(0, self.skip_depth - 1)

    def handle_data(self, data):
        """Keep text outside skipped elements."""
        if not self.skip_depth:
            self.parts.append(data)


def reference_text(html: str) -> str:
    """Visible text by html.parser, as the plugin computed it before."""
    extractor = ReferenceTextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.parts)


def reference_count(text: str) -> int:
    """Words as the plugin counted them before: runs of non-space holding a word character."""
    return len(re.findall(r"\S*\w\S*", text))


TRICKY_HTML = [
    '<h2 id="a">Two words<a class="headerlink" data-pagefind-ignore href="#a" title="L">#</a></h2>',
    '<pre><code class="language-py">if a &lt; b &amp;&amp; c:\n    print("x")\n</code></pre>',
    "<p>Fish &amp; chips &mdash; &#8220;caf&eacute;&#8221; &nbsp;AT&amp;T &copy;2026</p>",
    "<table><thead><tr><th>A</th><th>B</th></tr></thead><tbody><tr><td>1</td><td>2"
    "</td></tr></tbody></table>",
    "<ul><li>one<ul><li>two</li></ul></li><li>three</li></ul><p>a<br>b<br/>c<hr>d</p>",
    '<p>Keep <!-- not this --> <a href="/x" title="a &gt; b">linked <em>text</em></a>.</p>',
    '<p><img alt="an image" src="/i.svg"> 1,500 words, 92% &ndash; e.g. &hellip; - &middot;</p>',
    "<blockquote><p>Quoted</p><p>&mdash; a client</p></blockquote><dl><dt>t</dt><dd>d</dd></dl>",
    "<P>Upper<BR>case</P><p>x<span>y</span>z</p><div>block</div>inline",
]


@pytest.mark.parametrize("html", TRICKY_HTML)
def test_text_extraction_matches_html_parser_on_tricky_html(html):
    # Runs of whitespace may differ (<br/> is one space, not two); every consumer splits.
    assert html_to_text(html).split() == reference_text(html).split()


@pytest.mark.parametrize("source", REAL_SOURCES, ids=lambda path: path.name)
def test_word_count_matches_html_parser_on_the_real_content(source):
    content = SimpleNamespace(_content=render(source.read_text(encoding="utf-8")))
    hide_permalinks_from_search(content)
    text = html_to_text(content._content)
    assert text.split() == reference_text(content._content).split()
    assert count_words(text) == reference_count(text)


@pytest.mark.parametrize(
    "text",
    ["a b", " -- a—b ... 'c' #", "x\u00a0y\tz\n&", "", "— · -", "a_b _ __ élan ٣ “q” x."],
)
def test_word_count_matches_the_previous_pattern(text):
    assert count_words(text) == reference_count(text)


# --- Word count in bytes: count_html_words against count_words(html_to_text(...)) ---------
# The bytes path must give the very same number; HTML it cannot count exactly (other
# non-ASCII, unknown entities, 1C-1F) falls back to the str functions.

BYTES_TRICKY_HTML = TRICKY_HTML + [
    "<p>caf\u00e9\u00a0au lait \u2014 na\u00efve</p>",  # non-ASCII: the str path
    "<p>a\u2009b\u2003c d\u202fe</p><p\u2003>f</p>",  # General Punctuation spaces
    "<p>x\x1cy<br\x1c>z</p>",  # 1C: a space for str patterns, not for bytes patterns
    "<p>&amp;amp; &amp;lt; &&amp; &ampx; &copy &#65;BC &hellip;x&rsquo;s</p>",
    '<A CLASS="HEADERLINK" HREF="#a">Link text</A><p>\u2018quoted\u2019 \u2026 \u2013</p>',
    "<!-- a --><p>b</p><!-- unterminated <p>c</p>",
    "",
    "   \n\t ",
]


@pytest.mark.parametrize("html", BYTES_TRICKY_HTML)
def test_html_word_count_matches_on_tricky_html(html):
    assert count_html_words(html) == count_words(html_to_text(html))


@pytest.mark.parametrize("source", REAL_SOURCES, ids=lambda path: path.name)
def test_html_word_count_matches_on_the_real_content(source):
    html = render(source.read_text(encoding="utf-8"))
    assert count_html_words(html) == count_words(html_to_text(html)) > 0


def test_html_word_count_matches_on_generated_articles(tmp_path):
    content = generate(tmp_path / "content", 20)
    for path in sorted((content / "articles").glob("*.md")):
        html = render(path.read_text(encoding="utf-8"))
        assert count_html_words(html) == count_words(html_to_text(html)) > 1000, path.name


def test_html_word_count_matches_on_random_fragments():
    rng = random.Random(2026)
    pieces = [
        "a", "b9", "_", " ", "\n", "\t", "\x1c", "\x0b", "<p>", "</p>", "<em>", "</em>",
        "<BR>", "<br/>", "<Li>", "<!-- c d -->", "<!--", "-->", "&amp;", "&lt;", "&rsquo;",
        '<a class="headerlink" href="#x" title="t">#</a>', "&copy;", "&nbsp;", "&#65;",
        "&amp", "&", ";", "\u2019", "\u201c", "\u2013", "\u2026", "\u2009", "\u2028",
        "\u00a0", "\u00e9", "\u203f", "-", ".", "#", '<h2 id="a">', "</h2>", "<p\u2003>",
        "<div\x0b>", "<li\x1d>", "<span>", "</span>", ">", "<",
    ]  # fmt: skip
    fragments = ["".join(rng.choices(pieces, k=rng.randint(0, 14))) for _ in range(5000)]
    different = [f for f in fragments if count_html_words(f) != count_words(html_to_text(f))]
    assert different == []


# --- Typography: sitebuild.typography gives smarty's output ---------------------------------
# Smarty writes entities (&rsquo;), sitebuild.typography the characters they stand for (’):
# the pages read the same, so the two are compared with entities decoded.

TYPOGRAPHY_CASES = [
    "He said \"hello\" and 'goodbye'... It's the team's -- and the owners' -- job---done.",
    "The '90s, x'90s and 'quoted 90s'; rock 'n' roll; 'twas; ----four and ....",
    '"\'Nested\' start," she said. \'"Other" way\' here. "Hello," he said, "it\'s \'fine\'."',
    '*word*". *word*\'s *word*\'! *a*"\'b\' c" and `code "kept"`\'s "after"',
    'A "quote" (or "two") [and "three"]. A <span>"raw"</span> tag &copy; "x" \\"escaped\\".',
    '[link "text"](/x "title") and ![alt "text"](/i.png) "after" -- done',
    '### Heading "with" quotes\n\n| a "b" | c\'s |\n|---|---|\n| "d" | e... |',
    '    "code block" it\'s -- kept\n\nAfter "it".',
    'Term "one"\n: Definition \'two\' -- here...\n\nA note[^1].\n\n[^1]: The "note" it\'s.',
    '<div markdown="1">Inside "md" it\'s</div>\n\n<div>Raw "html" it\'s -- untouched</div>',
    "&nbsp;'quote' and &mdash;\"x\" and &#8211;'y' I said -- \"no\" --- 'yes'.",
]


@pytest.mark.parametrize("source", REAL_SOURCES, ids=lambda path: path.name)
def test_typography_matches_smarty_on_the_real_content(source):
    text = source.read_text(encoding="utf-8")
    assert unescape(render(text)) == unescape(render(text, "markdown.extensions.smarty"))


@pytest.mark.parametrize("source", TYPOGRAPHY_CASES)
def test_typography_matches_smarty_on_tricky_text(source):
    assert unescape(render(source)) == unescape(render(source, "markdown.extensions.smarty"))


def test_typography_matches_smarty_on_random_punctuation():
    # Quotes next to quotes, dashes, dots and emphasis are where the two could part.
    rng = random.Random(2026)
    alphabet = list("ab9 0s_'\"-.,!()*`\t") + ["\u2014", "\n", "  "]
    sources = ["".join(rng.choices(alphabet, k=rng.randint(1, 16))) for _ in range(1500)]
    ours, smarty = (
        markdown.Markdown(extensions=["markdown.extensions.extra", name], output_format="html5")
        for name in ("sitebuild.typography", "markdown.extensions.smarty")
    )
    different = [
        text
        for text in sources
        if unescape(ours.reset().convert(text)) != unescape(smarty.reset().convert(text))
    ]
    assert different == []


def test_typography_writes_characters_and_leaves_code_alone():
    html = render('It\'s "done" -- mostly... `don\'t "touch"`')
    assert html == (
        '<p>It\u2019s \u201cdone\u201d \u2013 mostly\u2026 <code>don\'t "touch"</code></p>'
    )


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


def reference_related(article, articles, limit=3):
    """The ranking spelled out: every other article that shares a tag or the category, by
    most shared tags, then same category, then newest (`articles` is newest first)."""
    tags = set(article.tags)
    candidates = [
        (-len(tags & set(other.tags)), other.category != article.category, position, other)
        for position, other in enumerate(articles)
        if other is not article and (tags & set(other.tags) or other.category == article.category)
    ]
    return [other for *_key, other in sorted(candidates, key=lambda c: c[:3])[:limit]]


def test_related_matches_the_plain_ranking_on_random_sites():
    rng = random.Random(2026)
    for _site in range(60):
        tags, categories = [f"t{n}" for n in range(rng.randint(1, 8))], "abc"[: rng.randint(1, 3)]
        articles = [
            make_article(
                f"a{n}",
                1,
                rng.choice(categories),
                rng.sample(tags, rng.randint(0, min(4, len(tags)))),
            )
            for n in range(rng.randint(1, 40))
        ]
        index = RelatedIndex(articles)
        for article in articles:
            assert index.related(article) == reference_related(article, articles)


# --- URLs computed once ----------------------------------------------------------------------


def test_freeze_urls_stores_the_url_pelican_computes():
    settings = read_settings(str(ROOT / "pelicanconf.py"))
    date = SafeDatetime(2026, 3, 1, 9, 0)
    category = Category("Strategy", settings)

    def article(slug, **metadata):
        metadata = {"title": slug, "date": date, "slug": slug, "category": category, **metadata}
        return Article("<p>x</p>", metadata=metadata, settings=settings, source_path=f"{slug}.md")

    published, draft = article("published"), article("draft", status="draft")
    custom = article("custom", url="elsewhere/custom/")
    page = Page("<p>x</p>", metadata={"title": "About", "slug": "about"}, settings=settings)
    expected = [published.url, draft.url, custom.url, page.url]
    generator = SimpleNamespace(articles=[published, custom], drafts=[draft], pages=[page])
    freeze_urls([generator, SimpleNamespace()])
    assert [c.override_url for c in (published, draft, custom, page)] == expected
    assert expected == ["blog/published/", "", "elsewhere/custom/", "about/"]


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


CTA = {"CTA_Title": "Rank your pilots", "CTA_Text": "Bring your list.", "CTA_Button": "Rank mine"}
CTA_SLUG = "post-05"  # the article of small_site that overrides the "Next step" box


def write_article(
    folder: Path, slug: str, date: str, title: str, status: str = "published", extra: str = ""
):
    """Write one minimal Markdown article; `extra` adds header lines."""
    (folder / f"{slug}.md").write_text(
        f"Title: {title}\nDate: {date}\nCategory: Notes\nTags: testing\nSlug: {slug}\n"
        f"Author: Test Author\nSummary: A summary of {slug}.\nStatus: {status}\n{extra}\n"
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
    cta = "".join(f"{name}: {value}\n" for name, value in CTA.items())
    for number in range(1, PUBLISHED):
        slug = f"post-{number:02d}"
        extra = cta if slug == CTA_SLUG else ""
        write_article(articles, slug, f"2026-03-{number:02d} 09:00", f"Post {number}", extra=extra)
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


def test_article_can_override_the_next_step_box(small_site):
    box = page(small_site, f"/blog/{CTA_SLUG}/").find("aside", class_="next-step")
    button = box.find("a", class_="button")
    assert (box.find("h2").text(), box.find("p").text(), button.text()) == tuple(CTA.values())
    assert button.attrs["href"] == f"/book?from={CTA_SLUG}"


def test_other_articles_keep_the_site_wide_next_step_box(small_site):
    site = read_settings(str(ROOT / "pelicanconf.py"))["SITE"]["assessment"]
    box = page(small_site, "/blog/post-04/").find("aside", class_="next-step")
    assert box.find("h2").text() == site["cta_title"]
    assert box.find("a", class_="button").text() == site["cta_button"]


def test_articles_list_related_articles(small_site):
    # Every small_site article shares the category and tag: each lists three others.
    section = page(small_site, "/blog/post-05/").find("section", class_="related")
    links = [a.attrs["href"] for a in section.find_all("a")]
    assert len(links) == 3 and "/blog/post-05/" not in links
    assert all(link.startswith("/blog/post-") or link == "/blog/hostile/" for link in links)


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
    """The public origin publishconf.py builds for ($LEADFORM_PUBLIC_URL, else its placeholder)."""
    import publishconf

    return publishconf.SITEURL


def test_published_canonical_uses_the_public_domain(published_site):
    doc = page(published_site, "/archives/")
    assert doc.find("link", rel="canonical").attrs["href"] == f"{public_origin()}/archives/"


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
