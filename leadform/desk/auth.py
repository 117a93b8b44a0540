"""Operators' sign-in: password checks, the session and the `login_required` decorator.

The session (Flask's signed cookie) holds the operator's id and the time they signed in;
every request checks both, so an expired or disabled operator is out at their next click.
"""

import functools
import time
from urllib.parse import urlsplit

from flask import current_app, g, redirect, request, session, url_for
from werkzeug.security import check_password_hash, generate_password_hash

from leadform.db import db
from leadform.models import Operator, utcnow

SESSION_OPERATOR = "admin_operator_id"
SESSION_SIGNED_IN_AT = "admin_signed_in_at"  # seconds since the epoch
# Shown for every refused sign-in: naming the wrong part would confirm a username exists.
NEUTRAL_LOGIN_ERROR = "That username and password do not match an active account."
MIN_PASSWORD_LENGTH = 12


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
    """Return the active operator with these credentials; raise InvalidCredentials."""
    operator = db.session.scalar(
        db.select(Operator).where(Operator.username == normalise_username(username))
    )
    stored = operator.password_hash if operator else _dummy_hash()
    password_ok = check_password_hash(stored, password)
    if operator is None or not password_ok or not operator.active:
        raise InvalidCredentials(NEUTRAL_LOGIN_ERROR)
    return operator


def normalise_username(username: str) -> str:
    """Usernames are compared trimmed and in lower case."""
    return (username or "").strip().lower()


def sign_in(operator: Operator, now: float | None = None) -> None:
    """Start a fresh session for `operator` and record the sign-in; commits."""
    session.clear()  # nothing from before the sign-in carries over
    session[SESSION_OPERATOR] = operator.id
    session[SESSION_SIGNED_IN_AT] = int(now if now is not None else time.time())
    operator.last_login_at = utcnow()
    db.session.commit()
    g.admin_operator = operator


def sign_out() -> None:
    """End the operator's session (the whole cookie, CSRF token included)."""
    session.clear()
    g.admin_operator = None


def session_expired(signed_in_at, now: float, hours: float) -> bool:
    """Whether a sign-in at `signed_in_at` (epoch seconds) is older than `hours`."""
    if not isinstance(signed_in_at, int | float) or isinstance(signed_in_at, bool):
        return True
    return not (0 <= now - signed_in_at < hours * 3600)


def _operator_from_session() -> Operator | None:
    """Load the signed-in operator, or None when absent, expired or disabled."""
    operator_id = session.get(SESSION_OPERATOR)
    if operator_id is None:
        return None
    hours = current_app.config["ADMIN_SESSION_HOURS"]
    if session_expired(session.get(SESSION_SIGNED_IN_AT), time.time(), hours):
        sign_out()
        return None
    operator = db.session.get(Operator, operator_id) if isinstance(operator_id, int) else None
    if operator is None or not operator.active:
        sign_out()
        return None
    return operator


def current_operator() -> Operator | None:
    """The operator signed in for this request, or None (loaded once per request)."""
    if "admin_operator" not in g:
        g.admin_operator = _operator_from_session()
    return g.admin_operator


def safe_next(target: str | None) -> str | None:
    """Return `target` if it is a path under /admin on this site, else None (no open redirect)."""
    if not target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or "\\" in target or not target.startswith("/admin"):
        return None
    return target


def login_redirect():
    """Redirect to the sign-in page, coming back to the requested page afterwards."""
    target = request.full_path if request.query_string else request.path
    return redirect(url_for("admin.login", next=target))


def login_required(view):
    """Decorate a view so that only a signed-in operator reaches it; others go to sign in."""

    @functools.wraps(view)
    def wrapped_view(**kwargs):
        if current_operator() is None:
            return login_redirect()
        return view(**kwargs)

    return wrapped_view


def keep_private(response):
    """Keep desk pages (personal data, lead figures) out of caches and search engines."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
