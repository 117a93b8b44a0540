"""Reminder emails before the session, and the `flask reminders send` command (cron).

Two reminders per confirmed booking: "reminder_24h" once the session is less than 24 hours
away and "reminder_1h" once it is less than an hour away. Rules:

- the 24-hour one is skipped when the session was booked (or last moved) less than 24 hours
  before it starts: the confirmation has only just arrived; it is also skipped once the
  1-hour window has begun (a late run sends only the nearer reminder);
- nothing goes to cancelled or erased bookings, nor for sessions that have started;
- nothing goes to an address that bounced: a booking flagged `email_undeliverable_at`
  (see `bounces`), or an address on the suppression list for all mail (it bounced for
  another booking); a spam report alone does not stop reminders, which the prospect asked for;
- moving a booking clears both marks, so the new time is reminded afresh.

Each reminder is claimed by a conditional UPDATE (`... WHERE reminder_24h_queued_at IS NULL
AND slot_start = <the time read>`) in the transaction that queues its email, so two runs at
once (cron overlap, two hosts on one PostgreSQL) queue it exactly once, and a booking moved
meanwhile is not reminded of its old time.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click
from flask import Flask, current_app
from sqlalchemy import func, select, update

from leadform.booking import emails, guard
from leadform.booking.reservations import ACTIVE, release_expired_holds
from leadform.db import db
from leadform.messages.suppressions import may_send
from leadform.models import Booking, BookingEvent

DAY = timedelta(hours=24)
HOUR = timedelta(hours=1)
# kind -> (how long before the start it becomes due, the column marking it queued)
REMINDERS = {
    "reminder_24h": (DAY, Booking.reminder_24h_queued_at),
    "reminder_1h": (HOUR, Booking.reminder_1h_queued_at),
}


def queue_due_reminders(now: datetime) -> int:
    """Queue every reminder due at `now` (naive or aware UTC); return how many were queued."""
    now = _naive_utc(now)
    queued = 0
    for booking in _upcoming(now):
        if not may_send(booking.email, transactional=True):
            continue
        kind = _due_kind(booking, now)
        if kind is not None and _claim_and_queue(booking, kind, now):
            queued += 1
    return queued


def _upcoming(now: datetime) -> list[Booking]:
    """Return confirmed, unerased bookings with a working address starting within 24 hours."""
    return db.session.scalars(
        select(Booking)
        .where(
            Booking.status == ACTIVE,
            Booking.anonymised_at.is_(None),
            Booking.email_undeliverable_at.is_(None),
            Booking.slot_start > now,
            Booking.slot_start <= now + DAY,
        )
        .order_by(Booking.slot_start, Booking.id)
    ).all()


def _due_kind(booking: Booking, now: datetime) -> str | None:
    """Return the reminder `booking` should get at `now`, or None."""
    until_start = booking.slot_start - now
    if until_start <= HOUR:
        return "reminder_1h" if booking.reminder_1h_queued_at is None else None
    if booking.reminder_24h_queued_at is not None:
        return None
    if booking.slot_start - _scheduled_at(booking) < DAY:
        return None  # booked or moved at short notice: the confirmation is reminder enough
    return "reminder_24h"


def _scheduled_at(booking: Booking) -> datetime:
    """Return when `booking` got its current time: its last move, else its creation."""
    last_move = db.session.scalar(
        select(func.max(BookingEvent.at)).where(
            BookingEvent.booking_id == booking.id, BookingEvent.kind == "moved"
        )
    )
    return last_move or booking.created_at


def _claim_and_queue(booking: Booking, kind: str, now: datetime) -> bool:
    """Mark reminder `kind` queued if no one else has, queue its email, commit."""
    column = REMINDERS[kind][1]
    claim = (
        update(Booking)
        .where(
            Booking.id == booking.id,
            Booking.status == ACTIVE,
            Booking.anonymised_at.is_(None),
            Booking.email_undeliverable_at.is_(None),
            Booking.slot_start == booking.slot_start,
            column.is_(None),
        )
        .values({column.key: now})
        .execution_options(synchronize_session=False)
    )
    try:
        if db.session.execute(claim).rowcount != 1:
            db.session.rollback()
            return False
        emails.queue_reminder(booking, kind)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return True


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)


def init_app(app: Flask) -> None:
    """Register `flask reminders send`."""
    app.cli.add_command(reminders_cli)


@click.group("reminders")
def reminders_cli() -> None:
    """Reminder emails before each session."""


@reminders_cli.command("send")
def send_command() -> None:
    """Queue the reminders that are due now (run from cron every 5 minutes).

    The same run frees the times of surge holds nobody confirmed and forgets spent form
    start values old enough to be refused anyway (leadform.booking.guard).
    """
    now = datetime.now(UTC)
    queued = queue_due_reminders(now)
    click.echo(f"Queued {queued} reminder(s).")
    released = release_expired_holds(now)
    db.session.commit()
    max_age = timedelta(hours=current_app.config["FORM_MAX_AGE_HOURS"])
    guard.forget_spent_starts(now.replace(tzinfo=None) - max_age)
    if released:
        click.echo(f"Released {released} unconfirmed hold(s).")
