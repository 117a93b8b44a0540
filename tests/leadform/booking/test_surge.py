"""The surge guard: past a number of bookings an hour, new ones are held until confirmed."""

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from leadform.booking import guard
from leadform.booking.reservations import (
    HoldEnded,
    active_bookings,
    confirm_hold,
    release_expired_holds,
    reserve_slot,
)
from leadform.booking.slots import available_slots
from leadform.db import db
from leadform.messages.senders import EmailMessage
from leadform.models import Booking, OutboxMessage
from tests.leadform.booking.test_booking import booking_request

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
POLICY = guard.SurgePolicy(per_hour=2, hold_minutes=30, max_holds=2, notice_hours=6)


def free(app, now=NOW):
    """The free slots, the first of each day (the daily cap then never gets in the way)."""
    with app.app_context():
        slots = available_slots(app.extensions["availability"], now, active_bookings(now))
    firsts, days = [], set()
    for slot in slots:
        if slot.start.date() not in days:
            days.add(slot.start.date())
            firsts.append(slot)
    return firsts


def reserve(app, slot, now=NOW, policy=POLICY, email="ann@example.com"):
    return reserve_slot(
        booking_request(slot.start, email=email),
        availability=app.extensions["availability"],
        privacy_version="2026-11-01",
        now=now,
        surge=policy,
    )


def kinds(app) -> list[str]:
    with app.app_context():
        return [row.kind for row in db.session.scalars(select(OutboxMessage).order_by("id"))]


def book_three(app):
    """Two ordinary bookings, then a third during the surge; return the third."""
    slots = free(app)
    with app.app_context():
        reserve(app, slots[0], email="a@example.com")
        reserve(app, slots[1], email="b@example.com")
        held = reserve(app, slots[2], email="c@example.com")
        return held.id, slots[2]


def test_below_the_threshold_bookings_are_confirmed_at_once(app):
    slots = free(app)
    with app.app_context():
        booking = reserve(app, slots[0])

        assert (booking.status, booking.hold_until) == ("confirmed", None)
    assert kinds(app) == ["prospect_confirmation", "team_notification"]


def test_in_a_surge_a_booking_is_held_and_asked_to_confirm(app):
    held_id, slot = book_three(app)

    with app.app_context():
        held = db.session.get(Booking, held_id)
        assert held.status == "held"
        assert held.hold_until == NOW.replace(tzinfo=None) + timedelta(minutes=30)
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.booking_id == held_id))
        (request,) = [EmailMessage.from_dict(row.payload) for row in rows]
    assert "Please confirm" in request.subject
    assert not request.attachments  # no invite until confirmed
    assert "/book/hold/" in request.text
    assert "Acme" not in request.text and "COO" not in request.text
    assert slot.start not in [s.start for s in free(app)]  # the time is held for them
    assert kinds(app).count(guard.SURGE_NOTICE_KIND) == 1


def test_the_team_hears_once_per_surge(app):
    slots = free(app)
    with app.app_context():
        for index, slot in enumerate(slots[:3]):
            reserve(app, slot, email=f"p{index}@example.com")
        confirm_hold(db.session.scalars(select(Booking).where(Booking.status == "held")).one(), NOW)
        reserve(app, slots[3], email="late@example.com")

    assert kinds(app).count(guard.SURGE_NOTICE_KIND) == 1


def test_confirming_a_hold_sends_what_a_booking_sends(app):
    held_id, _ = book_three(app)
    with app.app_context():
        held = db.session.get(Booking, held_id)
        confirm_hold(held, NOW + timedelta(minutes=5))

        assert (held.status, held.hold_until) == ("confirmed", None)
        sent = [row.kind for row in held.messages]
        assert sent == ["prospect_hold", "prospect_confirmation", "team_notification"]
        with pytest.raises(HoldEnded):
            confirm_hold(held, NOW + timedelta(minutes=6))


def test_an_unconfirmed_hold_expires_and_frees_its_time(app):
    held_id, slot = book_three(app)
    later = NOW + timedelta(minutes=31)
    with app.app_context():
        held = db.session.get(Booking, held_id)
        with pytest.raises(HoldEnded):
            confirm_hold(held, later)
        assert release_expired_holds(later) == 1
        db.session.commit()
        assert db.session.get(Booking, held_id).status == "expired"
    with app.app_context():
        assert slot in available_slots(
            app.extensions["availability"], later, active_bookings(later)
        )


def test_an_expired_hold_does_not_block_a_new_booking_of_its_time(app):
    held_id, slot = book_three(app)
    later = NOW + timedelta(minutes=31)
    with app.app_context():
        booking = reserve(app, slot, now=later, policy=None, email="next@example.com")

        assert booking.status == "confirmed"
        assert db.session.get(Booking, held_id).status == "expired"


def test_no_more_than_max_holds_wait_at_once(app):
    slots = free(app)
    with app.app_context():
        for index, slot in enumerate(slots[:4]):
            reserve(app, slot, email=f"p{index}@example.com")  # 2 booked, 2 held

        with pytest.raises(guard.SurgeFull):
            reserve(app, slots[4], email="more@example.com")
        assert db.session.scalar(select(db.func.count()).select_from(Booking)) == 4


def test_a_threshold_of_zero_turns_the_guard_off(app):
    off = guard.SurgePolicy(per_hour=0, hold_minutes=30, max_holds=0, notice_hours=6)
    slots = free(app)
    with app.app_context():
        statuses = [
            reserve(app, s, policy=off, email=f"p{i}@example.com").status
            for i, s in enumerate(slots[:4])
        ]

    assert statuses == ["confirmed"] * 4


def test_a_hold_link_names_its_booking_and_cannot_be_forged(app):
    held_id, _ = book_three(app)
    with app.app_context():
        held = db.session.get(Booking, held_id)
        token = guard.hold_token(held, app.config["SECRET_KEY"])

        assert guard.held_booking(token, app.config["SECRET_KEY"]).id == held_id
        assert guard.held_booking(token, "another-key") is None
        assert guard.held_booking(token[:-2] + "xx", app.config["SECRET_KEY"]) is None
        assert re.fullmatch(r"[\w.-]+", token)


def test_the_hold_page_confirms_only_on_its_button(app):
    now = datetime.now(UTC)  # the page reads the real clock to see whether the hold is on
    slots = free(app, now)
    with app.app_context():
        for index, slot in enumerate(slots[:3]):
            held_id = reserve(app, slot, now=now, email=f"p{index}@example.com").id
        token = guard.hold_token(db.session.get(Booking, held_id), app.config["SECRET_KEY"])
    client = app.test_client()

    shown = client.get(f"/book/hold/{token}")
    with app.app_context():
        assert db.session.get(Booking, held_id).status == "held"  # a link scanner changes nothing
    csrf = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', shown.text).group(1)
    pressed = client.post(f"/book/hold/{token}", data={"csrf_token": csrf})

    assert shown.status_code == 200 and "Confirm my booking" in shown.text
    assert pressed.status_code == 200 and "is confirmed" in pressed.text
    with app.app_context():
        assert db.session.get(Booking, held_id).status == "confirmed"
    assert client.get("/book/hold/forged").status_code == 404
