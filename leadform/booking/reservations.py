"""Reserving an assessment slot: the one place that decides whether a booking is made.

Plain functions over the database session; views call them, tests call them without HTTP.
"""

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from sqlalchemy import Select, bindparam, literal_column, select, text, update
from sqlalchemy.exc import IntegrityError

from leadform.booking import emails, guard, hosting
from leadform.booking.slots import (
    Availability,
    Slot,
    available_slots,
    bookable_slot,
    check_free,
    check_span,
)
from leadform.db import db
from leadform.messages import webhooks
from leadform.models import Booking, BookingEvent

ACTIVE = "confirmed"
# A booking made during a surge waits in HELD for its prospect's confirmation, then becomes
# ACTIVE, or EXPIRED once its hold ends. Both ACTIVE and HELD keep the time from others.
HELD = guard.HELD
EXPIRED = "expired"
BUSY_STATUSES = (ACTIVE, HELD)
# How far back a confirmed booking can still matter: today's cap counts the whole host day.
RELEVANT_PAST = timedelta(days=2)
# Longer than any booking: a session fits inside one day's opening window (slots.py checks
# that), so a booking overlapping a span started less than this before the span does.
LONGEST_BOOKING = timedelta(days=1)
# Any constant works; it only has to be the same for every process reserving slots.
RESERVATION_LOCK_KEY = 7_205_431_990
SLOT_TAKEN_MESSAGE = "That time was just taken — please choose another."
# Where a booking came from, recorded on its "created" event.
SOURCE_FORM = "booking form"


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
    # The readiness check the prospect came from, when they booked from its result.
    readiness_check_id: int | None = None
    # How they want to meet: a key of site.toml's [session.formats], when the site has them.
    session_format: str | None = None


def active_bookings(
    now: datetime,
    excluding: int | None = None,
    span: tuple[datetime, datetime] | None = None,
) -> list[tuple[datetime, datetime]]:
    """Return (start, end) in naive UTC of the confirmed bookings that can still matter at `now`.

    Sessions that ended more than two days ago can neither overlap a free slot nor count
    towards today's cap, and reading every booking ever made would slow every page.
    `excluding` leaves one booking out (the one being moved). `span` (aware or naive UTC,
    see slots.check_span) keeps only the bookings overlapping it: checking one slot then
    reads a few rows through the slot index, however full the calendar.
    """
    params = {"since": _as_stored(now) - RELEVANT_PAST, "excluding": excluding}
    if span is not None:
        span_start, span_end = _as_stored(span[0]), _as_stored(span[1])
        params.update(
            earliest_start=span_start - LONGEST_BOOKING, span_start=span_start, span_end=span_end
        )
    query = _active_query(span is not None, excluding is not None)
    return [(start, end) for start, end in db.session.execute(query, params)]


def active_bookings_outside_transaction(now: datetime) -> list[tuple[datetime, datetime]]:
    """Return `active_bookings(now)` read in autocommit mode, for a page that only reads.

    One statement needs no transaction: on PostgreSQL that saves the BEGIN and ROLLBACK
    round trips, a fifth of a cached booking page's CPU.
    """
    params = {"since": _as_stored(now) - RELEVANT_PAST, "excluding": None}
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        rows = connection.execute(_active_query(False, False), params)
        return [(start, end) for start, end in rows]


@cache
def _active_query(within_span: bool, excluding: bool) -> Select:
    """Return the statement `active_bookings` runs for one shape of its arguments.

    Cached, because composing the statement costs more than running it on a few rows.
    """
    # Literals, not parameters, so that PostgreSQL can use the partial slot index
    # (WHERE status IN ('confirmed', 'held')) even in the generic plan of a prepared statement.
    busy = [literal_column(f"'{status}'") for status in BUSY_STATUSES]
    query = select(Booking.slot_start, Booking.slot_end).where(
        Booking.status.in_(busy), Booking.slot_end > bindparam("since")
    )
    if within_span:
        query = query.where(
            Booking.slot_start > bindparam("earliest_start"),
            Booking.slot_start < bindparam("span_end"),
            Booking.slot_end > bindparam("span_start"),
        )
    if excluding:
        query = query.where(Booking.id != bindparam("excluding"))
    return query


