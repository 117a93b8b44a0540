"""Pelican plugin: write sitemap.xml with a <lastmod> for the home page, articles and pages.

URLs are absolute, built on SITE_BASE_URL (see sitebuild.seo), so a local build lists the
local server's URLs and a production build the public ones. Hidden pages (404, search) are
left out: they are not content anyone should land on from a search engine.
"""

import os
from xml.etree import ElementTree

from pelican import signals

from sitebuild.seo import base_url

SITEMAP_NS = "http://www.sitemaps.org/schemas/sitemap/0.9"
SITEMAP_FILE = "sitemap.xml"


def last_modified(content):
    """Return the content's Modified date, or its Date when it was never modified."""
    return getattr(content, "modified", None) or content.date


def sitemap_entries(articles, pages, base: str) -> list[tuple[str, str]]:
    """Return (absolute URL, W3C datetime) pairs: the home page, then articles, then pages."""
    entries = []
    if articles:
        newest = max(last_modified(article) for article in articles)
        entries.append((f"{base}/", newest.isoformat()))
    for content in list(articles) + list(pages):
        # A page without Date or Modified has no honest lastmod; the content check
        # plugin requires Modified on pages, so this only skips a broken page.
        stamp = getattr(content, "modified", None) or getattr(content, "date", None)
        if stamp is not None:
            entries.append((f"{base}/{content.url}", stamp.isoformat()))
    return entries


def sitemap_xml(entries: list[tuple[str, str]]) -> bytes:
    """Return the sitemap document for the given (URL, lastmod) pairs."""
    ElementTree.register_namespace("", SITEMAP_NS)
    urlset = ElementTree.Element(f"{{{SITEMAP_NS}}}urlset")
    for loc, lastmod in entries:
        url = ElementTree.SubElement(urlset, f"{{{SITEMAP_NS}}}url")
        ElementTree.SubElement(url, f"{{{SITEMAP_NS}}}loc").text = loc
        ElementTree.SubElement(url, f"{{{SITEMAP_NS}}}lastmod").text = lastmod
    return ElementTree.tostring(urlset, encoding="utf-8", xml_declaration=True)


def write_sitemap(generator, writer=None) -> None:
    """Write sitemap.xml once the pages (the last content written) are out."""
    context = generator.context
    entries = sitemap_entries(
        context.get("articles", []), context.get("pages", []), base_url(generator.settings)
    )
    path = os.path.join(generator.output_path, SITEMAP_FILE)
    with open(path, "wb") as handle:
        handle.write(sitemap_xml(entries))


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.page_writer_finalized.connect(write_sitemap)
