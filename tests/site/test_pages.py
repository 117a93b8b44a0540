"""The built site: every kind of page exists and carries its parts.

The site is built once per session (`built_site`); expectations are computed from the
Markdown sources and site.toml, never copied from the output or from today's wording: an
editor may change any article, page or fact and these tests still hold. What the real content
does not exercise (a CTA override, related articles) is checked on small_site in
test_plugins.py.
"""

import json
import math
import re
import runpy
import tomllib
import xml.etree.ElementTree as ET
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sitebuild.facts import flatten, substitute

ROOT = Path(__file__).resolve().parents[2]
SITE = tomllib.loads((ROOT / "site.toml").read_text(encoding="utf-8"))
# The local absolute base (pelicanconf.py's FEED_DOMAIN): built_site is built without -e.
BASE = runpy.run_path(str(ROOT / "pelicanconf.py"))["FEED_DOMAIN"]
# Header fields may hold {fact:...} placeholders (sitebuild.facts); pages show the facts.
FACTS = flatten(SITE)
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "wbr"}


# --- A tiny DOM over html.parser ---------------------------------------------------------


class Node:
    """An element with its attributes and children (elements or strings)."""

    def __init__(self, tag, attrs, parent=None):
        # A bare attribute (data-pagefind-body) has the value None; "" is easier to compare.
        attrs = {name: value or "" for name, value in attrs}
        self.tag, self.attrs, self.parent, self.children = tag, attrs, parent, []

    def iter(self):
        """Yield this element and every element below it, in document order."""
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag=None, **attrs):
        """Return descendants with the tag and attributes (class_ matches one class)."""
        found = []
        for node in self.iter():
            if tag and node.tag != tag:
                continue
            if all(_attr_matches(node, name, value) for name, value in attrs.items()):
                found.append(node)
        return found

    def find(self, tag=None, **attrs):
        """Return the first matching descendant, or None."""
        matches = self.find_all(tag, **attrs)
        return matches[0] if matches else None

    def text(self):
        """Return the text below this element, whitespace collapsed."""
        parts = []
        for child in self.children:
            parts.append(child.text() if isinstance(child, Node) else child)
        return " ".join("".join(parts).split())


def _attr_matches(node, name, value):
    if name == "class_":
        return value in (node.attrs.get("class") or "").split()
    return node.attrs.get(name.replace("_", "-")) == value


class _TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#document", {})
        self.current = self.root

    def handle_starttag(self, tag, attrs):
        node = Node(tag, attrs, self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_endtag(self, tag):
        node = self.current
        while node is not self.root and node.tag != tag:
            node = node.parent
        if node is not self.root:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    """Parse an HTML document into a Node tree."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    return builder.root


def page(site: Path, url_path: str) -> Node:
    """Parse the built page that serves `url_path` (e.g. "/blog/x/")."""
    path = site / url_path.lstrip("/")
    if url_path.endswith("/"):
        path = path / "index.html"
    return parse(path.read_text(encoding="utf-8"))


def meta(doc: Node, key: str) -> str | None:
    """Return the content of <meta name=key> or <meta property=key>."""
    for node in doc.find_all("meta"):
        if key in (node.attrs.get("name"), node.attrs.get("property")):
            return node.attrs.get("content")
    return None


def jsonld(doc: Node) -> list[dict]:
    """Return every JSON-LD object of the page, parsed."""
    scripts = doc.find_all("script", type="application/ld+json")
    return [json.loads(script.text()) for script in scripts]


def of_type(doc: Node, schema_type: str) -> dict:
    """Return the page's one JSON-LD object of the given @type."""
    matches = [item for item in jsonld(doc) if item.get("@type") == schema_type]
    assert len(matches) == 1, f"{len(matches)} {schema_type} objects"
    return matches[0]


# --- The Markdown sources ----------------------------------------------------------------


def read_source(path: Path) -> tuple[dict, str]:
    """Split a Markdown file into its lower-cased header fields and its body, facts filled in."""
    text = substitute(path.read_text(encoding="utf-8"), FACTS)
    header, _, body = text.partition("\n\n")
    fields = {}
    for line in header.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip().lower()] = value.strip()
    return fields, body


