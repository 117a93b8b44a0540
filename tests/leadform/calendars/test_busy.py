"""Busy times by RFC 5545, checked against a corpus of calendar files with known answers.

Each `corpus/NN_name.ics` has a sidecar `NN_name.json`: the host's zone (and addresses), the
window, and the busy intervals a person reading the file would mark in the host's diary.
"""

import json
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from leadform.calendars.busy import (
    CalendarDataError,
    Interval,
    booking_uids,
    busy_intervals,
    merge,
    parse_calendar,
)

CORPUS = Path(__file__).resolve().parent / "corpus"
CASES = sorted(CORPUS.glob("*.ics"))


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _expected(case: dict) -> list[Interval]:
    return [Interval(_instant(start), _instant(end)) for start, end in case["busy"]]


def test_the_corpus_is_big_enough_and_every_file_has_its_answer():
    assert len(CASES) >= 15
    for path in CASES:
        assert path.with_suffix(".json").is_file(), path.name


@pytest.mark.parametrize("path", CASES, ids=[path.stem for path in CASES])
def test_busy_intervals_match_the_expected_answer(path):
    case = json.loads(path.with_suffix(".json").read_text())
    calendar = parse_calendar(path.read_bytes())
    start, end = (_instant(moment) for moment in case["window"])
    busy = busy_intervals(
        calendar,
        start,
        end,
        ZoneInfo(case["zone"]),
        addresses=case.get("addresses", ()),
        all_day_busy=case.get("all_day_busy", True),
    )
    assert busy == _expected(case), case["about"]


def test_all_day_events_marked_free_block_by_default_and_not_when_asked():
    calendar = parse_calendar((CORPUS / "17_all_day_as_marked.ics").read_bytes())
    start, end = datetime(2027, 1, 4, tzinfo=UTC), datetime(2027, 1, 10, tzinfo=UTC)
    zone = ZoneInfo("UTC")
    by_default = busy_intervals(calendar, start, end, zone)
    as_marked = busy_intervals(calendar, start, end, zone, all_day_busy=False)
    assert by_default == [
        Interval(datetime(2027, 1, 5, tzinfo=UTC), datetime(2027, 1, 6, tzinfo=UTC)),
        Interval(datetime(2027, 1, 7, tzinfo=UTC), datetime(2027, 1, 8, tzinfo=UTC)),
    ]
    assert as_marked == by_default[:1]


def test_intervals_are_utc_and_sorted():
    calendar = parse_calendar((CORPUS / "03_google_recurring_exception.ics").read_bytes())
    busy = busy_intervals(
        calendar,
        datetime(2027, 1, 1, tzinfo=UTC),
        datetime(2027, 3, 1, tzinfo=UTC),
        ZoneInfo("Asia/Tokyo"),
    )
    assert busy == sorted(busy)
    assert all(i.start.utcoffset().total_seconds() == 0 for i in busy)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"<!DOCTYPE html><html><body>Sign in to continue</body></html>",
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nDTSTART garbage\r\n",
        b"not a calendar at all",
    ],
)
def test_data_that_is_not_icalendar_is_a_calendar_data_error(data):
    with pytest.raises(CalendarDataError, match="not iCalendar"):
        parse_calendar(data)


def test_an_event_that_cannot_be_read_is_a_calendar_data_error():
    calendar = parse_calendar(
        b"BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART:tomorrow\r\n"
        b"DTEND:20270101T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
    )
    with pytest.raises(CalendarDataError, match="cannot be read"):
        busy_intervals(
            calendar,
            datetime(2026, 12, 1, tzinfo=UTC),
            datetime(2027, 2, 1, tzinfo=UTC),
            ZoneInfo("UTC"),
        )


def test_merge_joins_overlapping_and_touching_intervals_only():
    def at(hour):
        return datetime(2027, 1, 5, hour, tzinfo=UTC)

    assert merge([Interval(at(9), at(10)), Interval(at(10), at(11)), Interval(at(12), at(13))]) == [
        Interval(at(9), at(11)),
        Interval(at(12), at(13)),
    ]


OWN_UID = "AbCdEfGhIjKlMnOpQrSt_-@book.tessellate.example"


def _one_event_calendar(uid: str) -> str:
    return (
        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
        f"UID:{uid}\r\nDTSTAMP:20261201T000000Z\r\n"
        "DTSTART:20261210T100000Z\r\nDTEND:20261210T113000Z\r\nSUMMARY:Session\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n"
    )


@pytest.mark.parametrize(
    ("uid", "busy"),
    [
        (OWN_UID, False),  # one of our bookings: the booking wing keeps it apart itself
        (OWN_UID.upper(), False),  # domains are case-blind
        ("AbCdEfGhIjKlMnOpQrSt_-@book.tessellate.example.evil", True),
        ("AbCdEfGhIjKlMnOpQrSt@book.tessellate.example", True),  # not a public id's length
        ("AbCdEfGhIjKlMnOpQrSt_-@google.com", True),
        ("040000008200E00074C5B7101A82E008", True),
    ],
)
def test_the_services_own_bookings_are_not_busy_but_lookalikes_are(uid, busy):
    window = (datetime(2026, 12, 10, tzinfo=UTC), datetime(2026, 12, 11, tzinfo=UTC))
    calendar = parse_calendar(_one_event_calendar(uid))
    found = busy_intervals(
        calendar, *window, ZoneInfo("UTC"), skip_uids=booking_uids("book.tessellate.example")
    )

    assert bool(found) is busy
    # Without the pattern every event counts, ours included.
    assert busy_intervals(calendar, *window, ZoneInfo("UTC"))
