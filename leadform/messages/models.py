"""Tables of the messages wing: what providers said about each email, and who not to write to.

Both live on the one shared metadata (`leadform.db.db`), so Alembic sees them as soon as the
wing is imported (the factory imports it before any migration runs).
"""

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leadform.db import db
from leadform.models import utcnow


class DeliveryEvent(db.Model):
    """One thing a provider reported about one email: delivered, deferred, bounced, ...

    SendGrid events carry `sg_event_id`, unique here so a retried or duplicated webhook
    changes nothing the second time; SMTP replies recorded by the worker have none. No
    address is stored: the message (`message_id`) already knows its recipient.
    """

    __tablename__ = "delivery_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    sg_event_id: Mapped[str | None] = mapped_column(String(100), unique=True)
    # None when the event names no message of ours (another sender on the same account).
    message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"), index=True)
    # "sendgrid" (its webhook) or "worker" (what the SMTP server or API said while sending).
    source: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(32))  # the provider's word: "bounce", "accepted"
    state: Mapped[str | None] = mapped_column(String(16))  # our word, see delivery.STATES
    detail: Mapped[str | None] = mapped_column(Text)  # reason or reply, addresses masked
    occurred_at: Mapped[datetime]  # naive UTC, as the provider timed it
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class SuppressedAddress(db.Model):
    """An address we must not write to: all mail after a bounce, newsletters after a complaint.

    Stored as the SHA-256 of the normalised address: checking needs only the hash, and the
    list survives a booking's erasure without keeping the address readable.
    """

    __tablename__ = "email_suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # "all" (bounced or dropped: nothing reaches it) or "marketing" (spam report, unsubscribe).
    scope: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))  # the event that put it here
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
