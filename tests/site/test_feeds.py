"""The Atom feeds parse, carry what RFC 4287 requires, and list every published article."""

from datetime import datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import feedparser
import pytest
from pelican.settings import read_settings
from pelican.utils import slugify

from tests.conftest import ROOT
from tests.site.checkers import Reference, atom_entry_links, atom_problems, check_reference

GOOD_FEED = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>T</title><id>tag:example.org,2026:/</id><updated>2026-01-02T03:04:05Z</updated>
  <link href="http://example.org/" rel="alternate"/>
  <link href="http://example.org/feed.xml" rel="self"/>
  <author><name>A</name></author>
  <entry><title>E</title><id>tag:example.org,2026:/e/</id><updated>2026-01-02T03:04:05+01:00</updated>
    <link href="http://example.org/e/" rel="alternate"/><summary>S</summary></entry>
</feed>"""


@pytest.fixture(scope="module")
def settings() -> dict:
    """The local build's Pelican settings (for slugs, timezone and feed paths)."""
    return read_settings(str(ROOT / "pelicanconf.py"))


def feed_files(site) -> list:
    """Every Atom feed the build wrote."""
    return sorted((site / "feeds").glob("*.atom.xml"))


def test_atom_problems_accepts_a_complete_feed():
    """Self-test: a minimal feed with everything RFC 4287 requires has no problems."""
    assert atom_problems(GOOD_FEED) == []


@pytest.mark.parametrize(
    ("part", "replacement", "expected"),
    [
        (b"<id>tag:example.org,2026:/e/</id>", b"", "atom:id"),
        (b"<id>tag:example.org,2026:/</id>", b"<id>/</id>", "absolute IRI"),
        (b"tag:example.org,2026:/e/", b"tag:None,2026:/e/", "domain name"),
        (b"2026-01-02T03:04:05+01:00", b"2026-01-02 03:04", "RFC 3339"),
        (b'rel="self"', b'rel="related"', 'rel="self"'),
        (b"<summary>S</summary>", b"", "summary"),
        (b"<author><name>A</name></author>", b"", "atom:author"),
    ],
)
def test_atom_problems_flags_missing_parts(part, replacement, expected):
    """Self-test: removing or garbling one required part is reported."""
    problems = atom_problems(GOOD_FEED.replace(part, replacement))
    assert any(expected in problem for problem in problems), problems


def test_atom_problems_flags_duplicate_ids():
    """Self-test: two entries sharing one id are reported."""
    entry = GOOD_FEED[GOOD_FEED.index(b"<entry>") : GOOD_FEED.index(b"</feed>")]
    problems = atom_problems(GOOD_FEED.replace(b"</feed>", entry + b"</feed>"))
    assert any("more than once" in problem for problem in problems), problems


def test_site_has_the_all_articles_feed_and_category_feeds(built_site):
    """The build writes feeds/all.atom.xml and one feed per category page."""
    names = {path.name for path in feed_files(built_site)}
    assert "all.atom.xml" in names
    categories = [p.parent.name for p in (built_site / "category").glob("*/index.html")]
    assert categories, "the build wrote no category pages"
    missing = [c for c in categories if f"{c}.atom.xml" not in names]
    assert missing == [], f"categories without a feed: {missing}"


def test_feeds_parse_cleanly(built_site):
    """feedparser reads every feed without complaint (bozo == 0)."""
    broken = {}
    for path in feed_files(built_site):
        parsed = feedparser.parse(path.read_bytes())
        if parsed.bozo:
            broken[path.name] = repr(parsed.bozo_exception)
    assert broken == {}


def test_feeds_meet_rfc_4287(built_site):
    """Every feed has the ids, titles, dates, links, authors and summaries RFC 4287 requires."""
    problems = []
    for path in feed_files(built_site):
        problems += [f"{path.name}: {problem}" for problem in atom_problems(path.read_bytes())]
    assert problems == [], "\n".join(problems)


def test_feed_entry_links_point_at_built_pages(built_site, settings):
    """Every entry's alternate link names a page that exists in the output, on this site."""
    origins = tuple(o for o in (settings["SITEURL"], settings["FEED_DOMAIN"]) if o)
    problems = []
    for path in feed_files(built_site):
        for link in atom_entry_links(path.read_bytes()):
            ref = Reference(f"/feeds/{path.name}", "entry link", link)
            problems += check_reference(built_site, ref, origins)
    assert problems == [], "\n".join(problems)


def published_article_paths(settings: dict) -> list[str]:
    """Site paths (/blog/<slug>/) of the articles in content/articles the build must publish.

    Published means not a draft or hidden, and not dated in the future (WITH_FUTURE_DATES off).
    """
    now = datetime.now(ZoneInfo(settings["TIMEZONE"]))
    paths = []
    for source in sorted((ROOT / "content" / "articles").rglob("*.md")):
        meta = markdown_metadata(source.read_text(encoding="utf-8"))
        if meta.get("status", "published").lower() in ("draft", "hidden"):
            continue
        date = datetime.fromisoformat(meta["date"]).replace(tzinfo=ZoneInfo(settings["TIMEZONE"]))
        if date > now:
            continue
        subs = settings["SLUG_REGEX_SUBSTITUTIONS"]
        slug = meta.get("slug") or slugify(meta["title"], regex_subs=subs)
        paths.append("/" + settings["ARTICLE_URL"].format(slug=slug))
    return paths


def markdown_metadata(text: str) -> dict[str, str]:
    """The `Key: value` header of a Pelican Markdown file, keys lower-cased."""
    meta = {}
    for line in text.splitlines():
        if not line.strip():
            break
        key, _, value = line.partition(":")
        meta[key.strip().lower()] = value.strip()
    return meta


def test_every_published_article_is_in_the_all_feed(built_site, settings):
    """Each published article in content/articles appears in feeds/all.atom.xml."""
    expected = published_article_paths(settings)
    assert expected, "content/articles holds no published article"
    xml = (built_site / "feeds" / "all.atom.xml").read_bytes()
    linked = {urlsplit(link).path for link in atom_entry_links(xml)}
    assert sorted(set(expected) - linked) == []
