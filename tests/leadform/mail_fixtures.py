"""Fixtures for the email and outbox tests: a tiny app, real SMTP, real PostgreSQL.

Import the fixtures you use into the test module (`from tests.leadform.mail_fixtures
import mail_app`); they are kept out of conftest.py, which another module owns.
"""

import asyncio
import socket
import tomllib
import uuid
from datetime import datetime

import psycopg
import pytest
from flask import Flask
from sqlalchemy.engine import make_url

from leadform.db import db
from leadform.db import init_app as init_db
from leadform.messages import outbox
from leadform.messages.senders import EmailMessage
from leadform.models import Booking
from tests.conftest import ROOT, require_postgres_url
from tests.leadform.conftest import SITE_FILE

API_KEY = "SG.test-key-do-not-log.0123456789"
MAIL_FROM = "Tessellate Advisory <bookings@tessellate.example>"
TEAM_EMAIL = "team@tessellate.example"
PROSPECT_EMAIL = "prospect.person@example.com"


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def load_site() -> dict:
    """The tests' own site.toml (conftest.SITE_FILE), as the app would load it."""
    with open(SITE_FILE, "rb") as handle:
        return tomllib.load(handle)


def make_mail_app(database_uri: str, **overrides) -> Flask:
    """A minimal Flask app with the database, the outbox commands and the mail settings."""
    app = Flask("leadform")
    app.config.update(
        TESTING=True,
        SQLALCHEMY_DATABASE_URI=database_uri,
        MIGRATIONS_DIR=str(ROOT / "leadform" / "migrations"),
        SITE=load_site(),
        MAIL_BACKEND="console",
        MAIL_FROM=MAIL_FROM,
        TEAM_EMAIL=TEAM_EMAIL,
        PUBLIC_URL="https://book.tessellate.example",
        OUTBOX_MAX_ATTEMPTS=4,
        OUTBOX_BACKOFF_SECONDS=30,
        OUTBOX_BATCH_SIZE=20,
        OUTBOX_POLL_SECONDS=0.01,
        OUTBOX_LEASE_SECONDS=120,
    )
    app.config.update(overrides)
    init_db(app)
    outbox.init_app(app)
    with app.app_context():
        db.create_all()
    return app


@pytest.fixture
def mail_app(tmp_path):
    """The tiny app on a fresh SQLite file; its app context is pushed for the test."""
    app = make_mail_app(f"sqlite:///{tmp_path / 'leadform.sqlite3'}")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def postgres_url():
    """A fresh PostgreSQL database (random name) for one test, dropped afterwards."""
    server = make_url(require_postgres_url())
    name = f"leadform_test_{uuid.uuid4().hex[:10]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_mail_app(postgres_url):
    """The tiny app on a fresh PostgreSQL database; its app context is pushed."""
    app = make_mail_app(postgres_url)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def make_email(**overrides) -> EmailMessage:
    """A valid message to the prospect address, with fields overridable."""
    fields = {
        "to": PROSPECT_EMAIL,
        "from_": MAIL_FROM,
        "reply_to": TEAM_EMAIL,
        "subject": "Hello",
        "text": "Plain body",
        "html": "<p>HTML body</p>",
    }
    return EmailMessage(**(fields | overrides))


def make_booking(**overrides) -> Booking:
    """A Booking (not added to any session) for Tuesday 8 December 2026 14:00 UTC."""
    fields = {
        "public_id": uuid.uuid4().hex,
        "status": "confirmed",
        "slot_start": datetime(2026, 12, 8, 14, 0),
        "slot_end": datetime(2026, 12, 8, 15, 30),
        "timezone": "America/New_York",
        "name": "Ada Example",
        "email": PROSPECT_EMAIL,
        "company": "Example Ltd",
        "role": "COO",
        "company_size": "51-200",
        "goals": "Find where AI helps our operations.",
        "consent_at": datetime(2026, 11, 20, 9, 30),
        "privacy_version": "2026-11-01",
        "ics_sequence": 0,
    }
    return Booking(**(fields | overrides))


class RecordingHandler:
    """aiosmtpd handler that keeps every message and can refuse recipients."""

    def __init__(self):
        self.messages: list[bytes] = []
        self.rcpt_reply: str | None = None  # e.g. "550 5.1.1 No such user"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        """Accept the recipient unless a refusal was set up."""
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        """Keep the message bytes."""
        self.messages.append(envelope.original_content or envelope.content)
        return "250 Message accepted"


@pytest.fixture
def smtp_server():
    """A real aiosmtpd SMTP server on 127.0.0.1 (random port): yields (handler, port)."""
    from aiosmtpd.controller import Controller

    handler = RecordingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()
        asyncio.set_event_loop(None)


__all__ = [
    "API_KEY",
    "MAIL_FROM",
    "PROSPECT_EMAIL",
    "TEAM_EMAIL",
    "free_port",
    "load_site",
    "make_booking",
    "make_email",
    "make_mail_app",
    "mail_app",
    "pg_mail_app",
    "postgres_url",
    "smtp_server",
]
