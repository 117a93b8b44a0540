"""The outbox worker: delivers queued messages with retries, and its `outbox` commands.

One pass (`deliver_due`) claims due messages with a lease in a short transaction, sends
each one outside any transaction, then records the outcome. On PostgreSQL the claim uses
`FOR UPDATE SKIP LOCKED`, so several workers can share the queue; on SQLite a conditional
UPDATE makes the claim safe, and one worker is the documented setup. A worker that dies
mid-send loses nothing: its lease runs out and the next pass takes the message again.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import click
from flask import Flask, current_app
from sqlalchemy import func, or_, select, update
from sqlalchemy.exc import OperationalError

from leadform.db import db
from leadform.messages import delivery, webhooks
from leadform.messages.senders import (
    DeliveryError,
    EmailMessage,
    MailConfigError,
    MailError,
    PermanentDeliveryError,
    Receipt,
    Sender,
    TransientDeliveryError,
    make_sender,
    quiet_http_client_logger,
    scrub,
)
from leadform.models import DeliveryAttempt, OutboxMessage, utcnow

logger = logging.getLogger(__name__)
MAX_BACKOFF = timedelta(hours=1)
DEFAULTS = {
    "OUTBOX_MAX_ATTEMPTS": 8,
    "OUTBOX_BACKOFF_SECONDS": 30,
    "OUTBOX_BATCH_SIZE": 20,
    "OUTBOX_POLL_SECONDS": 2.0,
    "OUTBOX_LEASE_SECONDS": 120,
}


class OutboxError(Exception):
    """Base class of the outbox's own errors."""


class UnknownChannelError(PermanentDeliveryError):
    """A message names a channel this worker cannot deliver (its message is failed)."""


class MessageNotFoundError(OutboxError):
    """No outbox message has the given id."""


class MessageNotFailedError(OutboxError):
    """Only a failed message can be requeued; this one is queued or already sent."""


class ChannelTakenError(OutboxError, ValueError):
    """A channel name is built in ("email", "webhook") or already registered by another wing."""


# Channels other wings deliver through the outbox (e.g. "calendar"), name -> deliver(message).
# They live on the app, so the messages wing knows their names only at run time.
CHANNELS_KEY = "messages.outbox_channels"
BUILT_IN_CHANNELS = ("email", webhooks.CHANNEL)
ChannelDeliver = Callable[["ClaimedMessage"], None]


def register_channel(app: Flask, name: str, deliver: ChannelDeliver) -> None:
    """Have the worker of `app` hand messages of channel `name` to `deliver(message)`.

    `deliver` gets the ClaimedMessage and raises TransientDeliveryError (retried with the
    usual backoff) or PermanentDeliveryError (failed at once); returning means delivered.
    Registering the same function again is harmless; another one for a taken name is not.
    """
    channels = app.extensions.setdefault(CHANNELS_KEY, {})
    if name in BUILT_IN_CHANNELS or channels.get(name, deliver) is not deliver:
        raise ChannelTakenError(f"The outbox channel {name!r} is already taken")
    channels[name] = deliver


@dataclass
class DeliveryReport:
    """What one pass of the worker did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0  # claimed but handed back unsent because the worker was stopping

    @property
    def handled(self) -> int:
        """How many messages this pass tried to deliver."""
        return self.sent + self.retried + self.failed


@dataclass(frozen=True)
class ClaimedMessage:
    """A plain copy of a claimed row, so sending touches no ORM state or transaction."""

    id: int
    channel: str
    kind: str
    payload: dict
    attempts: int


def _setting(name: str):
    """Read an outbox setting from the app config, falling back to the documented default."""
    return current_app.config.get(name, DEFAULTS[name])


def backoff(attempts: int, base_seconds: float) -> timedelta:
    """Delay before the next try after `attempts` failures: base * 2**(attempts-1), max 1 h."""
    exponent = min(max(attempts - 1, 0), 20)  # the cap makes larger exponents pointless
    return min(timedelta(seconds=base_seconds * 2**exponent), MAX_BACKOFF)


def new_worker_id() -> str:
    """An id naming this process in leases and delivery attempts."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def _due(now: datetime):
    """SQL condition: queued, due, and not held by a live lease."""
    return (
        (OutboxMessage.status == "queued")
        & (OutboxMessage.next_attempt_at <= now)
        & or_(OutboxMessage.locked_until.is_(None), OutboxMessage.locked_until <= now)
    )


