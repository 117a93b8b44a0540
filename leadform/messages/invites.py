"""iCalendar invitations for booked (and cancelled) assessments.

The invite is written as text here rather than through icalendar's component objects: it is
one fixed shape, and building it object by object cost about a millisecond of every booking.
The output follows icalendar 7's writer line for line (property order, TEXT escaping, RFC
6868 parameter escaping and quoting, folding), and tests/leadform/messages/test_invites.py compares the
two on many inputs. The VTIMEZONE block still comes from icalendar, once per zone and years.
"""

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from icalendar import Timezone
from icalendar.timezone.tzid import tzid_from_tzinfo

METHODS = {"REQUEST": "CONFIRMED", "CANCEL": "CANCELLED"}
PRODID = "-//Tessellate Advisory//leadform//EN"
# RFC 5545 3.1: lines SHOULD NOT exceed 75 octets; like icalendar, fold before reaching it.
FOLD_OCTETS = 75
# RFC 6868 escapes inside parameter values (a parameter cannot hold a line break or a ").
_PARAM_ESCAPES = {"^": "^^", "\r\n": "^n", "\r": "^n", "\n": "^n", '"': "^'"}
_PARAM_ESCAPE_PATTERN = re.compile(r'\^|\r\n|\r|\n|"')
# A parameter value holding one of these must be quoted (icalendar also quotes on U+2019).
_QUOTABLE = re.compile("[,;:\u2019]")
# icalendar also quotes a CN holding a space or an apostrophe; kept so output stays the same.
_CN_QUOTE_ALSO = " '"


class InvalidInviteError(ValueError):
    """The invite's arguments are inconsistent (unknown method, end before start...)."""


def _aware_utc(moment: datetime) -> datetime:
    """Accept naive UTC (how the database stores times) or aware datetimes."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def escape_text(value: str) -> str:
    r"""Escape a TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and line breaks.

    Same steps in the same order as icalendar's writer, including its first one: a literal
    "\N" already in the text is read as an escaped line break.
    """
    return (
        value.replace("\\N", "\n")
        .replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def param_value(value: str, quote_also: str = "") -> str:
    """Return a parameter value with RFC 6868 escapes, double-quoted when it must be.

    A value holding ',', ';' or ':' is quoted; so is one holding a character of `quote_also`.
    """
    quote = any(char in value for char in quote_also)
    escaped = _PARAM_ESCAPE_PATTERN.sub(lambda match: _PARAM_ESCAPES[match.group()], value)
    if quote or _QUOTABLE.search(escaped):
        return f'"{escaped}"'
    return escaped


def fold(line: str) -> str:
    """Fold a content line (RFC 5545 3.1): CRLF and a space before it would reach 75 octets.

    Never splits a UTF-8 character, and keeps a backslash or caret with the character it
    escapes (some clients misread an escape cut by a fold), as icalendar does.
    """
    if len(line) < FOLD_OCTETS and line.isascii():
        return line
    pieces, start = [], 0
    if line.isascii():
        # One octet per character: cut every 74 characters, one earlier before an escape.
        while len(line) - start >= FOLD_OCTETS:
            end = start + FOLD_OCTETS - 1
            if line[end - 1] in "\\^":
                end -= 1
            pieces.append(line[start:end])
            start = end
        pieces.append(line[start:])
        return "\r\n ".join(pieces)
    return _fold_unicode(line)


def _fold_unicode(line: str) -> str:
    """Fold a line holding multi-octet characters, counting UTF-8 octets."""
    pieces, current, octets = [], [], 0
    for char in line:
        size = len(char.encode("utf-8"))
        if current and octets + size >= FOLD_OCTETS:
            carried = current.pop() if len(current) > 1 and current[-1] in "\\^" else None
            pieces.append("".join(current))
            current = [carried] if carried else []
            octets = len(carried.encode("utf-8")) if carried else 0
        current.append(char)
        octets += size
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


@lru_cache(maxsize=64)
def _vtimezone_lines(host_tz: str, first_year: int, last_year: int) -> tuple[str, ...]:
    """Return the VTIMEZONE of `host_tz` for those years as content lines (cached).

    Bounded to the event's year(s): the zone's full history triples the invite's size.
    Building it is the slow part of an invite, and it only changes with the year.
    """
    timezone = Timezone.from_tzid(
        host_tz, first_date=date(first_year, 1, 1), last_date=date(last_year + 1, 1, 1)
    )
    return tuple(timezone.to_ical().decode("utf-8").split("\r\n")[:-1])


@lru_cache(maxsize=64)
def _tzid(host_tz: str) -> str:
    """Return the TZID icalendar gives `host_tz`: "UTC" for the zones equal to UTC."""
    return tzid_from_tzinfo(ZoneInfo(host_tz)) or host_tz


def _date_time(name: str, moment: datetime, tzid: str) -> str:
    """Return a DATE-TIME property line: wall time with TZID, or UTC with a Z."""
    value = (
        f"{moment.year:04}{moment.month:02}{moment.day:02}"
        f"T{moment.hour:02}{moment.minute:02}{moment.second:02}"
    )
    if tzid == "UTC":
        return f"{name}:{value}Z"
    return f"{name};TZID={param_value(tzid)}:{value}"


def _address(name: str, email: str, display_name: str, attendee: bool = False) -> str:
    """Return an ORGANIZER or ATTENDEE line: mailto: address, display name, RSVP for attendees."""
    params = f"CN={param_value(display_name, _CN_QUOTE_ALSO)}"
    if attendee:
        params += ";PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE"
    return f"{name};{params}:mailto:{email}"


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
) -> bytes:
    """Return an iCalendar (RFC 5545/5546) invite: METHOD REQUEST books, CANCEL withdraws.

    Keep `uid` stable for one booking and raise `sequence` with every change, so calendar
    clients update (or remove) the event they already hold instead of adding a second one.
    `stamp` is the DTSTAMP (default: now).
    """
    if method not in METHODS:
        raise InvalidInviteError(f"method must be REQUEST or CANCEL, got {method!r}")
    start, end = _aware_utc(start_utc), _aware_utc(end_utc)
    if end <= start:
        raise InvalidInviteError("The event must end after it starts.")
    for value in (uid, organizer_email, attendee_email, url or ""):
        # Free text is escaped; these are bare values, so refuse line breaks.
        if "\r" in value or "\n" in value:
            raise InvalidInviteError("The UID, addresses and URL must be single lines.")
    zone = ZoneInfo(host_tz)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    stamp = _aware_utc(stamp) if stamp else datetime.now(UTC)
    tzid = _tzid(host_tz)
    event = [
        f"SUMMARY:{escape_text(summary)}",
        _date_time("DTSTART", local_start, tzid),
        _date_time("DTEND", local_end, tzid),
        _date_time("DTSTAMP", stamp, "UTC"),
        f"UID:{escape_text(uid)}",
        f"SEQUENCE:{int(sequence)}",
        _address("ATTENDEE", attendee_email, attendee_name, attendee=True),
        f"DESCRIPTION:{escape_text(description)}",
        f"LOCATION:{escape_text(location)}",
        _address("ORGANIZER", organizer_email, organizer_name),
        f"STATUS:{METHODS[method]}",
    ]
    if url:
        event.append(f"URL:{url}")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{escape_text(PRODID)}",
        f"METHOD:{method}",
        *_vtimezone_lines(host_tz, local_start.year, local_end.year),
        "BEGIN:VEVENT",
        *map(fold, event),
        "END:VEVENT",
        "END:VCALENDAR",
        "",
    ]
    return "\r\n".join(lines).encode("utf-8")
