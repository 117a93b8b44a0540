"""iCalendar invitations for booked (and cancelled) assessments, built with icalendar.

One VEVENT in a VCALENDAR with METHOD REQUEST (book or change) or CANCEL (withdraw), a
stable UID and a SEQUENCE that rises with every change (RFC 5545 and RFC 5546), written by
icalendar's component objects, which escape, quote and fold for us.
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, Timezone, vCalAddress, vText

METHODS = {"REQUEST": "CONFIRMED", "CANCEL": "CANCELLED"}
PRODID = "-//Tessellate Advisory//leadform//EN"


class InvalidInviteError(ValueError):
    """The invite's arguments are inconsistent (unknown method, end before start...)."""


def _aware_utc(moment: datetime) -> datetime:
    """Accept naive UTC (how the database stores times) or aware datetimes."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@lru_cache(maxsize=64)
def _vtimezone(host_tz: str, first_year: int, last_year: int) -> Timezone:
    """Return the VTIMEZONE of `host_tz` for those years (cached; never modified after).

    Bounded to the event's year(s): the zone's full history triples the invite's size.
    Building it is the slow part of an invite, and it only changes with the year.
    """
    return Timezone.from_tzid(
        host_tz, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )


def _address(email: str, display_name: str, **params: str) -> vCalAddress:
    """Return a mailto: address with its display name (CN) and any other parameters."""
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(display_name)
    for name, value in params.items():
        address.params[name] = vText(value)
    return address


def _check(method: str, start: datetime, end: datetime, *single_lines: str) -> None:
    """Refuse what would make a broken invite; raise InvalidInviteError saying what."""
    if method not in METHODS:
        raise InvalidInviteError(f"method must be REQUEST or CANCEL, got {method!r}")
    if end <= start:
        raise InvalidInviteError("The event must end after it starts.")
    for value in single_lines:
        # Free text is escaped by icalendar; these are bare values, so refuse line breaks.
        if "\r" in value or "\n" in value:
            raise InvalidInviteError("The UID, addresses and URL must be single lines.")


def build_invite(
    *,
    uid: str,
    sequence: int,
    method: str,
    start_utc: datetime,
    end_utc: datetime,
    summary: str,
    description: str,
    location: str,
    organizer_email: str,
    organizer_name: str,
    attendee_email: str,
    attendee_name: str,
    host_tz: str,
    url: str | None = None,
    stamp: datetime | None = None,
    hosts: Sequence[tuple[str, str]] = (),
) -> bytes:
    """Return an iCalendar (RFC 5545/5546) invite: METHOD REQUEST books, CANCEL withdraws.

    Keep `uid` stable for one booking and raise `sequence` with every change, so calendar
    clients update (or remove) the event they already hold instead of adding a second one.
    Times are written as wall times in `host_tz` with its VTIMEZONE. `stamp` is the DTSTAMP
    (default: now). `hosts` are the consultants who attend, (name, email): ATTENDEEs who
    have accepted already, so the prospect's calendar shows who they will meet.
    """
    start, end = _aware_utc(start_utc), _aware_utc(end_utc)
    _check(method, start, end, uid, organizer_email, attendee_email, url or "")
    zone = ZoneInfo(host_tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    event = Event()
    event.add("summary", summary)
    event.add("dtstart", local_start)
    event.add("dtend", local_end)
    event.add("dtstamp", _aware_utc(stamp) if stamp else datetime.now(UTC))
    event.add("uid", uid)
    event.add("sequence", int(sequence))
    event.add(
        "attendee",
        _address(
            attendee_email,
            attendee_name,
            PARTSTAT="NEEDS-ACTION",
            ROLE="REQ-PARTICIPANT",
            RSVP="TRUE",
        ),
    )
    for host_name, host_email in hosts:
        event.add(
            "attendee",
            _address(host_email, host_name, PARTSTAT="ACCEPTED", ROLE="REQ-PARTICIPANT"),
        )
    event.add("description", description)
    event.add("location", location)
    event.add("organizer", _address(organizer_email, organizer_name))
    event.add("status", METHODS[method])
    if url:
        event.add("url", url)
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("method", method)
    calendar.add_component(_vtimezone(host_tz, local_start.year, local_end.year))
    calendar.add_component(event)
    return calendar.to_ical()