def free_slots(availability: Availability, now: datetime) -> list[Slot]:
    """Return the slots a prospect may book at `now` (the hosts' synced calendars too)."""
    return hosting.staffed(available_slots(availability, now, active_bookings(now)), now)


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
    request: BookingRequest,
    *,
    availability: Availability,
    privacy_version: str,
    now: datetime,
    source: str = SOURCE_FORM,
    surge: guard.SurgePolicy | None = None,
) -> Booking:
    """Book `request.slot_start` atomically with its emails; raise SlotUnavailable or SlotTaken.

    What does not depend on other bookings (whether the time is offered at all, the rendered
    emails and invite) is prepared before the reservation lock, so the lock is held only to
    read the nearby bookings, check against them and store. `source` says where the booking
    came from (the booking form, the desk, an import); its history starts with it. With a
    `surge` policy, a booking made during a surge is only held until its prospect confirms
    it (guard.SurgeFull when too many already wait).
    """
    # Not offered, too soon or too far does not depend on other bookings: no lock needed.
    slot = bookable_slot(availability, request.slot_start, now)
    # Neither does an event in a host's calendar: read them now, outside the lock.
    busy = hosting.live_busy(slot, now)
    booking = _new_booking(request, slot, privacy_version, now)
    hosts = _hosts(slot, busy, now)
    hosting.record(booking, hosts)
    messages = emails.booking_emails(booking)
    nearby = check_span(availability, slot)
    with reservation():
        release_expired_holds(now)
        check_free(availability, slot, active_bookings(now, span=nearby))
        # Another booking may have changed the hosts' load (or sessions) meanwhile.
        if (settled := _hosts(slot, busy, now)) != hosts:
            hosting.record(booking, settled)
            messages = emails.booking_emails(booking)
        surging = surge is not None and guard.must_hold(surge, _naive_utc(now))
        db.session.add(booking)
        db.session.add(_created_event(booking, now, source))
        if surging:
            _hold(booking, surge, surging, now)
        else:
            _store_new_booking(booking, messages, now)
    return booking


def _hosts(slot: Slot, busy, now: datetime) -> tuple[str, ...]:
    """Return the hosts who take `slot` (hosting.choose); SlotTaken when nobody can."""
    try:
        return hosting.choose(slot, busy, now, BUSY_STATUSES)
    except hosting.NoHostFree:
        raise SlotTaken(SLOT_TAKEN_MESSAGE) from None


def _store_new_booking(booking: Booking, messages, now: datetime) -> None:
    """Queue a confirmed booking's emails, webhook and calendar writes, in the transaction."""
    for kind, message in messages:
        emails.queue_email(message, kind=kind, booking=booking)
    # The webhook payload needs the stored row's id and defaults.
    db.session.flush()
    webhooks.queue_booking_event(booking, "booking.created", now=now)
    hosting.write_booking(booking)


def _hold(booking: Booking, policy: guard.SurgePolicy, state: guard.SurgeState, now) -> None:
    """Keep the time for the prospect until they confirm from the email; tell the team once."""
    booking.status = HELD
    booking.hold_until = _naive_utc(now) + timedelta(minutes=policy.hold_minutes)
    db.session.flush()
    emails.queue_hold_request(booking, policy.hold_minutes)
    if guard.surge_notice_due(_naive_utc(now), policy.notice_hours):
        emails.queue_surge_notice(state, policy)


def release_expired_holds(now: datetime) -> int:
    """Free the times of held bookings whose hold has ended; return how many."""
    result = db.session.execute(
        update(Booking)
        .where(Booking.status == HELD, Booking.hold_until <= _naive_utc(now))
        .values(status=EXPIRED)
    )
    return result.rowcount


class HoldEnded(Exception):
    """The held booking was confirmed already, or its hold ended and its time was freed."""


def confirm_hold(booking: Booking, now: datetime) -> None:
    """Turn a held booking into a confirmed one and send what a new booking sends.

    Raises HoldEnded when it is not held any more (already confirmed, or expired).
    """
    with reservation():
        result = db.session.execute(
            update(Booking)
            .where(
                Booking.id == booking.id,
                Booking.status == HELD,
                Booking.hold_until > _naive_utc(now),
            )
            .values(status=ACTIVE, hold_until=None)
        )
        if result.rowcount != 1:
            raise HoldEnded("This booking is no longer waiting for confirmation.")
        db.session.refresh(booking)
        _store_new_booking(booking, emails.booking_emails(booking), now)


def _created_event(booking: Booking, now: datetime, source: str) -> BookingEvent:
    """The first line of a booking's history: created, when, for which slot, from where."""
    return BookingEvent(
        booking=booking,
        kind="created",
        slot_start=booking.slot_start,
        actor="prospect" if source == SOURCE_FORM else source,
        source=source,
        at=_naive_utc(now),
    )


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


def _as_stored(moment: datetime) -> datetime:
    """Return `moment` in the database's form, naive UTC; a naive value is UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
