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
from sqlalchemy.exc import SQLAlchemyError

from leadform import counters, sources
from leadform.db import db
from leadform.readiness.models import ReadinessCheckStart

logger = logging.getLogger(__name__)


def record_start(source: Mapping[str, str], day: date, count: int = 1) -> None:
    """Add `count` starts to the day's counter for `source` (counters.add); commits."""
    counters.add(ReadinessCheckStart, "starts", source, day, count)


def count_check_start(method: str, args: Mapping[str, str], now: datetime) -> bool:
    """Count a GET of the check's questions (not a POST or HEAD); True if counted.

    Counting is best effort: a busy database must never cost the reader the check.
    """
    if method != "GET":
        return False
    zone = ZoneInfo(current_app.config["SITE"]["availability"]["timezone"])
    try:
        record_start(counters.source_of(args), now.astimezone(zone).date())
    except SQLAlchemyError as exc:
        db.session.rollback()
        logger.warning("Readiness check start not counted: %s", type(exc).__name__)
        return False
    return True


def init_app(app: Flask) -> None:
    """Read the site's slugs, the only `from` values counted apart."""
    sources.init_app(app)
