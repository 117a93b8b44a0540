"""Subscribers' lives: sign up, confirm, unsubscribe, expire, erase; and the desk's lookups.

Double opt-in: a signup is pending until the owner of the address presses Confirm on the page
their emailed link opens. Nothing but that one confirmation email goes to a pending address,
so a signup forged by someone else costs the victim one email and no newsletter. Functions
that change data commit, except `erase_subscriber`, which joins the caller's transaction.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from leadform.db import db
from leadform.messages import suppressions
from leadform.messages.models import DeliveryEvent, SuppressedAddress
from leadform.models import DeliveryAttempt, OutboxMessage
from leadform.newsletter import emails, tokens
from leadform.newsletter.models import CONFIRMED, PENDING, Subscriber, SubscriberEmail

# However often an address is signed up, it gets at most one email per this many minutes.
RESEND_MINUTES = 10
# What a scrubbed outbox row holds instead of the email (the booking wing uses the same).
SCRUBBED_PAYLOAD = {"scrubbed": True}
UNSUBSCRIBE_REASON = "unsubscribe"


class NewsletterError(Exception):
    """Base class of the newsletter's errors; `message` is safe to show the visitor."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SignupExpired(NewsletterError):
    """The confirmation link's signup is older than NEWSLETTER_CONFIRM_HOURS, or was deleted."""


class SubscriberNotFound(NewsletterError):
    """No subscriber has the given id or address."""


@dataclass(frozen=True)
class SignupResult:
    """What a signup did: which email it queued (None: too soon after the last one)."""

    subscriber_id: int
    emailed: str | None


def normalise_email(address: str) -> str:
    """The stored form of an address: trimmed, lower case."""
    return address.strip().lower()


def find_by_email(address: str) -> Subscriber | None:
    """The subscriber with `address`, if any."""
    stmt = select(Subscriber).where(Subscriber.email == normalise_email(address))
    return db.session.scalar(stmt)


def subscribe(
    address: str, *, source_article: str | None, now: datetime, config: Mapping
) -> SignupResult:
    """Record a signup and queue its email; commits.

    A new or pending address gets the confirmation link (again); a confirmed one gets a note
    that it is already subscribed. The page shown afterwards is the same in every case, so it
    tells a stranger nothing about who subscribes. The consent stored is the privacy policy
    version in site.toml.
    """
    try:
        return _subscribe(address, source_article, now, config)
    except IntegrityError:
        # The same new address signed up twice at once: the other request created the row.
        db.session.rollback()
        return _subscribe(address, source_article, now, config)


def _subscribe(address, source_article, now, config) -> SignupResult:
    """Create or renew the signup, queue its email and commit."""
    consent_version = config["SITE"]["privacy"]["policy_version"]
    subscriber = find_by_email(address)
    if subscriber is None:
        subscriber = Subscriber(
            public_id=secrets.token_hex(16),
            email=normalise_email(address),
            status=PENDING,
            consent_version=consent_version,
            signed_up_at=now,
            source_article=source_article,
        )
        db.session.add(subscriber)
    elif subscriber.status == PENDING:
        # A new signup renews the consent and restarts the time allowed to confirm.
        subscriber.consent_version = consent_version
        subscriber.signed_up_at = now
    emailed = _queue_signup_email(subscriber, now, config)
    db.session.commit()
    return SignupResult(subscriber.id, emailed)


def _queue_signup_email(subscriber: Subscriber, now: datetime, config: Mapping) -> str | None:
    """Queue the confirmation (or "already subscribed") unless one went out very recently."""
    last = subscriber.last_emailed_at
    if last is not None and now - last < timedelta(minutes=RESEND_MINUTES):
        return None
    # Asked for by the person (if it was them): transactional, but never to a bounced address.
    if not suppressions.may_send(subscriber.email, transactional=True):
        return None
    kind, message = emails.signup_email(subscriber, config)
    emails.queue_for(subscriber, message, kind=kind, due=now)
    subscriber.last_emailed_at = now
    return kind


def subscriber_for_link(token: str, purpose: str, config: Mapping) -> Subscriber | None:
    """The subscriber a signed link names; None when it is gone; LinkInvalid when forged."""
    public_id = tokens.read_token(token, purpose, config)
    return db.session.scalar(select(Subscriber).where(Subscriber.public_id == public_id))


def is_expired(subscriber: Subscriber, now: datetime, confirm_hours: float) -> bool:
    """Whether a pending signup is past the time allowed to confirm it."""
    limit = timedelta(hours=confirm_hours)
    return subscriber.status == PENDING and now - subscriber.signed_up_at > limit


def confirm(token: str, *, now: datetime, config: Mapping) -> Subscriber:
    """Confirm the signup a confirmation link names; commits. Confirming twice is harmless.

    Raises tokens.LinkInvalid for a forged link and SignupExpired for a signup that is too
    old or gone. Confirming lifts a "marketing" suppression (an earlier unsubscribe or spam
    report): the owner of the address has just asked again. A bounce ("all") stays.
    """
    subscriber = subscriber_for_link(token, tokens.CONFIRM, config)
    if subscriber is None or is_expired(subscriber, now, config["NEWSLETTER_CONFIRM_HOURS"]):
        raise SignupExpired("This link has expired. Please sign up again to get a new one.")
    if subscriber.status != CONFIRMED:
        subscriber.status = CONFIRMED
        subscriber.confirmed_at = now
        marketing = (
            SuppressedAddress.address_hash == suppressions.address_hash(subscriber.email)
        ) & (SuppressedAddress.scope == suppressions.MARKETING)
        db.session.execute(delete(SuppressedAddress).where(marketing))
        db.session.commit()
    return subscriber


