"""Helpers for the after-booking tests: make bookings, read queued emails and invites."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from flask import current_app
from icalendar import Calendar
from sqlalchemy import select

from leadform.booking.reservations import BookingRequest, free_slots, reserve_slot
from leadform.booking.tokens import manage_token
from leadform.db import db
from leadform.messages.senders import EmailMessage
from leadform.models import Booking, OutboxMessage

GOALS = "We want a ranked shortlist of AI use cases for our claims team."
SCRIPT = "<script>alert('x')</script>"


def book(now: datetime | None = None, index: int = 0, **overrides) -> Booking:
    """Reserve the `index`-th free slot at `now` (the clock by default) through reserve_slot."""
    now = now or datetime.now(UTC)
    slot = free_slots(current_app.extensions["availability"], now)[index]
    fields = {
        "name": "Siobhán O'Brien",
        "email": "siobhan.obrien@example.com",
        "company": "Acme Insurance",
        "role": "Head of Operations",
        "company_size": "250-999",
        "goals": GOALS,
        "timezone": "Europe/London",
        "slot_start": slot.start,
        "utm_source": "newsletter",
        "referrer": "https://www.example.org/list",
    }
    return reserve_slot(
        BookingRequest(**(fields | overrides)),
        availability=current_app.extensions["availability"],
        privacy_version="2026-11-01",
        now=now,
    )


def insert_booking(start: datetime, created_at: datetime, **overrides) -> Booking:
    """Store a confirmed booking directly (any time, even inside the minimum notice)."""
    start = start.astimezone(UTC).replace(tzinfo=None)
    fields = {
        "public_id": uuid.uuid4().hex,
        "status": "confirmed",
        "slot_start": start,
        "slot_end": start + timedelta(minutes=90),
        "timezone": "America/New_York",
        "name": "Ada Example",
        "email": "ada@example.com",
        "company": "Example Ltd",
        "role": "COO",
        "company_size": "50-249",
        "goals": GOALS,
        "consent_at": created_at.replace(tzinfo=None),
        "privacy_version": "2026-11-01",
        "created_at": created_at.astimezone(UTC).replace(tzinfo=None),
    }
    booking = Booking(**(fields | overrides))
    db.session.add(booking)
    db.session.commit()
    return booking


def manage_path(booking: Booking) -> str:
    """Return the site-relative manage link of `booking`."""
    return f"/manage/{manage_token(booking)}"


def queued(kind: str | None = None) -> list[OutboxMessage]:
    """Return the outbox messages (of `kind`), oldest first."""
    query = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        query = query.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(query))


def email(message: OutboxMessage) -> EmailMessage:
    """Rebuild the email a queued message holds."""
    return EmailMessage.from_dict(message.payload)


def invite_event(message: OutboxMessage) -> tuple[str, dict]:
    """Return (METHOD, VEVENT) of the .ics attached to a queued email."""
    (attachment,) = email(message).attachments
    calendar = Calendar.from_ical(attachment.content)
    return str(calendar["METHOD"]), calendar.walk("VEVENT")[0]


@pytest.fixture
def ctx(app):
    """The app, inside an app context for the test."""
    with app.app_context():
        yield app


@pytest.fixture
def manage_client(app):
    """A test client of the app (no app context held open, so requests get their own)."""
    return app.test_client()
