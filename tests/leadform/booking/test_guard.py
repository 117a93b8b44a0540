"""The flood guards' parts: the single-use form start, networks, surges."""

from datetime import datetime, timedelta

import pytest

from leadform.booking import guard
from leadform.booking.guard import FormStartRefused
from leadform.db import db
from leadform.models import Booking

SECRET = "test-secret-key"
NOW = 1_800_000_000.0


def read(value, session, now=NOW + 10, min_seconds=3, max_age=7200):
    return guard.read_form_start(
        value, session, SECRET, now, min_seconds=min_seconds, max_age_seconds=max_age
    )


def test_a_start_value_belongs_to_its_session():
    session = {}
    value = guard.issue_form_start(session, SECRET, NOW)

    assert read(value, session) in session[guard.SESSION_KEY]
    with pytest.raises(FormStartRefused, match="another session"):
        read(value, {})


@pytest.mark.parametrize(
    ("now", "reason"),
    [(NOW + 1, "too fast"), (NOW + 7201, "too old")],
)
def test_a_start_value_has_a_time_window(now, reason):
    session = {}
    value = guard.issue_form_start(session, SECRET, NOW)

    with pytest.raises(FormStartRefused, match=reason):
        read(value, session, now=now)


@pytest.mark.parametrize("value", [None, "", "forged", "e30.abc"])
def test_forged_start_values_are_refused(value):
    with pytest.raises(FormStartRefused):
        read(value, {guard.SESSION_KEY: ["x"]})


def test_another_secret_cannot_sign_a_start_value():
    session = {}
    value = guard.issue_form_start(session, "another-secret", NOW)

    with pytest.raises(FormStartRefused, match="forged"):
        read(value, session)


def test_a_session_keeps_only_the_last_few_start_values():
    session = {}
    values = [guard.issue_form_start(session, SECRET, NOW) for _ in range(8)]

    assert len(session[guard.SESSION_KEY]) == guard.MAX_OPEN_STARTS
    read(values[-1], session)
    with pytest.raises(FormStartRefused):
        read(values[0], session)


def test_a_start_value_is_spent_once(app):
    session = {}
    value = guard.issue_form_start(session, SECRET, NOW)
    nonce = read(value, session)
    at = datetime(2027, 1, 15, 9, 0)
    with app.app_context():
        guard.spend_form_start(nonce, session, at)

        with pytest.raises(FormStartRefused, match="already used"):
            guard.spend_form_start(nonce, {guard.SESSION_KEY: [nonce]}, at)
        assert nonce not in session[guard.SESSION_KEY]
        assert guard.forget_spent_starts(at + timedelta(seconds=1)) == 1


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("203.0.113.77", "203.0.113.0/24"),
        ("203.0.113.1", "203.0.113.0/24"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.9", "203.0.113.0/24"),
        ("not an address", "unknown"),
        (None, "unknown"),
    ],
)
def test_networks(address, network):
    assert guard.network_of(address) == network


def add_booking(created_at, status="confirmed", hold_until=None, minute=0):
    db.session.add(
        Booking(
            public_id=f"b{created_at:%H%M%S}{minute}{status}",
            status=status,
            slot_start=datetime(2027, 2, 1, 9, minute),
            slot_end=datetime(2027, 2, 1, 10, minute),
            timezone="Europe/London",
            name="A",
            email="a@example.com",
            company="C",
            role="R",
            company_size="1-49",
            goals="g" * 20,
            consent_at=created_at,
            privacy_version="1",
            hold_until=hold_until,
            created_at=created_at,
        )
    )
    db.session.commit()


def test_a_surge_counts_the_last_hours_bookings(app):
    now = datetime(2027, 1, 15, 12, 0)
    with app.app_context():
        add_booking(now - timedelta(minutes=61), minute=1)
        add_booking(now - timedelta(minutes=59), minute=2)
        add_booking(now - timedelta(minutes=1), status="cancelled", minute=3)

        assert guard.surge_state(now, threshold=2) == guard.SurgeState(recent=2, threshold=2)
        assert guard.surge_state(now, threshold=2).active
        assert not guard.surge_state(now, threshold=3).active
        assert not guard.surge_state(now, threshold=0).active


def test_held_bookings_count_until_their_hold_ends(app):
    now = datetime(2027, 1, 15, 12, 0)
    with app.app_context():
        add_booking(now, status="held", hold_until=now + timedelta(minutes=5), minute=1)
        add_booking(now, status="held", hold_until=now - timedelta(minutes=5), minute=2)

        assert guard.held_count(now) == 1
