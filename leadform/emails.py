"""The booking emails: rendered from templates/email/<kind>/ and queued in the outbox.

`queue_booking_emails(booking)` adds the messages to the caller's session without
committing, so they are stored in the same transaction as the booking itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from leadform.db import db
from leadform.ics import build_invite
from leadform.mail import INVITE_MIMETYPE, Attachment, EmailMessage
from leadform.models import Booking, OutboxMessage
from leadform.slots import Slot, format_range

TEMPLATE_DIR = Path(__file__).parent / "templates" / "email"
_ENV_KEY = "leadform.email_templates"
_MAX_SUBJECT_CHARS = 150
ATTRIBUTION_FIELDS = (
    ("Source article", "source_article"),
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("utm_term", "utm_term"),
    ("utm_content", "utm_content"),
    ("Referrer", "referrer"),
)


def template_env(app: Flask) -> Environment:
    """Return the app's email Jinja environment: HTML bodies autoescaped, text ones not."""
    env = app.extensions.get(_ENV_KEY)
    if env is None:
        env = Environment(
            loader=FileSystemLoader(TEMPLATE_DIR),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            keep_trailing_newline=True,
        )
        app.extensions[_ENV_KEY] = env
    return env


def single_line(text: str, limit: int = _MAX_SUBJECT_CHARS) -> str:
    """Collapse all whitespace (CR, LF, U+2028...) to single spaces and cut to `limit`."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def render_email(kind: str, context: Mapping) -> tuple[str, str, str]:
    """Render (subject, text, html) of message `kind`; the subject is one safe line."""
    env = template_env(current_app)
    subject = env.get_template(f"{kind}/subject.txt").render(context)
    text = env.get_template(f"{kind}/body.txt").render(context)
    html = env.get_template(f"{kind}/body.html").render(context)
    return single_line(subject), text.strip() + "\n", html


def _aware(moment: datetime) -> datetime:
    """Read a stored naive datetime as UTC; leave an aware one as it is."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _slot(booking: Booking) -> Slot:
    """The booking's times as a Slot of aware UTC instants."""
    return Slot(_aware(booking.slot_start), _aware(booking.slot_end))


def _context(booking: Booking, config: Mapping) -> dict:
    """What every booking template may use: firm facts, times in both zones, the booking."""
    site = config["SITE"]
    host_zone = site["availability"]["timezone"]
    slot = _slot(booking)
    return {
        "booking": booking,
        "firm": site["firm"],
        "assessment": site["assessment"],
        "public_url": config["PUBLIC_URL"],
        "prospect_zone": booking.timezone,
        "host_zone": host_zone,
        "when_prospect": format_range(slot, ZoneInfo(booking.timezone)),
        "when_host": format_range(slot, ZoneInfo(host_zone)),
    }


def invite_uid(booking: Booking, config: Mapping) -> str:
    """The stable iCalendar UID of a booking: its public id at the site's domain."""
    domain = urlsplit(config["PUBLIC_URL"]).hostname or "localhost"
    return f"{booking.public_id}@{domain}"


def build_booking_invite(booking: Booking, config: Mapping, method: str = "REQUEST") -> bytes:
    """Build the .ics for `booking` (REQUEST to book, CANCEL to withdraw)."""
    site = config["SITE"]
    firm, assessment = site["firm"], site["assessment"]
    return build_invite(
        uid=invite_uid(booking, config),
        sequence=booking.ics_sequence or 0,
        method=method,
        start_utc=booking.slot_start,
        end_utc=booking.slot_end,
        summary=f"{assessment['name']} with {firm['name']}",
        description=f"{assessment['minutes']}-minute {assessment['name']} with {firm['name']}. "
        f"Questions: {firm['email']}",
        location=assessment.get("location", "Online"),
        organizer_email=firm["email"],
        organizer_name=firm["name"],
        attendee_email=booking.email,
        attendee_name=single_line(booking.name, 200),
        host_tz=site["availability"]["timezone"],
        url=config["PUBLIC_URL"],
    )


def prospect_confirmation(booking: Booking, config: Mapping) -> EmailMessage:
    """The prospect's confirmation, in their zone, with the calendar invite attached."""
    subject, text, html = render_email("prospect_confirmation", _context(booking, config))
    invite = Attachment("invite.ics", build_booking_invite(booking, config), INVITE_MIMETYPE)
    return EmailMessage(
        to=booking.email,
        from_=config["MAIL_FROM"],
        reply_to=config["TEAM_EMAIL"],
        subject=subject,
        text=text,
        html=html,
        attachments=(invite,),
    )


def _answers(booking: Booking) -> list[tuple[str, str]]:
    """The prospect's answers, labelled, in form order."""
    return [
        ("Name", booking.name),
        ("Email", booking.email),
        ("Company", booking.company),
        ("Role", booking.role),
        ("Company size", booking.company_size),
        ("Goals", booking.goals),
        ("Time zone", booking.timezone),
        ("Privacy policy version", booking.privacy_version),
        ("Consent given at (UTC)", f"{booking.consent_at:%Y-%m-%d %H:%M:%S}"),
    ]


def team_notification(booking: Booking, config: Mapping) -> EmailMessage:
    """The team's notice of a new booking: every answer and where the prospect came from."""
    context = _context(booking, config)
    context["answers"] = _answers(booking)
    context["attribution"] = [(label, getattr(booking, name)) for label, name in ATTRIBUTION_FIELDS]
    subject, text, html = render_email("team_notification", context)
    return EmailMessage(
        to=config["TEAM_EMAIL"],
        from_=config["MAIL_FROM"],
        reply_to=booking.email,
        subject=subject,
        text=text,
        html=html,
    )


def queue_email(message: EmailMessage, *, kind: str, booking: Booking | None = None):
    """Add `message` to the outbox in the current session (the caller commits)."""
    outbox = OutboxMessage(
        channel="email",
        kind=kind,
        payload=message.to_dict(),
        status="queued",
        attempts=0,
        next_attempt_at=datetime.now(UTC).replace(tzinfo=None),
        booking=booking,
    )
    db.session.add(outbox)
    return outbox


def queue_booking_emails(booking: Booking) -> list[OutboxMessage]:
    """Queue the prospect's confirmation and the team's notification for a new booking.

    Nothing is committed: call this inside the transaction that stores the booking.
    """
    config = current_app.config
    return [
        queue_email(
            prospect_confirmation(booking, config), kind="prospect_confirmation", booking=booking
        ),
        queue_email(team_notification(booking, config), kind="team_notification", booking=booking),
    ]
