"""Helpers for the desk's tests: a fast-hashing app, operators, bookings and signing in."""

import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest

from leadform.db import db
from leadform.desk.cli import create_operator
from leadform.models import Booking, OutboxMessage, utcnow

# pbkdf2 with few rounds keeps sign-ins fast; production uses scrypt.
DESK_SETTINGS = {"ADMIN_PASSWORD_METHOD": "pbkdf2:sha256:1000", "LOGIN_RATE_LIMIT": "1000/minute"}
USERNAME = "alice"
PASSWORD = "correct horse battery"  # noqa: S105 - a test value
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@pytest.fixture
def app(make_app):
    """The app with cheap password hashing and a sign-in limit tests do not reach."""
    return make_app(**DESK_SETTINGS)


@pytest.fixture
def operator(app):
    """Operator alice (active), created the way the CLI does; returns the username."""
    with app.app_context():
        create_operator(USERNAME, "Alice Example", PASSWORD)
    return USERNAME


@pytest.fixture
def desk(client, operator):
    """A test client signed in as alice."""
    response = sign_in(client, USERNAME, PASSWORD)
    assert response.status_code == 303, response.status_code
    return client


def csrf_token(client, url: str = "/admin/login") -> str:
    """Fetch a page with a form and return its CSRF token (valid for the client's session)."""
    match = CSRF_INPUT.search(client.get(url).get_data(as_text=True))
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def sign_in(client, username: str, password: str, next_url: str | None = None):
    """Post the sign-in form like a browser; return the response."""
    data = {"csrf_token": csrf_token(client), "username": username, "password": password}
    if next_url:
        data["next"] = next_url
    return client.post("/admin/login", data=data)


def add_booking(app, *, start: datetime | None = None, **fields) -> str:
    """Store a booking directly (start naive UTC, default tomorrow); return its public_id."""
    start = start or utcnow().replace(second=0, microsecond=0) + timedelta(days=1)
    values = {
        "public_id": secrets.token_hex(8),
        "status": "confirmed",
        "slot_start": start,
        "slot_end": start + timedelta(minutes=90),
        "timezone": "Europe/London",
        "name": "Siobhán O'Brien",
        "email": "siobhan@example.com",
        "company": "Acme Insurance",
        "role": "Head of Operations",
        "company_size": "250-999",
        "goals": "A ranked shortlist of AI use cases.",
        "consent_at": utcnow(),
        "privacy_version": "2026-01",
    }
    values.update(fields)
    with app.app_context():
        db.session.add(Booking(**values))
        db.session.commit()
    return values["public_id"]


def add_message(app, public_id: str | None, **fields) -> int:
    """Store an outbox email (for booking `public_id`, if given); return its id."""
    values = {
        "channel": "email",
        "kind": "prospect_confirmation",
        "payload": {"to": "siobhan@example.com", "subject": "Booked", "text": "SECRET BODY"},
        "status": "queued",
    }
    values.update(fields)
    with app.app_context():
        if public_id:
            booking = db.session.scalar(db.select(Booking).where(Booking.public_id == public_id))
            values["booking_id"] = booking.id
        message = OutboxMessage(**values)
        db.session.add(message)
        db.session.commit()
        return message.id


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db_app(request, make_app):
    """The desk app on a fresh SQLite file, then on a throw-away PostgreSQL database."""
    if request.param == "sqlite":
        return make_app(**DESK_SETTINGS)
    return request.getfixturevalue("pg_app")(**DESK_SETTINGS)


def with_operator(app, username: str = USERNAME, password: str = PASSWORD):
    """Create an active operator on `app` the way the CLI does; return `app`."""
    with app.app_context():
        create_operator(username, "Alice Example", password)
    return app


def signed_in(app, address: str = "127.0.0.1"):
    """A new client of `app`, from `address`, signed in as alice (no second factor)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    response = sign_in(client, USERNAME, PASSWORD)
    assert response.status_code == 303, response.status_code
    return client


def copy_of(app, client):
    """Another client of `app` holding a copy of `client`'s session cookie (a stolen one)."""
    thief = app.test_client()
    thief.set_cookie("session", client.get_cookie("session").value)
    return thief


def sign_out(client):
    """Press "Sign out" on a desk page."""
    token = csrf_token(client, "/admin/bookings")
    return client.post("/admin/logout", data={"csrf_token": token})


def is_sign_in_redirect(response) -> bool:
    """Whether `response` sends the browser to the sign-in page."""
    return response.status_code == 302 and urlsplit(response.location).path == "/admin/login"
