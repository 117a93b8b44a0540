"""iCalendar invitations for booked (and cancelled) assessments."""

from datetime import UTC, date, datetime
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


def _address(email: str, name: str, role: str | None = None) -> vCalAddress:
    """Build a mailto: address with its display name (and attendee parameters)."""
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    if role:
        address.params["ROLE"] = vText(role)
        address.params["PARTSTAT"] = vText("NEEDS-ACTION")
        address.params["RSVP"] = vText("TRUE")
    return address


def _bounded_timezone(host_tz: str, start: datetime, end: datetime) -> Timezone:
    """A VTIMEZONE covering only the event's year(s): the full history triples the size."""
    return Timezone.from_tzid(
        host_tz,
        first_date=date(start.year, 1, 1),
        last_date=date(end.year + 1, 1, 1),
    )


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
) -> bytes:
    """Return an iCalendar (RFC 5545/5546) invite: METHOD REQUEST books, CANCEL withdraws.

    Keep `uid` stable for one booking and raise `sequence` with every change, so calendar
    clients update (or remove) the event they already hold instead of adding a second one.
    """
    if method not in METHODS:
        raise InvalidInviteError(f"method must be REQUEST or CANCEL, got {method!r}")
    start, end = _aware_utc(start_utc), _aware_utc(end_utc)
    if end <= start:
        raise InvalidInviteError("The event must end after it starts.")
    for value in (uid, organizer_email, attendee_email):
        # Free text is escaped by icalendar; these are bare values, so refuse line breaks.
        if "\r" in value or "\n" in value:
            raise InvalidInviteError("The UID and addresses must be single lines.")
    zone = ZoneInfo(host_tz)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("method", method)
    calendar.add_component(_bounded_timezone(host_tz, start.astimezone(zone), end.astimezone(zone)))

    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", datetime.now(UTC).replace(microsecond=0))
    event.add("dtstart", start.astimezone(zone))
    event.add("dtend", end.astimezone(zone))
    event.add("summary", summary)
    event.add("description", description)
    event.add("location", location)
    event.add("status", METHODS[method])
    if url:
        event.add("url", url)
    event.add("organizer", _address(organizer_email, organizer_name))
    event.add("attendee", _address(attendee_email, attendee_name, role="REQ-PARTICIPANT"))
    calendar.add_component(event)
    return calendar.to_ical()
