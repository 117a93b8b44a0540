"""Counting visits to the booking page per day and source, without cookies or trackers.

A visit is one GET of /book without a `tz` parameter: the booking page reloads itself with
`tz=<zone>` when a prospect's browser reports a different time zone (or they pick one), and
counting that reload would count one person twice. Nothing about the visitor is stored: no
IP address, no cookie, no user agent; only the day, the article and the campaign tags, with
a counter. See docs/adoption.md. The article is one of the site's own slugs, or "other" for
any made-up `from` value (leadform/sources.py), so nobody can add rows to the report at will.

Visits are added up in memory and written every LEADFORM_VISIT_FLUSH_SECONDS (one upsert per
day and source), so a page view costs no database write: a write per view would serialize
the booking page on SQLite's single writer and wait for PostgreSQL's commit to reach the disk.
A graceful stop writes what is pending; a killed process loses at most that many seconds of
counts (never a booking). With 0, every visit is written at once (the tests' setting).
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from leadform import counters, sources
from leadform.db import db
from leadform.models import BookingPageVisit

logger = logging.getLogger(__name__)
# The zone-change reload of the booking page carries this parameter; it is not a new visit.
RELOAD_PARAMETER = "tz"
_EXTENSION_KEY = "leadform.visit_buffer"
# Beyond this many distinct sources waiting, write at once instead of holding more in memory.
MAX_PENDING_SOURCES = 1000


@dataclass(frozen=True)
class VisitKey:
    """The source of a visit: article slug and campaign tags ("" for no value)."""

    source_article: str = ""
    utm_source: str = ""
    utm_medium: str = ""
    utm_campaign: str = ""


def visit_key(args: Mapping[str, str]) -> VisitKey | None:
    """Return the visit's key from the booking page's query string, None for a tz reload.

    Call within the app: an article not among the site's slugs is counted as "other".
    """
    if RELOAD_PARAMETER in args:
        return None
    return VisitKey(**counters.source_of(args))


def record_visit(
    source_article: str | None,
    utm_source: str | None,
    utm_medium: str | None,
    utm_campaign: str | None,
    day: date,
    count: int = 1,
) -> None:
    """Add `count` visits to the day's counter for this source (counters.add); commits."""
    source = {
        "source_article": source_article,
        "utm_source": utm_source,
        "utm_medium": utm_medium,
        "utm_campaign": utm_campaign,
    }
    counters.add(BookingPageVisit, "visits", source, day, count)


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
    current_app.extensions[_EXTENSION_KEY].add(key, day)
    return True


class VisitBuffer:
    """Visit counts waiting to be written, per (day, source), for one app in one process.

    `add` is called by requests; a timer thread writes the counts `seconds` after the first
    one arrives, and the process writes the rest when it exits normally.
    """

    def __init__(self, app: Flask, seconds: float):
        self._app = app
        self.seconds = seconds
        self._pending: Counter[tuple[date, VisitKey]] = Counter()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def add(self, key: VisitKey, day: date) -> None:
        """Count one visit; write now if buffering is off or too many sources are waiting."""
        with self._lock:
            self._pending[(day, key)] += 1
            write_now = self.seconds <= 0 or len(self._pending) >= MAX_PENDING_SOURCES
            if not write_now and self._timer is None:
                self._timer = threading.Timer(self.seconds, self._write_from_timer)
                self._timer.daemon = True
                self._timer.start()
        if write_now:
            self.write()

    def pending(self) -> int:
        """Return how many visits are waiting to be written."""
        with self._lock:
            return sum(self._pending.values())

    def write(self) -> bool:
        """Write every waiting count (in the current app context); True if all were written.

        On a database error the counts go back into the buffer for the next write.
        """
        with self._lock:
            taken, self._pending = self._pending, Counter()
        try:
            for (day, key), count in taken.items():
                record_visit(
                    key.source_article, key.utm_source, key.utm_medium, key.utm_campaign, day, count
                )
        except SQLAlchemyError as exc:
            db.session.rollback()
            logger.warning("Booking page visits not written yet: %s", type(exc).__name__)
            with self._lock:
                self._pending.update(taken)
            return False
        return True

    def write_in_app_context(self) -> bool:
        """Write the waiting counts from outside a request (timer thread, process exit)."""
        if not self.pending():
            return True
        with self._app.app_context():
            try:
                return self.write()
            finally:
                db.session.remove()

    def _write_from_timer(self) -> None:
        with self._lock:
            self._timer = None
        written = self.write_in_app_context()
        with self._lock:
            retry = self._pending and self._timer is None
            if retry:
                # Counts came in meanwhile, or the database was away: try again later.
                self._timer = threading.Timer(self.seconds, self._write_from_timer)
                self._timer.daemon = True
                self._timer.start()
        if not written:
            logger.info("Booking page visits will be written again in %ss", self.seconds)


def _write_at_exit(buffer_ref: weakref.ref) -> None:
    buffer = buffer_ref()
    if buffer is not None:
        buffer.write_in_app_context()


def init_app(app: Flask) -> None:
    """Give `app` its visit buffer (LEADFORM_VISIT_FLUSH_SECONDS), written at exit too."""
    # The counter is the first to need the site's slugs; the report reads the same list.
    sources.init_app(app)
    buffer = VisitBuffer(app, app.config["VISIT_FLUSH_SECONDS"])
    app.extensions[_EXTENSION_KEY] = buffer
    # A weak reference: test runs create hundreds of apps and must not keep them alive.
    atexit.register(_write_at_exit, weakref.ref(buffer))


def visit_buffer(app: Flask) -> VisitBuffer:
    """Return `app`'s visit buffer (for the reports and tests)."""
    return app.extensions[_EXTENSION_KEY]