ARTICLES = {}
for _path in sorted((ROOT / "content" / "articles").glob("*.md")):
    _fields, _body = read_source(_path)
    if _fields.get("status", "published") == "published":
        ARTICLES[_fields["slug"]] = (_fields, _body)
NEWEST_FIRST = sorted(ARTICLES, key=lambda slug: ARTICLES[slug][0]["date"], reverse=True)
PAGES = {}
for _path in sorted((ROOT / "content" / "pages").glob("*.md")):
    _fields, _body = read_source(_path)
    PAGES[_fields["slug"]] = (_fields, _body)


def markdown_words(body: str) -> int:
    """Count the words a reader sees in a Markdown body: markup, URLs and images removed."""
    text = re.sub(r"!\[[^\]]*\]\([^)]*\)", " ", body)  # images: the alt text is not prose
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)  # links: keep the link text
    text = re.sub(r"^\s*(?:[-*+]|\d+\.)\s+", "", text, flags=re.M)  # list markers
    text = re.sub(r"^\s*(?:#+|>)\s*", "", text, flags=re.M)  # headings, quotes
    return sum(1 for token in text.split() if re.search(r"\w", token))


def dateline(fields: dict, words: int) -> str:
    """The expected 'Month YYYY · N min read' text."""
    month = datetime.strptime(fields["date"][:10], "%Y-%m-%d").strftime("%B %Y")
    return f"{month} · {math.ceil(words / 200)} min read"


def tags_of(fields: dict) -> set[str]:
    """The article's tags as a set."""
    return {tag.strip() for tag in fields.get("tags", "").split(",") if tag.strip()}


def html_files(site: Path) -> list[str]:
    """Every HTML page of the output (Pagefind's own files excluded)."""
    return sorted(
        str(path.relative_to(site)) for path in site.rglob("*.html") if "pagefind" not in path.parts
    )


# --- Articles ------------------------------------------------------------------------------


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_has_title_summary_and_dateline(built_site, slug):
    fields, body = ARTICLES[slug]
    doc = page(built_site, f"/blog/{slug}/")
    assert doc.find("h1").text() == fields["title"]
    assert doc.find("p", class_="subtitle").text() == fields["summary"]
    line = doc.find("p", class_="dateline")
    assert line.text() == dateline(fields, markdown_words(body))
    assert line.find("time").attrs["datetime"].startswith(fields["date"][:10])


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_links_its_category_and_tags(built_site, slug):
    fields, _ = ARTICLES[slug]
    links = {
        a.text(): a.attrs["href"]
        for a in page(built_site, f"/blog/{slug}/").find("p", class_="taxonomy").find_all("a")
    }
    category = fields["category"]
    assert links[category] == f"/category/{category.lower().replace(' ', '-')}/"
    for tag in tags_of(fields):
        assert links[tag] == f"/tag/{tag.lower().replace(' ', '-')}/"


@pytest.mark.parametrize("slug", [s for s in NEWEST_FIRST if "cta_title" not in ARTICLES[s][0]])
def test_article_closes_with_the_default_next_step(built_site, slug):
    box = page(built_site, f"/blog/{slug}/").find("aside", class_="next-step")
    assessment = SITE["assessment"]
    assert box.find("h2").text() == assessment["cta_title"]
    assert box.find("p").text() == assessment["cta_text"]
    button = box.find("a", class_="button")
    assert button.attrs["href"] == f"/book?from={slug}"
    assert button.text() == assessment["cta_button"]


@pytest.mark.parametrize("slug", [s for s in NEWEST_FIRST if "cta_title" in ARTICLES[s][0]])
def test_article_overrides_the_next_step(built_site, slug):
    fields, _ = ARTICLES[slug]
    box = page(built_site, f"/blog/{slug}/").find("aside", class_="next-step")
    assert box.find("h2").text() == fields["cta_title"]
    assert box.find("p").text() == fields["cta_text"]
    button = box.find("a", class_="button")
    assert (button.text(), button.attrs["href"]) == (fields["cta_button"], f"/book?from={slug}")


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_shows_the_firm_blurb(built_site, slug):
    # Once, in the footer (test_trust.py checks it is not repeated above it).
    footer = page(built_site, f"/blog/{slug}/").find("footer", class_="site-footer")
    assert footer.find("p", class_="site-footer__blurb").text() == SITE["firm"]["blurb"]


