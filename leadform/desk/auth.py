"""Operators' sign-in: passwords, server-side desk sessions and the guards of desk pages.

A desk session is a row of `desk_sessions`; the cookie holds only its random token (the row
keeps the token's hash). Whoever copies a cookie, or forges one with the secret key, gets
nothing once the row is gone, and rows go at once, in every worker: signing out, a new
password, disabling the operator and resetting their second factor delete every session of
that operator. Sign-in is a password, then (when the operator has one) a TOTP or recovery
code; between the two steps the row's stage is "second_factor" and opens no page.
"""

import functools
import hashlib
import secrets
from datetime import timedelta
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from sqlalchemy import delete, select
from werkzeug.security import check_password_hash, generate_password_hash

from leadform.db import db
from leadform.desk import throttle, two_factor
from leadform.models import DeskSession, Operator, utcnow

SESSION_TOKEN = "admin_session"  # noqa: S105 - the cookie key; its value is the random token
SESSION_NEXT = "admin_next"  # where to go once the second factor is entered
SIGNED_IN = "signed_in"
SECOND_FACTOR = "second_factor"
SECOND_FACTOR_MINUTES = 5  # time allowed between the password and the code
# Shown for every refused sign-in: naming the wrong part would confirm a username exists.
NEUTRAL_LOGIN_ERROR = "That username and password do not match an active account."
MIN_PASSWORD_LENGTH = 12
# The pages an operator who must enrol a second factor may still open.
ENROLMENT_ENDPOINTS = {"account.two_factor", "admin.logout"}


class AuthError(Exception):
    """Base class of the sign-in errors."""


class InvalidCredentials(AuthError):
    """Unknown username, wrong password or disabled operator (deliberately not told apart)."""


class WeakPassword(AuthError):
    """A new password is too short to protect prospects' data."""


def hash_password(password: str) -> str:
    """Hash `password` with the configured method (scrypt unless a test asks for cheaper)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    return generate_password_hash(password, method=current_app.config["ADMIN_PASSWORD_METHOD"])


def _dummy_hash() -> str:
    """A hash to check against when the username is unknown, so both paths take as long."""
    cache = current_app.extensions.setdefault("admin_dummy_hash", {})
    method = current_app.config["ADMIN_PASSWORD_METHOD"]
    if method not in cache:
        cache[method] = generate_password_hash("not-a-real-password", method=method)
    return cache[method]


def authenticate(username: str, password: str) -> Operator:
    """Return the active operator with these credentials.

    Raises throttle.AccountLocked while the username is locked (the password is not even
    checked), else InvalidCredentials, which also counts a failure for the username.
    """
    throttle.check_not_locked(username, utcnow())
    operator = db.session.scalar(
        select(Operator).where(Operator.username == normalise_username(username))
    )
    stored = operator.password_hash if operator else _dummy_hash()
    password_ok = check_password_hash(stored, password)
    if operator is None or not password_ok or not operator.active:
        throttle.record_failure(username, utcnow())
        raise InvalidCredentials(NEUTRAL_LOGIN_ERROR)
    return operator


def normalise_username(username: str) -> str:
    """Usernames are compared trimmed and in lower case."""
    return (username or "").strip().lower()


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _start_session(operator: Operator, stage: str, lifetime: timedelta) -> None:
    """Replace this browser's session with a new row and token (no fixation); commits."""
    previous = _current_row()
    if previous is not None:
        db.session.delete(previous)
    session.clear()  # nothing from before the sign-in carries over
    token = secrets.token_urlsafe(32)
    now = utcnow()
    row = DeskSession(
        token_hash=_token_hash(token),
        operator=operator,
        stage=stage,
        created_at=now,
        expires_at=now + lifetime,
    )
    db.session.add(row)
    # Housekeeping: the operator's ended sessions are of no further use.
    db.session.execute(
        delete(DeskSession).where(
            DeskSession.operator_id == operator.id, DeskSession.expires_at <= now
        )
    )
    db.session.commit()
    session[SESSION_TOKEN] = token
    g.desk_session = row


def sign_in(operator: Operator) -> None:
    """Start a full session for `operator`, record the sign-in, forget failures; commits."""
    hours = current_app.config["ADMIN_SESSION_HOURS"]
    _start_session(operator, SIGNED_IN, timedelta(hours=hours))
    operator.last_login_at = utcnow()
    throttle.clear_failures(operator.username)


