"""After the booking: cancel, move, erase personal data, and the retention command.

Each change is one transaction: the booking row, a BookingEvent, the emails and the webhook
event are committed together or not at all. Views, the operators' desk and the CLI call
these functions; tests call them with an explicit `now`.

Changes are serialised: each runs under the reservation lock `reserve_slot` takes, and
updates the row only where its status and SEQUENCE (`ics_sequence`, the booking's version)
are still what the caller read; the database raises the SEQUENCE itself. Of two changes at
once, exactly one wins; the other is refused with ChangeConflict (or ChangeRefused when the
winner cancelled the session), so no invitation ever repeats or contradicts another.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from sqlalchemy import select, update

from leadform.booking import emails, hosting
from leadform.booking.reservations import (
    ACTIVE,
    BUSY_STATUSES,
    active_bookings,
    booking_slot,
    reservation,
)
from leadform.booking.slots import (
    Availability,
    Slot,
    SlotUnavailable,
    available_slots,
    bookable_slot,
    check_free,
    check_span,
)
from leadform.db import db
from leadform.messages import webhooks
from leadform.models import Booking, BookingEvent, OutboxMessage
from leadform.readiness import services as readiness_services

CANCELLED = "cancelled"
# What an erased booking keeps in place of each personal field.
ERASED_TEXT = "(deleted)"
ERASED_OPTIONAL = (
    "source_article",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
)
SCRUBBED_PAYLOAD = {"scrubbed": True}


class ChangeRefused(Exception):
    """The prospect may not make this change now; `reason` says why and what to do."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


class ChangeConflict(ChangeRefused):
    """Someone else changed the booking (moved it) after the caller read it; nothing was done."""


CANCELLED_REASON = "This session is cancelled, so it cannot be moved."
CONFLICT_REASON = (
    "This session was changed a moment ago, perhaps moved, so we have not changed it again. "
    "Please look at it as it is now and try once more if you still want to."
)


@dataclass(frozen=True)
class ChangeRules:
    """What the prospect's manage page offers at one moment, with the reason when not."""

    can_cancel: bool
    can_move: bool
    cancel_refusal: str | None
    move_refusal: str | None


def change_rules(booking: Booking, now: datetime, cutoff: timedelta, max_moves: int):
    """Decide whether the prospect may cancel or move `booking` at `now`.

    Inside `cutoff` before the start, changes go through the firm (the team has prepared);
    after `max_moves` moves, moving again does too. Operators are not bound by either.
    """
    firm_email = current_app.config["SITE"]["firm"]["email"]
    if booking.status != ACTIVE or booking.anonymised_at is not None:
        refusal = "This session is cancelled, so there is nothing left to change."
        return ChangeRules(False, False, refusal, refusal)
    if _naive_utc(now) > booking.slot_start - cutoff:
        hours = cutoff.total_seconds() / 3600
        refusal = (
            f"The session starts in less than {hours:g} hours, so it can no longer be changed "
            f"here. Please write to {firm_email} and we will sort it out."
        )
        return ChangeRules(False, False, refusal, refusal)
    if booking.move_count >= max_moves:
        refusal = (
            f"This session has already been moved {booking.move_count} times, the most the "
            f"booking page allows. To change it again, please write to {firm_email}."
        )
        return ChangeRules(True, False, None, refusal)
    return ChangeRules(True, True, None, None)


def move_choices(booking: Booking, availability: Availability, now: datetime) -> list[Slot]:
    """Return the free slots `booking` may move to (its own time left out)."""
    current = booking_slot(booking)
    free = available_slots(availability, now, active_bookings(now, excluding=booking.id))
    return [slot for slot in hosting.staffed(free, now) if slot != current]


def _event(booking: Booking, kind: str, now: datetime, actor: str, **times) -> BookingEvent:
    """Add a BookingEvent to the session (times and kind only, never personal data)."""
    event = BookingEvent(
        booking=booking,
        kind=kind,
        slot_start=times.get("slot_start", booking.slot_start),
        previous_slot_start=times.get("previous_slot_start"),
        actor=actor,
        at=_naive_utc(now),
    )
    db.session.add(event)
    return event


# --- Cancel --------------------------------------------------------------------------------


def cancel_booking(booking: Booking, now: datetime, actor: str = "prospect") -> bool:
    """Cancel `booking` and free its slot; return False if it was already cancelled.

    Queues the prospect's email (iCalendar CANCEL, same UID, higher SEQUENCE), the team's
    notice and the "booking.cancelled" webhook, all in the one transaction. Raises
    ChangeConflict if the booking was changed (moved) after the caller read it.
    """
    seen = booking.ics_sequence
    with reservation():  # rolls back first, so `booking` is re-read under the lock
        return _cancel(booking, now, actor, seen)


