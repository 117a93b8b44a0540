"""A prospect's email that bounced is a task for a person.

The messages wing records delivery events and calls `flag_undeliverable` (registered by
`init_app`) when an email bounces or is dropped. If the email was one the prospect needed
(their confirmation, a moved time, a reminder), the booking gets `email_undeliverable_at`,
the desk shows it ("email did not arrive: contact by other means"), reminders stop (see
`reminders`), and the team gets one `team_undeliverable` email with everything else the
prospect told us, and a likely correction when the address looks mistyped.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from sqlalchemy import update

from leadform.booking.emails import queue_email, render_email
from leadform.booking.slots import Slot, format_range
from leadform.db import db
from leadform.messages import delivery
from leadform.messages.addresses import suggest_address
from leadform.messages.models import DeliveryEvent
from leadform.messages.senders import EmailMessage
from leadform.models import Booking, OutboxMessage, utcnow

NOTICE_KIND = "team_undeliverable"
# The emails whose loss leaves the prospect without what they need for the session.
PROSPECT_KINDS = ("prospect_confirmation", "prospect_moved", "reminder_24h", "reminder_1h")


def init_app(app: Flask) -> None:
    """Ask the messages wing to tell us when an email bounces or is dropped."""
    delivery.on_undeliverable(app, flag_undeliverable)


def flag_undeliverable(message: OutboxMessage, event: DeliveryEvent) -> None:
    """Flag the message's booking and queue the team's notice, once per booking.

    Runs in the transaction recording the event; the flag is set by a conditional UPDATE,
    so two bounces handled at once (two webhook requests) still tell the team once.
    """
    booking = message.booking
    if booking is None or message.kind not in PROSPECT_KINDS:
        return
    flagged_at = utcnow()
    claim = (
        update(Booking)
        .where(Booking.id == booking.id, Booking.email_undeliverable_at.is_(None))
        .values(email_undeliverable_at=flagged_at)
        .execution_options(synchronize_session=False)
    )
    if db.session.execute(claim).rowcount != 1:
        return
    booking.email_undeliverable_at = flagged_at
    if booking.anonymised_at is None:
        queue_email(
            undeliverable_notice(booking, message, event), kind=NOTICE_KIND, booking=booking
        )


def undeliverable_notice(
    booking: Booking, message: OutboxMessage, event: DeliveryEvent
) -> EmailMessage:
    """The team's notice: which email failed and why, and how else to reach the prospect."""
    config = current_app.config
    subject, text, html = render_email(NOTICE_KIND, _notice_context(booking, message, event))
    # No reply-to: replying would only bounce again.
    return EmailMessage(
        to=config["TEAM_EMAIL"], from_=config["MAIL_FROM"], subject=subject, text=text, html=html
    )


def _notice_context(booking: Booking, message: OutboxMessage, event: DeliveryEvent) -> dict:
    """What the notice's templates show."""
    config = current_app.config
    site = config["SITE"]
    host_zone = site["availability"]["timezone"]
    slot = Slot(_aware(booking.slot_start), _aware(booking.slot_end))
    public_url = config["PUBLIC_URL"].rstrip("/")
    return {
        "booking": booking,
        "firm": site["firm"],
        "assessment": site["assessment"],
        "public_url": config["PUBLIC_URL"],
        "host_zone": host_zone,
        "when_host": format_range(slot, ZoneInfo(host_zone)),
        "failed_kind": message.kind.replace("_", " "),
        "outcome": "bounced" if event.state == "bounced" else "was dropped",
        "reason": event.detail or "no reason given",
        "suggestion": suggest_address(booking.email),
        "desk_url": f"{public_url}/admin/bookings/{booking.public_id}",
    }


def _aware(moment: datetime) -> datetime:
    """Read a stored naive datetime as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
