"""What counts as busy in a calendar, by RFC 5545: a host's busy intervals in a window.

Recurrence (RRULE, RDATE, EXDATE, RECURRENCE-ID overrides) is expanded by
`recurring-ical-events`; Google's X-WR-TIMEZONE calendars are first rewritten to standard form
by `x-wr-timezone`; VTIMEZONE definitions are read by icalendar. On top of that, an occurrence
is busy unless it is TRANSP:TRANSPARENT, STATUS:CANCELLED, or declined by the host
(PARTSTAT=DECLINED on the host's own ATTENDEE line). All-day events fill the host's whole
local day; floating times are read in the host's zone.

All-day events are busy even when marked TRANSPARENT, unless a calendar asks otherwise
(`all_day_busy=False`): Google Calendar, Outlook and Apple Calendar all create all-day events
as "free" by default, so by the letter of TRANSP a consultant's holiday or travel day would be
offered for booking, the double booking Cal.com users report most (#16686).

Everything here is a pure function of an icalendar object, a window and the host's zone and
addresses: no network, no database. Intervals are aware UTC datetimes.
"""

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events
import x_wr_timezone

# FBTYPE values of a VFREEBUSY period that make a time unavailable (RFC 5545 3.2.9).
BUSY_FBTYPES = ("BUSY", "BUSY-UNAVAILABLE", "BUSY-TENTATIVE")


class CalendarDataError(ValueError):
    """Calendar data that cannot be read or expanded; the message says what and where."""


class Interval(NamedTuple):
    """A busy [start, end) span, as aware UTC datetimes."""

    start: datetime
    end: datetime


def parse_calendar(data: bytes | str) -> icalendar.Calendar:
    """Return the icalendar Calendar in `data`, or raise CalendarDataError saying why not."""
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as exc:
        raise CalendarDataError(f"not iCalendar data ({_short(exc)})") from None
    if not isinstance(calendar, icalendar.Calendar):
        raise CalendarDataError("not iCalendar data (no VCALENDAR)")
    return calendar


def busy_intervals(
    calendar: icalendar.Calendar,
    start: datetime,
    end: datetime,
    zone: ZoneInfo,
    addresses: Iterable[str] = (),
    all_day_busy: bool = True,
    skip_uids: re.Pattern | None = None,
) -> list[Interval]:
    """Return the merged busy intervals of `calendar` within aware [start, end).

    `zone` is the host's: all-day events and floating times are read in it. `addresses` are
    the host's email addresses, whose PARTSTAT=DECLINED frees an event. With `all_day_busy`
    an all-day event blocks its day whatever its TRANSP. Events whose UID matches
    `skip_uids` (the service's own bookings, see `booking_uids`) are left out. Raises
    CalendarDataError for events that cannot be read or expanded.
    """
    own = frozenset(address.lower() for address in addresses)
    intervals = [
        interval
        for event in _occurrences(calendar, start, end, zone)
        if is_busy(event, own, all_day_busy) and not _is_booking(event, skip_uids)
        for interval in [occurrence_interval(event, zone)]
        if interval is not None
    ]
    return merge(clip(intervals, start, end))


def booking_uids(domain: str) -> re.Pattern:
    """Return the pattern of the UIDs this service gives its bookings at `domain`.

    A booking's event is a public id (22 URL-safe characters) at the site's domain: the same
    UID in the prospect's invite and in the copy written to a host's calendar. Those events
    are the bookings themselves, which the booking wing already keeps apart; counting them
    as busy too would make a booking block its own move.
    """
    return re.compile(r"[A-Za-z0-9_-]{22}@" + re.escape(domain.lower()))


def _is_booking(event: icalendar.Event, skip_uids: re.Pattern | None) -> bool:
    """Tell whether the event is one of this service's bookings (its UID matches)."""
    return skip_uids is not None and bool(skip_uids.fullmatch(str(event.get("UID", "")).lower()))


def _occurrences(calendar: icalendar.Calendar, start: datetime, end: datetime, zone: ZoneInfo):
    """Return every VEVENT occurrence overlapping [start, end), recurrences expanded."""
    try:
        standard = x_wr_timezone.to_standard(calendar)
        # The window in the host's zone, so floating events compare as host-local times.
        # One day either side catches all-day events whose host-local day reaches in.
        query = recurring_ical_events.of(standard)
        return query.between(
            (start - timedelta(days=1)).astimezone(zone), (end + timedelta(days=1)).astimezone(zone)
        )
    except (
        recurring_ical_events.InvalidCalendar,
        recurring_ical_events.BadRuleStringFormat,
        icalendar.InvalidCalendar,
        ValueError,
        KeyError,
    ) as exc:
        raise CalendarDataError(f"events cannot be read or expanded ({_short(exc)})") from None