def _cancel(booking: Booking, now: datetime, actor: str, seen: int) -> bool:
    """Mark `booking` cancelled with its event, emails and webhook, without committing.

    `seen` is the SEQUENCE the caller's decision was based on; only that version is cancelled.
    """
    if not _claim(booking, seen, status=CANCELLED, cancelled_at=_naive_utc(now)):
        return False
    _event(booking, "cancelled", now, actor)
    emails.queue_cancellation_emails(booking, actor=actor)
    webhooks.queue_booking_event(booking, "booking.cancelled", now=_aware_utc(now))
    hosting.remove_booking(booking)
    return True


# --- Move ----------------------------------------------------------------------------------


def move_booking(
    booking: Booking,
    new_start: datetime,
    now: datetime,
    *,
    actor: str = "prospect",
    max_moves: int | None = None,
) -> Booking:
    """Move `booking` to the free slot starting at `new_start` (aware or naive UTC).

    Runs under the same lock as `reserve_slot`. Raises SlotUnavailable (the time is not
    offered or was just taken), SlotTaken (the unique index caught a race), ChangeRefused
    (cancelled, or `max_moves` reached) or ChangeConflict (changed since the caller read
    it); on any error the booking is left as it was.
    """
    availability = current_app.extensions["availability"]
    seen = booking.ics_sequence
    # The hosts' calendars are read before the lock, as for a new booking.
    busy = _live_busy(availability, new_start, now)
    with reservation():  # rolls back first, so `booking` is re-read under the lock
        _check_movable(booking, new_start, max_moves, seen)
        slot = bookable_slot(availability, new_start, now)
        # Only the bookings near the new time can refuse it (slots.check_span).
        nearby = active_bookings(now, excluding=booking.id, span=check_span(availability, slot))
        check_free(availability, slot, nearby)
        hosts = _hosts_for_move(booking, slot, busy, now)
        previous, previous_hosts = booking_slot(booking), booking.host_ids
        if not _claim(booking, seen, **_moved_values(slot)):
            raise ChangeRefused(CANCELLED_REASON)
        hosting.record(booking, hosts)
        _event(booking, "moved", now, actor, previous_slot_start=_naive_utc(previous.start))
        emails.queue_move_emails(booking, previous, actor=actor)
        webhooks.queue_booking_event(booking, "booking.moved", now=_aware_utc(now))
        hosting.write_booking(booking, previous=previous_hosts)
    return booking


def _live_busy(availability: Availability, new_start: datetime, now: datetime):
    """Read the hosts' calendars for the new time; {} when there is nothing to read.

    A time that is not offered reads nothing: the check under the lock refuses it.
    """
    try:
        return hosting.live_busy(bookable_slot(availability, new_start, now), now)
    except SlotUnavailable:
        return {}


def _hosts_for_move(booking: Booking, slot: Slot, busy, now: datetime) -> tuple[str, ...]:
    """Return the hosts who take the moved session; SlotUnavailable when nobody can."""
    try:
        return hosting.choose(slot, busy, now, BUSY_STATUSES, excluding=booking.id)
    except hosting.NoHostFree:
        raise SlotUnavailable("no consultant is free then", "taken") from None


def _check_movable(booking: Booking, new_start: datetime, max_moves: int | None, seen: int):
    """Refuse a move of a cancelled, erased or since-changed booking, or one not allowed."""
    if booking.status != ACTIVE or booking.anonymised_at is not None:
        raise ChangeRefused(CANCELLED_REASON)
    if booking.ics_sequence != seen:
        raise ChangeConflict(CONFLICT_REASON)
    if max_moves is not None and booking.move_count >= max_moves:
        raise ChangeRefused(f"This session has already been moved {booking.move_count} times.")
    if _naive_utc(new_start) == booking.slot_start:
        raise ChangeRefused("That is already the time of your session; choose another.")


def _moved_values(slot: Slot) -> dict:
    """The columns a move sets besides SEQUENCE: the new times, one more move, reminders.

    Both reminder marks are cleared, so the new time is reminded afresh.
    """
    return {
        "slot_start": _naive_utc(slot.start),
        "slot_end": _naive_utc(slot.end),
        "move_count": Booking.move_count + 1,
        "reminder_24h_queued_at": None,
        "reminder_1h_queued_at": None,
    }


# --- The versioned update every change makes -----------------------------------------------


