"""Signing in to the desk: sessions, refusals, the rate limit and the operators CLI."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update
from werkzeug.security import check_password_hash

from leadform.db import db
from leadform.desk.auth import NEUTRAL_LOGIN_ERROR, safe_next
from leadform.desk.cli import create_operator, disable_operator
from leadform.models import DeskSession, Operator, utcnow
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import DESK_SETTINGS, PASSWORD, USERNAME, csrf_token, sign_in

# The desk's fixtures (`app` here overrides conftest's with cheap password hashing).
app, operator, desk = admin_helpers.app, admin_helpers.operator, admin_helpers.desk

ESCAPED_NEUTRAL = NEUTRAL_LOGIN_ERROR.replace("'", "&#39;")


def _admin_urls(app):
    """(method, URL) of every /admin route but the sign-in form, arguments filled in."""
    with app.test_request_context():
        for rule in app.url_map.iter_rules():
            if not rule.rule.startswith("/admin") or rule.endpoint == "admin.login":
                continue
            url = rule.build({name: 1 for name in rule.arguments}, append_unknown=False)[1]
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, url


def _is_sign_in_redirect(response) -> bool:
    return response.status_code == 302 and urlsplit(response.location).path == "/admin/login"


def test_every_admin_url_needs_a_session(app, client):
    urls = list(_admin_urls(app))
    assert len(urls) >= 10  # the enumeration found the desk's routes
    token = csrf_token(client)  # a valid token, so only the missing session can refuse
    refused = []
    for method, url in urls:
        response = client.open(url, method=method, data={"csrf_token": token})
        if not _is_sign_in_redirect(response):
            refused.append((method, url, response.status_code))
    assert refused == []


def test_sign_in_redirect_remembers_the_page(client):
    response = client.get("/admin/bookings?tab=past")
    assert parse_qs(urlsplit(response.location).query) == {"next": ["/admin/bookings?tab=past"]}


def test_sign_in_goes_to_the_requested_page(client, operator):
    response = sign_in(client, USERNAME, PASSWORD, next_url="/admin/outbox")
    assert response.status_code == 303
    assert response.location == "/admin/outbox"
    assert client.get("/admin/outbox").status_code == 200


@pytest.mark.parametrize(
    "target", ["https://evil.example/admin", "//evil.example/admin", "/book", "/\\evil.example"]
)
def test_next_never_leaves_the_desk(target):
    assert safe_next(target) is None


@pytest.mark.parametrize(
    ("username", "password"),
    [(USERNAME, "wrong password entirely"), ("nobody", PASSWORD), ("nobody", "wrong")],
)
def test_wrong_credentials_get_one_neutral_answer(client, operator, username, password):
    response = sign_in(client, username, password)
    assert response.status_code == 200
    assert ESCAPED_NEUTRAL in response.get_data(as_text=True)
    assert client.get("/admin/bookings").status_code == 302


def test_username_is_case_and_space_insensitive(client, operator):
    assert sign_in(client, "  ALICE ", PASSWORD).status_code == 303


def test_disabled_operator_cannot_sign_in(app, client, operator):
    with app.app_context():
        disable_operator(USERNAME)
    response = sign_in(client, USERNAME, PASSWORD)
    assert ESCAPED_NEUTRAL in response.get_data(as_text=True)
    assert client.get("/admin/bookings").status_code == 302


def test_disabling_ends_a_live_session(app, desk):
    with app.app_context():
        disable_operator(USERNAME)
    assert _is_sign_in_redirect(desk.get("/admin/bookings"))


def _set_expiry(app, seconds_from_now: float) -> None:
    with app.app_context():
        expires_at = utcnow() + timedelta(seconds=seconds_from_now)
        db.session.execute(update(DeskSession).values(expires_at=expires_at))
        db.session.commit()


def test_expired_session_redirects_to_sign_in(app, desk):
    _set_expiry(app, -1)
    assert _is_sign_in_redirect(desk.get("/admin/bookings"))


def test_session_within_its_hours_still_works(app, desk):
    _set_expiry(app, 60)
    assert desk.get("/admin/bookings").status_code == 200


def test_sign_out_ends_the_session(desk):
    response = desk.post("/admin/logout", data={"csrf_token": csrf_token(desk, "/admin/bookings")})
    assert response.status_code == 303
    assert _is_sign_in_redirect(desk.get("/admin/bookings"))


def test_sign_in_without_csrf_token_is_refused(client, operator):
    response = client.post("/admin/login", data={"username": USERNAME, "password": PASSWORD})
    assert response.status_code == 400


def test_repeated_sign_in_attempts_are_rate_limited(make_app):
    client = make_app(**(DESK_SETTINGS | {"LOGIN_RATE_LIMIT": "3/minute"})).test_client()
    codes = [sign_in(client, USERNAME, f"guess {n}").status_code for n in range(4)]
    assert codes == [200, 200, 200, 429]


def test_desk_pages_are_private(desk):
    response = desk.get("/admin/bookings")
    assert response.headers["Cache-Control"] == "no-store"
    assert '<meta name="robots" content="noindex">' in response.get_data(as_text=True)


def test_login_page_is_not_cached(client):
    assert client.get("/admin/login").headers["Cache-Control"] == "no-store"


def test_session_cookie_is_httponly_and_lax(client, operator):
    cookie = sign_in(client, USERNAME, PASSWORD).headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_cli_creates_an_operator_with_a_hashed_password(app, runner):
    result = runner.invoke(
        args=["operators", "create", "bob", "--name", "Bob Example"],
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    with app.app_context():
        bob = db.session.scalar(db.select(Operator).where(Operator.username == "bob"))
        assert bob.display_name == "Bob Example"
        assert check_password_hash(bob.password_hash, PASSWORD)
        assert PASSWORD not in bob.password_hash


def test_cli_reads_the_password_from_stdin(app, runner, client):
    result = runner.invoke(
        args=["operators", "create", "carol", "--name", "Carol", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code == 0, result.output
    assert sign_in(client, "carol", PASSWORD).status_code == 303


def test_cli_refuses_a_short_password(runner):
    result = runner.invoke(
        args=["operators", "create", "dave", "--name", "Dave", "--password-stdin"],
        input="short\n",
    )
    assert result.exit_code != 0
    assert "at least 12 characters" in result.output


def test_cli_refuses_a_duplicate_username(runner, operator):
    result = runner.invoke(
        args=["operators", "create", "Alice", "--name", "Other", "--password-stdin"],
        input=f"{PASSWORD}\n",
    )
    assert result.exit_code != 0
    assert "already exists" in result.output


def test_cli_lists_and_disables_operators(runner, operator):
    assert runner.invoke(args=["operators", "disable", USERNAME]).exit_code == 0
    listing = runner.invoke(args=["operators", "list"]).output
    assert f"{USERNAME}\tdisabled" in listing


def test_session_cookie_is_secure_in_production(make_app):
    app = make_app(**DESK_SETTINGS, ENV_NAME="production", SECRET_KEY="p" * 64)
    with app.app_context():
        create_operator(USERNAME, "Alice Example", PASSWORD)
    client = app.test_client()
    assert "Secure" in sign_in(client, USERNAME, PASSWORD).headers["Set-Cookie"]
