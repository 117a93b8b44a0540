"""Hostile input that used to give server errors, the desk under the production CSP, 405s.

The CSP (deploy/nginx/tessellate.conf) allows styles from files only (`style-src 'self'`),
so a desk page may carry no <style> element and no style attribute.
"""

import re
from pathlib import Path

import pytest

from leadform.desk.auth import safe_next
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import PASSWORD, USERNAME, add_booking, sign_in

app, operator, desk = admin_helpers.app, admin_helpers.operator, admin_helpers.desk

ROOT = Path(__file__).resolve().parents[3]
INLINE_STYLE = re.compile(r"<style\b|\sstyle\s*=", re.IGNORECASE)
STYLESHEET = re.compile(r'<link rel="stylesheet" href="(/book/static/desk\.css)">')


@pytest.mark.parametrize(
    "target",
    [
        "/admin/bookings\r\nSet-Cookie: evil=1",
        "/admin/bookings\nX: y",
        "/admin/\x00bookings",
        "/admin/bookings\x7f",
    ],
)
def test_next_with_control_characters_is_refused(target):
    assert safe_next(target) is None


def test_next_with_crlf_after_sign_in_goes_to_the_bookings(client, operator):
    response = sign_in(client, USERNAME, PASSWORD, next_url="/admin/outbox\r\nSet-Cookie: a=b")
    assert (response.status_code, response.location) == (303, "/admin/bookings")
    assert "a=b" not in response.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(
    "query",
    [
        "start=bad&_method=POST",
        "start=bad&_external=1&_scheme=javascript",
        "start=bad&_anchor=x",
        "end=2026-13-45&_method=DELETE",
    ],
)
def test_report_csv_with_a_bad_period_and_reserved_names_goes_back_to_the_form(desk, query):
    response = desk.get(f"/admin/reports/articles.csv?{query}")
    assert response.status_code == 303
    assert response.location.startswith("/admin/reports?")
    assert "_" not in response.location.split("?", 1)[1].split("=")[0]
    assert desk.get(response.location).status_code == 400  # the form shows the error


def _desk_pages(app, desk):
    """(name, response) of every desk page an operator sees."""
    public_id = add_booking(app)
    yield "sign-in", app.test_client().get("/admin/login")
    for url in (
        "/admin/bookings",
        f"/admin/bookings/{public_id}",
        "/admin/outbox",
        "/admin/reports",
        "/admin/reports?start=bad",
        "/admin/account",
        "/admin/account/two-factor",
    ):
        yield url, desk.get(url)


def test_desk_pages_carry_no_inline_style(app, desk):
    offending = []
    for name, response in _desk_pages(app, desk):
        assert response.status_code in (200, 400), (name, response.status_code)
        html = response.get_data(as_text=True)
        # The sign-in page has the site's look only; every other page adds the desk's file.
        needs_stylesheet = name != "sign-in"
        if INLINE_STYLE.search(html) or (needs_stylesheet and not STYLESHEET.search(html)):
            offending.append(name)
    assert offending == []


def test_the_desk_stylesheet_is_served(client):
    with client.get("/book/static/desk.css") as response:  # a file response: close it
        assert response.status_code == 200
        assert response.mimetype == "text/css"
        assert ".desk-table" in response.get_data(as_text=True)


def test_the_production_csp_still_forbids_inline_styles():
    # If nginx ever allowed inline styles, this file's checks would guard nothing.
    conf = (ROOT / "deploy/nginx/tessellate.conf").read_text()
    policy = re.search(r'Content-Security-Policy "([^"]+)"', conf).group(1)
    assert "style-src 'self';" in policy
    assert "unsafe-inline" not in policy


@pytest.mark.parametrize(
    ("method", "url", "allowed"),
    [
        ("DELETE", "/admin/login", {"GET", "HEAD", "OPTIONS", "POST"}),
        ("POST", "/healthz", {"GET", "HEAD", "OPTIONS"}),
        ("PUT", "/book", {"GET", "HEAD", "OPTIONS", "POST"}),
    ],
)
def test_405_answers_say_which_methods_are_allowed(client, method, url, allowed):
    response = client.open(url, method=method)
    assert response.status_code == 405
    assert {part.strip() for part in response.headers["Allow"].split(",")} == allowed
    assert "That did not work" in response.get_data(as_text=True)  # still the site's page