def _claim(booking: Booking, seen: int, **values) -> bool:
    """Update `booking` only if still confirmed at SEQUENCE `seen`; raise SEQUENCE by one.

    Returns False, with nothing changed, if it was already cancelled; raises ChangeConflict
    if another change raised its SEQUENCE since `seen` was read. The lock already keeps
    changes apart; the condition makes sure no change acts on a state it did not see, and
    the database computing SEQUENCE means no two invitations can carry the same one.
    """
    claim = (
        update(Booking)
        .where(Booking.id == booking.id, Booking.status == ACTIVE, Booking.ics_sequence == seen)
        .values(ics_sequence=Booking.ics_sequence + 1, **values)
        .execution_options(synchronize_session=False)
    )
    claimed = db.session.execute(claim).rowcount == 1
    # Read back what the database stored, the new SEQUENCE included, for the emails.
    db.session.refresh(booking)
    if claimed:
        return True
    if booking.status != ACTIVE:
        return False
    raise ChangeConflict(CONFLICT_REASON)


# --- Erasure and retention -----------------------------------------------------------------


def anonymise_booking(booking: Booking, now: datetime, actor: str = "prospect") -> bool:
    """Erase the prospect's personal data from `booking`; return False if already done.

    An upcoming confirmed session is cancelled first, so its cancellation email goes to the
    address before it is erased. Sent (and failed) messages are scrubbed now; queued ones
    keep their payload until sent, and `scrub_sent_messages` clears them afterwards. The
    slot history (BookingEvent rows) stays.
    """
    with reservation():  # rolls back first, so `booking` is re-read under the lock
        if booking.anonymised_at is not None:
            return False
        if booking.status == ACTIVE and booking.slot_end > _naive_utc(now):
            # Erasing is a right, not a change of plan: it cancels the session as it is
            # now (read under the lock), even if it was moved after the caller read it.
            _cancel(booking, now, actor, booking.ics_sequence)
        _erase(booking, now)
        db.session.flush()
        _event(booking, "anonymised", now, actor)
        _scrub_messages(booking.id)
    return True


def _erase(booking: Booking, now: datetime) -> None:
    """Replace every personal field of `booking` with a neutral value."""
    booking.name = ERASED_TEXT
    booking.email = f"deleted-{booking.id}@invalid"
    booking.company = ERASED_TEXT
    booking.role = ERASED_TEXT
    booking.goals = ERASED_TEXT
    for name in ERASED_OPTIONAL:
        setattr(booking, name, None)
    booking.anonymised_at = _naive_utc(now)


def _scrub_messages(booking_id: int) -> int:
    """Clear the payload and errors of `booking_id`'s messages that are no longer queued."""
    messages = db.session.scalars(
        select(OutboxMessage).where(
            OutboxMessage.booking_id == booking_id, OutboxMessage.status != "queued"
        )
    ).all()
    scrubbed = 0
    for message in messages:
        if message.payload != SCRUBBED_PAYLOAD or message.last_error is not None:
            message.payload = dict(SCRUBBED_PAYLOAD)
            message.last_error = None
            scrubbed += 1
        for attempt in message.delivery_attempts:
            # Delivery errors may quote the address a server refused.
            attempt.error = None
    return scrubbed


def scrub_sent_messages() -> int:
    """Scrub messages of erased bookings that were still queued when the data was erased."""
    ids = db.session.scalars(select(Booking.id).where(Booking.anonymised_at.is_not(None))).all()
    scrubbed = sum(_scrub_messages(booking_id) for booking_id in ids)
    db.session.commit()
    return scrubbed


def anonymise_expired(now: datetime, retention: timedelta) -> int:
    """Erase every booking whose session ended more than `retention` ago; return how many."""
    cutoff = _naive_utc(now) - retention
    due = db.session.scalars(
        select(Booking).where(Booking.anonymised_at.is_(None), Booking.slot_end < cutoff)
    ).all()
    return sum(anonymise_booking(booking, now, actor="retention") for booking in due)


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def _aware_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- CLI -----------------------------------------------------------------------------------


def init_app(app: Flask) -> None:
    """Register `flask bookings anonymise`."""
    app.cli.add_command(bookings_cli)


@click.group("bookings")
def bookings_cli() -> None:
    """Look after stored bookings."""


@bookings_cli.command("anonymise")
def anonymise_command() -> None:
    """Erase personal data of sessions older than LEADFORM_RETENTION_DAYS (cron-friendly)."""
    days = current_app.config["RETENTION_DAYS"]
    now = datetime.now(UTC)
    erased = anonymise_expired(now, timedelta(days=days))
    scrubbed = scrub_sent_messages()
    click.echo(f"Anonymised {erased} booking(s) whose session ended over {days} days ago.")
    click.echo(f"Scrubbed {scrubbed} sent message(s) of anonymised bookings.")
    checks = readiness_services.forget_expired(_naive_utc(now) - timedelta(days=days))
    click.echo(f"Deleted {checks} readiness check(s) taken over {days} days ago.")
