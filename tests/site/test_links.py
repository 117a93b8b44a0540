"""Every internal link, asset and fragment in the built site resolves; nothing points away."""

import re
import runpy
import xml.etree.ElementTree as ET

import pytest

from tests.conftest import ROOT
from tests.site.checkers import Reference, check_links, check_reference

SITEMAP_LOC = "{http://www.sitemaps.org/schemas/sitemap/0.9}loc"


@pytest.fixture(scope="module")
def local_origins() -> tuple[str, ...]:
    """Absolute bases that mean "this site" in a local build (SITEURL, FEED_DOMAIN)."""
    settings = runpy.run_path(str(ROOT / "pelicanconf.py"))
    return tuple(o for o in (settings["SITEURL"], settings["FEED_DOMAIN"]) if o)


def _write(folder, relative: str, text: str) -> None:
    """Write a small file into a throwaway site folder."""
    path = folder / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def test_check_links_flags_known_problems(tmp_path):
    """Self-test: a dangling link, a missing fragment, an external asset, a bare /book link."""
    _write(tmp_path, "about/index.html", '<main id="main"><h1 id="team">Team</h1></main>')
    _write(tmp_path, "theme/css/site.css", "body { background: url(../img/gone.png); }")
    _write(
        tmp_path,
        "index.html",
        '<a href="/about/">ok</a> <a href="/about/#team">ok</a> <a href="#main">ok</a>'
        '<main id="main"></main> <a href="/book?from=index">ok</a> <a href="mailto:a@b.c">ok</a>'
        '<a href="/gone/">dangling</a> <a href="/about/#nobody">no fragment</a>'
        '<script src="https://cdn.example.com/x.js"></script> <a href="/book">no source</a>',
    )
    problems = check_links(tmp_path)
    assert len(problems) == 5, "\n".join(problems)
    for expected in ("/gone/", "#nobody", "cdn.example.com", "'/book'", "gone.png"):
        assert any(expected in problem for problem in problems), (expected, problems)


def test_local_origin_urls_map_to_the_output(tmp_path):
    """Self-test: an absolute URL on the local base is checked as a file in the output."""
    _write(tmp_path, "index.html", '<meta property="og:url" content="http://127.0.0.1:8000/x/">')
    problems = check_links(tmp_path, local_origins=("http://127.0.0.1:8000",))
    assert len(problems) == 1 and "x/index.html" in problems[0], problems


def test_every_internal_link_resolves(built_site, local_origins):
    """No page or stylesheet links to a missing file, fragment, other host or bare /book."""
    problems = check_links(built_site, local_origins)
    assert problems == [], "\n".join(problems)


def test_pages_link_to_the_booking_page(built_site):
    """The funnel exists: at least the assessment page sends visitors to /book?from=<slug>."""
    assessment = runpy.run_path(str(ROOT / "pelicanconf.py"))["SITE"]["assessment"]
    path = built_site / assessment["page_path"].strip("/") / "index.html"
    assert f"{assessment['booking_path']}?from=" in path.read_text(encoding="utf-8")


def test_sitemap_lists_only_built_pages(built_site, local_origins):
    """Every <loc> in sitemap.xml, and robots.txt's Sitemap line, names a file in the output."""
    sitemap = ET.parse(built_site / "sitemap.xml").getroot()
    urls = [loc.text.strip() for loc in sitemap.iter(SITEMAP_LOC)]
    assert urls, "sitemap.xml lists no pages"
    robots = (built_site / "robots.txt").read_text(encoding="utf-8")
    refs = [Reference("/sitemap.xml", "loc", url) for url in urls]
    refs += [Reference("/robots.txt", "Sitemap", url) for url in _robots_sitemaps(robots)]
    problems = [p for ref in refs for p in check_reference(built_site, ref, local_origins)]
    assert problems == [], "\n".join(problems)


def _robots_sitemaps(robots: str) -> list[str]:
    """The URLs of robots.txt's `Sitemap:` lines."""
    return re.findall(r"(?im)^sitemap:\s*(\S+)", robots)
