"""Writing bookings into the hosts' CalDAV calendars, through the outbox ("calendar" channel).

`queue_calendar_writes(booking, host_ids, method)` adds one outbox message per assigned host
with a CalDAV calendar, in the caller's transaction: METHOD "REQUEST" writes the booking's
event (a new booking, or a move: same UID, higher SEQUENCE), "CANCEL" removes it. The outbox
worker calls `deliver(message)` with the same retries and backoff as email. Hosts with ICS
feeds only are skipped: their calendars are read-only and they get the invite by email.

The event has the UID of the prospect's invite (`event_uid`, the same value as
`leadform.booking.emails.invite_uid`), so the host's calendar and any copy of the invite
they accept hold one event, not two. It is a stored calendar object, not an iTIP message:
no METHOD (RFC 4791 section 4.1 forbids it in a calendar collection), and every address
carries SCHEDULE-AGENT=CLIENT (RFC 6638), so a server such as Nextcloud or iCloud never
mails invitations of its own. It names the hosts, never the prospect: a data-deletion
request then has nothing to chase in the consultants' calendars; the desk link in the
description leads to the booking.

Writes for one booking and host are applied in order: a message with a newer one behind it
(a PUT still being retried when the CANCEL was queued) is skipped as superseded, so a late
retry can never bring back a cancelled booking.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

import caldav
import icalendar
import niquests
from caldav.lib import error as caldav_error
from flask import Flask, current_app
from lxml import etree
from sqlalchemy import select

from leadform.calendars.hosts import CalDAVSource, Host
from leadform.calendars.services import current_settings
from leadform.calendars.sources import (
    CalendarNotFound,
    CalendarTimeout,
    caldav_client,
    run_with_deadline,
)
from leadform.db import db
from leadform.messages import outbox
from leadform.messages.invites import PRODID
from leadform.messages.senders import PermanentDeliveryError, TransientDeliveryError
from leadform.models import Booking, OutboxMessage

CHANNEL = "calendar"
PUT_KIND = "calendar_put"
DELETE_KIND = "calendar_delete"
# The invite's methods (leadform.messages.invites) name what happens to the host's copy.
KINDS = {"REQUEST": PUT_KIND, "CANCEL": DELETE_KIND}
ADMIN_BOOKING_PATH = "/admin/bookings/"  # the desk's booking page, leadform.desk.views

logger = logging.getLogger(__name__)


class WritebackError(ValueError):
    """queue_calendar_writes was called wrongly (unknown method or host): a bug in the caller."""


class CalendarWriteError(PermanentDeliveryError):
    """A calendar write that retrying cannot fix: unreadable message, host or calendar gone."""


class CalendarWriteRefused(PermanentDeliveryError):
    """The CalDAV server refused the account (wrong password, no right to write)."""


class CalendarWriteDeferred(TransientDeliveryError):
    """The CalDAV server was down, slow or confused; the outbox tries again later."""


def init_app(app: Flask) -> None:
    """Deliver the outbox's "calendar" messages with `deliver`."""
    outbox.register_channel(app, CHANNEL, deliver)


def event_uid(booking: Booking, config: Mapping) -> str:
    """Return the booking's iCalendar UID: its public id at the site's domain.

    The same value as the prospect's invite (leadform.booking.emails.invite_uid, which this
    wing may not import); tests/leadform/calendars/test_writeback.py holds the two together.
    """
    domain = urlsplit(config["PUBLIC_URL"]).hostname or "localhost"
    return f"{booking.public_id}@{domain}"


def writable_source(host: Host) -> CalDAVSource | None:
    """Return the host's first CalDAV account (where bookings go), or None for feeds only."""
    return next((source for source in host.sources if isinstance(source, CalDAVSource)), None)


