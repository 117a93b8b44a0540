"""What became of each email after it left: delivery states, events, and who reacts to them.

Every report about a message (SendGrid's webhook events, the SMTP server's reply) becomes a
`DeliveryEvent` row and may move the message's `delivery_state`:

- `accepted` (the provider or relay took it), `processed`, `deferred`: on its way;
- `delivered`, `bounced`, `dropped`, `spam_report`: where it ended.

Events arrive late and out of order (SendGrid retries for a day), so a message moves to a
state only when the event is not older than the one it holds, and a state on the way never
replaces where a message ended.

When a message becomes `bounced` or `dropped` the wing calls the handlers registered with
`on_undeliverable(app, handler)`, in the same transaction. This wing knows nothing of
bookings: the booking wing registers the handler that flags a booking and tells the team.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from flask import Flask, current_app, has_app_context

from leadform.db import db
from leadform.messages.models import DeliveryEvent
from leadform.messages.senders import scrub
from leadform.models import OutboxMessage

logger = logging.getLogger(__name__)

ON_THE_WAY = ("accepted", "processed", "deferred")
ENDED = ("delivered", "bounced", "dropped", "spam_report")
STATES = ON_THE_WAY + ENDED
UNDELIVERABLE = ("bounced", "dropped")
_HANDLERS_KEY = "messages.undeliverable_handlers"

UndeliverableHandler = Callable[[OutboxMessage, DeliveryEvent], None]


class UnknownStateError(ValueError):
    """A delivery state outside `STATES` was given (a bug in the caller)."""


def on_undeliverable(app: Flask, handler: UndeliverableHandler) -> None:
    """Call `handler(message, event)` whenever a message of `app` bounces or is dropped.

    The handler runs inside the transaction that records the event and must not commit;
    if it raises, nothing of the event is stored (SendGrid then retries the batch).
    """
    handlers = app.extensions.setdefault(_HANDLERS_KEY, [])
    if handler not in handlers:
        handlers.append(handler)


def _handlers() -> list[UndeliverableHandler]:
    """The handlers registered on the current app (none outside an app, or none yet)."""
    if not has_app_context():
        return []
    return list(current_app.extensions.get(_HANDLERS_KEY, ()))


def moves_to(current: str | None, current_at: datetime | None, new: str, at: datetime) -> bool:
    """Tell whether a message in state `current` (since `current_at`) should take `new`."""
    if new not in STATES:
        raise UnknownStateError(f"Unknown delivery state {new!r}; expected one of {STATES}")
    if current is None or current_at is None:
        return True
    if new in ON_THE_WAY and current in ENDED:
        return False  # a late "deferred" never undoes "delivered"
    if new in ENDED and current in ON_THE_WAY:
        return True  # the end wins even when the provider's clock says a second earlier
    return at >= current_at


def record_event(
    message: OutboxMessage | None,
    *,
    source: str,
    event: str,
    state: str | None,
    occurred_at: datetime,
    detail: str | None = None,
    sg_event_id: str | None = None,
) -> DeliveryEvent:
    """Store one event (in the caller's transaction) and apply its state to `message`.

    Returns the new row. Handlers run when the message becomes undeliverable for the first
    time; later bounces of the same message (or its duplicates) do not call them again.
    """
    row = DeliveryEvent(
        sg_event_id=sg_event_id,
        message_id=message.id if message is not None else None,
        source=source,
        event=event[:32],
        state=state,
        detail=scrub(detail) if detail else None,
        occurred_at=occurred_at,
    )
    db.session.add(row)
    if message is None or state is None:
        return row
    was_undeliverable = message.delivery_state in UNDELIVERABLE
    if moves_to(message.delivery_state, message.delivery_state_at, state, occurred_at):
        message.delivery_state, message.delivery_state_at = state, occurred_at
    if state in UNDELIVERABLE and not was_undeliverable:
        db.session.flush()
        for handler in _handlers():
            handler(message, row)
    return row


def history(message_id: int) -> list[DeliveryEvent]:
    """Every event recorded for one message, in the order they happened."""
    return list(
        db.session.scalars(
            db.select(DeliveryEvent)
            .where(DeliveryEvent.message_id == message_id)
            .order_by(DeliveryEvent.occurred_at, DeliveryEvent.id)
        )
    )


def undeliverable_share(kind: str, since: datetime) -> tuple[int, int]:
    """Return (bounced or dropped, sent) counts of `kind` emails created since `since`."""
    sent = (OutboxMessage.kind == kind) & (OutboxMessage.created_at >= since)
    sent &= OutboxMessage.status == "sent"
    failed = sent & OutboxMessage.delivery_state.in_(UNDELIVERABLE)
    count = db.select(db.func.count(OutboxMessage.id))
    return db.session.scalar(count.where(failed)), db.session.scalar(count.where(sent))


def bounce_alert(kind: str, since: datetime, threshold_percent: float) -> str | None:
    """A warning when more than `threshold_percent` of `kind` emails since `since` failed.

    For the desk (and any health view): a rising share means a broken form field, a typo-prone
    audience, or a sending domain whose authentication broke; see docs/operations.md.
    """
    failed, sent = undeliverable_share(kind, since)
    if not sent or failed * 100 <= threshold_percent * sent:
        return None
    return (
        f"{failed} of {sent} {kind.replace('_', ' ')} emails since {since:%Y-%m-%d} bounced "
        f"or were dropped (more than {threshold_percent:g}%)"
    )
