"""Booking events sent to an outside system (a CRM) as signed JSON webhooks.

`queue_booking_event(booking, event)` adds an outbox message in the caller's transaction,
so an event exists exactly when the change that caused it was committed; the outbox worker
calls `deliver(message)` with its usual retries. Nothing is queued while
WEBHOOK_URL is empty. The payload carries the prospect's name and email (a CRM needs them),
so neither error texts nor logs ever quote the payload. See docs/adoption.md.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import current_app

from leadform.db import db
from leadform.messages.senders import PermanentDeliveryError, TransientDeliveryError, scrub
from leadform.models import Booking, OutboxMessage

CHANNEL = "webhook"
EVENTS = ("booking.created", "booking.moved", "booking.cancelled")
SIGNATURE_HEADER = "X-Leadform-Signature"
TIMESTAMP_HEADER = "X-Leadform-Timestamp"
EVENT_HEADER = "X-Leadform-Event"
DELIVERY_HEADER = "X-Leadform-Delivery"
# Answers a retry may cure: request timeout, rate limit (5xx are checked separately).
TRANSIENT_STATUSES = {408, 425, 429}
BOOKING_FIELDS = (
    "public_id",
    "status",
    "timezone",
    "name",
    "email",
    "company",
    "role",
    "company_size",
    "source_article",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
)


class WebhookPayloadError(PermanentDeliveryError):
    """A queued webhook message cannot be sent as stored (not JSON-serialisable)."""


class WebhookNotConfiguredError(PermanentDeliveryError):
    """A webhook message is due but WEBHOOK_URL or WEBHOOK_SECRET is no longer set."""


def webhooks_enabled(config: Mapping) -> bool:
    """Tell whether booking events should be queued (WEBHOOK_URL is set)."""
    return bool(config.get("WEBHOOK_URL"))


def iso_utc(moment: datetime | None) -> str | None:
    """Return `moment` (naive UTC or aware) as e.g. "2026-03-02T14:00:00Z"."""
    if moment is None:
        return None
    aware = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return aware.isoformat(timespec="seconds").replace("+00:00", "Z")


def booking_payload(booking: Booking, event: str, occurred_at: datetime) -> dict:
    """Return the JSON-safe body of webhook `event` about `booking`."""
    data = {name: getattr(booking, name) for name in BOOKING_FIELDS}
    data["slot_start"] = iso_utc(booking.slot_start)
    data["slot_end"] = iso_utc(booking.slot_end)
    return {"event": event, "occurred_at": iso_utc(occurred_at), "booking": data}


def queue_booking_event(
    booking: Booking, event: str, *, now: datetime | None = None
) -> OutboxMessage | None:
    """Queue webhook `event` about `booking` in the current transaction (no commit).

    Returns the outbox message, or None when webhooks are off (WEBHOOK_URL empty).
    """
    if not webhooks_enabled(current_app.config):
        return None
    occurred_at = now or datetime.now(UTC)
    message = OutboxMessage(
        booking=booking,
        channel=CHANNEL,
        kind=event,
        payload=booking_payload(booking, event, occurred_at),
    )
    db.session.add(message)
    return message


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header value: sha256=HMAC(secret, "<timestamp>." + body)."""
    signed = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def encode_body(payload: Mapping) -> bytes:
    """Return the exact bytes that are sent and signed."""
    try:
        return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise WebhookPayloadError(f"Unserialisable webhook payload: {type(exc).__name__}") from None


def build_request(message, url: str, secret: str, timestamp: str) -> urllib.request.Request:
    """Return the signed POST request for an outbox `message` (id, kind, payload)."""
    body = encode_body(message.payload)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "leadform-webhooks/1",
        EVENT_HEADER: message.kind,
        DELIVERY_HEADER: str(message.id),
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: sign(secret, timestamp, body),
    }
    if urlsplit(url).scheme not in ("http", "https"):
        raise WebhookNotConfiguredError("WEBHOOK_URL must be an http:// or https:// URL")
    # The scheme was checked just above: no file:// or custom opener can be reached.
    return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: urllib would turn the POST into a body-less GET."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        """Return None, so the 3xx answer surfaces as an HTTPError."""
        return None


_OPENER = urllib.request.build_opener(_RefuseRedirects)


def deliver(message) -> None:
    """POST one outbox `message` to WEBHOOK_URL; raise Transient/PermanentDeliveryError."""
    config = current_app.config
    url, secret = config.get("WEBHOOK_URL"), config.get("WEBHOOK_SECRET")
    if not url or not secret:
        raise WebhookNotConfiguredError("WEBHOOK_URL or WEBHOOK_SECRET is not set")
    request = build_request(message, url, secret, str(int(time.time())))
    timeout = float(config.get("WEBHOOK_TIMEOUT", 5.0))
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        exc.close()  # the error is also the open response; leave no socket behind
        raise _http_error(exc.code, secret) from None
    except (OSError, http.client.HTTPException) as exc:
        # URLError (refused, DNS), TimeoutError and dropped connections may all pass.
        raise TransientDeliveryError(f"Webhook unreachable: {type(exc).__name__}") from None


def _http_error(status: int, secret: str):
    """Classify a non-2xx answer: 408, 425, 429 and 5xx are retried; the rest are final."""
    text = scrub(f"Webhook answered HTTP {status}", secret)
    if status in TRANSIENT_STATUSES or status >= 500:
        return TransientDeliveryError(text)
    return PermanentDeliveryError(text)