@pytest.mark.parametrize("index", range(len(NEWEST_FIRST)))
def test_article_links_previous_and_next_by_date(built_site, index):
    doc = page(built_site, f"/blog/{NEWEST_FIRST[index]}/")
    nav = doc.find("nav", class_="post-nav")
    prev_link, next_link = nav.find("a", rel="prev"), nav.find("a", rel="next")
    older = NEWEST_FIRST[index + 1] if index + 1 < len(NEWEST_FIRST) else None
    newer = NEWEST_FIRST[index - 1] if index > 0 else None
    assert (prev_link.attrs["href"] if prev_link else None) == (older and f"/blog/{older}/")
    assert (next_link.attrs["href"] if next_link else None) == (newer and f"/blog/{newer}/")


def expected_related(slug: str) -> list[str]:
    """Other articles ranked by shared tags, then same category, then newest first."""
    fields, _ = ARTICLES[slug]
    ranked = []
    for position, other in enumerate(NEWEST_FIRST):
        other_fields = ARTICLES[other][0]
        shared = len(tags_of(fields) & tags_of(other_fields))
        same = other_fields["category"] == fields["category"]
        if other != slug and (shared or same):
            ranked.append((-shared, not same, position, other))
    return [entry[3] for entry in sorted(ranked)[:3]]


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_lists_related_articles(built_site, slug):
    section = page(built_site, f"/blog/{slug}/").find("section", class_="related")
    expected = [f"/blog/{other}/" for other in expected_related(slug)]
    found = [a.attrs["href"] for a in section.find_all("a")] if section else []
    assert found == expected


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_runs_no_javascript(built_site, slug):
    scripts = page(built_site, f"/blog/{slug}/").find_all("script")
    assert [s.attrs for s in scripts if s.attrs.get("type") != "application/ld+json"] == []


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_body_is_what_search_indexes(built_site, slug):
    doc = page(built_site, f"/blog/{slug}/")
    body = doc.find(data_pagefind_body="")
    assert body is not None and body.tag == "article"
    assert body.find("aside", class_="next-step").attrs.get("data-pagefind-ignore") == ""


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_blogposting_jsonld(built_site, slug):
    fields, body = ARTICLES[slug]
    data = of_type(page(built_site, f"/blog/{slug}/"), "BlogPosting")
    url = f"{BASE}/blog/{slug}/"
    assert data["headline"] == fields["title"]
    assert data["description"] == fields["summary"]
    assert data["datePublished"].startswith(fields["date"][:10])
    assert data["dateModified"].startswith(fields.get("modified", fields["date"])[:10])
    assert (data["author"]["@type"], data["author"]["name"]) == ("Person", fields["author"])
    assert data["publisher"] == {"@id": f"{BASE}/#organization"}
    assert data["mainEntityOfPage"] == url
    assert data["timeRequired"] == f"PT{math.ceil(markdown_words(body) / 200)}M"
    assert isinstance(data["wordCount"], int) and data["wordCount"] > 0


@pytest.mark.parametrize("slug", NEWEST_FIRST)
def test_article_canonical_and_open_graph(built_site, slug):
    fields, _ = ARTICLES[slug]
    doc = page(built_site, f"/blog/{slug}/")
    url = f"{BASE}/blog/{slug}/"
    assert doc.find("link", rel="canonical").attrs["href"] == url
    assert meta(doc, "og:url") == url
    assert meta(doc, "og:type") == "article"
    assert meta(doc, "og:title") == fields["title"]
    assert meta(doc, "og:description") == fields["summary"]
    assert meta(doc, "description") == fields["summary"]
    assert meta(doc, "og:site_name") == SITE["firm"]["name"]
    assert meta(doc, "twitter:card") in {"summary", "summary_large_image"}


# --- Every page ----------------------------------------------------------------------------