def _claim_ids(worker_id: str, now: datetime, batch_size: int, lease_until: datetime):
    """Lease up to `batch_size` due messages to `worker_id`; return their ids."""
    candidates = (
        select(OutboxMessage.id)
        .where(_due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(batch_size)
    )
    lease = {"locked_until": lease_until, "locked_by": worker_id}
    if db.session.get_bind().dialect.name == "postgresql":
        # Rows another worker is claiming right now are skipped, never waited for.
        ids = list(db.session.scalars(candidates.with_for_update(skip_locked=True)))
        if ids:
            db.session.execute(update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(lease))
        return ids
    claimed = []
    for message_id in db.session.scalars(candidates).all():
        # The condition is checked again by the UPDATE itself, so a row is leased once.
        stmt = update(OutboxMessage).where(OutboxMessage.id == message_id, _due(now)).values(lease)
        if db.session.execute(stmt).rowcount == 1:
            claimed.append(message_id)
    return claimed


def claim_due(worker_id: str, now: datetime, batch_size: int) -> list[ClaimedMessage]:
    """Claim due messages in one short transaction and return plain copies of them."""
    lease_until = now + timedelta(seconds=float(_setting("OUTBOX_LEASE_SECONDS")))
    try:
        ids = _claim_ids(worker_id, now, batch_size, lease_until)
        rows = []
        if ids:
            columns = (OutboxMessage.id, OutboxMessage.channel, OutboxMessage.kind)
            columns += (OutboxMessage.payload, OutboxMessage.attempts)
            stmt = select(*columns).where(OutboxMessage.id.in_(ids)).order_by(OutboxMessage.id)
            rows = [ClaimedMessage(*row) for row in db.session.execute(stmt)]
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return rows


def dispatch(sender: Sender, message: ClaimedMessage) -> Receipt | None:
    """Deliver one message through the transport its channel names; return its receipt."""
    if message.channel == "email":
        try:
            email = EmailMessage.from_dict(message.payload)
        except (MailError, KeyError, TypeError, ValueError) as exc:
            raise PermanentDeliveryError(
                f"Unreadable email payload: {type(exc).__name__}"
            ) from None
        # The id travels with the email (a SendGrid custom arg) so its events can find it.
        return sender.send(replace(email, outbox_id=message.id))
    if message.channel == webhooks.CHANNEL:
        webhooks.deliver(message)
        return None
    registered = current_app.extensions.get(CHANNELS_KEY, {}).get(message.channel)
    if registered is not None:
        registered(message)
        return None
    raise UnknownChannelError(f"No transport for channel {message.channel!r}")


def _attempt(
    sender: Sender, message: ClaimedMessage
) -> tuple[Receipt | None, DeliveryError | None]:
    """Try one delivery; return (receipt, error), never raising, so the outcome is recorded."""
    try:
        return dispatch(sender, message), None
    except DeliveryError as exc:
        return None, exc
    except Exception as exc:  # a bug in a sender must not kill the worker
        # Only the type is logged: an exception's text may quote an address.
        logger.error("Unexpected %s delivering outbox message %s", type(exc).__name__, message.id)
        return None, TransientDeliveryError(f"Unexpected {type(exc).__name__}")


def _outcome(message: ClaimedMessage, error: DeliveryError | None, now: datetime) -> tuple:
    """Decide (outcome, column values) for a finished try."""
    attempts = message.attempts + 1
    values = {"attempts": attempts, "locked_until": None, "locked_by": None}
    if error is None:
        return "sent", values | {"status": "sent", "sent_at": now, "last_error": None}
    values["last_error"] = scrub(str(error))
    max_attempts = int(_setting("OUTBOX_MAX_ATTEMPTS"))
    if isinstance(error, PermanentDeliveryError) or attempts >= max_attempts:
        return "failed", values | {"status": "failed"}
    delay = backoff(attempts, float(_setting("OUTBOX_BACKOFF_SECONDS")))
    return "retry", values | {"next_attempt_at": now + delay}


def record_outcome(message, error, *, worker_id: str, started: datetime, now: datetime) -> str:
    """Store the try as a DeliveryAttempt and update the message; return the outcome."""
    outcome, values = _outcome(message, error, now)
    held = (OutboxMessage.id == message.id) & (OutboxMessage.locked_by == worker_id)
    result = db.session.execute(update(OutboxMessage).where(held).values(values))
    if result.rowcount != 1:
        # Our lease ran out and another worker took the message; it now owns the outcome.
        logger.warning("Outbox message %s: lease lost before recording the outcome", message.id)
    db.session.add(
        DeliveryAttempt(
            message_id=message.id,
            started_at=started,
            finished_at=now,
            outcome=outcome,
            error=values.get("last_error"),
            worker=worker_id,
        )
    )
    db.session.commit()
    return outcome


def record_reply(message_id: int, receipt: Receipt | None, error, now: datetime) -> None:
    """Record what the receiving side said (accepted, refused, deferred) as a delivery event.

    Its own transaction, after the outcome is safely stored: a failing bounce handler must
    cost the event, never the worker or the record of the attempt.
    """
    state = receipt.state if receipt else getattr(error, "delivery_state", None)
    if state is None:
        return
    detail = receipt.detail if receipt else str(error)
    try:
        message = db.session.get(OutboxMessage, message_id)
        event = "accepted" if receipt else state
        delivery.record_event(
            message, source="worker", event=event, state=state, occurred_at=now, detail=detail
        )
        db.session.commit()
    except Exception as exc:
        db.session.rollback()
        logger.error("Outbox message %s: reply not recorded (%s)", message_id, type(exc).__name__)


def release(messages: list[ClaimedMessage], worker_id: str) -> None:
    """Hand back claimed messages unsent, so the next pass need not wait for the lease."""
    ids = [message.id for message in messages]
    held = OutboxMessage.id.in_(ids) & (OutboxMessage.locked_by == worker_id)
    db.session.execute(update(OutboxMessage).where(held).values(locked_until=None, locked_by=None))
    db.session.commit()


def deliver_due(
    sender: Sender,
    *,
    worker_id: str,
    now: datetime | None = None,
    batch_size: int | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """Deliver one batch of due messages and report what happened.

    `now` (naive UTC) defaults to the clock; tests pass it to step through backoff.
    `should_stop` is asked between messages: a stopping worker finishes the message in
    hand, hands the rest of the batch back and returns.
    """
    fixed_now = now
    batch = claim_due(worker_id, now or utcnow(), batch_size or int(_setting("OUTBOX_BATCH_SIZE")))
    report = DeliveryReport()
    for index, message in enumerate(batch):
        if should_stop and should_stop():
            release(batch[index:], worker_id)
            report.released = len(batch) - index
            break
        started = fixed_now or utcnow()
        receipt, error = _attempt(sender, message)
        finished = fixed_now or utcnow()
        outcome = record_outcome(message, error, worker_id=worker_id, started=started, now=finished)
        record_reply(message.id, receipt, error, finished)
        _count(report, outcome)
        logger.info("Outbox message %s (%s): %s", message.id, message.kind, outcome)
    return report


def _count(report: DeliveryReport, outcome: str) -> None:
    """Add one outcome ("sent", "retry" or "failed") to the report."""
    if outcome == "sent":
        report.sent += 1
    elif outcome == "retry":
        report.retried += 1
    else:
        report.failed += 1


def retry_message(message_id: int) -> OutboxMessage:
    """Requeue a failed message for immediate delivery with a fresh set of attempts; commits."""
    message = db.session.get(OutboxMessage, message_id)
    if message is None:
        raise MessageNotFoundError(f"No outbox message with id {message_id}")
    if message.status != "failed":
        raise MessageNotFailedError(
            f"Outbox message {message_id} is {message.status}; only failed ones can be retried"
        )
    message.status = "queued"
    message.attempts = 0
    message.next_attempt_at = utcnow()
    message.locked_until = message.locked_by = None
    db.session.commit()
    return message


def status_counts() -> dict[str, int]:
    """Number of outbox messages per status (every status present, zero when none)."""
    rows = db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    counts = {"queued": 0, "sent": 0, "failed": 0}
    counts.update({status: count for status, count in rows})
    return counts


class StopFlag:
    """Set by SIGTERM/SIGINT; the worker finishes the message in hand, then exits."""

    def __init__(self):
        self._event = threading.Event()

    def __call__(self) -> bool:
        """Whether a stop was asked for."""
        return self._event.is_set()

    def set(self, *_args) -> None:
        """Ask the worker to stop (usable directly as a signal handler)."""
        self._event.set()

    def wait(self, seconds: float) -> bool:
        """Sleep up to `seconds`, waking early when asked to stop."""
        return self._event.wait(seconds)


def run_worker(sender: Sender, *, interval: float, once: bool, stop: StopFlag) -> DeliveryReport:
    """Deliver until stopped (or one pass with `once`); return the totals."""
    worker_id = new_worker_id()
    total = DeliveryReport()
    logger.info("Outbox worker %s started", worker_id)
    while not stop():
        try:
            report = deliver_due(sender, worker_id=worker_id, should_stop=stop)
        except OperationalError as exc:
            # The database restarting must not end the worker: wait and try again.
            db.session.rollback()
            logger.error(
                "Outbox worker %s: database unavailable (%s)", worker_id, type(exc).__name__
            )
            report = DeliveryReport()
        for name in ("sent", "retried", "failed", "released"):
            setattr(total, name, getattr(total, name) + getattr(report, name))
        if once:
            break
        # A full batch suggests more is waiting: go again without sleeping.
        if report.handled < int(_setting("OUTBOX_BATCH_SIZE")):
            stop.wait(interval)
    logger.info("Outbox worker %s stopped", worker_id)
    return total


def _install_handlers(stop: StopFlag) -> dict:
    """Route SIGTERM and SIGINT to `stop`; return the previous handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, stop.set) for sig in (signal.SIGTERM, signal.SIGINT)}


@click.group("outbox")
def outbox_cli():
    """Deliver and inspect queued emails."""


@outbox_cli.command("run")
@click.option("--once", is_flag=True, help="Deliver one batch of due messages, then exit.")
@click.option("--interval", type=float, default=None, help="Seconds between polls.")
def run_command(once: bool, interval: float | None):
    """Deliver queued messages until SIGTERM/SIGINT (or once)."""
    try:
        sender = make_sender(current_app.config)
    except MailConfigError as exc:
        raise click.ClickException(str(exc)) from None
    stop = StopFlag()
    previous = _install_handlers(stop)
    try:
        poll = interval if interval is not None else float(_setting("OUTBOX_POLL_SECONDS"))
        total = run_worker(sender, interval=poll, once=once, stop=stop)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"sent={total.sent} retried={total.retried} failed={total.failed}")


@outbox_cli.command("status")
def status_command():
    """Print how many messages are queued, sent and failed."""
    for status, count in status_counts().items():
        click.echo(f"{status}: {count}")


@outbox_cli.command("retry")
@click.argument("message_id", type=int)
def retry_command(message_id: int):
    """Requeue failed message MESSAGE_ID."""
    try:
        retry_message(message_id)
    except OutboxError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Outbox message {message_id} queued again.")


def init_app(app: Flask) -> None:
    """Register the `outbox` commands and keep the SendGrid client's DEBUG log silent."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    quiet_http_client_logger()
    app.cli.add_command(outbox_cli)
