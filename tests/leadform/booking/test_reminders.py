"""Reminders: each one queued exactly once, at the right time, never for cancelled bookings."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from markupsafe import escape

from leadform.booking.changes import anonymise_booking, cancel_booking, move_booking, move_choices
from leadform.booking.reminders import queue_due_reminders
from leadform.booking.tokens import manage_url
from leadform.db import db
from tests.leadform.after_booking import (
    SCRIPT,
    ctx,  # noqa: F401 - a fixture
    email,
    insert_booking,
    queued,
)

START = datetime(2026, 12, 8, 14, 0, tzinfo=UTC)  # a Tuesday, 14:00 in London
BOOKED = START - timedelta(days=7)


def run_at(*moments: datetime) -> list[int]:
    """Run the reminder pass at each moment; return how many each run queued."""
    return [queue_due_reminders(moment) for moment in moments]


def reminder_kinds() -> list[str]:
    return [message.kind for message in queued() if message.kind.startswith("reminder_")]


def test_each_reminder_is_queued_once_at_its_time(ctx):  # noqa: F811
    insert_booking(START, created_at=BOOKED)
    steps = [
        START - timedelta(hours=25),  # too early for anything
        START - timedelta(hours=24) + timedelta(minutes=2),  # the 24-hour reminder
        START - timedelta(hours=23, minutes=55),  # again: nothing new
        START - timedelta(hours=2),
        START - timedelta(minutes=58),  # the 1-hour reminder
        START - timedelta(minutes=53),
        START + timedelta(minutes=5),  # started: nothing
    ]

    assert run_at(*steps) == [0, 1, 0, 0, 1, 0, 0]
    assert reminder_kinds() == ["reminder_24h", "reminder_1h"]


def test_reminder_marks_are_set(ctx):  # noqa: F811
    booking = insert_booking(START, created_at=BOOKED)
    day_before, hour_before = START - timedelta(hours=23), START - timedelta(minutes=30)

    run_at(day_before, hour_before)

    db.session.refresh(booking)
    assert booking.reminder_24h_queued_at == day_before.replace(tzinfo=None)
    assert booking.reminder_1h_queued_at == hour_before.replace(tzinfo=None)


def test_cancelled_booking_gets_no_reminder(ctx):  # noqa: F811
    booking = insert_booking(START, created_at=BOOKED)
    cancel_booking(booking, BOOKED)

    assert run_at(START - timedelta(hours=23), START - timedelta(minutes=30)) == [0, 0]
    assert reminder_kinds() == []


def test_erased_booking_gets_no_reminder(ctx):  # noqa: F811
    booking = insert_booking(START, created_at=BOOKED)
    anonymise_booking(booking, START + timedelta(days=1))  # after the session: stays confirmed

    assert run_at(START - timedelta(hours=23), START - timedelta(minutes=30)) == [0, 0]


def test_booking_made_three_hours_ahead_gets_only_the_hour_reminder(ctx):  # noqa: F811
    insert_booking(START, created_at=START - timedelta(hours=3))

    run_at(START - timedelta(hours=2, minutes=55), START - timedelta(minutes=55))

    assert reminder_kinds() == ["reminder_1h"]


def test_a_late_first_run_sends_only_the_nearer_reminder(ctx):  # noqa: F811
    insert_booking(START, created_at=BOOKED)

    assert run_at(START - timedelta(minutes=40), START - timedelta(minutes=35)) == [1, 0]
    assert reminder_kinds() == ["reminder_1h"]


def test_a_moved_booking_is_reminded_of_its_new_time(ctx):  # noqa: F811
    booking = insert_booking(START, created_at=BOOKED)
    move_at = START - timedelta(hours=23)
    run_at(move_at)  # the 24-hour reminder for the old time
    target = move_choices(booking, current_app.extensions["availability"], move_at)[-1]
    move_booking(booking, target.start, move_at)

    assert run_at(target.start - timedelta(hours=23), target.start - timedelta(minutes=30)) == [
        1,
        1,
    ]
    assert reminder_kinds() == ["reminder_24h", "reminder_24h", "reminder_1h"]


def test_reminder_carries_the_manage_link_and_both_zones(ctx):  # noqa: F811
    booking = insert_booking(START, created_at=BOOKED, timezone="America/New_York")
    run_at(START - timedelta(hours=23))

    message = email(queued("reminder_24h")[0])
    assert message.to == "ada@example.com"
    assert message.subject.startswith("Tomorrow: AI Readiness Assessment")
    for body in (message.text, message.html):
        assert manage_url(booking) in body
        assert "Tuesday 8 December 2026, 09:00–10:30 EST" in body
        assert "Tuesday 8 December 2026, 14:00–15:30 GMT" in body


def test_hostile_name_is_escaped_in_the_reminder(ctx):  # noqa: F811
    insert_booking(START, created_at=BOOKED, name=f"Ada {SCRIPT}\r\n")
    run_at(START - timedelta(minutes=30))

    message = email(queued("reminder_1h")[0])
    assert SCRIPT not in message.html
    assert str(escape(SCRIPT)) in message.html


def test_a_name_holding_an_address_is_left_out_of_the_reminder(ctx):  # noqa: F811
    insert_booking(START, created_at=BOOKED, name="Ada\r\nBcc: x@evil.example")
    run_at(START - timedelta(minutes=30))

    message = email(queued("reminder_1h")[0])
    assert "evil.example" not in message.text and "evil.example" not in message.html


def test_command_prints_counts_and_is_repeatable(ctx, runner):  # noqa: F811
    soon = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=30)
    insert_booking(soon, created_at=soon - timedelta(days=3))

    first = runner.invoke(args=["reminders", "send"])
    second = runner.invoke(args=["reminders", "send"])

    assert (first.exit_code, first.output) == (0, "Queued 1 reminder(s).\n")
    assert second.output == "Queued 0 reminder(s).\n"


@pytest.mark.postgres
def test_concurrent_runs_on_postgresql_queue_once(pg_app):
    app = pg_app()
    with app.app_context():
        for offset in range(5):
            insert_booking(START + timedelta(hours=2 * offset), created_at=BOOKED)
    now = START - timedelta(minutes=30)
    barrier = threading.Barrier(4)
    counts = []

    def run():
        with app.app_context():
            barrier.wait()
            counts.append(queue_due_reminders(now))
            db.session.remove()

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    with app.app_context():
        # One hour reminder (the first session) and four day reminders, each queued once.
        assert sum(counts) == 5
        assert (len(queued("reminder_1h")), len(queued("reminder_24h"))) == (1, 4)
