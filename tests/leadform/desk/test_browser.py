"""The desk in real Chromium: a booking made through the form, found, opened and exported;
a second factor enrolled and used, under the production Content-Security-Policy."""

import csv
import re
import threading
import time
from pathlib import Path

import pyotp
import pytest
from werkzeug.serving import make_server

from leadform.booking.tokens import manage_url
from leadform.db import db
from leadform.desk.cli import create_operator
from leadform.models import Booking
from tests.leadform.desk.helpers import DESK_SETTINGS, PASSWORD, USERNAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]

COMPANY = "Zephyr Mutual"
NGINX_CONF = Path(__file__).resolve().parents[3] / "deploy/nginx/tessellate.conf"


@pytest.fixture
def live_desk(make_app):
    """The app served on a free loopback port, with operator alice; yields (url, app)."""
    app = make_app(**DESK_SETTINGS)
    with app.app_context():
        create_operator(USERNAME, "Alice Example", PASSWORD)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app
    server.shutdown()
    server.server_close()
    thread.join()


def _fresh_page(browser):
    """A page in a new browser context (its own cookies), closed afterwards."""
    context = browser.new_context(timezone_id="Europe/London", accept_downloads=True)
    yield context.new_page()
    context.close()


@pytest.fixture
def page(browser):
    """The prospect's browser."""
    yield from _fresh_page(browser)


@pytest.fixture
def desk(browser):
    """The operator's browser (separate cookies from the prospect's)."""
    yield from _fresh_page(browser)


def book_through_form(page, base: str) -> None:
    """Book the last time of the first free day on /book as a prospect would."""
    page.goto(f"{base}/book?from=ai-in-claims&utm_source=newsletter")
    page.locator("a.time").last.click()
    page.get_by_label("Your name").fill("Ines Prospect")
    page.get_by_label("Work email").fill("ines@zephyr.example")
    page.get_by_label("Company", exact=True).fill(COMPANY)
    page.get_by_label("Your role").fill("COO")
    page.get_by_label("Company size (employees)").select_option("250-999")
    page.get_by_label("What do you want from the session?").fill(
        "Where AI could shorten our underwriting queue."
    )
    page.locator("#consent").check()
    page.get_by_role("button", name="Book the assessment").click()
    page.wait_for_url(re.compile(r"/book/confirmed/"))


def sign_in_and_search(page, base: str, tab: str = "upcoming") -> None:
    """Sign in from a desk URL, then search the tab for the company."""
    page.goto(f"{base}/admin/bookings?tab={tab}")
    page.wait_for_url(re.compile(r"/admin/login\?next="))
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/admin/bookings\?tab={tab}"))
    page.get_by_label("Search name, email or company").fill("zephyr")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r"q=zephyr"))


def test_operator_finds_opens_and_exports_a_booking(live_desk, page, desk):
    base, app = live_desk
    book_through_form(page, base)
    sign_in_and_search(desk, base)
    desk.locator("table.desk-table tbody a").first.click()
    desk.wait_for_url(re.compile(r"/admin/bookings/[\w-]+$"))
    assert desk.get_by_role("heading", name=f"Ines Prospect, {COMPANY}").is_visible()
    assert desk.get_by_text("Where AI could shorten our underwriting queue.").is_visible()
    assert desk.get_by_text("ai-in-claims").is_visible()
    desk.go_back()
    with desk.expect_download() as download_info:
        desk.get_by_role("link", name="Download these bookings (CSV)").click()
    download = download_info.value
    assert re.fullmatch(r"bookings-upcoming-\d{4}-\d{2}-\d{2}\.csv", download.suggested_filename)
    with open(download.path(), encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(row["company"], row["email"], row["utm_source"]) for row in rows] == [
        (COMPANY, "ines@zephyr.example", "newsletter")
    ]


def test_prospect_cancel_shows_under_cancelled(live_desk, page, desk):
    base, app = live_desk
    book_through_form(page, base)
    with app.app_context():
        booking = db.session.scalar(db.select(Booking).where(Booking.company == COMPANY))
        link = manage_url(booking, dict(app.config, PUBLIC_URL=base))
    page.goto(link)
    page.get_by_role("link", name="Cancel my session").click()
    page.get_by_role("button", name="Yes, cancel my session").click()
    page.wait_for_url(re.compile(r"/manage/[^/]+$"))
    sign_in_and_search(desk, base, tab="cancelled")
    assert desk.locator("table.desk-table tbody tr").count() == 1
    assert desk.get_by_role("cell", name=COMPANY).is_visible()


def production_csp() -> str:
    """The Content-Security-Policy nginx sends in production."""
    return re.search(r'Content-Security-Policy "([^"]+)"', NGINX_CONF.read_text()).group(1)


@pytest.fixture
def desk_under_csp(browser):
    """An operator's page whose every answer carries the production CSP, as behind nginx.

    Yields (page, violations): the CSP messages Chromium logged.
    """
    policy = production_csp()
    context = browser.new_context(timezone_id="Europe/London")

    def add_policy(route):
        response = route.fetch(max_redirects=0)  # let the browser follow redirects itself
        headers = {**response.headers, "content-security-policy": policy}
        route.fulfill(response=response, headers=headers)

    context.route("**/*", add_policy)
    page = context.new_page()
    violations = []
    page.on(
        "console",
        lambda message: (
            violations.append(message.text) if "Content Security Policy" in message.text else None
        ),
    )
    yield page, violations
    context.close()


def sign_in_with_password(page, base: str) -> None:
    """Open the account page, which sends to the sign-in form; fill it as alice."""
    page.goto(f"{base}/admin/account")
    page.wait_for_url(re.compile(r"/admin/login\?next="))
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_operator_enrols_a_second_factor_and_signs_in_with_it(live_desk, desk_under_csp):
    base, app = live_desk
    page, violations = desk_under_csp
    sign_in_with_password(page, base)
    page.wait_for_url(re.compile(r"/admin/account$"))
    page.get_by_role("link", name="Set up an authenticator app").click()
    page.wait_for_url(re.compile(r"/admin/account/two-factor$"))
    assert page.get_by_role("img", name="QR code").is_visible()
    totp = pyotp.TOTP(page.locator("#totp-secret").inner_text().replace(" ", ""))
    page.get_by_label("The 6-digit code your app shows now").fill(totp.now())
    page.get_by_role("button", name="Turn on the second factor").click()
    assert page.get_by_text("Your recovery codes").is_visible()
    assert page.locator(".desk-codes li").count() == 10
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/admin/login$"))

    sign_in_with_password(page, base)
    page.wait_for_url(re.compile(r"/admin/login/code$"))
    # The code of enrolment is spent; the app's next code is what a person types next.
    page.get_by_label("Code from your authenticator app").fill(totp.at(time.time() + 30))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/admin/account$"))
    assert page.get_by_text("On since").is_visible()
    # The desk's stylesheet applies under the CSP: the nav is a flex row.
    display = page.locator(".desk-nav ul").evaluate("e => getComputedStyle(e).display")
    assert display == "flex"
    assert violations == []
