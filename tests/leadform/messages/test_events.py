"""SendGrid's Event Webhook on the real app: signed batches move states, flag bookings, tell
the team once and fill the suppression list; unsigned, forged and stale batches change nothing.
"""

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from leadform.booking.bounces import NOTICE_KIND
from leadform.config import ConfigError
from leadform.db import db
from leadform.messages.delivery import history
from leadform.messages.events import SIGNATURE_HEADER, TIMESTAMP_HEADER
from leadform.messages.models import DeliveryEvent, SuppressedAddress
from leadform.messages.suppressions import may_send
from leadform.models import Booking, OutboxMessage
from tests.leadform.after_booking import book, email, queued
from tests.leadform.messages.signed_events import SigningKey, post_events, sendgrid_event

TYPO_ADDRESS = "ada.lovelace@gmial.com"


@pytest.fixture
def key():
    """The key pair SendGrid would sign with; the app is configured with its public half."""
    return SigningKey()


@pytest.fixture
def ctx(make_app, key):
    """The app (Event Webhook key configured), inside an app context for the test."""
    app = make_app(SENDGRID_EVENT_PUBLIC_KEY=key.public_key)
    with app.app_context():
        yield app


@pytest.fixture
def client(ctx):
    """A test client of the app."""
    return ctx.test_client()


def confirmation(booking: Booking) -> OutboxMessage:
    """The booking's prospect confirmation in the outbox."""
    return next(m for m in queued("prospect_confirmation") if m.booking_id == booking.id)


def fresh(row):
    """Reload `row` after the request changed the database behind the test's session."""
    db.session.expire_all()
    return db.session.get(type(row), row.id)


def snapshot() -> tuple:
    """Everything an event batch can change, in comparable form."""
    db.session.expire_all()
    states = db.session.execute(
        select(OutboxMessage.id, OutboxMessage.delivery_state, OutboxMessage.delivery_state_at)
    ).all()
    flags = db.session.execute(select(Booking.id, Booking.email_undeliverable_at)).all()
    suppressed = db.session.execute(select(SuppressedAddress.address_hash, SuppressedAddress.scope))
    events = db.session.scalar(select(func.count(DeliveryEvent.id)))
    return sorted(states), sorted(flags), sorted(suppressed.all()), events


def test_delivered_moves_the_state_and_keeps_the_history(ctx, client, key):
    message = confirmation(book())
    now = int(time.time())
    batch = [
        sendgrid_event("processed", message, now - 5),
        sendgrid_event("delivered", message, now),
    ]

    response = post_events(client, key, batch)

    assert response.status_code == 200
    assert response.get_json()["recorded"] == 2
    row = fresh(message)
    assert row.delivery_state == "delivered"
    assert row.delivery_state_at == datetime.fromtimestamp(now, UTC).replace(tzinfo=None)
    assert [event.state for event in history(message.id)] == ["processed", "delivered"]


def test_deferred_then_delivered_ends_delivered_in_either_order(ctx, client, key):
    first, second = confirmation(book(index=0)), confirmation(book(index=1))
    now = int(time.time())

    post_events(client, key, [sendgrid_event("deferred", first, now - 60)])
    post_events(client, key, [sendgrid_event("delivered", first, now)])
    # The late copy of an earlier deferral must not undo the delivery.
    post_events(client, key, [sendgrid_event("delivered", second, now)])
    post_events(client, key, [sendgrid_event("deferred", second, now - 60)])

    assert fresh(first).delivery_state == "delivered"
    assert fresh(second).delivery_state == "delivered"
    assert [e.state for e in history(first.id)] == ["deferred", "delivered"]


def test_a_bounced_confirmation_flags_the_booking_and_tells_the_team_once(ctx, client, key):
    booking = book(email=TYPO_ADDRESS)
    message = confirmation(booking)
    bounce = sendgrid_event(
        "bounce", message, type="bounce", status="5.1.1", reason="550 5.1.1 no such user"
    )

    assert post_events(client, key, [bounce]).status_code == 200
    post_events(client, key, [sendgrid_event("dropped", message, reason="Bounced Address")])

    assert fresh(message).delivery_state in ("bounced", "dropped")
    assert fresh(booking).email_undeliverable_at is not None
    (notice,) = queued(NOTICE_KIND)
    sent = email(notice)
    assert sent.to == ctx.config["TEAM_EMAIL"]
    assert sent.reply_to is None
    assert "ada.lovelace@gmail.com" in sent.text  # the likely correction
    assert booking.company in sent.text and booking.public_id in sent.text
    assert not may_send(TYPO_ADDRESS, transactional=True)


def test_a_dropped_confirmation_flags_the_booking(ctx, client, key):
    booking = book()
    message = confirmation(booking)

    post_events(client, key, [sendgrid_event("dropped", message, reason="Invalid")])

    assert fresh(message).delivery_state == "dropped"
    assert fresh(booking).email_undeliverable_at is not None
    assert len(queued(NOTICE_KIND)) == 1


