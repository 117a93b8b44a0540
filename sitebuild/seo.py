"""Pelican plugin: the absolute base URL and the JSON-LD data the templates print.

- ``SITE_BASE_URL`` (setting): SITEURL when set, else FEED_DOMAIN. Canonical links, Open
  Graph URLs, JSON-LD and the sitemap use it, because all of them must be absolute even in
  a local build where SITEURL is "" (local builds then point at the local server).
- ``ORGANIZATION_JSONLD`` (setting): the firm as schema.org ``Organization``, on every page.
- ``article.jsonld``: a ``BlogPosting``.
- ``page.jsonld``: for a page with ``Template: assessment``, a ``Service`` and, when the page
  has a "Frequently asked questions" section, a ``FAQPage`` built from its h3 questions.

Templates print these with Jinja's ``tojson`` filter, which escapes ``<``, ``>`` and ``&``
so content can never close the ``<script>`` element.
"""

import datetime
import re
from html.parser import HTMLParser

from pelican import signals

from sitebuild.articles import BLOCK_LEVEL, html_to_text

FAQ_HEADING = "frequently asked questions"
ASSESSMENT_TEMPLATE = "assessment"
_BLOCK_TAGS = {"h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "dl", "blockquote", "table"}


def plain_text(html: str) -> str:
    """Return the text of an HTML fragment on one line, whitespace collapsed."""
    return " ".join(html_to_text(html or "").split())


def base_url(settings) -> str:
    """Return the absolute base URL of the site, without a trailing slash."""
    return (settings.get("SITEURL") or settings.get("FEED_DOMAIN") or "").rstrip("/")


def organization(site: dict, base: str) -> dict:
    """Return the firm as a schema.org Organization, built from site.toml."""
    firm = site["firm"]
    return {
        "@context": "https://schema.org",
        "@type": "Organization",
        "@id": f"{base}/#organization",
        "name": firm["name"],
        "legalName": firm["legal_name"],
        "description": firm["blurb"],
        "url": f"{base}/",
        "logo": f"{base}{firm['logo_path']}",
        "email": firm["email"],
        "foundingDate": str(firm["founded"]),
        "address": {"@type": "PostalAddress", "addressLocality": firm["city"]},
    }


def blog_posting(article, base: str) -> dict:
    """Return an article as a schema.org BlogPosting."""
    url = f"{base}/{article.url}"
    modified = getattr(article, "modified", None) or article.date
    data = {
        "@context": "https://schema.org",
        "@type": "BlogPosting",
        "headline": article.title,
        "description": plain_text(getattr(article, "summary", "")),
        "datePublished": article.date.isoformat(),
        "dateModified": modified.isoformat(),
        "author": author(article, base),
        "publisher": {"@id": f"{base}/#organization"},
        "mainEntityOfPage": url,
        "url": url,
        "articleSection": str(article.category),
        "keywords": [str(tag) for tag in getattr(article, "tags", [])],
        "wordCount": article.word_count,
        "timeRequired": f"PT{article.reading_time}M",
    }
    image = getattr(article, "image", None)
    if image:
        data["image"] = image if "://" in image else f"{base}{image}"
    return data


def author(article, base: str) -> dict:
    """The article's author as a schema.org Person; site.toml's facts when the name is there."""
    person = getattr(article, "person", None)
    if not person:
        return {"@type": "Person", "name": str(article.author)}
    return {
        "@type": "Person",
        "name": person["name"],
        "jobTitle": person["role"],
        "description": person["bio"],
        "image": f"{base}{person['photo']}",
        "url": f"{base}{person['url']}",
        "worksFor": {"@id": f"{base}/#organization"},
    }


class PriceError(ValueError):
    """site.toml's [assessment] price is not a currency sign and a whole amount."""


_CURRENCIES = {"£": "GBP", "€": "EUR", "$": "USD"}
_PRICE = re.compile(r"^(?P<sign>[£€$])(?P<amount>\d{1,3}(?:,\d{3})*|\d+)$")


def price_parts(price: str) -> tuple[str, str]:
    """Return (amount, ISO currency) of a price as pages print it: "£1,950" -> ("1950", "GBP")."""
    match = _PRICE.match(price.strip())
    if not match:
        raise PriceError(
            f"site.toml: [assessment] price = {price!r} is not a currency sign (£, € or $) "
            'followed by a whole amount, like "£1,950"'
        )
    return match["amount"].replace(",", ""), _CURRENCIES[match["sign"]]


def offer(assessment: dict, base: str) -> dict:
    """The assessment's fee as a schema.org Offer."""
    amount, currency = price_parts(assessment["price"])
    return {
        "@type": "Offer",
        "price": amount,
        "priceCurrency": currency,
        "description": assessment["price_note"],
        "url": f"{base}{assessment['booking_path']}",
    }


class _BlockCollector(HTMLParser):
    """Split an HTML fragment into its top-level blocks as (tag, text) pairs."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.blocks = []
        self._open = None  # tag of the top-level block being read
        self._depth = 0  # nesting of that same tag, so <ul><li><ul> closes correctly
        self._skip = 0  # depth inside a heading permalink, whose "#" is not text
        self._text = []

    def handle_starttag(self, tag, attrs):
        """Open a top-level block, or note nesting and permalinks inside one."""
        if self._open is None:
            if tag in _BLOCK_TAGS:
                self._open, self._depth, self._text = tag, 1, []
            return
        if tag == self._open:
            self._depth += 1
        if tag in BLOCK_LEVEL:
            self._text.append(" ")
        classes = (dict(attrs).get("class") or "").split()
        if self._skip or "headerlink" in classes:
            self._skip += 1

    def handle_endtag(self, tag):
        """Close the current top-level block when its own end tag balances."""
        if self._open is None:
            return
        if self._skip:
            self._skip -= 1
        if tag in BLOCK_LEVEL:
            self._text.append(" ")
        if tag == self._open:
            self._depth -= 1
            if self._depth == 0:
                self.blocks.append((self._open, " ".join("".join(self._text).split())))
                self._open = None

    def handle_data(self, data):
        """Keep text that belongs to the current block."""
        if self._open is not None and not self._skip:
            self._text.append(data)


def html_blocks(html: str) -> list[tuple[str, str]]:
    """Return the top-level blocks of an HTML fragment as (tag, plain text) pairs."""
    collector = _BlockCollector()
    collector.feed(html)
    collector.close()
    return collector.blocks


def faq_entries(html: str) -> list[tuple[str, str]]:
    """Return (question, answer) pairs from the "Frequently asked questions" section.

    Each h3 in that h2 section is a question; the blocks after it, up to the next h3 or
    h2, are its answer.
    """
    entries, in_faq = [], False
    for tag, text in html_blocks(html):
        if tag == "h2":
            in_faq = text.lower().strip() == FAQ_HEADING
        elif in_faq and tag == "h3":
            entries.append((text, []))
        elif in_faq and entries and tag not in {"h4", "h5", "h6"}:
            entries[-1][1].append(text)
    return [(question, " ".join(answer)) for question, answer in entries]


def faq_page(entries: list[tuple[str, str]], url: str) -> dict:
    """Return a schema.org FAQPage for the given (question, answer) pairs."""
    return {
        "@context": "https://schema.org",
        "@type": "FAQPage",
        "url": url,
        "mainEntity": [
            {
                "@type": "Question",
                "name": question,
                "acceptedAnswer": {"@type": "Answer", "text": answer},
            }
            for question, answer in entries
        ],
    }


def service(page, site: dict, base: str) -> dict:
    """Return the assessment as a schema.org Service offered by the firm."""
    assessment = site["assessment"]
    return {
        "@context": "https://schema.org",
        "@type": "Service",
        "name": assessment["name"],
        "serviceType": "AI strategy consulting",
        "description": plain_text(getattr(page, "summary", "")),
        "provider": {"@id": f"{base}/#organization"},
        "url": f"{base}/{page.url}",
        "areaServed": "GB",
        "offers": offer(assessment, base),
    }


def assessment_jsonld(page, site: dict, base: str) -> list[dict]:
    """Return the Service and, if the page has FAQs, the FAQPage for the assessment page."""
    data = [service(page, site, base)]
    entries = faq_entries(page._content)
    if entries:
        data.append(faq_page(entries, f"{base}/{page.url}"))
    return data


def on_initialized(pelican) -> None:
    """Add SITE_BASE_URL, ORGANIZATION_JSONLD and COPYRIGHT_YEAR to the template settings."""
    settings = pelican.settings
    settings["COPYRIGHT_YEAR"] = datetime.date.today().year
    settings["SITE_BASE_URL"] = base_url(settings)
    settings["ORGANIZATION_JSONLD"] = organization(settings["SITE"], settings["SITE_BASE_URL"])


def on_all_generators_finalized(generators) -> None:
    """Attach JSON-LD to articles and to the assessment page."""
    for generator in generators:
        settings = generator.settings
        base = base_url(settings)
        for article in getattr(generator, "articles", []):
            article.jsonld = blog_posting(article, base)
        for page in getattr(generator, "pages", []) + getattr(generator, "hidden_pages", []):
            # _content, not content: the text is all we need and it avoids memoizing
            # links before every generator has registered its output.
            if getattr(page, "template", "") == ASSESSMENT_TEMPLATE:
                page.jsonld = assessment_jsonld(page, settings["SITE"], base)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(on_initialized)
    signals.all_generators_finalized.connect(on_all_generators_finalized)
