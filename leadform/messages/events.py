"""SendGrid's Event Webhook: verify a signed batch, then record each event exactly once.

SendGrid signs each POST with ECDSA (P-256, SHA-256) over the timestamp header followed by the
raw body; the public key comes from its "Mail Settings > Event Webhook" page. Verification is
the official helper's (`sendgrid.helpers.eventwebhook.EventWebhook`); here we only add what it
leaves to us: refusing missing headers and timestamps older (or newer) than
`SENDGRID_EVENT_MAX_AGE_SECONDS`, so a captured batch cannot be replayed later.

SendGrid delivers at least once and retries for a day, so duplicates are normal: an event
whose `sg_event_id` is already stored is skipped, and the unique constraint settles two
copies arriving at the same moment.
"""

from __future__ import annotations

import binascii
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr

from flask import Flask
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.eventwebhook.eventwebhook_header import EventWebhookHeader
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from leadform.config import ConfigError
from leadform.db import db
from leadform.messages import delivery, suppressions
from leadform.messages.models import DeliveryEvent
from leadform.messages.senders import OUTBOX_ID_ARG
from leadform.models import OutboxMessage

SIGNATURE_HEADER = EventWebhookHeader.SIGNATURE
TIMESTAMP_HEADER = EventWebhookHeader.TIMESTAMP
# SendGrid's event name -> our delivery state.
EVENT_STATES = {
    "processed": "processed",
    "deferred": "deferred",
    "delivered": "delivered",
    "bounce": "bounced",
    "dropped": "dropped",
    "spamreport": "spam_report",
}
# SendGrid's event name -> the suppression it puts on the address.
EVENT_SUPPRESSIONS = {
    "bounce": suppressions.ALL,
    "dropped": suppressions.ALL,
    "spamreport": suppressions.MARKETING,
    "unsubscribe": suppressions.MARKETING,
    "group_unsubscribe": suppressions.MARKETING,
}
RECORDED_EVENTS = set(EVENT_STATES) | set(EVENT_SUPPRESSIONS)
_VERIFIER_KEY = "messages.event_webhook"
_PEM_ARMOUR = re.compile(r"-----(BEGIN|END) PUBLIC KEY-----|\s+")


class EventWebhookError(Exception):
    """A batch was refused; the text says why and holds nothing from the body."""


class UnsignedBatchError(EventWebhookError):
    """The signature or timestamp header is missing, or no public key is configured."""


class StaleBatchError(EventWebhookError):
    """The timestamp is too old (a replay) or too far in the future."""


class ForgedBatchError(EventWebhookError):
    """The signature does not match the body and timestamp under the configured key."""


class MalformedBatchError(EventWebhookError):
    """The (correctly signed) body is not a JSON list of event objects."""


@dataclass
class BatchReport:
    """What one batch did: events recorded, duplicates skipped, events of no interest."""

    recorded: int = 0
    duplicates: int = 0
    ignored: int = 0


def load_verifier(raw_key: str | None) -> EventWebhook | None:
    """Build the helper from the key as SendGrid shows it (base64, PEM armour allowed)."""
    if not raw_key:
        return None
    key = _PEM_ARMOUR.sub("", raw_key)
    try:
        return EventWebhook(key)
    except (ValueError, TypeError):
        raise ConfigError(
            "LEADFORM_SENDGRID_EVENT_PUBLIC_KEY is not an ECDSA public key: copy the "
            "verification key from SendGrid's Mail Settings > Event Webhook page"
        ) from None


def init_app(app: Flask) -> None:
    """Read and check the Event Webhook's public key once, at start-up."""
    app.extensions[_VERIFIER_KEY] = load_verifier(app.config.get("SENDGRID_EVENT_PUBLIC_KEY"))


def verifier_of(app: Flask) -> EventWebhook | None:
    """The app's signature helper, or None when no public key is configured."""
    return app.extensions.get(_VERIFIER_KEY)


def verify_batch(
    body: bytes, headers: Mapping, *, verifier: EventWebhook | None, max_age: float, now: float
) -> None:
    """Raise an `EventWebhookError` unless `body` is signed by SendGrid within `max_age` s."""
    signature, timestamp = headers.get(SIGNATURE_HEADER), headers.get(TIMESTAMP_HEADER)
    if verifier is None:
        raise UnsignedBatchError("no public key configured (SENDGRID_EVENT_PUBLIC_KEY)")
    if not signature or not timestamp:
        raise UnsignedBatchError("signature or timestamp header missing")
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise ForgedBatchError("timestamp is not a number of seconds")
    if abs(now - int(timestamp)) > max_age:
        raise StaleBatchError(f"timestamp more than {max_age:g} s away from now")
    try:
        valid = verifier.verify_signature(body.decode("utf-8"), signature, timestamp)
    except (UnicodeDecodeError, binascii.Error, ValueError):
        valid = False  # not UTF-8, or a signature that is not even base64/DER
    if not valid:
        raise ForgedBatchError("signature does not match")


