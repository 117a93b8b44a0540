"""A booking whose address bounces: flagged, no reminders, one notice to the team by SMTP.

Real parts throughout: the app on SQLite, the outbox worker's pass with the SMTP sender, an
aiosmtpd server on loopback, SendGrid's signed event batch posted to the endpoint.
"""

import asyncio
import email
import email.policy
from datetime import UTC, datetime, timedelta

import pytest
from aiosmtpd.controller import Controller

from leadform.booking.bounces import NOTICE_KIND
from leadform.booking.emails import booking_emails, queue_email
from leadform.booking.reminders import queue_due_reminders
from leadform.db import db
from leadform.messages import suppressions
from leadform.messages.outbox import deliver_due
from leadform.messages.senders import make_sender
from leadform.models import Booking
from tests.leadform.after_booking import insert_booking, queued
from tests.leadform.mail_fixtures import RecordingHandler, free_port
from tests.leadform.messages.signed_events import SigningKey, post_events, sendgrid_event

TYPO = "ada@gmial.com"
GOOD = "grace@example.com"
TEAM = "team@tessellate.example"
NOTICE_SUBJECT = "Email did not arrive"


class RefusingHandler(RecordingHandler):
    """Accepts every recipient except those in `refuse` (address -> SMTP reply)."""

    def __init__(self):
        super().__init__()
        self.refuse: dict[str, str] = {}

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Refuse the listed addresses, accept the rest."""
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"


@pytest.fixture
def smtp():
    """A real SMTP server on loopback: yields (handler, port)."""
    handler, port = RefusingHandler(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
        asyncio.set_event_loop(None)


@pytest.fixture
def key():
    """SendGrid's signing key pair (the app knows the public half)."""
    return SigningKey()


@pytest.fixture
def ctx(make_app, smtp, key):
    """The app sending by SMTP to the local server, inside an app context."""
    _handler, port = smtp
    app = make_app(
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=port,
        SMTP_TIMEOUT=5.0,
        TEAM_EMAIL=TEAM,
        SENDGRID_EVENT_PUBLIC_KEY=key.public_key,
    )
    with app.app_context():
        yield app


def booked(address: str, start: datetime) -> Booking:
    """A booking made a week ahead, with its confirmation and team notice queued."""
    booking = insert_booking(start, created_at=start - timedelta(days=7), email=address)
    for kind, message in booking_emails(booking):
        queue_email(message, kind=kind, booking=booking)
    db.session.commit()
    return booking


def deliver(app) -> None:
    """One pass of the outbox worker with the app's real sender."""
    deliver_due(make_sender(app.config), worker_id="test-worker")


def received(handler) -> list[email.message.EmailMessage]:
    """Every message the SMTP server took, parsed."""
    return [email.message_from_bytes(raw, policy=email.policy.default) for raw in handler.messages]


def reminders_for(booking: Booking) -> list[str]:
    """The kinds of reminders queued for `booking`."""
    return [m.kind for m in queued() if m.booking_id == booking.id and m.kind.startswith("rem")]


def start_in(days: int) -> datetime:
    """A session start `days` from now, on the hour."""
    return (datetime.now(UTC) + timedelta(days=days)).replace(minute=0, second=0, microsecond=0)


def test_a_bounced_address_gets_no_reminder_and_the_team_one_notice(ctx, smtp, key):
    handler, _port = smtp
    start = start_in(3)
    bounced, fine = booked(TYPO, start), booked(GOOD, start + timedelta(hours=2))
    deliver(ctx)
    confirmation = next(m for m in queued("prospect_confirmation") if m.booking_id == bounced.id)
    bounce = sendgrid_event("bounce", confirmation, type="bounce", reason="550 5.1.1 unknown")

    client = ctx.test_client()
    assert post_events(client, key, [bounce]).status_code == 200
    assert post_events(client, key, [bounce]).status_code == 200  # SendGrid's retry
    deliver(ctx)
    for moment in (start - timedelta(hours=23), start - timedelta(minutes=30)):
        queue_due_reminders(moment)
    deliver(ctx)

    db.session.expire_all()
    assert db.session.get(Booking, bounced.id).email_undeliverable_at is not None
    assert reminders_for(bounced) == []
    assert reminders_for(fine) == ["reminder_24h"]  # the pass did run
    messages = received(handler)
    assert [m["To"] for m in messages].count(TYPO) == 1  # the confirmation, nothing after it
    notices = [m for m in messages if m["Subject"].startswith(NOTICE_SUBJECT)]
    assert len(notices) == 1
    assert notices[0]["To"] == TEAM
    assert "ada@gmail.com" in notices[0].get_body(("plain",)).get_content()


def test_an_smtp_refusal_is_a_bounce_too(ctx, smtp):
    handler, _port = smtp
    handler.refuse[TYPO] = "550 5.1.1 No such user"
    booking = booked(TYPO, start_in(3))

    deliver(ctx)  # the confirmation is refused; the team's booking notice goes
    deliver(ctx)  # the bounce notice queued meanwhile goes

    db.session.expire_all()
    (confirmation,) = queued("prospect_confirmation")
    assert (confirmation.status, confirmation.delivery_state) == ("failed", "bounced")
    assert confirmation.last_error == "SMTP 550: recipient refused"
    assert db.session.get(Booking, booking.id).email_undeliverable_at is not None
    assert len(queued(NOTICE_KIND)) == 1
    subjects = [m["Subject"] for m in received(handler)]
    assert sum(subject.startswith(NOTICE_SUBJECT) for subject in subjects) == 1


def test_an_smtp_deferral_flags_nothing(ctx, smtp):
    handler, _port = smtp
    handler.refuse[TYPO] = "450 4.2.1 Mailbox busy"
    booking = booked(TYPO, start_in(3))

    deliver(ctx)

    db.session.expire_all()
    (confirmation,) = queued("prospect_confirmation")
    assert (confirmation.status, confirmation.delivery_state) == ("queued", "deferred")
    assert db.session.get(Booking, booking.id).email_undeliverable_at is None


def test_accepted_by_smtp_is_recorded(ctx, smtp):
    booked(GOOD, start_in(3))

    deliver(ctx)

    db.session.expire_all()
    assert {m.delivery_state for m in queued()} == {"accepted"}


@pytest.mark.parametrize(
    ("scope", "reminded"), [(suppressions.ALL, []), (suppressions.MARKETING, ["reminder_24h"])]
)
def test_an_address_suppressed_elsewhere_gets_reminders_only_after_a_complaint(
    ctx, scope, reminded
):
    start = start_in(3)
    booking = booked(GOOD, start)
    suppressions.suppress(GOOD, scope, "test")
    db.session.commit()

    queue_due_reminders(start - timedelta(hours=23))

    assert reminders_for(booking) == reminded
