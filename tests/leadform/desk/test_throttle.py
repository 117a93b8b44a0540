"""Failed sign-ins are counted per username in the database, whatever the address.

The per-address limit (Flask-Limiter) cannot stop guesses spread over many addresses; the
per-account lock does, in every worker, on SQLite and on PostgreSQL.
"""

import pytest
from sqlalchemy import update

from leadform import create_app
from leadform.db import db
from leadform.desk.throttle import LOCKOUT_THRESHOLD, lockout_seconds
from leadform.models import LoginThrottle, utcnow
from tests.leadform.conftest import base_config
from tests.leadform.desk import helpers
from tests.leadform.desk.helpers import (
    DESK_SETTINGS,
    PASSWORD,
    USERNAME,
    is_sign_in_redirect,
    sign_in,
    with_operator,
)

any_db_app = helpers.any_db_app
LOCKED = "Too many failed sign-ins for this username"


@pytest.fixture
def app(any_db_app):
    """The desk app (SQLite, then PostgreSQL) with operator alice."""
    return with_operator(any_db_app)


def attempt(app, password: str, address: str, username: str = USERNAME):
    """Sign in from `address` with a fresh client; return (response, client)."""
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return sign_in(client, username, password), client


def guess(app, times: int, username: str = USERNAME, first: int = 1) -> None:
    """Send `times` wrong passwords for `username`, each from a different address."""
    for n in range(first, first + times):
        response, _ = attempt(app, f"guess number {n}", f"198.51.100.{n}", username)
        assert response.status_code == 200, (n, response.status_code)


def test_guesses_from_many_addresses_lock_the_account(app):
    guess(app, LOCKOUT_THRESHOLD)
    response, client = attempt(app, PASSWORD, "203.0.113.77")
    assert response.status_code == 429
    assert LOCKED in response.get_data(as_text=True)
    assert is_sign_in_redirect(client.get("/admin/bookings"))


def test_an_unknown_username_is_locked_the_same_way(app):
    guess(app, LOCKOUT_THRESHOLD, username="nobody")
    response, _ = attempt(app, PASSWORD, "203.0.113.77", username="nobody")
    assert response.status_code == 429
    assert LOCKED in response.get_data(as_text=True)


def test_failures_add_up_across_workers(app, tmp_path):
    other = create_app(
        base_config(
            tmp_path, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], **DESK_SETTINGS
        )
    )
    try:
        guess(app, LOCKOUT_THRESHOLD - 2)
        guess(other, 2, first=50)
        assert attempt(other, PASSWORD, "203.0.113.77")[0].status_code == 429
        assert attempt(app, PASSWORD, "203.0.113.78")[0].status_code == 429
    finally:
        with other.app_context():
            db.engine.dispose()


def test_a_successful_sign_in_starts_the_count_again(app):
    guess(app, LOCKOUT_THRESHOLD - 1)
    assert attempt(app, PASSWORD, "203.0.113.77")[0].status_code == 303
    guess(app, LOCKOUT_THRESHOLD - 1, first=20)
    assert attempt(app, PASSWORD, "203.0.113.78")[0].status_code == 303


def test_the_lock_ends_when_its_time_is_up(app):
    guess(app, LOCKOUT_THRESHOLD)
    with app.app_context():
        db.session.execute(update(LoginThrottle).values(locked_until=utcnow()))
        db.session.commit()
    assert attempt(app, PASSWORD, "203.0.113.77")[0].status_code == 303


def test_the_cli_unlocks_an_account(app):
    guess(app, LOCKOUT_THRESHOLD)
    result = app.test_cli_runner().invoke(args=["operators", "unlock", USERNAME])
    assert result.exit_code == 0, result.output
    assert attempt(app, PASSWORD, "203.0.113.77")[0].status_code == 303


def test_a_locked_account_does_not_count_more_failures(app):
    guess(app, LOCKOUT_THRESHOLD)
    with app.app_context():
        before = db.session.scalar(db.select(LoginThrottle))
        failures, locked_until = before.failures, before.locked_until
    attempt(app, "another guess entirely", "203.0.113.9")
    with app.app_context():
        after = db.session.scalar(db.select(LoginThrottle))
        assert (after.failures, after.locked_until) == (failures, locked_until)


@pytest.mark.parametrize(
    ("failures", "seconds"),
    [(1, 0), (LOCKOUT_THRESHOLD - 1, 0), (LOCKOUT_THRESHOLD, 60), (LOCKOUT_THRESHOLD + 1, 120)],
)
def test_the_lock_doubles_with_each_failure(failures, seconds):
    assert lockout_seconds(failures) == seconds


def test_the_lock_is_capped():
    assert lockout_seconds(LOCKOUT_THRESHOLD + 50) == 3600
