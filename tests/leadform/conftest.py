"""Fixtures for the booking service: an app on a fresh database, its client and CLI runner."""

import os
import uuid
from pathlib import Path

import psycopg
import pytest
from flask_migrate import upgrade
from sqlalchemy.engine import make_url

from leadform import create_app
from leadform.db import db
from leadform.extensions import limiter
from tests.conftest import require_postgres_url

TEST_SECRET = "test-secret-key"  # noqa: S105 - a test value
# The tests' own site.toml and articles: editors change the real ones (hours, notice, facts,
# titles) and the booking tests must not notice. tests/leadform/booking/test_slots.py checks
# the real site.toml for validity only.
FIXTURES = Path(__file__).resolve().parent / "fixtures"
SITE_FILE = FIXTURES / "site.toml"
CONTENT_DIR = FIXTURES / "content"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch):
    """Keep a developer's LEADFORM_* variables out of the tests."""
    for name in list(os.environ):
        if name.startswith("LEADFORM_"):
            monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _fresh_rate_limiter():
    """Undo rate-limit settings a test's app left on the one shared Limiter object.

    Flask-Limiter keeps RATELIMIT_DEFAULT, RATELIMIT_APPLICATION and RATELIMIT_ENABLED of the
    first app that sets them for every later app in the process (one app per process in
    production, dozens here).
    """
    yield
    limiter.limit_manager.set_default_limits([])
    limiter.limit_manager.set_application_limits([])
    limiter.enabled = True


def base_config(tmp_path, **overrides) -> dict:
    """Return test settings: the fixture site.toml, SQLite in tmp_path, mail to files."""
    config = {
        "TESTING": True,
        "SECRET_KEY": TEST_SECRET,
        "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'leadform.sqlite3'}",
        "SITE_FILE": SITE_FILE,
        "CONTENT_DIR": CONTENT_DIR,
        "MAIL_BACKEND": "file",
        "MAIL_DIR": tmp_path / "mail",
        "MIN_FILL_SECONDS": 0,
        "RATE_LIMIT": "1000/hour",
        # The flood guards' limits and surge hold are tested on their own (test_spam.py,
        # test_surge.py, test_flood.py); elsewhere they would only count tests' bookings.
        "RATE_LIMIT_NETWORK": "10000/hour",
        "RATE_LIMIT_EMAIL": "10000/hour",
        "RATE_LIMIT_EMAIL_DOMAIN": "10000/hour",
        "SURGE_BOOKINGS_PER_HOUR": 0,
        "RATELIMIT_STORAGE_URI": "memory://",
        # Write each booking-page visit at once, so tests can read it back directly.
        "VISIT_FLUSH_SECONDS": 0,
    }
    config.update(overrides)
    return config


def migrated_app(config: dict):
    """Create the app and bring its database to the latest migration."""
    app = create_app(config)
    with app.app_context():
        upgrade()
    return app


@pytest.fixture
def make_app(tmp_path):
    """Return a factory: make_app(**settings) gives a migrated app on a fresh SQLite file."""
    apps = []

    def _make(**overrides):
        app = migrated_app(base_config(tmp_path, **overrides))
        apps.append(app)
        return app

    yield _make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def app(make_app):
    """A migrated app on a fresh SQLite file, with default test settings."""
    return make_app()


@pytest.fixture
def client(app):
    """A test client of `app`."""
    return app.test_client()


@pytest.fixture
def runner(app):
    """A CLI runner of `app`."""
    return app.test_cli_runner()


@pytest.fixture
def pg_app(tmp_path):
    """Return a factory: pg_app(**settings) gives a migrated app on a new PostgreSQL database.

    Each database gets a random name and is dropped afterwards.
    """
    server_url = make_url(require_postgres_url())
    created = []

    def _make(**overrides):
        name = f"leadform_test_{uuid.uuid4().hex[:12]}"
        _admin(server_url, f'CREATE DATABASE "{name}"')
        created.append(name)
        url = server_url.set(database=name).render_as_string(hide_password=False)
        app = migrated_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=url, **overrides))
        apps.append(app)
        return app

    apps = []
    yield _make
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    for name in created:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _admin(server_url, statement: str) -> None:
    """Run one statement on the server's maintenance database outside a transaction."""
    dsn = server_url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(statement)
