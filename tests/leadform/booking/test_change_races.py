"""Two changes to one booking at once (cancel + move, erase + move): exactly one state wins.

Each round books a session, then two threads, each with its own app context and database
session, read the booking (as the manage page and the desk do) and change it at the same
moment. Afterwards the booking must be in one consistent state, and the invitations queued
for the prospect must tell the same story: SEQUENCE strictly increasing, the last one
matching the booking's status, time and SEQUENCE. See docs/booking.md, "Changes are
serialised".
"""

import threading
from collections import Counter
from datetime import UTC, datetime

import pytest
from flask import current_app
from sqlalchemy import select

from leadform.booking.changes import (
    ChangeConflict,
    ChangeRefused,
    anonymise_booking,
    cancel_booking,
    move_booking,
    move_choices,
)
from leadform.booking.reservations import SlotTaken
from leadform.booking.slots import SlotUnavailable
from leadform.db import db
from leadform.models import Booking, BookingEvent, OutboxMessage
from tests.leadform.after_booking import book, ctx, invite_event, queued  # noqa: F401

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROUNDS = 50
# The emails to the prospect that carry an invitation, i.e. what their calendar sees.
INVITE_KINDS = ("prospect_confirmation", "prospect_moved", "prospect_cancellation")
# What a losing change may answer: a clear refusal, never a server error.
REFUSALS = (ChangeRefused, SlotUnavailable, SlotTaken)


def race(app, booking_id: int, jobs) -> list:
    """Let each job change the booking from its own thread and session, all at once.

    Every thread reads the booking first, like a request does, then waits for the others,
    so each change starts from the same state. Returns each job's result or refusal.
    """
    barrier = threading.Barrier(len(jobs))
    results = [None] * len(jobs)

    def run(index, job):
        with app.app_context():
            booking = db.session.get(Booking, booking_id)
            booking.ics_sequence  # noqa: B018 - loaded before the race, as a request would
            barrier.wait()
            try:
                results[index] = job(booking)
            except REFUSALS as exc:
                results[index] = exc
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def prospect_invites(booking_id: int) -> list[tuple[str, int, datetime]]:
    """Return (METHOD, SEQUENCE, DTSTART naive UTC) of the booking's invitations, in order."""
    messages = db.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.booking_id == booking_id, OutboxMessage.kind.in_(INVITE_KINDS))
        .order_by(OutboxMessage.id)
    )
    invites = []
    for message in messages:
        method, event = invite_event(message)
        start = event.decoded("DTSTART").astimezone(UTC).replace(tzinfo=None)
        invites.append((method, int(event["SEQUENCE"]), start))
    return invites


def event_kinds(booking_id: int) -> list[str]:
    """Return the booking's history, oldest first."""
    query = select(BookingEvent.kind).where(BookingEvent.booking_id == booking_id)
    return list(db.session.scalars(query.order_by(BookingEvent.id)))


def assert_consistent(booking: Booking) -> None:
    """The booking's row, history and invitations agree with one another."""
    invites = prospect_invites(booking.id)
    sequences = [sequence for _, sequence, _ in invites]
    assert sequences == sorted(set(sequences)), f"SEQUENCE not strictly increasing: {invites}"
    method, sequence, start = invites[-1]
    assert sequence == booking.ics_sequence
    assert method == ("CANCEL" if booking.status == "cancelled" else "REQUEST")
    assert start == booking.slot_start
    kinds = event_kinds(booking.id)
    assert kinds.count("moved") == booking.move_count
    assert kinds.count("cancelled") == (booking.status == "cancelled")
    # One invitation for the booking itself, then one per change.
    assert len(invites) == 1 + booking.move_count + kinds.count("cancelled")


def book_and_pick_target(app) -> tuple[int, datetime, datetime]:
    """Book the first free time; return its id, its start and a free time to move it to."""
    with app.app_context():
        booking = book(NOW)
        target = move_choices(booking, current_app.extensions["availability"], NOW)[-1]
        return booking.id, booking.slot_start, target.start


def free_the_time(app, booking_id: int) -> None:
    """Cancel the booking if it is still confirmed, so the next round finds the same times."""
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        if booking.status == "confirmed":
            assert cancel_booking(booking, NOW, actor="test") is True
            assert_consistent(db.session.get(Booking, booking_id))


def cancel_and_move_round(app) -> str:
    """Race a cancel against a move; check the winner's state; return who won."""
    booking_id, original, target = book_and_pick_target(app)
    cancelled, moved = race(
        app,
        booking_id,
        [lambda b: cancel_booking(b, NOW), lambda b: move_booking(b, target, NOW)],
    )
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        assert_consistent(booking)
        if cancelled is True:
            assert isinstance(moved, ChangeRefused), moved
            assert (booking.status, booking.slot_start, booking.ics_sequence) == (
                "cancelled",
                original,
                1,
            )
            winner = "cancel"
        else:
            assert isinstance(cancelled, ChangeConflict), cancelled
            assert isinstance(moved, Booking), moved
            assert (booking.status, booking.slot_start, booking.ics_sequence) == (
                "confirmed",
                target.replace(tzinfo=None),
                1,
            )
            winner = "move"
    free_the_time(app, booking_id)
    return winner


