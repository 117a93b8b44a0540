"""Where a visit, a check or a booking came from: one of the site's own slugs, or "other".

Every article and page links to the booking page as `/book?from=<its slug>` (and to the
readiness check as `/readiness-check?from=<its slug>`), and the site header's Book button
as `from=site-header`. Anyone can type anything after `from=`, so the counters (booking-page
visits, readiness checks started) and the adoption report know only the slugs of the site's
content (the `Slug` and `Title` headers of `content/*/*.md`, LEADFORM_CONTENT_DIR, read once
at start-up) and count any other value as "other": five hundred made-up values add one row,
not five hundred. The campaign tags (`utm_*`) cannot be checked against a list, so each
day's counter rows are capped instead (`bounded_key`). In the core because the booking and
readiness wings both count, and neither may import the other.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import func, select

from leadform.db import db

OTHER_SOURCE = "other"
# theme/templates/partials/site_header.html links the header's Book button with this value.
HEADER_SOURCE = "site-header"
_EXTENSION_KEY = "leadform.known_sources"
# Campaign tags are free text in a link: past this many sources counted on one day, a new
# source is counted with its tags as "other", so made-up tags cannot grow a table at will.
# Real campaigns stay far below it (a handful of sources a day).
MAX_SOURCES_PER_DAY = 500
KEY_COLUMNS = ("day", "source_article", "utm_source", "utm_medium", "utm_campaign")
TAG_COLUMNS = ("utm_source", "utm_medium", "utm_campaign")


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


def bounded_key(model, key: dict, limit: int | None = None) -> dict:
    """Return the counter key to add to in `model`'s table: `key`, or its tags as "other".

    `model` is a daily counter table with the KEY_COLUMNS; `key` holds their values. A key
    already counted that day keeps counting; a new one is folded once the day has `limit`
    rows (MAX_SOURCES_PER_DAY). Two new sources at the same moment may both pass the check:
    the table then holds a row or two more, never an unbounded number.
    """
    limit = MAX_SOURCES_PER_DAY if limit is None else limit
    same = [getattr(model, column) == key[column] for column in KEY_COLUMNS]
    if db.session.scalar(select(model.id).where(*same).limit(1)) is not None:
        return key
    day_rows = select(func.count()).select_from(model).where(model.day == key["day"])
    if db.session.scalar(day_rows) < limit:
        return key
    return key | dict.fromkeys(TAG_COLUMNS, OTHER_SOURCE)
