"""The built site's Atom feed, read as the list of published articles.

Pelican writes `feeds/all.atom.xml` into its output folder (pelicanconf.py's FEED_ALL_ATOM);
drafts and future-dated articles never reach it. An article is known by its link's path
("/blog/slug/"): the entry id and the link's host differ between a local and a production
build, the path does not.
"""

from __future__ import annotations

import html
import xml.etree.ElementTree as ET  # noqa: S405 - parses only our own build's output
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlsplit

FEED_FILE = Path("feeds") / "all.atom.xml"
_ATOM = "{http://www.w3.org/2005/Atom}"
MAX_TITLE_CHARS = 500
MAX_SUMMARY_CHARS = 600


class FeedError(Exception):
    """The feed is missing or unreadable; the message names the file and the problem."""


@dataclass(frozen=True)
class Article:
    """One published article as the feed describes it."""

    key: str  # the link's path, unique per article
    title: str
    url: str
    summary: str  # plain text
    published: datetime | None


class _TextOnly(HTMLParser):
    """Collects the text of an HTML fragment, dropping every tag."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        """Keep the text between tags."""
        self.parts.append(data)


def plain_text(fragment: str, limit: int) -> str:
    """Return the text of an HTML `fragment`, whitespace collapsed, cut to `limit` characters."""
    parser = _TextOnly()
    parser.feed(fragment)
    parser.close()
    text = " ".join("".join(parser.parts).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def default_feed(site_dir: str | Path | None) -> Path | None:
    """The feed inside the built site folder (LEADFORM_SITE_DIR), if one is configured."""
    return Path(site_dir) / FEED_FILE if site_dir else None


def read_feed(path: str | Path) -> list[Article]:
    """Return the feed's articles, oldest first; raise FeedError if it cannot be read."""
    path = Path(path)
    try:
        root = ET.parse(path).getroot()  # noqa: S314 - our own build output, not user input
    except OSError as exc:
        raise FeedError(f"{path}: cannot read the feed ({exc.strerror}); build the site") from None
    except ET.ParseError as exc:
        raise FeedError(f"{path}: not a well-formed feed ({exc})") from None
    if root.tag != f"{_ATOM}feed":
        raise FeedError(f"{path}: not an Atom feed (root element {root.tag!r})")
    articles = [_article(entry, path) for entry in root.iter(f"{_ATOM}entry")]
    return sorted(articles, key=lambda item: (item.published or datetime.min, item.key))


def _text(entry: ET.Element, name: str, limit: int) -> str:
    """The text of child `name`, tags dropped when the feed marks it as HTML."""
    element = entry.find(f"{_ATOM}{name}")
    if element is None or element.text is None:
        return ""
    if element.get("type") in ("html", "xhtml"):
        return plain_text(element.text, limit)
    return plain_text(html.escape(element.text), limit)


def _article(entry: ET.Element, path: Path) -> Article:
    """Build an Article from one <entry>; an entry without a usable web link is an error."""
    links = entry.findall(f"{_ATOM}link")
    alternate = [link for link in links if link.get("rel", "alternate") == "alternate"]
    url = (alternate or links or [ET.Element("link")])[0].get("href", "")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.path:
        raise FeedError(f"{path}: an entry has no http(s) link ({url[:100]!r})")
    return Article(
        key=parts.path[:500],
        title=_text(entry, "title", MAX_TITLE_CHARS) or parts.path,
        url=url,
        summary=_text(entry, "summary", MAX_SUMMARY_CHARS),
        published=_published(entry),
    )


def _published(entry: ET.Element) -> datetime | None:
    """The entry's publication time (or its update time) as naive UTC, if it has one."""
    for name in ("published", "updated"):
        element = entry.find(f"{_ATOM}{name}")
        if element is not None and element.text:
            try:
                moment = datetime.fromisoformat(element.text.strip())
            except ValueError:
                continue
            if moment.tzinfo is not None:
                moment = moment.astimezone(UTC).replace(tzinfo=None)
            return moment
    return None
