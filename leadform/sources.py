"""Where a visit, a check or a booking came from: one of the site's own slugs, or "other".

Every article and page links to the booking page as `/book?from=<its slug>` (and to the
readiness check as `/readiness-check?from=<its slug>`), and the site header's Book button
as `from=site-header`. Anyone can type anything after `from=`, so the counters (booking-page
visits, readiness checks started) and the adoption report know only the slugs of the site's
content (the `Slug` and `Title` headers of `content/*/*.md`, LEADFORM_CONTENT_DIR, read once
at start-up) and count any other value as "other": five hundred made-up values add one row,
not five hundred (the campaign tags are capped instead, leadform/counters.py). In the core
because the booking and readiness wings both count, and neither may import the other.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from flask import Flask, current_app

OTHER_SOURCE = "other"
# theme/templates/partials/site_header.html links the header's Book button with this value.
HEADER_SOURCE = "site-header"
_EXTENSION_KEY = "leadform.known_sources"


def read_titles(content_dir: Path) -> dict[str, str]:
    """Map slugs to titles from the Markdown headers of content/articles and content/pages.

    A missing folder gives an empty map: the report then shows slugs only.
    """
    titles: dict[str, str] = {}
    for path in sorted(content_dir.glob("*/*.md")):
        headers = _markdown_headers(path)
        slug = headers.get("slug") or path.stem
        if headers.get("title"):
            titles[slug] = headers["title"]
    return titles


def _markdown_headers(path: Path) -> dict[str, str]:
    """Read Pelican's `Key: value` header lines, up to the first blank line."""
    headers = {}
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            key, colon, value = line.partition(":")
            if not line.strip() or not colon:
                break
            headers[key.strip().lower()] = value.strip()
    return headers


def source_key(value: str | None, known: Collection[str]) -> str:
    """Return `value` if it is a known source, "" for none, and "other" for anything else."""
    if not value:
        return ""
    return value if value in known else OTHER_SOURCE


def known_sources(app: Flask | None = None) -> frozenset[str]:
    """Return the `from` values the app counts apart: its content's slugs and the header's."""
    return (app or current_app).extensions[_EXTENSION_KEY]


def init_app(app: Flask) -> None:
    """Read the site's slugs once: they only change when the site is rebuilt and deployed.

    Each wing that counts calls this; the first call reads the content, later ones keep it.
    """
    if _EXTENSION_KEY in app.extensions:
        return
    slugs = read_titles(Path(app.config["CONTENT_DIR"]))
    app.extensions[_EXTENSION_KEY] = frozenset(slugs) | {HEADER_SOURCE}
