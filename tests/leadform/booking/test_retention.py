"""Erasing a prospect's data on request and after the retention period; history is kept."""

import json
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from leadform import create_app
from leadform.booking.changes import (
    SCRUBBED_PAYLOAD,
    anonymise_booking,
    anonymise_expired,
    scrub_sent_messages,
)
from leadform.db import db
from leadform.messages.outbox import deliver_due
from leadform.messages.senders import make_sender
from leadform.models import Booking, BookingEvent, DeliveryAttempt, OutboxMessage
from tests.leadform.after_booking import (
    GOALS,
    book,
    ctx,  # noqa: F401 - a fixture
    email,
    insert_booking,
    queued,
)
from tests.leadform.conftest import base_config

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
LATER = datetime(2030, 1, 1)  # naive UTC: every queued message is due by then
PERSONAL = ("Siobhán", "siobhan.obrien@example.com", "Acme Insurance", "Head of Operations")
PERSONAL += (GOALS, "newsletter", "https://www.example.org/list")
RETENTION = timedelta(days=730)


def deliver(app) -> None:
    """Send every due message through the test app's file mailer."""
    deliver_due(make_sender(app.config), worker_id="test", now=LATER)


def stored_text(booking) -> str:
    """Everything stored about `booking`: its row, its messages and their delivery attempts."""
    db.session.expire_all()
    row = db.session.get(Booking, booking.id)
    parts = [str({c.name: getattr(row, c.name) for c in Booking.__table__.columns})]
    for message in queued():
        if message.booking_id == booking.id:
            parts += [json.dumps(message.payload), str(message.last_error)]
            parts += [str(attempt.error) for attempt in message.delivery_attempts]
    return "\n".join(parts)


def event_kinds(booking) -> list[str]:
    query = select(BookingEvent.kind).where(BookingEvent.booking_id == booking.id)
    return list(db.session.scalars(query.order_by(BookingEvent.id)))


def test_erasure_replaces_every_personal_field(ctx):  # noqa: F811
    booking = book(NOW)

    assert anonymise_booking(booking, NOW) is True

    assert booking.email == f"deleted-{booking.id}@invalid"
    assert booking.anonymised_at == NOW.replace(tzinfo=None)
    assert (booking.utm_source, booking.referrer) == (None, None)
    row = stored_text(booking).split("\n")[0]
    assert not [value for value in PERSONAL if value in row]


def test_upcoming_session_is_cancelled_and_told_to_the_old_address(ctx):  # noqa: F811
    booking = book(NOW)
    start = booking.slot_start

    anonymise_booking(booking, NOW)

    assert booking.status == "cancelled"
    assert email(queued("prospect_cancellation")[0]).to == "siobhan.obrien@example.com"
    assert event_kinds(booking) == ["created", "cancelled", "anonymised"]
    assert booking.slot_start == start  # the slot history stays


def test_past_session_stays_confirmed(ctx):  # noqa: F811
    booking = book(NOW)

    anonymise_booking(booking, booking.slot_end.replace(tzinfo=UTC) + timedelta(days=1))

    assert booking.status == "confirmed"
    assert queued("prospect_cancellation") == []


def test_erasing_twice_is_harmless(ctx):  # noqa: F811
    booking = book(NOW)
    anonymise_booking(booking, NOW)

    assert anonymise_booking(booking, NOW) is False
    assert event_kinds(booking) == ["created", "cancelled", "anonymised"]


def test_sent_payloads_are_scrubbed_at_once_and_queued_ones_after_sending(ctx):  # noqa: F811
    booking = book(NOW)
    deliver(ctx)  # the confirmation and team notice go out
    anonymise_booking(booking, NOW)
    sent = [m for m in queued() if m.status == "sent"]
    waiting = [m for m in queued() if m.status == "queued"]

    assert {m.kind for m in sent} == {"prospect_confirmation", "team_notification"}
    assert all(m.payload == SCRUBBED_PAYLOAD for m in sent)
    assert "siobhan.obrien@example.com" in json.dumps(waiting[0].payload)  # still to be sent

    deliver(ctx)
    assert scrub_sent_messages() == 2
    assert not [value for value in PERSONAL if value in stored_text(booking)]


def test_delivery_errors_are_scrubbed_too(ctx):  # noqa: F811
    booking = book(NOW)
    message = queued()[0]
    message.status, message.last_error = "failed", "550 no such user siobhan.obrien@example.com"
    db.session.add(DeliveryAttempt(message=message, outcome="failed", error=message.last_error))
    db.session.commit()

    anonymise_booking(booking, NOW)

    db.session.expire_all()
    failed = db.session.get(OutboxMessage, message.id)
    assert failed.payload == SCRUBBED_PAYLOAD
    assert (failed.last_error, failed.delivery_attempts[0].error) == (None, None)


def test_retention_erases_only_sessions_older_than_the_period(ctx):  # noqa: F811
    old = insert_booking(NOW - RETENTION - timedelta(days=2), created_at=NOW - timedelta(days=800))
    recent = insert_booking(NOW - RETENTION + timedelta(days=2), created_at=NOW - RETENTION)

    assert anonymise_expired(NOW, RETENTION) == 1

    db.session.expire_all()
    assert db.session.get(Booking, old.id).anonymised_at is not None
    assert db.session.get(Booking, recent.id).anonymised_at is None
    assert event_kinds(old) == ["anonymised"]


def test_retention_is_idempotent(ctx):  # noqa: F811
    insert_booking(NOW - RETENTION - timedelta(days=2), created_at=NOW - timedelta(days=800))

    assert [anonymise_expired(NOW, RETENTION) for _ in range(2)] == [1, 0]


def test_anonymise_command_prints_counts(ctx, runner):  # noqa: F811
    long_ago = datetime.now(UTC) - timedelta(days=731)
    insert_booking(long_ago, created_at=long_ago - timedelta(days=7))
    ctx.config["RETENTION_DAYS"] = 730

    first = runner.invoke(args=["bookings", "anonymise"])
    second = runner.invoke(args=["bookings", "anonymise"])

    assert first.exit_code == 0
    assert first.output.startswith("Anonymised 1 booking(s)")
    assert second.output.startswith("Anonymised 0 booking(s)")


def test_retention_period_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADFORM_RETENTION_DAYS", "365")
    app = create_app(base_config(tmp_path))

    assert app.config["RETENTION_DAYS"] == 365
