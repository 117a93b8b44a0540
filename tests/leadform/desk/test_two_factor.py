"""The operators' second factor: TOTP enrolled from the desk, recovery codes, the CLI.

Codes are computed by pyotp from the secret the desk shows, as an authenticator app would.
A code is accepted once, so a test that signs in after enrolling uses the next period's code.
"""

import re
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from leadform.db import db
from leadform.desk.throttle import LOCKOUT_THRESHOLD
from leadform.models import Operator, RecoveryCode
from tests.leadform.desk import helpers
from tests.leadform.desk.helpers import (
    DESK_SETTINGS,
    PASSWORD,
    USERNAME,
    csrf_token,
    is_sign_in_redirect,
    sign_in,
    sign_out,
    signed_in,
    with_operator,
)

any_db_app = helpers.any_db_app
SECRET_SHOWN = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
RECOVERY_SHOWN = re.compile(r"<li><code>([a-z2-7]{4}(?:-[a-z2-7]{4}){3})</code></li>")
ENROL = "/admin/account/two-factor"
PRODUCTION = {"ENV_NAME": "production", "SECRET_KEY": "p" * 64}


@pytest.fixture
def app(any_db_app):
    """The desk app (SQLite, then PostgreSQL) with operator alice."""
    return with_operator(any_db_app)


def shown_secret(page: str) -> str:
    """The base32 secret the enrolment page shows (grouped by four for reading)."""
    match = SECRET_SHOWN.search(page)
    assert match, "the enrolment page shows no secret"
    return match.group(1).replace(" ", "")


def enrol(client) -> tuple[pyotp.TOTP, list[str]]:
    """Enrol the signed-in operator like a person would; return their TOTP and recovery codes."""
    page = client.get(ENROL).get_data(as_text=True)
    totp = pyotp.TOTP(shown_secret(page))
    response = client.post(
        ENROL, data={"csrf_token": csrf_token(client, ENROL), "code": totp.now()}
    )
    assert response.status_code == 200, response.status_code
    codes = RECOVERY_SHOWN.findall(response.get_data(as_text=True))
    assert len(codes) == 10
    return totp, codes


def next_code(totp: pyotp.TOTP) -> str:
    """The code of the next period: the current one was spent on enrolment."""
    return totp.at(time.time() + totp.interval)


def enter_code(client, code: str):
    """Send the second step of sign-in."""
    token = csrf_token(client, "/admin/login/code")
    return client.post("/admin/login/code", data={"csrf_token": token, "code": code})


def test_enrolment_shows_the_secret_the_uri_and_a_qr_code(app):
    desk = signed_in(app)
    page = desk.get(ENROL).get_data(as_text=True)
    secret = shown_secret(page)
    uri = re.search(r'<code id="totp-uri">([^<]+)</code>', page).group(1).replace("&amp;", "&")
    parts = urlsplit(uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert parse_qs(parts.query)["secret"] == [secret]
    assert parse_qs(parts.query)["issuer"] == [app.config["SITE"]["firm"]["name"]]
    assert 'src="data:image/svg+xml' in page


def test_enrolling_turns_the_second_factor_on_and_stores_codes_hashed(app):
    desk = signed_in(app)
    _, codes = enrol(desk)
    with app.app_context():
        operator = db.session.scalar(db.select(Operator))
        stored = db.session.scalars(db.select(RecoveryCode.code_hash)).all()
    assert operator.totp_enabled_at is not None
    assert len(stored) == 10
    assert not {code.replace("-", "") for code in codes} & set(stored)
    assert all(code not in hashed for code in codes for hashed in stored)


def test_the_account_page_shows_the_state_and_the_codes_left(app):
    desk = signed_in(app)
    assert "Set up an authenticator app" in desk.get("/admin/account").get_data(as_text=True)
    enrol(desk)
    page = desk.get("/admin/account").get_data(as_text=True)
    assert "On since" in page
    assert "10 of your recovery codes are unused" in page


def test_a_wrong_code_does_not_enrol(app):
    desk = signed_in(app)
    desk.get(ENROL)
    response = desk.post(ENROL, data={"csrf_token": csrf_token(desk, ENROL), "code": "000000"})
    assert response.status_code == 400
    assert "That code is not right" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(Operator)).totp_enabled_at is None


