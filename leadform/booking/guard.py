"""Flood guards for new bookings: one form start per booking, limits beyond one address, surges.

An attacker who can book from many addresses can fill the firm's calendar and make it mail
anyone. Each guard here costs an honest prospect nothing:

- the form's start value is signed, tied to the visitor's session and spent by the booking
  it starts (a second booking with the same value is refused);
- limits count per client address, per network (/24 for IPv4, /64 for IPv6), per email
  address and per email domain, so many addresses or many mailboxes do not add up to many
  bookings;
- past a firm-wide number of new bookings per hour (a surge), a new booking only holds its
  time until the prospect confirms it from their email, and the team hears once per surge.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import request
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from leadform.db import db
from leadform.models import Booking, OutboxMessage, SpentFormStart

START_SALT = "leadform.book.start"
HOLD_SALT = "leadform.book.hold"
SESSION_KEY = "book_starts"
# A visitor may have a few booking tabs open; each holds its own start value.
MAX_OPEN_STARTS = 5
SURGE_NOTICE_KIND = "team_surge_notice"
HELD = "held"


class FormStartRefused(Exception):
    """The form's start value is missing, forged, not this visitor's, spent, too new or old."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class SurgeFull(Exception):
    """A surge is on and the most times that may be held at once already are."""


@dataclass(frozen=True)
class SurgePolicy:
    """The firm-wide surge guard's settings (LEADFORM_SURGE_*)."""

    per_hour: int  # new bookings in an hour that start a surge; 0 turns the guard off
    hold_minutes: float  # how long a held booking waits for its prospect's confirmation
    max_holds: int  # how many times may be held at once during a surge
    notice_hours: float  # the team hears of a surge at most once in this many hours

    @classmethod
    def from_config(cls, config: Mapping) -> SurgePolicy:
        """Read the policy from the app's settings."""
        return cls(
            per_hour=config["SURGE_BOOKINGS_PER_HOUR"],
            hold_minutes=config["SURGE_HOLD_MINUTES"],
            max_holds=config["SURGE_MAX_HOLDS"],
            notice_hours=config["SURGE_NOTICE_HOURS"],
        )


@dataclass(frozen=True)
class SurgeState:
    """How many bookings were made in the last hour, and whether that is a surge."""

    recent: int
    threshold: int

    @property
    def active(self) -> bool:
        """True once the last hour's new bookings reach the threshold."""
        return self.threshold > 0 and self.recent >= self.threshold


def _serializer(secret_key: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret_key, salt=START_SALT)


def issue_form_start(session: MutableMapping, secret_key: str, now: float) -> str:
    """Return a signed start value for a new form and remember its nonce in `session`."""
    nonce = secrets.token_urlsafe(12)
    open_starts = [*session.get(SESSION_KEY, [])][-(MAX_OPEN_STARTS - 1) :]
    session[SESSION_KEY] = [*open_starts, nonce]
    return _serializer(secret_key).dumps({"t": round(now, 3), "n": nonce})


def read_form_start(
    value: str | None,
    session: Mapping,
    secret_key: str,
    now: float,
    *,
    min_seconds: float,
    max_age_seconds: float,
) -> str:
    """Check a posted start value; return its nonce or raise FormStartRefused saying why."""
    try:
        start = _serializer(secret_key).loads(value or "")
    except BadSignature:
        raise FormStartRefused("missing or forged start value") from None
    if not isinstance(start, dict) or not isinstance(start.get("t"), int | float):
        raise FormStartRefused("malformed start value")
    nonce = start.get("n")
    if nonce not in session.get(SESSION_KEY, []):
        raise FormStartRefused("start value from another session")
    elapsed = now - start["t"]
    if elapsed < min_seconds:
        raise FormStartRefused("sent too fast")
    if elapsed > max_age_seconds:
        raise FormStartRefused("start value too old")
    return nonce


