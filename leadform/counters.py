"""Daily counters per source: booking-page visits and readiness checks started.

Both count, per day in the host's zone, how often a page was opened from each source: the
article (`from=`, one of the site's slugs or "other", leadform/sources.py) and the campaign
tags (`utm_source`, `utm_medium`, `utm_campaign`). Nothing about the visitor is stored.
Each table mixes in `leadform.models.DailySourceCount` and has a unique key on KEY_COLUMNS;
`add` is the one upsert both use. In the core because the booking and readiness wings both
count, and neither may import the other.

Campaign tags are free text in a link, so they cannot be checked against a list: past
MAX_SOURCES_PER_DAY sources counted on one day, a new source is counted with its tags as
"other" (`bounded_key`), so made-up tags cannot grow a table at will.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from leadform import sources
from leadform.cleaning import ATTRIBUTION_MAX, truncate
from leadform.db import db

# Real campaigns stay far below it (a handful of sources a day).
MAX_SOURCES_PER_DAY = 500
KEY_COLUMNS = ("day", "source_article", "utm_source", "utm_medium", "utm_campaign")
TAG_COLUMNS = ("utm_source", "utm_medium", "utm_campaign")
_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
# The same cleaning as the forms' hidden attribution fields, so counts and records match.
_clean = truncate(ATTRIBUTION_MAX)


class UnsupportedDatabaseError(Exception):
    """The counters' upsert is written for SQLite and PostgreSQL only."""


def clean_value(value: str | None) -> str:
    """Return `value` without control characters, cut to the column size ("" for none)."""
    return _clean(value) or ""


def source_of(args: Mapping[str, str]) -> dict[str, str]:
    """Return the source a page view counts under, from its query string ("" for none).

    Call within the app: an article not among the site's slugs is counted as "other".
    """
    article = sources.source_key(clean_value(args.get("from")), sources.known_sources())
    return {"source_article": article} | {tag: clean_value(args.get(tag)) for tag in TAG_COLUMNS}


def add(model, counter: str, source: Mapping[str, str | None], day: date, count: int = 1):
    """Add `count` to `model`'s `counter` column for `source` on `day`; commits.

    `source` holds the article and the three tags (cleaned here again, so any caller's
    values fit). A single INSERT ... ON CONFLICT DO UPDATE, so concurrent first counts of
    a day cannot create two rows or lose a count.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise UnsupportedDatabaseError(f"Cannot count on a {dialect} database")
    key = {"day": day} | {column: clean_value(source.get(column)) for column in KEY_COLUMNS[1:]}
    values = bounded_key(model, key) | {counter: count}
    statement = _INSERTS[dialect](model).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=list(KEY_COLUMNS),
        set_={counter: getattr(model, counter) + count},
    )
    db.session.execute(statement)
    db.session.commit()


def bounded_key(model, key: dict, limit: int | None = None) -> dict:
    """Return the counter key to add to in `model`'s table: `key`, or its tags as "other".

    A key already counted that day keeps counting; a new one is folded once the day has
    `limit` rows (MAX_SOURCES_PER_DAY). Two new sources at the same moment may both pass the
    check: the table then holds a row or two more, never an unbounded number.
    """
    limit = MAX_SOURCES_PER_DAY if limit is None else limit
    same = [getattr(model, column) == key[column] for column in KEY_COLUMNS]
    if db.session.scalar(select(model.id).where(*same).limit(1)) is not None:
        return key
    day_rows = select(func.count()).select_from(model).where(model.day == key["day"])
    if db.session.scalar(day_rows) < limit:
        return key
    return key | dict.fromkeys(TAG_COLUMNS, sources.OTHER_SOURCE)