def test_every_page_has_head_and_landmarks(built_site):
    problems = []
    for name in html_files(built_site):
        doc = parse((built_site / name).read_text(encoding="utf-8"))
        if doc.find("html").attrs.get("lang") != "en":
            problems.append(f"{name}: no lang")
        if not (doc.find("title") and doc.find("title").text()):
            problems.append(f"{name}: no title")
        if not meta(doc, "description"):
            problems.append(f"{name}: no meta description")
        if [d["@type"] for d in jsonld(doc)].count("Organization") != 1:
            problems.append(f"{name}: not exactly one Organization")
        if not all(doc.find(tag) for tag in ("header", "nav", "main", "footer")):
            problems.append(f"{name}: a landmark is missing")
        if len(doc.find_all("h1")) != 1:
            problems.append(f"{name}: not exactly one h1")
    assert problems == []


def test_every_page_starts_with_the_skip_link(built_site):
    problems = []
    for name in html_files(built_site):
        doc = parse((built_site / name).read_text(encoding="utf-8"))
        first = doc.find("body").find("a")
        main = doc.find("main")
        if first.attrs.get("href") != "#main" or main.attrs.get("id") != "main":
            problems.append(name)
    assert problems == []


def redirect_target(doc: Node) -> str | None:
    """Where a page's <meta http-equiv="refresh"> sends the reader, or None."""
    for node in doc.find_all("meta"):
        if node.attrs.get("http-equiv") == "refresh":
            return node.attrs["content"].split("url=", 1)[1]
    return None


def test_every_indexable_page_has_an_absolute_canonical(built_site):
    problems = []
    for name in html_files(built_site):
        if name == "404.html":
            continue
        doc = parse((built_site / name).read_text(encoding="utf-8"))
        link = doc.find("link", rel="canonical")
        # A redirect page names the page it sends readers to.
        url = BASE + (redirect_target(doc) or "/" + name.removesuffix("index.html"))
        if link is None or link.attrs["href"] != url or meta(doc, "og:url") != url:
            problems.append(name)
    assert problems == []


def test_organization_jsonld_uses_site_facts(built_site):
    data = of_type(page(built_site, "/"), "Organization")
    firm = SITE["firm"]
    assert (data["name"], data["email"], data["description"]) == (
        firm["name"],
        firm["email"],
        firm["blurb"],
    )
    assert data["url"] == f"{BASE}/"
    assert data["logo"] == BASE + firm["logo_path"]


@pytest.mark.parametrize("path", [item["path"] for item in SITE["nav"]])
def test_header_nav_marks_the_current_page(built_site, path):
    current = page(built_site, path).find("nav", class_="site-nav").find_all(aria_current="page")
    assert [a.attrs["href"] for a in current] == [path]


# Pages with the plain page template (no Template: header), as listed on the site.
PLAIN_PAGES = [
    slug
    for slug, (fields, _) in PAGES.items()
    if "template" not in fields and fields.get("status", "published") == "published"
]


def test_header_links_to_booking_from_the_page_being_read(built_site):
    booking = SITE["assessment"]["booking_path"]
    cases = [("/", "site-header")]
    cases += [(f"/{slug}/", slug) for slug in PLAIN_PAGES[:1]]
    cases += [(f"/blog/{slug}/", slug) for slug in NEWEST_FIRST[:1]]
    for path, source in cases:
        header = page(built_site, path).find("header", class_="site-header")
        assert header.find("a", class_="button").attrs["href"] == f"{booking}?from={source}"


def test_footer_has_firm_facts(built_site):
    footer = page(built_site, "/").find("footer")
    hrefs = {a.attrs["href"] for a in footer.find_all("a")}
    assert f"mailto:{SITE['firm']['email']}" in hrefs
    assert SITE["privacy"]["policy_path"] in hrefs
    assert SITE["firm"]["blurb"] in footer.text()
    assert f"© {SITE['firm']['founded']}" in footer.text()


# --- Assessment page -----------------------------------------------------------------------


def faq_questions(body: str) -> list[str]:
    """The ### questions under a '## Frequently asked questions' heading ([] without one)."""
    parts = re.split(r"^## Frequently asked questions\s*$", body, flags=re.M | re.I)
    if len(parts) < 2:
        return []
    section = re.split(r"^## ", parts[1], flags=re.M)[0]
    return re.findall(r"^### (.+)$", section, flags=re.M)


