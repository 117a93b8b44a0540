"""Addresses we must not write to, and why.

Two scopes:

- `all`: the address bounced or SendGrid dropped mail to it. Nothing reaches it, so even the
  transactional emails a prospect needs (reminders) stop; the team contacts them otherwise.
- `marketing`: the person marked a message as spam or unsubscribed. Newsletters and other
  non-transactional mail stop; confirmations, reminders and cancellations still go, because
  the person asked for them by booking.

Addresses are kept as the SHA-256 of their normalised form (see `SuppressedAddress`).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import select

from leadform.db import db
from leadform.messages.models import SuppressedAddress
from leadform.models import utcnow

ALL = "all"
MARKETING = "marketing"
SCOPES = (ALL, MARKETING)


class UnknownScopeError(ValueError):
    """A suppression scope other than "all" or "marketing" was given."""


def address_hash(address: str) -> str:
    """The stored key of `address`: SHA-256 of it trimmed and lower-cased."""
    return hashlib.sha256(address.strip().lower().encode("utf-8")).hexdigest()


def _find(address: str) -> SuppressedAddress | None:
    """The suppression row of `address`, if any."""
    stmt = select(SuppressedAddress).where(SuppressedAddress.address_hash == address_hash(address))
    return db.session.scalar(stmt)


def suppress(address: str, scope: str, reason: str) -> SuppressedAddress:
    """Add `address` to the list (in the caller's transaction); "all" outranks "marketing"."""
    if scope not in SCOPES:
        raise UnknownScopeError(f"scope must be one of {', '.join(SCOPES)}, got {scope!r}")
    row = _find(address)
    if row is None:
        row = SuppressedAddress(address_hash=address_hash(address), scope=scope, reason=reason)
        db.session.add(row)
    elif scope == ALL and row.scope != ALL:
        row.scope, row.reason, row.updated_at = ALL, reason, utcnow()
    return row


def may_send(address: str, *, transactional: bool) -> bool:
    """Tell whether an email may go to `address` (a reminder is transactional, a newsletter not)."""
    row = _find(address)
    if row is None:
        return True
    return transactional and row.scope == MARKETING


def lift(address: str) -> bool:
    """Remove `address` from the list (it was fixed, or the person asked); commit-free."""
    row = _find(address)
    if row is None:
        return False
    db.session.delete(row)
    return True
