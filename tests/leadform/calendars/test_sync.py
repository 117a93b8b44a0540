"""`flask calendars sync` against a real Radicale: exactly the right busy blocks per host."""

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from leadform.calendars.busy import Interval
from leadform.calendars.models import BusyBlock, CalendarSourceState
from leadform.calendars.services import busy_for, current_settings, live_busy_for
from leadform.db import db


def _next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday())  # within the 42-day horizon


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def hosts_toml(url: str, ada_calendar: str, grace_calendar: str) -> str:
    return f"""
[hosts.ada]
name = "Ada Example"
email = "ada@tessellate.example"
timezone = "UTC"

[[hosts.ada.calendars]]
type = "caldav"
url = "{url}"
username = "ada"
password_env = "LEADFORM_CALENDAR_SECRET_ADA"
calendars = ["{ada_calendar}"]

[hosts.grace]
name = "Grace Example"
email = "grace@tessellate.example"
timezone = "UTC"

[[hosts.grace.calendars]]
type = "caldav"
url = "{url}"
username = "grace"
password_env = "LEADFORM_CALENDAR_SECRET_GRACE"
calendars = ["{grace_calendar}"]
"""


def _put(calendar, ics: str) -> None:
    calendar.save_event(ics.replace("\n", "\r\n"))


def _event(uid: str, body: str) -> str:
    return (
        "BEGIN:VCALENDAR\nVERSION:2.0\nPRODID:-//test//test//EN\n"
        f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20261201T000000Z\n{body}\nEND:VEVENT\n"
        "END:VCALENDAR\n"
    )


def _ada_diary(calendar, monday: date) -> None:
    """Single, recurring with an exception, all-day, transparent and cancelled events."""
    stamp = "%Y%m%dT%H%M%SZ"
    _put(
        calendar,
        _event("single", f"DTSTART:{at(monday, 9):{stamp}}\nDTEND:{at(monday, 10):{stamp}}"),
    )
    series = (
        f"DTSTART:{at(monday, 14):{stamp}}\nDTEND:{at(monday, 15):{stamp}}\n"
        "RRULE:FREQ=DAILY;COUNT=3\n"
        f"EXDATE:{at(monday + timedelta(days=1), 14):{stamp}}"
    )
    moved = (
        f"RECURRENCE-ID:{at(monday + timedelta(days=2), 14):{stamp}}\n"
        f"DTSTART:{at(monday + timedelta(days=2), 16):{stamp}}\n"
        f"DTEND:{at(monday + timedelta(days=2), 17):{stamp}}"
    )
    _put(
        calendar,
        _event("series", series).replace(
            "END:VCALENDAR", _vevent("series", moved) + "END:VCALENDAR"
        ),
    )
    thursday = monday + timedelta(days=3)
    _put(calendar, _event("allday", f"DTSTART;VALUE=DATE:{thursday:%Y%m%d}\nTRANSP:TRANSPARENT"))
    _put(
        calendar,
        _event(
            "free",
            f"DTSTART:{at(monday, 11):{stamp}}\nDTEND:{at(monday, 12):{stamp}}\nTRANSP:TRANSPARENT",
        ),
    )
    _put(
        calendar,
        _event(
            "off",
            f"DTSTART:{at(monday, 12):{stamp}}\nDTEND:{at(monday, 13):{stamp}}\nSTATUS:CANCELLED",
        ),
    )


def _vevent(uid: str, body: str) -> str:
    return f"BEGIN:VEVENT\nUID:{uid}\nDTSTAMP:20261201T000000Z\n{body}\nEND:VEVENT\n"


def _expected_ada(monday: date) -> list[Interval]:
    thursday = monday + timedelta(days=3)
    return [
        Interval(at(monday, 9), at(monday, 10)),
        Interval(at(monday, 14), at(monday, 15)),
        Interval(at(monday + timedelta(days=2), 16), at(monday + timedelta(days=2), 17)),
        Interval(at(thursday, 0), at(thursday + timedelta(days=1), 0)),
    ]


@pytest.fixture
def two_hosts(radicale, calendar_app):
    """An app whose two hosts read fresh calendars on the session's Radicale."""
    ada_calendar = radicale.new_calendar("ada")
    grace_calendar = radicale.new_calendar("grace")
    app = calendar_app(
        hosts_toml(radicale.url, ada_calendar.get_display_name(), grace_calendar.get_display_name())
    )
    return app, ada_calendar, grace_calendar