def erase_and_move_round(app) -> str:
    """Race an erasure against a move; erasure always happens, the move only if first."""
    booking_id, original, target = book_and_pick_target(app)
    erased, moved = race(
        app,
        booking_id,
        [lambda b: anonymise_booking(b, NOW), lambda b: move_booking(b, target, NOW)],
    )
    assert erased is True
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        assert_consistent(booking)
        assert booking.anonymised_at is not None
        assert booking.status == "cancelled"
        if isinstance(moved, ChangeRefused):
            assert (booking.slot_start, booking.ics_sequence) == (original, 1)
            return "erase first"
        assert isinstance(moved, Booking), moved
        # The move came first; the erasure then cancelled the moved session.
        assert (booking.slot_start, booking.ics_sequence) == (target.replace(tzinfo=None), 2)
        return "move first"


def run_rounds(app, one_round) -> Counter:
    """Play ROUNDS rounds; return how often each side won (every round checked in full)."""
    return Counter(one_round(app) for _ in range(ROUNDS))


def test_cancel_and_move_at_once_on_sqlite(make_app):
    outcomes = run_rounds(make_app(), cancel_and_move_round)
    assert sum(outcomes.values()) == ROUNDS


def test_erase_and_move_at_once_on_sqlite(make_app):
    outcomes = run_rounds(make_app(), erase_and_move_round)
    assert sum(outcomes.values()) == ROUNDS


@pytest.mark.postgres
def test_cancel_and_move_at_once_on_postgresql(pg_app):
    outcomes = run_rounds(pg_app(), cancel_and_move_round)
    assert sum(outcomes.values()) == ROUNDS


@pytest.mark.postgres
def test_erase_and_move_at_once_on_postgresql(pg_app):
    outcomes = run_rounds(pg_app(), erase_and_move_round)
    assert sum(outcomes.values()) == ROUNDS


# --- the same stale read, step by step -----------------------------------------------------


def change_elsewhere(app, booking_id: int, change) -> None:
    """Apply `change` to the booking from another app context (another session)."""
    with app.app_context():
        change(db.session.get(Booking, booking_id))
        db.session.remove()


def test_a_cancel_from_before_a_move_is_refused_and_sends_nothing(ctx):  # noqa: F811
    booking = book(NOW)
    target = move_choices(booking, current_app.extensions["availability"], NOW)[-1].start
    booking.ics_sequence  # noqa: B018 - the page read the booking before the move
    change_elsewhere(ctx, booking.id, lambda other: move_booking(other, target, NOW))

    with pytest.raises(ChangeConflict) as info:
        cancel_booking(booking, NOW)

    assert "changed" in info.value.reason
    db.session.expire_all()
    stored = db.session.get(Booking, booking.id)
    assert (stored.status, stored.slot_start, stored.ics_sequence) == (
        "confirmed",
        target.replace(tzinfo=None),
        1,
    )
    assert queued("prospect_cancellation") == []


def test_a_move_from_before_another_move_is_refused(ctx):  # noqa: F811
    booking = book(NOW)
    choices = move_choices(booking, current_app.extensions["availability"], NOW)
    first, second = choices[-1].start, choices[-2].start
    booking.ics_sequence  # noqa: B018
    change_elsewhere(ctx, booking.id, lambda other: move_booking(other, first, NOW))

    with pytest.raises(ChangeConflict):
        move_booking(booking, second, NOW)

    db.session.expire_all()
    stored = db.session.get(Booking, booking.id)
    assert (stored.slot_start, stored.move_count, stored.ics_sequence) == (
        first.replace(tzinfo=None),
        1,
        1,
    )


def test_a_move_from_before_a_cancel_is_refused(ctx):  # noqa: F811
    booking = book(NOW)
    target = move_choices(booking, current_app.extensions["availability"], NOW)[-1].start
    booking.ics_sequence  # noqa: B018
    change_elsewhere(ctx, booking.id, lambda other: cancel_booking(other, NOW))

    with pytest.raises(ChangeRefused):
        move_booking(booking, target, NOW)

    assert queued("prospect_moved") == []


def test_an_erasure_from_before_a_move_cancels_the_new_time(ctx):  # noqa: F811
    # Deleting one's data is a right, not a change of plan: a stale page still erases, and
    # the cancellation names the session as it is now.
    booking = book(NOW)
    target = move_choices(booking, current_app.extensions["availability"], NOW)[-1].start
    booking.ics_sequence  # noqa: B018
    change_elsewhere(ctx, booking.id, lambda other: move_booking(other, target, NOW))

    assert anonymise_booking(booking, NOW) is True

    db.session.expire_all()
    stored = db.session.get(Booking, booking.id)
    assert_consistent(stored)
    assert (stored.status, stored.ics_sequence) == ("cancelled", 2)
    assert prospect_invites(stored.id)[-1] == ("CANCEL", 2, target.replace(tzinfo=None))
