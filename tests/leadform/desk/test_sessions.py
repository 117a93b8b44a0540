"""Desk sessions live on the server: sign-out, a new password or disabling ends them all.

Each test runs on SQLite and on PostgreSQL (`any_db_app`): the sessions are rows, so a
cookie copied before the end of a session is worthless afterwards, in every worker.
"""

import time

import pytest
from sqlalchemy import update

from leadform import create_app
from leadform.db import db
from leadform.desk.cli import disable_operator
from leadform.models import DeskSession, utcnow
from tests.leadform.conftest import base_config
from tests.leadform.desk import helpers
from tests.leadform.desk.helpers import (
    DESK_SETTINGS,
    PASSWORD,
    USERNAME,
    copy_of,
    csrf_token,
    is_sign_in_redirect,
    sign_in,
    sign_out,
    signed_in,
    with_operator,
)

any_db_app = helpers.any_db_app
NEW_PASSWORD = "a brand new pass phrase"  # noqa: S105 - a test value


@pytest.fixture
def app(any_db_app):
    """The desk app (SQLite, then PostgreSQL) with operator alice."""
    return with_operator(any_db_app)


@pytest.fixture
def second_worker(app, tmp_path):
    """Another app process on the same database, as a second gunicorn worker would be."""
    config = base_config(
        tmp_path, SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"], **DESK_SETTINGS
    )
    worker = create_app(config)
    yield worker
    with worker.app_context():
        db.engine.dispose()


def test_a_copied_cookie_dies_at_sign_out(app):
    desk = signed_in(app)
    thief = copy_of(app, desk)
    assert thief.get("/admin/bookings").status_code == 200  # the copy works while it lives
    assert sign_out(desk).status_code == 303
    assert is_sign_in_redirect(thief.get("/admin/bookings"))


def test_sign_out_ends_the_operators_sessions_everywhere(app, second_worker):
    laptop = signed_in(app)
    phone = copy_of(second_worker, signed_in(second_worker))
    sign_out(laptop)
    assert is_sign_in_redirect(phone.get("/admin/bookings"))


def test_a_password_change_ends_every_session(app):
    laptop, phone = signed_in(app), signed_in(app)
    thief = copy_of(app, laptop)
    response = laptop.post(
        "/admin/account/password",
        data={
            "csrf_token": csrf_token(laptop, "/admin/account"),
            "current_password": PASSWORD,
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert (response.status_code, response.location) == (303, "/admin/login")
    for client in (laptop, phone, thief):
        assert is_sign_in_redirect(client.get("/admin/bookings"))
    assert sign_in(app.test_client(), USERNAME, PASSWORD).status_code == 200
    assert sign_in(app.test_client(), USERNAME, NEW_PASSWORD).status_code == 303


def test_a_password_change_needs_the_current_password(app):
    desk = signed_in(app)
    response = desk.post(
        "/admin/account/password",
        data={
            "csrf_token": csrf_token(desk, "/admin/account"),
            "current_password": "not the password at all",
            "new_password": NEW_PASSWORD,
            "confirm_password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert "current password is not right" in response.get_data(as_text=True)
    assert desk.get("/admin/bookings").status_code == 200


def test_the_cli_password_change_ends_every_session(app):
    desk = signed_in(app)
    result = app.test_cli_runner().invoke(
        args=["operators", "set-password", USERNAME, "--password-stdin"],
        input=f"{NEW_PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert is_sign_in_redirect(desk.get("/admin/bookings"))
    assert sign_in(app.test_client(), USERNAME, NEW_PASSWORD).status_code == 303


def test_disabling_ends_a_copied_session_in_every_worker(app, second_worker):
    thief = copy_of(second_worker, signed_in(app))
    with app.app_context():
        disable_operator(USERNAME)
    assert is_sign_in_redirect(thief.get("/admin/bookings"))
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(DeskSession)) == 0


def test_the_cli_signs_an_operator_out_everywhere(app):
    desk = signed_in(app)
    result = app.test_cli_runner().invoke(args=["operators", "sign-out", USERNAME])
    assert result.exit_code == 0, result.output
    assert "1 session" in result.output
    assert is_sign_in_redirect(desk.get("/admin/bookings"))


def test_a_cookie_forged_with_the_secret_key_opens_nothing(app):
    # The cookie format of a signed-cookie session: whoever holds the key could write it.
    forged = {"admin_operator_id": 1, "admin_signed_in_at": int(time.time())}
    value = app.session_interface.get_signing_serializer(app).dumps(forged)
    client = app.test_client()
    client.set_cookie("session", value)
    assert is_sign_in_redirect(client.get("/admin/bookings"))


def test_an_expired_session_ends(app):
    desk = signed_in(app)
    with app.app_context():
        db.session.execute(update(DeskSession).values(expires_at=utcnow()))
        db.session.commit()
    assert is_sign_in_redirect(desk.get("/admin/bookings"))


def test_a_session_lasts_the_configured_hours_from_sign_in(app):
    signed_in(app)
    with app.app_context():
        row = db.session.scalar(db.select(DeskSession))
        hours = (row.expires_at - row.created_at).total_seconds() / 3600
    assert hours == pytest.approx(app.config["ADMIN_SESSION_HOURS"])


def test_the_cookie_holds_no_operator_id(app):
    desk = signed_in(app)
    data = app.session_interface.get_signing_serializer(app).loads(desk.get_cookie("session").value)
    assert "admin_operator_id" not in data
    with app.app_context():
        row = db.session.scalar(db.select(DeskSession))
    assert row.token_hash not in str(data)  # only the hash is stored, only the token is sent