def spend_form_start(nonce: str, session: MutableMapping, at: datetime) -> None:
    """Record `nonce` as spent (its own committed transaction); raise if it already was.

    Spent before the reservation, so two posts racing with one value cannot both book;
    a post refused later (the time was just taken) gets a fresh value with its form.
    """
    db.session.add(SpentFormStart(nonce=nonce, spent_at=at))
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise FormStartRefused("start value already used") from None
    session[SESSION_KEY] = [n for n in session.get(SESSION_KEY, []) if n != nonce]


def forget_spent_starts(before: datetime) -> int:
    """Delete spent start values recorded before `before` (they have expired anyway)."""
    result = db.session.execute(
        SpentFormStart.__table__.delete().where(SpentFormStart.spent_at < before)
    )
    db.session.commit()
    return result.rowcount


# --- Limits beyond one address -------------------------------------------------------------


def network_of(address: str | None) -> str:
    """Return the client's network: the /24 of an IPv4 address, the /64 of an IPv6 one."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return "unknown"
    # A dual-stack server sees IPv4 clients as ::ffff:a.b.c.d; they are IPv4 networks.
    ip = getattr(ip, "ipv4_mapped", None) or ip
    prefix = 24 if ip.version == 4 else 64
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


def _posted_email() -> str:
    return (request.form.get("email") or "").strip().lower()[:254]


def email_key() -> str:
    """Rate-limit key: the posted email address, case-folded."""
    return "email:" + _posted_email()


def email_domain_key() -> str:
    """Rate-limit key: the posted email address's domain."""
    return "domain:" + _posted_email().rpartition("@")[2]


def network_key() -> str:
    """Rate-limit key: the client's /24 or /64 network."""
    return "net:" + network_of(request.remote_addr)


# --- Surges --------------------------------------------------------------------------------


def surge_state(now: datetime, threshold: int) -> SurgeState:
    """Count the bookings created in the hour before `now` (naive UTC), whatever their state."""
    since = now - timedelta(hours=1)
    recent = db.session.scalar(
        select(func.count()).select_from(Booking).where(Booking.created_at >= since)
    )
    return SurgeState(recent=recent or 0, threshold=threshold)


def held_count(now: datetime) -> int:
    """How many bookings are held (waiting for their prospect's confirmation) right now."""
    return (
        db.session.scalar(
            select(func.count())
            .select_from(Booking)
            .where(Booking.status == HELD, Booking.hold_until > now)
        )
        or 0
    )


def must_hold(policy: SurgePolicy, now: datetime) -> SurgeState | None:
    """Return the surge state when a new booking must be held, None when it books at once.

    Raises SurgeFull when a surge is on and `policy.max_holds` times are already held.
    Call under the reservation lock, so two bookings cannot both take the last hold.
    """
    state = surge_state(now, policy.per_hour)
    if not state.active:
        return None
    if held_count(now) >= policy.max_holds:
        raise SurgeFull("too many bookings waiting for confirmation")
    return state


def surge_notice_due(now: datetime, quiet_hours: float) -> bool:
    """True unless the team was told of a surge within the last `quiet_hours`."""
    since = now - timedelta(hours=quiet_hours)
    last = db.session.scalar(
        select(func.max(OutboxMessage.created_at)).where(OutboxMessage.kind == SURGE_NOTICE_KIND)
    )
    return last is None or last < since


# --- The link that confirms a held booking -------------------------------------------------


def hold_token(booking: Booking, secret_key: str) -> str:
    """The signed capability in a held booking's confirmation link."""
    return URLSafeSerializer(secret_key, salt=HOLD_SALT).dumps(booking.public_id)


def hold_url(booking: Booking, config: Mapping) -> str:
    """The absolute address of the page that confirms a held booking."""
    token = hold_token(booking, config["SECRET_KEY"])
    return f"{config['PUBLIC_URL'].rstrip('/')}/book/hold/{token}"


def held_booking(token: str, secret_key: str) -> Booking | None:
    """Return the booking a hold link names, or None for a forged or unknown link."""
    if len(token) > 200:
        return None
    try:
        public_id = URLSafeSerializer(secret_key, salt=HOLD_SALT).loads(token)
    except BadSignature:
        return None
    if not isinstance(public_id, str):
        return None
    return db.session.scalar(select(Booking).where(Booking.public_id == public_id))