def unsubscribe(token: str, *, now: datetime, config: Mapping) -> bool:
    """Unsubscribe the holder of an unsubscribe link; commits. False if already gone.

    The subscriber is erased (row and unsent emails) and the address goes on the suppression
    list as "marketing" (kept only as a hash), so no other non-transactional mail reaches it.
    Raises tokens.LinkInvalid for a forged link.
    """
    subscriber = subscriber_for_link(token, tokens.UNSUBSCRIBE, config)
    if subscriber is None:
        return False
    suppressions.suppress(subscriber.email, suppressions.MARKETING, UNSUBSCRIBE_REASON)
    erase_subscriber(subscriber, now)
    db.session.commit()
    return True


def erase_subscriber(subscriber: Subscriber, now: datetime) -> int:
    """Remove a subscriber everywhere, in the caller's transaction; return emails removed.

    Their row goes, and so does every outbox email to them (confirmation, articles), sent or
    not, with its delivery history. An email a worker is sending at this very moment (a live
    lease) cannot be taken back: its stored copy is scrubbed instead, so no address remains
    and a retry of it fails rather than sending.
    """
    ids = list(
        db.session.scalars(
            select(SubscriberEmail.message_id).where(SubscriberEmail.subscriber_id == subscriber.id)
        )
    )
    in_flight = set(
        db.session.scalars(
            select(OutboxMessage.id).where(
                OutboxMessage.id.in_(ids),
                OutboxMessage.status == "queued",
                OutboxMessage.locked_until > now,
            )
        )
    )
    removable = [message_id for message_id in ids if message_id not in in_flight]
    db.session.execute(
        delete(SubscriberEmail).where(SubscriberEmail.subscriber_id == subscriber.id)
    )
    if in_flight:
        scrub = update(OutboxMessage).where(OutboxMessage.id.in_(in_flight))
        db.session.execute(scrub.values(payload=dict(SCRUBBED_PAYLOAD), last_error=None))
    if removable:
        for table in (DeliveryEvent, DeliveryAttempt):
            db.session.execute(delete(table).where(table.message_id.in_(removable)))
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.id.in_(removable)))
    db.session.execute(delete(Subscriber).where(Subscriber.id == subscriber.id))
    return len(ids)


def erase_by_email(address: str, now: datetime) -> None:
    """Erase the subscriber with `address` (an operator's or a data-deletion request); commits."""
    subscriber = find_by_email(address)
    if subscriber is None:
        raise SubscriberNotFound("No subscriber has that address.")
    erase_subscriber(subscriber, now)
    db.session.commit()


def erase_by_id(subscriber_id: int, now: datetime) -> None:
    """Erase subscriber `subscriber_id` (the desk's Delete button); commits."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        raise SubscriberNotFound("That subscriber no longer exists.")
    erase_subscriber(subscriber, now)
    db.session.commit()


def purge_expired(now: datetime, confirm_hours: float) -> int:
    """Erase every signup left unconfirmed longer than `confirm_hours`; commits; return count."""
    cutoff = now - timedelta(hours=confirm_hours)
    stmt = select(Subscriber).where(Subscriber.status == PENDING, Subscriber.signed_up_at < cutoff)
    expired = list(db.session.scalars(stmt))
    for subscriber in expired:
        erase_subscriber(subscriber, now)
    db.session.commit()
    return len(expired)


def escape_like(term: str) -> str:
    """Escape LIKE wildcards so a search for "50%" or "a_b" matches them literally."""
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_subscribers(term: str = "", limit: int | None = None) -> list[Subscriber]:
    """Subscribers whose address or source page contains `term` (any case), newest first."""
    stmt = select(Subscriber).order_by(Subscriber.signed_up_at.desc(), Subscriber.id.desc())
    term = term.strip()
    if term:
        pattern = f"%{escape_like(term.lower())}%"
        stmt = stmt.where(
            or_(
                Subscriber.email.like(pattern, escape="\\"),
                func.lower(Subscriber.source_article).like(pattern, escape="\\"),
            )
        )
    return list(db.session.scalars(stmt.limit(limit)))


EXPORT_HEADERS = [
    "email",
    "status",
    "consent version",
    "signed up (UTC)",
    "confirmed (UTC)",
    "source article",
]


def export_row(subscriber: Subscriber) -> list[str]:
    """One subscriber's CSV cells, in EXPORT_HEADERS order (the writer neutralises them)."""
    return [
        subscriber.email,
        subscriber.status,
        subscriber.consent_version,
        _iso(subscriber.signed_up_at),
        _iso(subscriber.confirmed_at),
        subscriber.source_article or "",
    ]


def _iso(moment: datetime | None) -> str:
    return moment.isoformat(sep=" ", timespec="seconds") if moment else ""
