"""Helpers for the Event Webhook tests: a real ECDSA key pair, signed batches, SendGrid events.

The signature is made the way SendGrid makes it (ECDSA P-256 with SHA-256 over the timestamp
followed by the body), with `cryptography`, so the app's check is the library's real one.
"""

import base64
import json
import time
import uuid

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from leadform.messages.events import SIGNATURE_HEADER, TIMESTAMP_HEADER
from leadform.messages.senders import EmailMessage
from leadform.models import OutboxMessage

EVENTS_PATH = "/email/events"


class SigningKey:
    """A fresh P-256 key pair; `public_key` is what SendGrid's settings page shows."""

    def __init__(self):
        self._private = ec.generate_private_key(ec.SECP256R1())
        der = self._private.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.public_key = base64.b64encode(der).decode("ascii")

    def sign(self, body: bytes, timestamp: str) -> str:
        """The base64 signature header for `body` sent at `timestamp`."""
        signature = self._private.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
        return base64.b64encode(signature).decode("ascii")


def post_events(client, key: SigningKey, events: list[dict], *, timestamp=None, body=None):
    """POST `events` signed with `key` at `timestamp` (now by default); `body` overrides."""
    body = body if body is not None else json.dumps(events).encode()
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    headers = {SIGNATURE_HEADER: key.sign(json.dumps(events).encode(), stamp)}
    headers[TIMESTAMP_HEADER] = stamp
    return client.post(EVENTS_PATH, data=body, headers=headers, content_type="application/json")


def sendgrid_event(kind: str, message: OutboxMessage, at: int | None = None, **fields) -> dict:
    """One SendGrid event about `message`, as the Event Webhook posts it."""
    address = EmailMessage.from_dict(message.payload).to
    event = {
        "email": address,
        "timestamp": int(time.time()) if at is None else at,
        "event": kind,
        "sg_event_id": uuid.uuid4().hex,
        "sg_message_id": f"{uuid.uuid4().hex[:22]}.filter0001",
        "outbox_id": str(message.id),
    }
    return event | fields