def test_a_bounced_team_notice_flags_nothing(ctx, client, key):
    booking = book()
    (team_notice,) = [m for m in queued("team_notification") if m.booking_id == booking.id]

    post_events(client, key, [sendgrid_event("bounce", team_notice, type="bounce")])

    assert fresh(team_notice).delivery_state == "bounced"
    assert fresh(booking).email_undeliverable_at is None
    assert queued(NOTICE_KIND) == []


def test_a_spam_report_stops_newsletters_but_not_the_booking_emails(ctx, client, key):
    booking = book()
    message = confirmation(booking)

    post_events(client, key, [sendgrid_event("spamreport", message)])

    assert fresh(message).delivery_state == "spam_report"
    assert not may_send(booking.email, transactional=False)
    assert may_send(booking.email, transactional=True)
    assert fresh(booking).email_undeliverable_at is None


def test_an_unsubscribe_stops_newsletters_only(ctx, client, key):
    booking = book()

    post_events(client, key, [sendgrid_event("unsubscribe", confirmation(booking))])

    assert not may_send(booking.email, transactional=False)
    assert may_send(booking.email, transactional=True)


def test_a_blocked_bounce_flags_the_booking_but_does_not_suppress(ctx, client, key):
    booking = book()
    blocked = sendgrid_event("bounce", confirmation(booking), type="blocked", reason="554 policy")

    post_events(client, key, [blocked])

    assert fresh(booking).email_undeliverable_at is not None
    assert may_send(booking.email, transactional=True)


def test_a_duplicate_changes_nothing(ctx, client, key):
    booking = book()
    message = confirmation(booking)
    batch = [sendgrid_event("delivered", message), sendgrid_event("bounce", message)]
    post_events(client, key, batch)
    before = snapshot()

    response = post_events(client, key, batch)

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "recorded": 0, "duplicates": 2}
    assert snapshot() == before
    assert len(queued(NOTICE_KIND)) == 1


def test_a_duplicate_inside_one_batch_is_recorded_once(ctx, client, key):
    event = sendgrid_event("delivered", confirmation(book()))

    response = post_events(client, key, [event, dict(event)])

    assert response.get_json()["recorded"] == 1
    assert snapshot()[3] == 1


def test_an_event_for_someone_else_moves_no_message(ctx, client, key):
    message = confirmation(book())
    stranger = sendgrid_event("bounce", message, email="someone.else@example.org")

    post_events(client, key, [stranger])

    assert fresh(message).delivery_state is None
    (row,) = db.session.scalars(select(DeliveryEvent)).all()
    assert row.message_id is None


def test_a_forged_batch_is_refused_and_changes_nothing(ctx, client, key):
    message = confirmation(book())
    before = snapshot()
    batch = [sendgrid_event("bounce", message)]

    forged = post_events(client, SigningKey(), batch)  # signed with a key that is not SendGrid's
    tampered = post_events(
        client, key, batch, body=b'[{"event": "spamreport", "sg_event_id": "x", "email": "a@b.c"}]'
    )

    assert (forged.status_code, tampered.status_code) == (403, 403)
    assert snapshot() == before


def test_an_unsigned_batch_is_refused(ctx, client):
    message = confirmation(book())
    before = snapshot()

    response = client.post("/email/events", json=[sendgrid_event("bounce", message)])

    assert response.status_code == 403
    assert snapshot() == before


@pytest.mark.parametrize("age", [3600, -3600])
def test_a_stale_or_future_batch_is_refused_and_changes_nothing(ctx, client, key, age):
    message = confirmation(book())
    before = snapshot()
    stamp = int(time.time()) - age

    response = post_events(client, key, [sendgrid_event("bounce", message)], timestamp=stamp)

    assert response.status_code == 403
    assert snapshot() == before


def test_without_a_configured_key_every_batch_is_refused(make_app, key):
    app = make_app()
    with app.app_context():
        message = confirmation(book())
        response = post_events(app.test_client(), key, [sendgrid_event("bounce", message)])

        assert response.status_code == 403
        assert fresh(message).delivery_state is None


def test_a_signed_body_that_is_not_a_list_is_a_bad_request(ctx, client, key):
    response = post_events(client, key, {"event": "bounce"})  # one object, not a list

    assert response.status_code == 400


def test_a_malformed_public_key_stops_start_up(make_app):
    with pytest.raises(ConfigError, match="SENDGRID_EVENT_PUBLIC_KEY"):
        make_app(SENDGRID_EVENT_PUBLIC_KEY="not-a-key")


@pytest.mark.parametrize("signature", ["abc", "!!!!", "AAAA", "QUJD"])
def test_a_garbage_signature_is_refused(ctx, client, signature):
    events = [sendgrid_event("bounce", confirmation(book()))]
    headers = {SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: str(int(time.time()))}

    response = client.post("/email/events", json=events, headers=headers)

    assert response.status_code == 403
