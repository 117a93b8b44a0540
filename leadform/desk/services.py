"""What an operator does to a booking: record attendance and write private notes.

Plain functions on plain values; the views only call them and commit nothing themselves.
"""

from datetime import datetime

from leadform.db import db
from leadform.models import Booking, BookingEvent, BookingNote, Operator

ATTENDANCE_VALUES = ("attended", "no_show")


class DeskActionError(Exception):
    """An operator's action cannot be applied to this booking; the message says why."""


class AttendanceNotAllowed(DeskActionError):
    """Attendance is recorded only for confirmed sessions that have started."""


def operator_actor(operator: Operator) -> str:
    """The `actor` recorded on events an operator causes, e.g. "operator:alice"."""
    return f"operator:{operator.username}"


def mark_attendance(booking: Booking, attendance: str, operator: Operator, now: datetime) -> None:
    """Record whether the prospect came, with a BookingEvent; commits.

    `now` is naive UTC. Marking again replaces the earlier answer (the event log keeps both).
    """
    if attendance not in ATTENDANCE_VALUES:
        raise AttendanceNotAllowed(f"Attendance must be one of {', '.join(ATTENDANCE_VALUES)}.")
    if booking.status == "cancelled":
        raise AttendanceNotAllowed("This booking was cancelled; there was no session to attend.")
    if booking.slot_start > now:
        raise AttendanceNotAllowed("The session has not started yet; mark attendance after it.")
    booking.attendance = attendance
    db.session.add(
        BookingEvent(
            booking=booking,
            kind=attendance,
            slot_start=booking.slot_start,
            actor=operator_actor(operator),
            at=now,
        )
    )
    db.session.commit()


def add_note(booking: Booking, body: str, operator: Operator, now: datetime) -> BookingNote:
    """Attach a private note written by `operator` to `booking`; commits."""
    note = BookingNote(booking=booking, operator=operator, body=body, created_at=now)
    db.session.add(note)
    db.session.commit()
    return note