def queue_calendar_writes(
    booking: Booking, host_ids: Iterable[str], method: str, *, now: datetime | None = None
) -> list[OutboxMessage]:
    """Queue the booking's write to each host's CalDAV calendar (caller's transaction).

    `method` is "REQUEST" (book or move: the event is written with the booking's current
    times and `ics_sequence`; pass every host the booking has after the change) or "CANCEL"
    (the event is removed). Hosts with ICS feeds only are skipped. Nothing is queued when
    site.toml names no hosts. Returns the queued messages; never commits.
    """
    if method not in KINDS:
        raise WritebackError(f"method must be REQUEST or CANCEL, got {method!r}")
    hosts_config = current_settings().hosts
    host_ids = list(host_ids)
    unknown = [host_id for host_id in host_ids if host_id not in hosts_config.hosts]
    if unknown:
        raise WritebackError(f"no host {unknown[0]!r} in site.toml's [hosts]")
    hosts = [hosts_config.hosts[host_id] for host_id in host_ids]
    config = current_app.config
    payload = {"uid": event_uid(booking, config)}
    if method == "REQUEST":
        payload["ics"] = host_event(booking, hosts, config, now).decode("utf-8")
    messages = [
        OutboxMessage(
            booking=booking,
            channel=CHANNEL,
            kind=KINDS[method],
            payload={**payload, "host_id": host.id},
        )
        for host in hosts
        if writable_source(host) is not None
    ]
    db.session.add_all(messages)
    return messages


def host_event(
    booking: Booking, hosts: Iterable[Host], config: Mapping, now: datetime | None = None
) -> bytes:
    """Return the VCALENDAR stored in the hosts' calendars for `booking` (no METHOD)."""
    site = config["SITE"]
    firm, assessment = site["firm"], site["assessment"]
    event = icalendar.Event()
    event.add("uid", event_uid(booking, config))
    event.add("sequence", int(booking.ics_sequence or 0))
    event.add("dtstamp", _aware(now or datetime.now(UTC)))
    event.add("dtstart", _aware(booking.slot_start))
    event.add("dtend", _aware(booking.slot_end))
    event.add("summary", f"{assessment['name']} (booked online)")
    desk_link = config["PUBLIC_URL"].rstrip("/") + ADMIN_BOOKING_PATH + booking.public_id
    event.add(
        "description",
        f"{assessment['minutes']}-minute {assessment['name']}. The prospect and their answers "
        f"are on the desk: {desk_link}",
    )
    event.add("location", assessment.get("location", "Online"))
    event.add("url", desk_link)
    event.add("status", "CONFIRMED")
    event.add("transp", "OPAQUE")
    event.add("organizer", _address(firm["email"], firm["name"]))
    for host in hosts:
        event.add("attendee", _address(host.email, host.name, PARTSTAT="ACCEPTED"))
    calendar = icalendar.Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add_component(event)
    return calendar.to_ical()


def _address(email: str, name: str, **params: str) -> icalendar.vCalAddress:
    """Return a mailto: address that no CalDAV server will send scheduling mail to."""
    address = icalendar.vCalAddress(f"mailto:{email}")
    address.params["CN"] = icalendar.vText(name)
    address.params["SCHEDULE-AGENT"] = "CLIENT"
    for key, value in params.items():
        address.params[key] = value
    return address


def deliver(message) -> None:
    """Apply one "calendar" outbox message to its host's CalDAV calendar.

    Raises CalendarWriteDeferred (retried) when the server is down, slow or answers garbage,
    and a PermanentDeliveryError when retrying cannot help.
    """
    host_id, uid, ics = _read_payload(message)
    superseded = _superseded(message.id, host_id)
    # End the read transaction: nothing stays open while a slow server takes its timeout.
    db.session.commit()
    if superseded:
        logger.info("Calendar write %s skipped: a newer one for the same host follows", message.id)
        return
    settings = current_settings()
    host = settings.hosts.hosts.get(host_id)
    source = writable_source(host) if host else None
    if source is None:
        raise CalendarWriteError(f"host {host_id} has no CalDAV calendar in site.toml any more")
    timeout = settings.sync_timeout
    try:
        run_with_deadline(lambda: _write(source, uid, ics, timeout), timeout, source)
    except CalendarTimeout as exc:
        raise CalendarWriteDeferred(str(exc)) from None