def is_busy(
    event: icalendar.Event, own_addresses: frozenset[str], all_day_busy: bool = True
) -> bool:
    """Tell whether one occurrence blocks the host's time.

    Free are: TRANSP:TRANSPARENT ("show as free"; not for all-day events when
    `all_day_busy`), STATUS:CANCELLED, and an invitation the host declined. Tentative and
    unanswered invitations block: a slot offered against them might not be kept.
    """
    all_day = not isinstance(event.start, datetime)
    transparent = str(event.get("TRANSP", "OPAQUE")).upper() == "TRANSPARENT"
    if transparent and not (all_day and all_day_busy):
        return False
    if str(event.get("STATUS", "")).upper() == "CANCELLED":
        return False
    return not _declined_by(event, own_addresses)


def _declined_by(event: icalendar.Event, own_addresses: frozenset[str]) -> bool:
    """Tell whether one of `own_addresses` is an ATTENDEE with PARTSTAT=DECLINED."""
    attendees = event.get("ATTENDEE", [])
    if not isinstance(attendees, list):
        attendees = [attendees]
    for attendee in attendees:
        address = str(attendee).lower().removeprefix("mailto:").strip()
        if address in own_addresses:
            return str(attendee.params.get("PARTSTAT", "")).upper() == "DECLINED"
    return False


def occurrence_interval(event: icalendar.Event, zone: ZoneInfo) -> Interval | None:
    """Return one occurrence's [start, end) in UTC, or None if it takes no time.

    A DATE start is an all-day event: busy from the host's local midnight at its start to
    the local midnight at its end (DTEND is exclusive; none means one day).
    """
    start = event.start
    end = _end(event, start)
    if not isinstance(start, datetime):
        return _all_day(start, end if isinstance(end, date) else start, zone)
    interval = Interval(_instant(start, zone), _instant(end, zone))
    return interval if interval.end > interval.start else None


def _end(event: icalendar.Event, start: date | datetime) -> date | datetime:
    """Return the occurrence's end: DTEND, or DTSTART + DURATION, or RFC 5545's default."""
    try:
        return event.end
    except icalendar.IncompleteComponent:
        # RFC 5545 3.6.1: no DTEND or DURATION means one day for a DATE start, no time at all
        # for a DATE-TIME start.
        return start if isinstance(start, datetime) else start + timedelta(days=1)


def _all_day(first: date, end: date, zone: ZoneInfo) -> Interval:
    """Return host-local days [first, end) as one UTC interval (at least one day)."""
    if isinstance(end, datetime):
        end = end.date()
    last = max(end, first + timedelta(days=1))
    return Interval(_midnight(first, zone, earliest=True), _midnight(last, zone, earliest=False))


def _midnight(day: date, zone: ZoneInfo, earliest: bool) -> datetime:
    """Return the UTC instant of host-local midnight starting `day`.

    Where a clock change repeats or skips midnight, the earliest reading starts a busy day
    and the latest ends one, so the whole local day is always covered.
    """
    local = datetime.combine(day, time(0), tzinfo=zone)
    readings = (local.astimezone(UTC), local.replace(fold=1).astimezone(UTC))
    return min(readings) if earliest else max(readings)


def _instant(moment: datetime, zone: ZoneInfo) -> datetime:
    """Return `moment` in UTC; a floating (naive) time is the host's wall clock."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.astimezone(UTC)


def busy_from_freebusy(calendar: icalendar.Calendar, start: datetime, end: datetime):
    """Return the merged busy intervals of the VFREEBUSY components of `calendar`.

    A CalDAV free-busy answer lists periods typed by FBTYPE (BUSY by default); FREE periods
    are left out.
    """
    intervals = []
    for component in calendar.walk("VFREEBUSY"):
        for prop in _as_list(component.get("FREEBUSY", [])):
            if str(prop.params.get("FBTYPE", "BUSY")).upper() not in BUSY_FBTYPES:
                continue
            for period_start, period_end in prop.dt if isinstance(prop.dt, list) else [prop.dt]:
                period_end = (
                    period_end if isinstance(period_end, datetime) else (period_start + period_end)
                )
                intervals.append(Interval(_instant(period_start, UTC), _instant(period_end, UTC)))
    return merge(clip(intervals, start, end))


def clip(intervals: Iterable[Interval], start: datetime, end: datetime) -> list[Interval]:
    """Return the parts of `intervals` inside [start, end), empty parts dropped."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    clipped = (Interval(max(i.start, start), min(i.end, end)) for i in intervals)
    return [interval for interval in clipped if interval.end > interval.start]


def merge(intervals: Iterable[Interval]) -> list[Interval]:
    """Return `intervals` sorted, with overlapping or touching ones joined."""
    merged: list[Interval] = []
    for interval in sorted(intervals):
        if merged and interval.start <= merged[-1].end:
            merged[-1] = Interval(merged[-1].start, max(merged[-1].end, interval.end))
        else:
            merged.append(interval)
    return merged


def overlaps(intervals: Iterable[Interval], start: datetime, end: datetime) -> bool:
    """Tell whether any interval overlaps aware [start, end)."""
    return any(i.start < end and start < i.end for i in intervals)


def _as_list(value) -> list:
    """Return a property that may occur once or many times as a list."""
    return value if isinstance(value, list) else [value]


def _short(exc: Exception) -> str:
    """Return an exception's message cut to a readable length for an operator."""
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."
