"""Failed desk sign-ins counted per username in the database, whatever the address.

The per-address limit (`LOGIN_RATE_LIMIT`) cannot stop a guesser who spreads attempts over
many addresses. This count can: after `LOCKOUT_THRESHOLD` failures for one username, that
username is locked for a minute, doubling with each further failure up to an hour. It lives
in the database, so every worker sees it, and it is kept for unknown usernames too, so the
answer never tells whether an account exists. A wrong password and a wrong second-factor code
both count; only a complete sign-in clears the count.
"""

import math
from datetime import datetime, timedelta

from sqlalchemy import case, delete, select, update
from sqlalchemy.exc import IntegrityError

from leadform.db import db
from leadform.models import LoginThrottle

LOCKOUT_THRESHOLD = 5
LOCKOUT_BASE_SECONDS = 60
LOCKOUT_MAX_SECONDS = 3600
# Failures this long after the previous one start a new count: an operator who mistypes
# once a week is never locked out.
FAILURE_MEMORY = timedelta(hours=24)
USERNAME_MAX = 64


class AccountLocked(Exception):
    """Too many failed sign-ins for one username; `minutes` says how long to wait."""

    def __init__(self, minutes: int):
        self.minutes = minutes
        super().__init__(
            "Too many failed sign-ins for this username. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}, or ask a colleague "
            "to unlock it (flask operators unlock)."
        )


def lockout_seconds(failures: int) -> int:
    """How long `failures` failures in a row lock a username: 0 below the threshold."""
    if failures < LOCKOUT_THRESHOLD:
        return 0
    doublings = min(failures - LOCKOUT_THRESHOLD, 12)  # 2**12 minutes is past the cap anyway
    return min(LOCKOUT_BASE_SECONDS * 2**doublings, LOCKOUT_MAX_SECONDS)


def _key(username: str) -> str:
    """The stored key: the normalised username, cut to the column's length."""
    return (username or "").strip().lower()[:USERNAME_MAX]


def check_not_locked(username: str, now: datetime) -> None:
    """Raise AccountLocked while `username` is locked (`now` naive UTC)."""
    locked_until = db.session.scalar(
        select(LoginThrottle.locked_until).where(LoginThrottle.username == _key(username))
    )
    if locked_until is not None and locked_until > now:
        seconds = (locked_until - now).total_seconds()
        raise AccountLocked(max(1, math.ceil(seconds / 60)))


def record_failure(username: str, now: datetime) -> None:
    """Count one failed sign-in for `username` and lock it past the threshold; commits.

    The count is raised in one UPDATE, so failures arriving at once in several workers all
    count; the first failure of a username inserts its row (a racing insert falls back to
    the UPDATE).
    """
    key = _key(username)
    failures = _increment(key, now)
    if failures is None:
        try:
            with db.session.begin_nested():
                db.session.add(LoginThrottle(username=key, failures=1, last_failure_at=now))
            failures = 1
        except IntegrityError:
            failures = _increment(key, now)
    seconds = lockout_seconds(failures)
    if seconds:
        db.session.execute(
            update(LoginThrottle)
            .where(LoginThrottle.username == key)
            .values(locked_until=now + timedelta(seconds=seconds))
        )
    db.session.commit()


def _increment(key: str, now: datetime) -> int | None:
    """Add one failure to `key`'s row (a fresh count after FAILURE_MEMORY); None if no row."""
    fresh = LoginThrottle.last_failure_at < now - FAILURE_MEMORY
    return db.session.execute(
        update(LoginThrottle)
        .where(LoginThrottle.username == key)
        .values(failures=case((fresh, 1), else_=LoginThrottle.failures + 1), last_failure_at=now)
        .returning(LoginThrottle.failures)
        .execution_options(synchronize_session=False)
    ).scalar()


def clear_failures(username: str) -> bool:
    """Forget the failures of `username` (after a complete sign-in, or to unlock); commits.

    Returns whether there was anything to forget.
    """
    result = db.session.execute(
        delete(LoginThrottle).where(LoginThrottle.username == _key(username))
    )
    db.session.commit()
    return result.rowcount > 0