def test_sign_in_asks_for_the_code_after_the_password(app):
    desk = signed_in(app)
    totp, _ = enrol(desk)
    sign_out(desk)
    client = app.test_client()
    response = sign_in(client, USERNAME, PASSWORD, next_url="/admin/outbox")
    assert response.status_code == 303
    assert urlsplit(response.location).path == "/admin/login/code"
    assert is_sign_in_redirect(client.get("/admin/bookings"))  # a password alone opens nothing
    response = enter_code(client, next_code(totp))
    assert (response.status_code, response.location) == (303, "/admin/outbox")
    assert client.get("/admin/bookings").status_code == 200


def test_a_code_works_only_once(app):
    desk = signed_in(app)
    totp, _ = enrol(desk)
    sign_out(desk)
    code = next_code(totp)
    first = app.test_client()
    sign_in(first, USERNAME, PASSWORD)
    assert enter_code(first, code).status_code == 303
    second = app.test_client()
    sign_in(second, USERNAME, PASSWORD)
    assert enter_code(second, code).status_code == 200
    assert is_sign_in_redirect(second.get("/admin/bookings"))


def test_a_recovery_code_signs_in_once(app):
    desk = signed_in(app)
    _, codes = enrol(desk)
    sign_out(desk)
    client = app.test_client()
    sign_in(client, USERNAME, PASSWORD)
    assert enter_code(client, codes[3].upper().replace("-", " ")).status_code == 303
    assert client.get("/admin/bookings").status_code == 200
    sign_out(client)
    sign_in(client, USERNAME, PASSWORD)
    assert enter_code(client, codes[3]).status_code == 200
    with app.app_context():
        used = db.session.scalars(db.select(RecoveryCode).where(RecoveryCode.used_at.isnot(None)))
        assert len(used.all()) == 1


def test_wrong_codes_lock_the_account(app):
    desk = signed_in(app)
    totp, _ = enrol(desk)
    sign_out(desk)
    for n in range(LOCKOUT_THRESHOLD):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{n + 1}"
        sign_in(client, USERNAME, PASSWORD)
        assert enter_code(client, f"{n:06d}").status_code == 200
    client = app.test_client()
    assert sign_in(client, USERNAME, PASSWORD).status_code == 429


def test_the_code_step_needs_the_password_first(app):
    client = app.test_client()
    assert is_sign_in_redirect(client.get("/admin/login/code"))


def test_production_requires_enrolment_before_anything_else(make_app):
    app = with_operator(make_app(**DESK_SETTINGS, **PRODUCTION))
    client = app.test_client()
    response = sign_in(client, USERNAME, PASSWORD)
    assert (response.status_code, response.location) == (303, ENROL)
    for url in ("/admin/bookings", "/admin/outbox", "/admin/reports", "/admin/account"):
        assert client.get(url).location == ENROL, url
    totp, _ = enrol(client)
    assert client.get("/admin/bookings").status_code == 200
    sign_out(client)
    response = sign_in(client, USERNAME, PASSWORD)
    assert urlsplit(response.location).path == "/admin/login/code"
    assert enter_code(client, next_code(totp)).status_code == 303


def test_development_does_not_require_a_second_factor(app):
    assert signed_in(app).get("/admin/bookings").status_code == 200


def test_the_cli_resets_a_lost_device(app):
    desk = signed_in(app)
    enrol(desk)
    result = app.test_cli_runner().invoke(args=["operators", "reset-2fa", USERNAME])
    assert result.exit_code == 0, result.output
    assert is_sign_in_redirect(desk.get("/admin/bookings"))
    with app.app_context():
        operator = db.session.scalar(db.select(Operator))
        assert (operator.totp_secret, operator.totp_enabled_at) == (None, None)
        assert db.session.scalar(db.select(db.func.count()).select_from(RecoveryCode)) == 0
    assert signed_in(app).get("/admin/bookings").status_code == 200


def test_the_cli_lists_who_has_a_second_factor(app):
    enrol(signed_in(app))
    listing = app.test_cli_runner().invoke(args=["operators", "list"]).output
    assert "two-factor: on" in listing
