"""Counting readiness checks started per day and source, without cookies or trackers.

A start is one GET of /readiness-check: the page that shows every question at once. The
check's answers come back by POST, and a POST with missing answers re-renders the same page,
so counting GETs only counts each opening once. Nothing about the reader is stored: no IP
address, no cookie, no user agent; only the day (in the host's zone, like the report), the
article and the campaign tags, with a counter. The article is one of the site's own slugs,
or "other" for any made-up `from` value (leadform/sources.py), so nobody can add rows to
the report at will. See docs/adoption.md.

Unlike the booking page's visits (booking/visits.py, buffered in memory and written every
few seconds), each start is written at once: the check is opened far less often than /book,
and one small upsert per opening keeps this counter simple and loses nothing on a crash.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from leadform import sources
from leadform.cleaning import ATTRIBUTION_MAX, truncate
from leadform.db import db
from leadform.readiness.models import ReadinessCheckStart

logger = logging.getLogger(__name__)
_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
# The same cleaning as the check's hidden attribution fields, so starts and checks match.
_clean = truncate(ATTRIBUTION_MAX)


class UnsupportedDatabaseError(Exception):
    """The start counter's upsert is written for SQLite and PostgreSQL only."""


def start_source(args: Mapping[str, str]) -> dict[str, str]:
    """Return the start's source from the check page's query string ("" for no value).

    Call within the app: an article not among the site's slugs is counted as "other".
    """
    article = _clean(args.get("from")) or ""
    return {
        "source_article": sources.source_key(article, sources.known_sources()),
        "utm_source": _clean(args.get("utm_source")) or "",
        "utm_medium": _clean(args.get("utm_medium")) or "",
        "utm_campaign": _clean(args.get("utm_campaign")) or "",
    }


def record_start(source: Mapping[str, str], day: date, count: int = 1) -> None:
    """Add `count` starts to the day's counter for `source` (as start_source gives); commits.

    A single INSERT ... ON CONFLICT DO UPDATE, so concurrent first starts of a day
    cannot create two rows or lose a count.
    """
    dialect = db.session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise UnsupportedDatabaseError(f"Cannot count readiness checks on a {dialect} database")
    values = sources.bounded_key(ReadinessCheckStart, {**source, "day": day}) | {"starts": count}
    statement = _INSERTS[dialect](ReadinessCheckStart).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=list(sources.KEY_COLUMNS),
        set_={"starts": ReadinessCheckStart.starts + count},
    )
    db.session.execute(statement)
    db.session.commit()


def count_check_start(method: str, args: Mapping[str, str], now: datetime) -> bool:
    """Count a GET of the check's questions (not a POST or HEAD); True if counted.

    Counting is best effort: a busy database must never cost the reader the check.
    """
    if method != "GET":
        return False
    zone = ZoneInfo(current_app.config["SITE"]["availability"]["timezone"])
    try:
        record_start(start_source(args), now.astimezone(zone).date())
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.warning("Readiness check start not counted: %s", type(exc).__name__)
        return False
    return True


def init_app(app: Flask) -> None:
    """Read the site's slugs, the only `from` values counted apart."""
    sources.init_app(app)