def _week(monday: date) -> tuple[datetime, datetime]:
    return at(monday, 0), at(monday + timedelta(days=7), 0)


def test_sync_gives_exactly_the_busy_blocks_of_both_hosts(two_hosts):
    app, ada_calendar, grace_calendar = two_hosts
    monday = _next_monday()
    _ada_diary(ada_calendar, monday)
    declined = f"DTSTART:{at(monday, 10):%Y%m%dT%H%M%SZ}\nDTEND:{at(monday, 11):%Y%m%dT%H%M%SZ}\n"
    _put(
        grace_calendar,
        _event("declined", declined + "ATTENDEE;PARTSTAT=DECLINED:mailto:grace@tessellate.example"),
    )
    _put(grace_calendar, _event("talk", f"DTSTART:{at(monday, 15):%Y%m%dT%H%M%SZ}\nDURATION:PT2H"))

    result = app.test_cli_runner().invoke(args=["calendars", "sync"])

    assert result.exit_code == 0, result.output
    assert "Synced 2 of 2 calendar(s)." in result.output
    with app.app_context():
        busy = busy_for(["ada", "grace"], *_week(monday), now=datetime.now(UTC))
    assert busy["ada"].unavailable is None
    assert list(busy["ada"].intervals) == _expected_ada(monday)
    assert list(busy["grace"].intervals) == [Interval(at(monday, 15), at(monday, 17))]


def test_a_second_sync_replaces_the_blocks_and_a_removed_event_frees_its_time(two_hosts):
    app, ada_calendar, _ = two_hosts
    monday = _next_monday()
    _ada_diary(ada_calendar, monday)
    runner = app.test_cli_runner()
    runner.invoke(args=["calendars", "sync"])
    ada_calendar.event_by_uid("single").delete()

    result = runner.invoke(args=["calendars", "sync"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        busy = busy_for(["ada"], *_week(monday), now=datetime.now(UTC))
        rows = db.session.scalars(select(BusyBlock).where(BusyBlock.host_id == "ada")).all()
    assert list(busy["ada"].intervals) == _expected_ada(monday)[1:]
    assert len(rows) == 3


def test_an_event_added_after_the_sync_is_seen_by_the_live_check(two_hosts):
    app, ada_calendar, _ = two_hosts
    monday = _next_monday()
    app.test_cli_runner().invoke(args=["calendars", "sync"])
    stamp = "%Y%m%dT%H%M%SZ"
    _put(
        ada_calendar,
        _event("late", f"DTSTART:{at(monday, 13):{stamp}}\nDTEND:{at(monday, 14):{stamp}}"),
    )

    with app.app_context():
        now = datetime.now(UTC)
        stored = busy_for(["ada"], *_week(monday), now=now)["ada"]
        live = live_busy_for(["ada"], *_week(monday), now=now)["ada"]

    assert stored.is_free(at(monday, 13), at(monday, 14))
    assert not live.is_free(at(monday, 13), at(monday, 14))
    assert list(live.intervals) == [Interval(at(monday, 13), at(monday, 14))]


def test_a_host_never_synced_is_unavailable_until_the_first_good_sync(two_hosts):
    app, _, _ = two_hosts
    monday = _next_monday()
    with app.app_context():
        before = busy_for(["ada"], *_week(monday), now=datetime.now(UTC))["ada"]
    app.test_cli_runner().invoke(args=["calendars", "sync"])
    with app.app_context():
        after = busy_for(["ada"], *_week(monday), now=datetime.now(UTC))["ada"]
    assert before.unavailable is not None and "no good sync" in before.unavailable
    assert not before.is_free(at(monday, 9), at(monday, 10))
    assert after.unavailable is None and after.is_free(at(monday, 9), at(monday, 10))


def test_the_state_row_records_a_good_sync(two_hosts):
    app, _, _ = two_hosts
    app.test_cli_runner().invoke(args=["calendars", "sync"])
    with app.app_context():
        states = db.session.scalars(select(CalendarSourceState)).all()
        horizon = current_settings().horizon
    assert {state.host_id for state in states} == {"ada", "grace"}
    for state in states:
        assert state.last_good_at is not None and state.last_error is None
        assert state.window_end - state.window_start > horizon
