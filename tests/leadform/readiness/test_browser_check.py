"""A reader takes the readiness check in real Chromium, JavaScript on and off.

From /readiness-check?from=<article>: every statement answered by clicking its label, the
result (band, chart, table of scores), the report emailed through a real SMTP server, then
"Book the assessment" from the result; the team's notification and the desk's booking page
carry the check's scores. axe-core finds nothing on the check and the result at 375 px.
"""

import email
import re
import threading
from email.message import Message

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from leadform.db import db
from leadform.desk.cli import create_operator
from leadform.messages import outbox
from leadform.messages.senders import make_sender
from leadform.models import Booking
from tests.leadform.desk.helpers import DESK_SETTINGS, PASSWORD, USERNAME
from tests.leadform.mail_fixtures import free_port, smtp_server  # noqa: F401 - a fixture
from tests.site.checkers import describe_violations, run_axe

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTICLE = "first-article"
READER = "reader.browser@example.com"
PROSPECT = "prospect.browser@example.com"
TEAM = "team@tessellate.example"
PHONE = {"width": 375, "height": 812}


@pytest.fixture
def live_check(make_app, built_site, content_dir, smtp_server):  # noqa: F811 - the fixture above
    """The app serving the built site (its theme) with the fixture questions, mailing through
    real SMTP, served on loopback.

    PUBLIC_URL is the served address, so the result's booking link stays on this server.
    Operator alice can sign in to the desk. Yields (url, app, handler).
    """
    handler, smtp_port = smtp_server
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = make_app(
        SITE_DIR=built_site,
        CONTENT_DIR=content_dir,
        READINESS_FILE=content_dir / "readiness.toml",
        MAIL_BACKEND="smtp",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=smtp_port,
        PUBLIC_URL=base,
        TEAM_EMAIL=TEAM,
        **DESK_SETTINGS,
    )
    with app.app_context():
        create_operator(USERNAME, "Alice Example", PASSWORD)
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base, app, handler
    server.shutdown()
    server.server_close()
    thread.join()


def deliver(app, handler) -> list[Message]:
    """Run the outbox once; return every message the SMTP server has received so far."""
    with app.app_context():
        outbox.deliver_due(make_sender(app.config), worker_id="readiness-browser-test")
    return [email.message_from_bytes(raw) for raw in handler.messages]


def text_of(message: Message) -> str:
    """The message's plain-text part."""
    part = next(p for p in message.walk() if p.get_content_type() == "text/plain")
    return part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")


def sent_to(messages: list[Message], address: str) -> list[Message]:
    return [m for m in messages if address in m["To"]]


def assert_no_axe_violations(page, checker, name: str) -> None:
    """axe-core on the page; with its JavaScript off, on a copy in `checker` (script on)."""
    if checker is None:
        violations = run_axe(page)
    else:
        copy = checker.new_page()
        copy.goto(page.url)
        try:
            violations = run_axe(copy)
        finally:
            copy.close()
    assert describe_violations(violations) == [], name


def answer_every_statement(page) -> None:
    """Click a label in each statement's group, stepping along the scale."""
    questions = page.locator("fieldset.readiness-question")
    count = questions.count()
    assert count >= 12
    for index in range(count):
        options = questions.nth(index).locator(".readiness-option")
        option = options.nth(index % options.count())
        option.locator("label").click()
        assert option.locator("input[type=radio]").is_checked()


def scores_on(page, table: str) -> dict[str, str]:
    """The (dimension, score) rows of a table of scores."""
    rows = page.locator(f"{table} tbody tr")
    return {
        rows.nth(i).locator("th").inner_text().strip(): rows.nth(i).locator("td").inner_text()
        for i in range(rows.count())
    }


def email_the_report(page) -> None:
    page.get_by_label("Your work email").fill(READER)
    page.get_by_role("checkbox", name=re.compile(r"^Email me this report")).check()
    page.get_by_role("button", name="Email the report").click()
    page.get_by_role("status").filter(has_text=f"on its way to {READER}").wait_for()


def book_the_first_time(page) -> None:
    page.get_by_role("link", name="Book the assessment — we start from these answers").click()
    page.wait_for_url(re.compile(r"/book\?check="))
    page.locator("a.time").first.click()
    page.get_by_label("Your name").fill("Rita Reader")
    page.get_by_label("Work email").fill(PROSPECT)
    page.get_by_label("Company", exact=True).fill("Readiness Ltd")
    page.get_by_label("Your role").fill("CTO")
    page.get_by_label("Company size (employees)").select_option("250-999")
    page.get_by_label("What do you want from the session?").fill("A plan for our weakest areas.")
    page.locator("#consent").check()
    page.get_by_role("button", name="Book the assessment").click()
    page.wait_for_url(re.compile(r"/book/confirmed/"))


def open_on_the_desk(page, base: str, public_id: str) -> None:
    """Open the booking's desk page, signing in as alice on the way."""
    page.goto(f"{base}/admin/bookings/{public_id}")
    page.wait_for_url(re.compile(r"/admin/login\?next="))
    page.get_by_label("Username").fill(USERNAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(rf"/admin/bookings/{public_id}$"))


@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_check_result_report_and_booking(browser, live_check, javascript):
    base, app, handler = live_check
    context = browser.new_context(
        java_script_enabled=javascript, viewport=PHONE, timezone_id="Europe/London"
    )
    checker = None if javascript else browser.new_context(viewport=PHONE)
    page = context.new_page()

    page.goto(f"{base}/readiness-check?from={ARTICLE}")
    assert_no_axe_violations(page, checker, "check")
    answer_every_statement(page)
    page.get_by_role("button", name="See my result").click()
    page.wait_for_url(re.compile(r"/readiness-check/result/[\w-]+$"))

    heading = page.get_by_role("heading", level=1)
    assert re.fullmatch(r"Your result: .+", heading.inner_text())
    band = heading.inner_text().removeprefix("Your result: ")
    overall = re.search(r"Overall readiness (\d+)%", page.locator(".lead").inner_text()).group(1)
    chart = page.get_by_role("img", name="Readiness by dimension")
    assert chart.is_visible() and chart.evaluate("el => el.tagName") == "svg"
    scores = scores_on(page, "table.readiness-table")
    assert set(scores) == {"Alpha", "Beta", "Gamma", "Delta"}
    assert all(re.fullmatch(r"\d{1,3}%", score) for score in scores.values())
    assert_no_axe_violations(page, checker, "result")

    email_the_report(page)
    report = sent_to(deliver(app, handler), READER)
    assert len(report) == 1
    report_text = text_of(report[0])
    assert all(title in report_text for title in scores)

    book_the_first_time(page)
    team = sent_to(deliver(app, handler), TEAM)
    assert len(team) == 1
    team_text = text_of(team[0])
    assert f"Readiness check: {overall}% ({band})" in team_text
    for title, score in scores.items():
        assert f"- {title}: {score}" in team_text
    context.close()

    with app.app_context():
        booking = db.session.scalars(select(Booking)).one()
        public_id = booking.public_id
        assert booking.readiness_check_id is not None
        assert booking.source_article == ARTICLE

    desk = (checker or browser.new_context()).new_page()
    open_on_the_desk(desk, base, public_id)
    desk_heading = f"Readiness check: {overall}% ({band})"
    assert desk.get_by_role("heading", name=desk_heading).is_visible()
    table = "h2:has-text('Readiness check') + table"
    assert desk.locator(table).is_visible()
    assert scores_on(desk, table) == scores
    desk.context.close()
