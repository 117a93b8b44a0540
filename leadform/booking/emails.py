"""The booking emails: rendered from templates/email/<kind>/ and queued in the outbox.

Nothing here commits: the messages are stored in the same transaction as the change that
caused them. A new booking's two are rendered by `booking_emails` before the reservation
lock; every message is stored by `queue_email` in the caller's session.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app

from leadform.booking import guard, hosting
from leadform.booking.slots import Slot, format_range
from leadform.booking.tokens import manage_url
from leadform.db import db
from leadform.messages.invites import build_invite
from leadform.messages.rendering import render_email, single_line
from leadform.messages.senders import INVITE_MIMETYPE, Attachment, EmailMessage
from leadform.models import Booking, OutboxMessage
from leadform.readiness import services as readiness_services

CANCEL_MIMETYPE = "text/calendar; method=CANCEL"
REMINDER_KINDS = ("reminder_24h", "reminder_1h")

ATTRIBUTION_FIELDS = (
    ("Source article", "source_article"),
    ("utm_source", "utm_source"),
    ("utm_medium", "utm_medium"),
    ("utm_campaign", "utm_campaign"),
    ("utm_term", "utm_term"),
    ("utm_content", "utm_content"),
    ("Referrer", "referrer"),
)


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
        "greeting_name": greeting_name(booking.name),
        # The firm's session facts (site.toml [session]); a site without them says less.
        "session": site.get("session", {}),
        "session_format": session_format(booking, site),
        "hosts": hosting.names(booking),
        "firm": site["firm"],
        "assessment": site["assessment"],
        "public_url": config["PUBLIC_URL"],
        "prospect_zone": booking.timezone,
        "host_zone": host_zone,
        "when_prospect": format_range(slot, ZoneInfo(booking.timezone)),
        "when_host": format_range(slot, ZoneInfo(host_zone)),
        # The small mail-only test app has no SECRET_KEY; the real app always has one.
        "manage_url": manage_url(booking, config) if config.get("SECRET_KEY") else None,
    }


# A link, an address or a domain in a name: text an attacker could make us send to anyone.
_LINK_LIKE = re.compile(r"@|://|www\.|[A-Za-z0-9-]\.[A-Za-z]{2,}", re.IGNORECASE)
GREETING_NAME_MAX = 60


def greeting_name(name: str | None) -> str | None:
    """The name to greet a prospect by, or None to greet them without it.

    Prospect emails carry no free text the visitor typed beyond this: a name that looks
    like it holds a link, an address or a domain, or is too long, is left out, so booking
    with a stranger's address cannot make us mail them an attacker's message.
    """
    words = "".join(ch if ch.isprintable() else " " for ch in name or "").split()
    cleaned = " ".join(words)
    if not cleaned or len(cleaned) > GREETING_NAME_MAX or _LINK_LIKE.search(cleaned):
        return None
    return cleaned


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
        location=session_location(booking, site),
        organizer_email=firm["email"],
        organizer_name=firm["name"],
        attendee_email=booking.email,
        attendee_name=single_line(booking.name, 200),
        hosts=hosting.people(booking),
        host_tz=site["availability"]["timezone"],
        url=config["PUBLIC_URL"],
    )


def prospect_confirmation(
    booking: Booking, config: Mapping, context: Mapping | None = None
) -> EmailMessage:
    """The prospect's confirmation, in their zone, with the calendar invite attached.

    `context` is `_context(booking, config)` when the caller already has it.
    """
    context = context if context is not None else _context(booking, config)
    invite = Attachment("invite.ics", build_booking_invite(booking, config), INVITE_MIMETYPE)
    return _to_prospect(booking, config, "prospect_confirmation", context, invite)


def session_format(booking: Booking, site: Mapping) -> dict | None:
    """The booking's format from site.toml's [session.formats] (label, detail, location)."""
    formats = site.get("session", {}).get("formats", {})
    return formats.get(booking.session_format) if booking.session_format else None


def session_location(booking: Booking, site: Mapping) -> str:
    """Where the session happens, for the invite's LOCATION."""
    chosen = session_format(booking, site)
    if chosen and chosen.get("location"):
        return chosen["location"]
    return site["assessment"].get("location", "Online")


