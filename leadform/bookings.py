"""Reserving an assessment slot: the one place that decides whether a booking is made.

Plain functions over the database session; views call them, tests call them without HTTP.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from leadform import emails, webhooks
from leadform.db import db
from leadform.models import Booking
from leadform.slots import Availability, Slot, available_slots, check_slot

ACTIVE = "confirmed"
# How far back a confirmed booking can still matter: today's cap counts the whole host day.
RELEVANT_PAST = timedelta(days=2)
# Any constant works; it only has to be the same for every process reserving slots.
RESERVATION_LOCK_KEY = 7_205_431_990
SLOT_TAKEN_MESSAGE = "That time was just taken — please choose another."


class SlotTaken(Exception):
    """Another booking got the slot first (the database's unique index said so)."""


@dataclass(frozen=True)
class BookingRequest:
    """What a prospect submitted, already validated and cleaned by the form."""

    name: str
    email: str
    company: str
    role: str
    company_size: str
    goals: str
    timezone: str
    slot_start: datetime  # aware UTC
    source_article: str | None = None
    utm_source: str | None = None
    utm_medium: str | None = None
    utm_campaign: str | None = None
    utm_term: str | None = None
    utm_content: str | None = None
    referrer: str | None = None


def active_bookings(now: datetime, excluding: int | None = None) -> list[tuple[datetime, datetime]]:
    """Return (start, end) in naive UTC of the confirmed bookings that can still matter at `now`.

    Sessions that ended more than two days ago can neither overlap a free slot nor count
    towards today's cap, and reading every booking ever made would slow every page.
    `excluding` leaves one booking out (the one being moved).
    """
    naive_now = now.astimezone(UTC).replace(tzinfo=None) if now.tzinfo else now
    since = naive_now - RELEVANT_PAST
    query = select(Booking.slot_start, Booking.slot_end).where(
        Booking.status == ACTIVE, Booking.slot_end > since
    )
    if excluding is not None:
        query = query.where(Booking.id != excluding)
    return [(start, end) for start, end in db.session.execute(query)]


def free_slots(availability: Availability, now: datetime) -> list[Slot]:
    """Return the slots a prospect may book at `now`."""
    return available_slots(availability, now, active_bookings(now))


def lock_reservations() -> None:
    """Start a transaction that no other reservation can run alongside, on either database."""
    # A read earlier in the request may have opened a transaction; start afresh.
    db.session.rollback()
    connection = db.session.connection()
    if connection.dialect.name == "sqlite":
        # The driver would only BEGIN (deferred) at the first write, too late to keep two
        # read-check-insert runs apart; IMMEDIATE takes the write lock before the read.
        # Only here: elsewhere (the outbox worker) the driver's default stays in force.
        connection.exec_driver_sql("BEGIN IMMEDIATE")
    elif connection.dialect.name == "postgresql":
        lock = text("SELECT pg_advisory_xact_lock(:key)")
        db.session.execute(lock, {"key": RESERVATION_LOCK_KEY})


@contextmanager
def reservation() -> Iterator[None]:
    """Run the body under the reservation lock as one transaction, committed at the end.

    A clash caught by the partial unique index (the backstop behind the lock) becomes
    SlotTaken; whatever else fails (slot gone, an email refused), nothing of it remains.
    """
    try:
        lock_reservations()
        yield
        db.session.commit()
    except IntegrityError as exc:
        db.session.rollback()
        raise SlotTaken(SLOT_TAKEN_MESSAGE) from exc
    except BaseException:
        db.session.rollback()
        raise


def reserve_slot(
    request: BookingRequest, *, availability: Availability, privacy_version: str, now: datetime
) -> Booking:
    """Book `request.slot_start` atomically with its emails; raise SlotUnavailable or SlotTaken."""
    with reservation():
        slot = check_slot(availability, request.slot_start, now, active_bookings(now))
        booking = _new_booking(request, slot, privacy_version, now)
        db.session.add(booking)
        db.session.flush()
        emails.queue_booking_emails(booking)
        webhooks.queue_booking_event(booking, "booking.created", now=now)
    return booking


def _new_booking(request: BookingRequest, slot: Slot, privacy_version: str, now: datetime):
    """Build the Booking row for `request` at `slot` (naive UTC times, as stored)."""
    fields = {
        name: getattr(request, name)
        for name in BookingRequest.__dataclass_fields__
        if name != "slot_start"
    }
    return Booking(
        public_id=secrets.token_urlsafe(16),
        status=ACTIVE,
        slot_start=_naive_utc(slot.start),
        slot_end=_naive_utc(slot.end),
        consent_at=_naive_utc(now),
        privacy_version=privacy_version,
        **fields,
    )


def find_booking(public_id: str) -> Booking | None:
    """Return the booking with `public_id`, or None."""
    if not public_id or len(public_id) > 32:
        return None
    return db.session.execute(
        select(Booking).where(Booking.public_id == public_id)
    ).scalar_one_or_none()


def booking_slot(booking: Booking) -> Slot:
    """Return the booking's time as an aware-UTC Slot."""
    return Slot(booking.slot_start.replace(tzinfo=UTC), booking.slot_end.replace(tzinfo=UTC))


def _naive_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