def begin_second_factor(operator: Operator, next_url: str | None) -> None:
    """After the right password: a short session that only opens the code step; commits."""
    _start_session(operator, SECOND_FACTOR, timedelta(minutes=SECOND_FACTOR_MINUTES))
    if next_url:
        session[SESSION_NEXT] = next_url


def pop_next() -> str | None:
    """The desk page the operator asked for before the code step, if any."""
    return safe_next(session.pop(SESSION_NEXT, None))


def end_sessions(operator_id: int, keep: DeskSession | None = None) -> int:
    """Delete every session of the operator (but `keep`); return how many ended. Commits."""
    statement = delete(DeskSession).where(DeskSession.operator_id == operator_id)
    if keep is not None:
        statement = statement.where(DeskSession.id != keep.id)
    ended = db.session.execute(statement).rowcount
    db.session.commit()
    return ended


def end_other_sessions(operator: Operator) -> int:
    """End the operator's sessions in other browsers, keeping this one; commits."""
    return end_sessions(operator.id, keep=_current_row())


def sign_out() -> None:
    """End every session of the signed-in operator, and this browser's whole cookie."""
    row = _current_row()
    if row is not None:
        end_sessions(row.operator_id)
    session.clear()
    g.desk_session = None


def change_password(operator: Operator, current: str, new: str) -> None:
    """Set a new password after checking the current one; ends every session. Commits.

    Raises InvalidCredentials for a wrong current password, WeakPassword for a short one.
    """
    if not check_password_hash(operator.password_hash, current):
        raise InvalidCredentials("Your current password is not right.")
    operator.password_hash = hash_password(new)
    end_sessions(operator.id)
    session.clear()
    g.desk_session = None


def _current_row() -> DeskSession | None:
    """This browser's live session row (either stage), loaded once per request."""
    if "desk_session" not in g:
        g.desk_session = _row_from_cookie()
    return g.desk_session


def _row_from_cookie() -> DeskSession | None:
    """The session row the cookie's token names, or None when absent, expired or disabled."""
    token = session.get(SESSION_TOKEN)
    if not isinstance(token, str):
        return None
    row = db.session.scalar(select(DeskSession).where(DeskSession.token_hash == _token_hash(token)))
    if row is not None and row.expires_at > utcnow() and row.operator.active:
        return row
    if row is not None:
        db.session.delete(row)
        db.session.commit()
    session.pop(SESSION_TOKEN, None)
    return None


def current_operator() -> Operator | None:
    """The operator fully signed in on this browser, or None."""
    row = _current_row()
    return row.operator if row is not None and row.stage == SIGNED_IN else None


def pending_operator() -> Operator | None:
    """The operator who gave the right password and still owes the second factor, or None."""
    row = _current_row()
    return row.operator if row is not None and row.stage == SECOND_FACTOR else None


def safe_next(target: str | None) -> str | None:
    """Return `target` if it is a path under /admin on this site, else None.

    No open redirect, and no control characters: a CR/LF would end up in the Location
    header, which werkzeug refuses with a server error.
    """
    if not target or not isinstance(target, str):
        return None
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or not target.startswith("/admin"):
        return None
    return target


def login_redirect():
    """Redirect to the sign-in page, coming back to the requested page afterwards."""
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("admin.login", next=target))


def must_enrol(operator: Operator) -> bool:
    """Whether `operator` must enrol a second factor before using the desk."""
    return two_factor.is_required() and not two_factor.is_enabled(operator)


def guard_request():
    """None when this request may reach an operator page; otherwise where to go instead."""
    operator = current_operator()
    if operator is None:
        return login_redirect()
    if must_enrol(operator) and request.endpoint not in ENROLMENT_ENDPOINTS:
        return redirect(url_for("account.two_factor"))
    return None


def login_required(view):
    """Decorate a view so that only a signed-in operator reaches it; others go to sign in."""

    @functools.wraps(view)
    def wrapped_view(**kwargs):
        return guard_request() or view(**kwargs)

    return wrapped_view


def keep_private(response):
    """Keep desk pages (personal data, lead figures) out of caches and search engines."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
