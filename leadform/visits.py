"""Counting visits to the booking page per day and source, without cookies or trackers.

A visit is one GET of /book without a `tz` parameter: the booking page reloads itself with
`tz=<zone>` when a prospect's browser reports a different time zone (or they pick one), and
counting that reload would count one person twice. Nothing about the visitor is stored: no
IP address, no cookie, no user agent; only the day, the article and the campaign tags, with
a counter. See docs/adoption.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from leadform.db import db
from leadform.forms import ATTRIBUTION_MAX, truncate
from leadform.models import BookingPageVisit

logger = logging.getLogger(__name__)
# The zone-change reload of the booking page carries this parameter; it is not a new visit.
RELOAD_PARAMETER = "tz"
_INSERTS = {"sqlite": sqlite_insert, "postgresql": postgresql_insert}
# The same cleaning as the form's hidden attribution fields, so visits and bookings match.
_clean = truncate(ATTRIBUTION_MAX)


class UnsupportedDatabaseError(Exception):
    """The visit counter's upsert is written for SQLite and PostgreSQL only."""


@dataclass(frozen=True)
class VisitKey:
    """The source of a visit: article slug and campaign tags ("" for no value)."""

    source_article: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""


def clean_value(value: str | None) -> str:
    """Return `value` without control characters, cut to the column size ("" for none)."""
    return _clean(value) or ""


def visit_key(args: Mapping[str, str]) -> VisitKey | None:
    """Return the visit's key from the booking page's query string, None for a tz reload."""
    if RELOAD_PARAMETER in args:
        return None
    return VisitKey(
        source_article=clean_value(args.get("from")),
        utm_source=clean_value(args.get("utm_source")),
        utm_medium=clean_value(args.get("utm_medium")),
        utm_campaign=clean_value(args.get("utm_campaign")),
    )


def record_visit(
    source_article: str | None,
    utm_source: str | None,
    utm_medium: str | None,
    utm_campaign: str | None,
    day: date,
) -> None:
    """Add one visit to the day's counter for this source; commits.

    A single INSERT ... ON CONFLICT DO UPDATE, so concurrent first visits of a day
    cannot create two rows or lose a count.
    """
    values = {
        "day": day,
        "source_article": clean_value(source_article),
        "utm_source": clean_value(utm_source),
        "utm_medium": clean_value(utm_medium),
        "utm_campaign": clean_value(utm_campaign),
        "visits": 1,
    }
    dialect = db.session.get_bind().dialect.name
    if dialect not in _INSERTS:
        raise UnsupportedDatabaseError(f"Cannot count visits on a {dialect} database")
    statement = _INSERTS[dialect](BookingPageVisit).values(values)
    statement = statement.on_conflict_do_update(
        index_elements=["day", "source_article", "utm_source", "utm_medium", "utm_campaign"],
        set_={"visits": BookingPageVisit.visits + 1},
    )
    db.session.execute(statement)
    db.session.commit()


def host_day(now: datetime, zone_name: str) -> date:
    """Return the date at the aware instant `now` in the host's time zone."""
    return now.astimezone(ZoneInfo(zone_name)).date()


def count_booking_page_visit(method: str, args: Mapping[str, str], now: datetime) -> bool:
    """Count a GET of the booking page (not a POST, HEAD or tz reload); True if counted.

    Counting is best effort: a busy database must never cost the prospect the page.
    """
    key = visit_key(args) if method == "GET" else None
    if key is None:
        return False
    day = host_day(now, current_app.config["SITE"]["availability"]["timezone"])
    try:
        record_visit(key.source_article, key.utm_source, key.utm_medium, key.utm_campaign, day)
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.warning("Booking page visit not counted: %s", type(exc).__name__)
        return False
    return True