ASSESSMENT = SITE["assessment"]["page_path"]
ASSESSMENT_SLUG = ASSESSMENT.strip("/")


def test_the_assessment_page_exists():
    # site.toml names the landing page; a renamed Slug would break every Book link to it.
    assert ASSESSMENT_SLUG in PAGES, f"no page in content/pages has Slug: {ASSESSMENT_SLUG}"


def test_assessment_has_service_jsonld(built_site):
    data = of_type(page(built_site, ASSESSMENT), "Service")
    assert data["name"] == SITE["assessment"]["name"]
    assert data["provider"] == {"@id": f"{BASE}/#organization"}
    assert data["url"] == BASE + ASSESSMENT


def test_assessment_has_faqpage_from_its_questions(built_site):
    _, body = PAGES[ASSESSMENT_SLUG]
    doc = page(built_site, ASSESSMENT)
    if not faq_questions(body):  # the editors took the FAQ out: no FAQPage then
        assert "FAQPage" not in [item["@type"] for item in jsonld(doc)]
        return
    data = of_type(doc, "FAQPage")
    questions = [entry["name"] for entry in data["mainEntity"]]
    assert questions == faq_questions(body)
    assert all(entry["acceptedAnswer"]["text"] for entry in data["mainEntity"])


def test_faq_questions_reads_the_faq_section_only():
    body = "## Agenda\n\n### Not asked\n\n## Frequently asked questions\n\n### One?\n\nA.\n\n"
    assert faq_questions(body + "### Two?\n\nB.\n\n## After\n\n### Not asked either") == [
        "One?",
        "Two?",
    ]
    assert faq_questions("## Agenda\n\n### Not asked") == []


def test_assessment_has_book_buttons_and_facts(built_site):
    doc = page(built_site, ASSESSMENT)
    buttons = doc.find_all("a", class_="button")
    booking = f"{SITE['assessment']['booking_path']}?from={ASSESSMENT_SLUG}"
    assert sum(1 for a in buttons if a.attrs["href"] == booking) >= 2
    facts = doc.find("dl", class_="facts").text()
    assert f"{SITE['assessment']['minutes']} minutes" in facts
    assert SITE["assessment"]["price_note"] in facts


# --- Lists: index, categories, tags, archives ---------------------------------------------


def test_index_lists_articles_newest_first(built_site):
    doc = page(built_site, "/")
    cards = doc.find_all("li", class_="post-card")
    assert [c.find("a").attrs["href"] for c in cards] == [f"/blog/{s}/" for s in NEWEST_FIRST]
    first_fields, first_body = ARTICLES[NEWEST_FIRST[0]]
    assert cards[0].find("p", class_="dateline").text() == dateline(
        first_fields, markdown_words(first_body)
    )
    assert cards[0].find("p", class_="post-card__summary").text() == first_fields["summary"]


def test_category_pages_list_their_articles(built_site):
    categories = {fields["category"] for fields, _ in ARTICLES.values()}
    for category in categories:
        slug = category.lower().replace(" ", "-")
        found = [
            a.attrs["href"]
            for a in page(built_site, f"/category/{slug}/")
            .find("ol", class_="post-list")
            .find_all("a")
        ]
        expected = [f"/blog/{s}/" for s in NEWEST_FIRST if ARTICLES[s][0]["category"] == category]
        assert found == expected, category
    listed = page(built_site, "/category/").find("ul", class_="term-list").text()
    assert all(category in listed for category in categories)


def test_tag_pages_list_their_articles(built_site):
    tags = set().union(*(tags_of(fields) for fields, _ in ARTICLES.values()))
    for tag in tags:
        slug = tag.lower().replace(" ", "-")
        found = [
            a.attrs["href"]
            for a in page(built_site, f"/tag/{slug}/").find("ol", class_="post-list").find_all("a")
        ]
        expected = [f"/blog/{s}/" for s in NEWEST_FIRST if tag in tags_of(ARTICLES[s][0])]
        assert found == expected, tag
    listed = {
        a.text() for a in page(built_site, "/tag/").find("ul", class_="term-list").find_all("a")
    }
    assert listed == tags