def parse_batch(body: bytes) -> list[dict]:
    """Return the events of a verified body; raise `MalformedBatchError` if it is not a list."""
    try:
        events = json.loads(body)
    except ValueError:
        raise MalformedBatchError("body is not JSON") from None
    if not isinstance(events, list) or not all(isinstance(item, dict) for item in events):
        raise MalformedBatchError("body is not a list of event objects")
    return events


def record_batch(events: list[dict], received_at: datetime) -> BatchReport:
    """Record each new event of a batch and commit; retry once if a twin batch raced us."""
    try:
        return _record_batch(events, received_at)
    except IntegrityError:
        # The same events were committed by a concurrent request: the second pass skips them.
        db.session.rollback()
        return _record_batch(events, received_at)


def _record_batch(events: list[dict], received_at: datetime) -> BatchReport:
    """One pass of `record_batch`, in one transaction."""
    report = BatchReport()
    seen = _stored_ids(events)
    try:
        for event in events:
            event_id = event.get("sg_event_id")
            if event.get("event") not in RECORDED_EVENTS or not isinstance(event_id, str):
                report.ignored += 1
            elif event_id in seen:
                report.duplicates += 1
            else:
                seen.add(event_id)
                _record(event, received_at)
                report.recorded += 1
        db.session.commit()
    except BaseException:
        db.session.rollback()
        raise
    return report


def _stored_ids(events: list[dict]) -> set[str]:
    """The batch's `sg_event_id`s that are already stored."""
    ids = [event.get("sg_event_id") for event in events]
    ids = [event_id for event_id in ids if isinstance(event_id, str)]
    if not ids:
        return set()
    stmt = select(DeliveryEvent.sg_event_id).where(DeliveryEvent.sg_event_id.in_(ids))
    return set(db.session.scalars(stmt))


def _record(event: dict, received_at: datetime) -> None:
    """Store one event, move its message's state, and suppress the address if it says so."""
    kind = event["event"]
    address = event.get("email") if isinstance(event.get("email"), str) else None
    delivery.record_event(
        _message_of(event, address),
        source="sendgrid",
        event=kind,
        state=EVENT_STATES.get(kind),
        occurred_at=_occurred_at(event, received_at),
        detail=_detail(event),
        sg_event_id=event["sg_event_id"][:100],
    )
    scope = EVENT_SUPPRESSIONS.get(kind)
    # A "blocked" bounce is the receiving server refusing us (reputation, content), not a
    # dead address: the message did not arrive, but the address may work tomorrow.
    if address and scope and event.get("type") != "blocked":
        suppressions.suppress(address, scope, kind)


def _message_of(event: dict, address: str | None) -> OutboxMessage | None:
    """The outbox email the event is about: named by its custom arg, sent to its address."""
    raw_id = event.get(OUTBOX_ID_ARG)
    if not isinstance(raw_id, str | int) or not str(raw_id).isdigit() or not address:
        return None
    message = db.session.get(OutboxMessage, int(raw_id))
    if message is None or message.channel != "email":
        return None
    recipient = parseaddr(str((message.payload or {}).get("to", "")))[1]
    # Another deployment on the same SendGrid account numbers its outbox the same way.
    if recipient.strip().lower() != address.strip().lower():
        return None
    return message


def _occurred_at(event: dict, received_at: datetime) -> datetime:
    """The event's own time as naive UTC (its `timestamp`), else when we received it."""
    stamp = event.get("timestamp")
    if isinstance(stamp, int | float) and not isinstance(stamp, bool):
        try:
            return datetime.fromtimestamp(stamp, UTC).replace(tzinfo=None)
        except (OverflowError, OSError, ValueError):
            pass
    return received_at


def _detail(event: dict) -> str | None:
    """What the event says about why: bounce type, status and reason, or the server's reply."""
    parts = [event.get(name) for name in ("type", "status", "reason", "response")]
    text = " ".join(str(part) for part in parts if part not in (None, ""))
    return text or None