def _read_payload(message) -> tuple[str, str, str | None]:
    """Return (host id, UID, ics or None for a delete) of a message; Permanent if unreadable."""
    payload = message.payload if isinstance(message.payload, dict) else {}
    host_id, uid, ics = payload.get("host_id"), payload.get("uid"), payload.get("ics")
    wanted_ics = message.kind == PUT_KIND
    if (
        not isinstance(host_id, str)
        or not isinstance(uid, str)
        or message.kind not in KINDS.values()
    ):
        raise CalendarWriteError(f"Unreadable calendar message {message.id}")
    if wanted_ics != isinstance(ics, str):
        raise CalendarWriteError(f"Unreadable calendar message {message.id}")
    return host_id, uid, ics


def _superseded(message_id: int, host_id: str) -> bool:
    """Tell whether a newer calendar message for the same booking and host exists."""
    booking_id = db.session.scalar(
        select(OutboxMessage.booking_id).where(OutboxMessage.id == message_id)
    )
    if booking_id is None:
        return False
    newer = db.session.scalars(
        select(OutboxMessage.payload).where(
            OutboxMessage.channel == CHANNEL,
            OutboxMessage.booking_id == booking_id,
            OutboxMessage.id > message_id,
        )
    )
    return any(isinstance(p, dict) and p.get("host_id") == host_id for p in newer)


def _write(source: CalDAVSource, uid: str, ics: str | None, timeout: float) -> None:
    """Put (ics given) or delete the event `uid` in the source's calendar; map failures."""
    problem = f"host {source.host_id}, {source.label}"
    try:
        with caldav_client(source, timeout) as client:
            calendar = target_calendar(client, source)
            if ics is None:
                _delete(calendar, uid)
            else:
                _put(calendar, uid, ics)
    except CalendarNotFound as exc:
        raise CalendarWriteError(str(exc)) from None
    except caldav_error.AuthorizationError:
        raise CalendarWriteRefused(f"{problem}: the username or password was refused") from None
    except caldav_error.DAVError as exc:
        # 5xx, 507 (full), a lock: what a server says while it is unwell passes; the capped
        # attempts end the rest.
        raise CalendarWriteDeferred(f"{problem}: the server refused ({_describe(exc)})") from None
    except (niquests.exceptions.Timeout, TimeoutError):
        raise CalendarWriteDeferred(f"{problem}: no answer within {timeout:g} s") from None
    except (niquests.exceptions.ConnectionError, OSError) as exc:
        raise CalendarWriteDeferred(f"{problem}: cannot connect ({_describe(exc)})") from None
    except (etree.LxmlError, ValueError, KeyError, AttributeError) as exc:
        raise CalendarWriteDeferred(
            f"{problem}: the server's answer is not CalDAV ({_describe(exc)})"
        ) from None


def target_calendar(client: caldav.DAVClient, source: CalDAVSource):
    """Return the calendar bookings go to: `write_to`, the first listed, or the first for events.

    Raises CalendarNotFound naming what the account has when the chosen name is not there.
    """
    calendars = client.principal().calendars()
    wanted = source.write_to or (source.calendar_names[0] if source.calendar_names else None)
    if wanted is None:
        for calendar in calendars:
            if "VEVENT" in calendar.get_supported_components():
                return calendar
        raise CalendarNotFound(source, "the account has no calendar for events")
    for calendar in calendars:
        if calendar.get_display_name() == wanted:
            return calendar
    found = ", ".join(sorted(str(c.get_display_name()) for c in calendars)) or "none"
    raise CalendarNotFound(source, f"no calendar named {wanted!r} to write to (found: {found})")


def _put(calendar, uid: str, ics: str) -> None:
    """Write the event: replace the object holding `uid`, wherever it is, or create it."""
    try:
        existing = calendar.get_event_by_uid(uid)
    except caldav_error.NotFoundError:
        # Stored as given: the SEQUENCE is the booking's, not one caldav counts up per save.
        calendar.add_event(ics, increase_seqno=False)
        return
    existing.data = ics
    existing.save(increase_seqno=False)


def _delete(calendar, uid: str) -> None:
    """Remove the event holding `uid`; one already gone is what was wanted."""
    try:
        existing = calendar.get_event_by_uid(uid)
    except caldav_error.NotFoundError:
        return
    existing.delete()


def _aware(moment: datetime) -> datetime:
    """Return `moment` as aware UTC; naive values are UTC already (the database's form)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _describe(exc: BaseException) -> str:
    """Return a short, single-line description of a low-level error for an operator."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