def test_archives_list_every_article_newest_first(built_site):
    links = page(built_site, "/archives/").find("main").find_all("a")
    assert [a.attrs["href"] for a in links] == [f"/blog/{s}/" for s in NEWEST_FIRST]


# --- Other pages and files -----------------------------------------------------------------


@pytest.mark.parametrize("slug", PLAIN_PAGES)
def test_plain_pages_render(built_site, slug):
    fields, _ = PAGES[slug]
    doc = page(built_site, f"/{slug}/")
    assert doc.find("h1").text() == fields["title"]
    assert doc.find("article").attrs.get("data-pagefind-body") == ""


def test_blog_folder_sends_readers_to_the_article_list(built_site):
    # Articles live at /blog/<slug>/, so readers try /blog/: it must not be a 404.
    doc = page(built_site, "/blog/")
    assert redirect_target(doc) == "/"
    assert doc.find("link", rel="canonical").attrs["href"] == BASE + "/"
    assert "/" in [a.attrs["href"] for a in doc.find("main").find_all("a")]


def test_404_page_is_not_indexed(built_site):
    doc = parse((built_site / "404.html").read_text(encoding="utf-8"))
    assert meta(doc, "robots") == "noindex"
    assert doc.find("link", rel="canonical") is None
    assert doc.find("link", rel="stylesheet").attrs["href"] == "/theme/css/site.css"


def test_search_page_loads_pagefind_and_works_without_javascript(built_site):
    doc = page(built_site, "/search/")
    sources = [s.attrs.get("src") for s in doc.find_all("script")]
    assert "/pagefind/pagefind-ui.js" in sources
    assert (built_site / "pagefind" / "pagefind-ui.js").is_file()
    noscript_links = {a.attrs["href"] for a in doc.find("noscript").find_all("a")}
    assert {"/archives/", "/category/", "/tag/"} <= noscript_links
    listed = {a.attrs["href"] for a in doc.find("section", class_="browse").find_all("a")}
    assert {f"/blog/{s}/" for s in NEWEST_FIRST} <= listed


def test_only_the_search_page_loads_pagefind(built_site):
    loaders = [
        name
        for name in html_files(built_site)
        if "/pagefind/" in (built_site / name).read_text(encoding="utf-8")
    ]
    assert loaders == ["search/index.html"]


def test_sitemap_lists_every_article_and_page_with_lastmod(built_site):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.parse(built_site / "sitemap.xml").getroot()
    entries = {
        u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
        for u in root.findall("s:url", ns)
    }
    expected = [f"{BASE}/blog/{s}/" for s in ARTICLES]
    expected += [f"{BASE}/{slug}/" for slug, (f, _) in PAGES.items() if f.get("status") != "hidden"]
    for url in expected:
        assert url in entries, url
        assert datetime.fromisoformat(entries[url]), url


def test_sitemap_lastmod_is_the_modified_date(built_site):
    ns = {"s": "http://www.sitemaps.org/schemas/sitemap/0.9"}
    root = ET.parse(built_site / "sitemap.xml").getroot()
    entries = {
        u.findtext("s:loc", namespaces=ns): u.findtext("s:lastmod", namespaces=ns)
        for u in root.findall("s:url", ns)
    }
    for slug, (fields, _) in ARTICLES.items():
        assert entries[f"{BASE}/blog/{slug}/"][:10] == fields.get("modified", fields["date"])[:10]


def test_robots_txt_names_the_sitemap(built_site):
    lines = (built_site / "robots.txt").read_text(encoding="utf-8").splitlines()
    assert f"Sitemap: {BASE}/sitemap.xml" in lines
    assert "User-agent: *" in lines


def test_favicons_exist(built_site):
    assert (built_site / "favicon.svg").read_text(encoding="utf-8").startswith("<svg")
    assert (built_site / "favicon.ico").read_bytes()[:4] == b"\x00\x00\x01\x00"


def test_stylesheet_is_small(built_site):
    css = (built_site / "theme" / "css" / "site.css").read_bytes()
    # The leadform section appended by the booking service does not count against our budget
    # (docs/theme.md, Design rules).
    ours = re.split(rb"/\* Booking (?:form|pages) \(leadform\)", css)[0]
    assert len(ours) < 10.5 * 1024