def _answers(booking: Booking, config: Mapping) -> list[tuple[str, str]]:
    """The prospect's answers, labelled, in form order."""
    chosen = session_format(booking, config["SITE"])
    return [
        ("Format", chosen["label"] if chosen else "—"),
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


def team_notification(
    booking: Booking, config: Mapping, context: Mapping | None = None
) -> EmailMessage:
    """The team's notice of a new booking: every answer and where the prospect came from."""
    context = dict(context if context is not None else _context(booking, config))
    context["answers"] = _answers(booking, config)
    context["attribution"] = [(label, getattr(booking, name)) for label, name in ATTRIBUTION_FIELDS]
    context["readiness"] = readiness_services.summary_for(booking.readiness_check_id)
    return _to_team(booking, config, "team_notification", context)


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


def booking_emails(booking: Booking) -> list[tuple[str, EmailMessage]]:
    """Render the prospect's confirmation and the team's notification of a new booking.

    Returns (kind, message) pairs. Nothing touches the database, so `reserve_slot` renders
    them (the slow part) before it takes the reservation lock.
    """
    config = current_app.config
    context = _context(booking, config)
    return [
        ("prospect_confirmation", prospect_confirmation(booking, config, context)),
        ("team_notification", team_notification(booking, config, context)),
    ]


def _to_prospect(booking: Booking, config: Mapping, kind: str, context: Mapping, invite=None):
    """Render message `kind` for the prospect, replies going to the team."""
    subject, text, html = render_email(kind, context)
    return EmailMessage(
        to=booking.email,
        from_=config["MAIL_FROM"],
        reply_to=config["TEAM_EMAIL"],
        subject=subject,
        text=text,
        html=html,
        attachments=(invite,) if invite else (),
    )


def _to_team(booking: Booking, config: Mapping, kind: str, context: Mapping) -> EmailMessage:
    """Render message `kind` for the team, replies going to the prospect."""
    subject, text, html = render_email(kind, context)
    return EmailMessage(
        to=config["TEAM_EMAIL"],
        from_=config["MAIL_FROM"],
        reply_to=booking.email,
        subject=subject,
        text=text,
        html=html,
    )


def _previous_times(context: dict, booking: Booking, config: Mapping, previous: Slot) -> dict:
    """Add the session's former time, in both zones, to `context`."""
    host_zone = config["SITE"]["availability"]["timezone"]
    context["was_prospect"] = format_range(previous, ZoneInfo(booking.timezone))
    context["was_host"] = format_range(previous, ZoneInfo(host_zone))
    return context


def queue_cancellation_emails(booking: Booking, actor: str = "prospect") -> list[OutboxMessage]:
    """Queue the prospect's cancellation (with an iCalendar CANCEL) and the team's notice.

    Call after raising `booking.ics_sequence`, inside the transaction that cancels it.
    """
    config = current_app.config
    context = _context(booking, config) | {"actor": actor}
    cancel = Attachment(
        "cancel.ics", build_booking_invite(booking, config, method="CANCEL"), CANCEL_MIMETYPE
    )
    prospect = _to_prospect(booking, config, "prospect_cancellation", context, cancel)
    team = _to_team(booking, config, "team_cancellation", context)
    return [
        queue_email(prospect, kind="prospect_cancellation", booking=booking),
        queue_email(team, kind="team_cancellation", booking=booking),
    ]


def queue_move_emails(booking: Booking, previous: Slot, actor: str = "prospect"):
    """Queue the prospect's new invite (same UID, higher SEQUENCE) and the team's notice.

    `previous` is the slot the booking had before the move; call inside its transaction.
    """
    config = current_app.config
    context = _previous_times(_context(booking, config), booking, config, previous)
    context["actor"] = actor
    invite = Attachment("invite.ics", build_booking_invite(booking, config), INVITE_MIMETYPE)
    prospect = _to_prospect(booking, config, "prospect_moved", context, invite)
    team = _to_team(booking, config, "team_moved", context)
    return [
        queue_email(prospect, kind="prospect_moved", booking=booking),
        queue_email(team, kind="team_moved", booking=booking),
    ]


def queue_reminder(booking: Booking, kind: str) -> OutboxMessage:
    """Queue reminder `kind` ("reminder_24h" or "reminder_1h") for the prospect."""
    if kind not in REMINDER_KINDS:
        raise ValueError(f"kind must be one of {', '.join(REMINDER_KINDS)}, got {kind!r}")
    config = current_app.config
    message = _to_prospect(booking, config, kind, _context(booking, config))
    return queue_email(message, kind=kind, booking=booking)


def queue_hold_request(booking: Booking, hold_minutes: float) -> OutboxMessage:
    """Queue the email asking a held booking's prospect to confirm it (no invite yet).

    It carries only the prospect's name and the time: nothing else they typed, so a flood
    of bookings to strangers' addresses cannot carry an attacker's text.
    """
    config = current_app.config
    context = _context(booking, config) | {
        "confirm_url": guard.hold_url(booking, config),
        "hold_minutes": round(hold_minutes),
    }
    message = _to_prospect(booking, config, "prospect_hold", context)
    return queue_email(message, kind="prospect_hold", booking=booking)


def queue_surge_notice(state, policy) -> OutboxMessage:
    """Queue the team's one notice that a surge started and new bookings are held."""
    config = current_app.config
    context = {
        "firm": config["SITE"]["firm"],
        "public_url": config["PUBLIC_URL"],
        "recent": state.recent,
        "threshold": state.threshold,
        "hold_minutes": round(policy.hold_minutes),
        "max_holds": policy.max_holds,
        "quiet_hours": policy.notice_hours,
    }
    subject, text, html = render_email(guard.SURGE_NOTICE_KIND, context)
    message = EmailMessage(
        to=config["TEAM_EMAIL"],
        from_=config["MAIL_FROM"],
        reply_to=None,
        subject=subject,
        text=text,
        html=html,
    )
    return queue_email(message, kind=guard.SURGE_NOTICE_KIND)
