"""The calendar invite, parsed back with icalendar."""

from datetime import UTC, datetime

import pytest
from icalendar import Calendar

from leadform.ics import InvalidInviteError, build_invite

START = datetime(2026, 7, 14, 13, 0)  # naive UTC, as stored: 14:00 in London (BST)
END = datetime(2026, 7, 14, 14, 30)
HOSTILE = 'Zoë "Drop"; DROP TABLE x,\r\nBEGIN:VEVENT\nATTENDEE:mailto:evil@example.com ' + "é" * 300


def invite(**overrides) -> bytes:
    """An invite with sensible defaults, any argument overridable."""
    fields = {
        "uid": "abc123@book.tessellate.example",
        "sequence": 0,
        "method": "REQUEST",
        "start_utc": START,
        "end_utc": END,
        "summary": "AI Readiness Assessment with Tessellate Advisory",
        "description": "90 minutes.",
        "location": "Online",
        "organizer_email": "hello@tessellate.example",
        "organizer_name": "Tessellate Advisory",
        "attendee_email": "ada@example.com",
        "attendee_name": "Ada Example",
        "host_tz": "Europe/London",
        "url": "https://book.tessellate.example",
    }
    return build_invite(**(fields | overrides))


def event_of(data: bytes):
    """The single VEVENT of a parsed invite."""
    (event,) = Calendar.from_ical(data).walk("VEVENT")
    return event


def test_request_carries_method_uid_sequence_and_status():
    calendar = Calendar.from_ical(invite(sequence=2))
    (event,) = calendar.walk("VEVENT")

    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == "abc123@book.tessellate.example"
    assert event["SEQUENCE"] == 2
    assert str(event["STATUS"]) == "CONFIRMED"
    assert "DTSTAMP" in event


def test_cancel_is_a_cancelled_event():
    calendar = Calendar.from_ical(invite(method="CANCEL", sequence=1))

    assert str(calendar["METHOD"]) == "CANCEL"
    assert str(event_of(invite(method="CANCEL"))["STATUS"]) == "CANCELLED"


def test_times_are_in_the_host_zone_and_equal_the_utc_instants():
    event = event_of(invite())
    start, end = event.decoded("DTSTART"), event.decoded("DTEND")

    assert event["DTSTART"].params["TZID"] == "Europe/London"
    assert (start.hour, start.minute) == (14, 0)
    assert (start, end) == (START.replace(tzinfo=UTC), END.replace(tzinfo=UTC))


def test_organizer_and_attendee():
    event = event_of(invite())
    attendee = event["ATTENDEE"]

    assert str(event["ORGANIZER"]) == "mailto:hello@tessellate.example"
    assert event["ORGANIZER"].params["CN"] == "Tessellate Advisory"
    assert str(attendee) == "mailto:ada@example.com"
    assert (attendee.params["RSVP"], attendee.params["PARTSTAT"]) == ("TRUE", "NEEDS-ACTION")


def test_vtimezone_is_bounded_and_the_invite_small():
    data = invite()

    assert len(Calendar.from_ical(data).walk("VTIMEZONE")) == 1
    assert len(data) < 1500


@pytest.mark.parametrize("field", ["summary", "description", "location", "attendee_name"])
def test_hostile_text_survives_the_round_trip(field):
    data = invite(**{field: HOSTILE})
    event = event_of(data)

    value = event["ATTENDEE"].params["CN"] if field == "attendee_name" else str(event[field])
    assert value.replace("\r\n", "\n") == HOSTILE.replace("\r\n", "\n")
    assert len(Calendar.from_ical(data).walk("VEVENT")) == 1


def test_hostile_text_adds_no_attendee():
    event = event_of(invite(description=HOSTILE, summary=HOSTILE))

    assert str(event["ATTENDEE"]) == "mailto:ada@example.com"


@pytest.mark.parametrize(
    "overrides",
    [
        {"method": "PUBLISH"},
        {"end_utc": START},
        {"attendee_email": "ada@example.com\r\nATTENDEE:mailto:evil@example.com"},
    ],
)
def test_inconsistent_arguments_are_refused(overrides):
    with pytest.raises(InvalidInviteError):
        invite(**overrides)
