"""The desk's calendars page at /admin/calendars: why a time is or is not offered.

Per host: each calendar's last good sync and last error, whether the booking page offers the
host's times now (the stale policy), and the next two weeks' busy blocks from the last syncs
beside the bookings of those days. Operators only, never cached, like the rest of the desk.
The calendars wing computes everything (`leadform.calendars.status`); this module lays it out
by day in the desk's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, current_app, render_template
from sqlalchemy import select

from leadform.calendars import services as calendar_services
from leadform.calendars import status
from leadform.calendars.busy import Interval
from leadform.db import db
from leadform.desk import auth
from leadform.desk.forms import ConfirmForm
from leadform.models import Booking

bp = Blueprint("desk_calendars", __name__, url_prefix="/admin/calendars")
DAYS = 14

bp.before_request(auth.guard_request)
bp.after_request(auth.keep_private)


@dataclass(frozen=True)
class DayRow:
    """One day of the page: each host's busy spans and the bookings, as local times."""

    day: date
    busy: tuple[tuple[str, ...], ...]  # per host, in the overviews' order
    bookings: tuple[tuple[str, Booking], ...]  # ("14:00–15:30", booking)


@bp.context_processor
def _desk_context():
    """Give desk/base.html the operator and the sign-out form it shows, and a time format."""
    return {
        "operator": auth.current_operator(),
        "confirm_form": ConfirmForm(),
        "local_time": _local_time,
    }


def _zone() -> ZoneInfo:
    """The desk's time zone: the one site.toml's [availability] names."""
    return ZoneInfo(current_app.config["SITE"]["availability"]["timezone"])


def _local_time(moment: datetime | None) -> str:
    """A stored naive-UTC time in the desk's zone, e.g. "2026-12-03 14:05 GMT"."""
    if moment is None:
        return "never"
    local = moment.replace(tzinfo=UTC).astimezone(_zone())
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


@bp.get("")
def overview():
    """Show each host's calendars and the next two weeks' busy blocks beside the bookings."""
    zone = _zone()
    now = datetime.now(UTC)
    start = datetime.combine(now.astimezone(zone).date(), time(0), zone)
    end = datetime.combine(start.date() + timedelta(days=DAYS), time(0), zone)
    settings = calendar_services.current_settings()
    overviews = status.host_overviews(start, end, now) if settings.hosts.enabled else []
    bookings = _bookings(start, end)
    return render_template(
        "desk/calendars.html",
        enabled=settings.hosts.enabled,
        overviews=overviews,
        rows=day_rows(start.date(), DAYS, zone, overviews, bookings),
        zone_name=zone.key,
        max_stale_minutes=int(settings.max_stale.total_seconds() // 60),
    )


def _bookings(start: datetime, end: datetime) -> list[Booking]:
    """Confirmed bookings starting in aware [start, end), earliest first."""
    naive = [moment.astimezone(UTC).replace(tzinfo=None) for moment in (start, end)]
    return db.session.scalars(
        select(Booking)
        .where(Booking.status == "confirmed", Booking.slot_start >= naive[0])
        .where(Booking.slot_start < naive[1])
        .order_by(Booking.slot_start)
    ).all()


def day_rows(
    first: date, days: int, zone: ZoneInfo, overviews: list, bookings: list[Booking]
) -> list[DayRow]:
    """Lay busy blocks and bookings out by local day, from `first`, for `days` days."""
    rows = []
    for offset in range(days):
        day = first + timedelta(days=offset)
        day_start = datetime.combine(day, time(0), zone)
        day_end = datetime.combine(day + timedelta(days=1), time(0), zone)
        busy = tuple(
            tuple(_span(b, day_start, day_end, zone) for b in _within(o.blocks, day_start, day_end))
            for o in overviews
        )
        booked = tuple(
            (_span(_interval(b), day_start, day_end, zone), b)
            for b in bookings
            if day_start <= _interval(b).start < day_end
        )
        rows.append(DayRow(day=day, busy=busy, bookings=booked))
    return rows


def _within(blocks, start: datetime, end: datetime) -> list[Interval]:
    """The blocks overlapping [start, end)."""
    return [block for block in blocks if block.start < end and start < block.end]


def _interval(booking: Booking) -> Interval:
    """A booking's session as an aware-UTC interval."""
    return Interval(booking.slot_start.replace(tzinfo=UTC), booking.slot_end.replace(tzinfo=UTC))


def _span(interval: Interval, day_start: datetime, day_end: datetime, zone: ZoneInfo) -> str:
    """The part of `interval` within one local day, e.g. "09:00–10:30" or "all day"."""
    start, end = max(interval.start, day_start), min(interval.end, day_end)
    if start <= day_start and end >= day_end:
        return "all day"
    end_text = "24:00" if end >= day_end else f"{end.astimezone(zone):%H:%M}"
    return f"{start.astimezone(zone):%H:%M}–{end_text}"


def init_app(app: Flask) -> None:
    """Register the calendars page."""
    app.register_blueprint(bp)
