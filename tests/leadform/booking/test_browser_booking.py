"""A prospect books in real Chromium, from the landing page to the email in the inbox."""

import email
import re
import threading
from datetime import UTC

import pytest
from icalendar import Calendar
from werkzeug.serving import make_server

from leadform.booking.slots import parse_slot_value
from leadform.messages import outbox
from leadform.messages.senders import make_sender
from tests.leadform.mail_fixtures import smtp_server  # noqa: F401 - a fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROSPECT = "browser.prospect@example.com"


@pytest.fixture
def live_app(make_app, built_site, smtp_server):  # noqa: F811 - the fixture above
    """The app serving the built site, mailing through a real SMTP server; yields (url, app)."""
    handler, port = smtp_server
    app = make_app(SITE_DIR=built_site, MAIL_BACKEND="smtp", SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", app, handler
    server.shutdown()
    server.server_close()
    thread.join()


def start_from_landing_page(page, base: str) -> None:
    """Open the assessment page and follow its first Book link."""
    page.goto(f"{base}/ai-readiness-assessment/")
    page.locator('main a[href^="/book?from=ai-readiness-assessment"]').first.click()
    page.wait_for_url(re.compile(r"/book\?"))


def fill_and_submit(page) -> str:
    """Pick the first free time, answer every question, submit; return the slot value."""
    first = page.locator('input[name="slot"]').first
    chosen = first.get_attribute("value")
    page.locator(f'label[for="{first.get_attribute("id")}"]').click()
    page.get_by_label("Your name").fill("Siobhán O'Brien")
    page.get_by_label("Work email").fill(PROSPECT)
    page.get_by_label("Company", exact=True).fill("Acme Insurance")
    page.get_by_label("Your role").fill("Head of Operations")
    page.get_by_label("Company size (employees)").select_option("250-999")
    page.get_by_label("What do you want from the session?").fill(
        "A ranked shortlist of AI use cases for our claims team."
    )
    page.locator("#consent").check()
    page.get_by_role("button", name="Book the assessment").click()
    page.wait_for_url(re.compile(r"/book/confirmed/"))
    return chosen


def delivered_invite_start(app, handler):
    """Run the outbox once and return DTSTART (UTC) of the prospect's emailed invite."""
    with app.app_context():
        outbox.deliver_due(make_sender(app.config), worker_id="browser-test")
    messages = [email.message_from_bytes(raw) for raw in handler.messages]
    to_prospect = [m for m in messages if PROSPECT in m["To"]]
    assert len(to_prospect) == 1
    invite = next(p for p in to_prospect[0].walk() if p.get_content_type() == "text/calendar")
    event = Calendar.from_ical(invite.get_payload(decode=True)).walk("VEVENT")[0]
    return event.decoded("dtstart").astimezone(UTC)


def test_booking_with_javascript_uses_the_detected_zone(browser, live_app):
    base, app, handler = live_app
    context = browser.new_context(timezone_id="America/New_York")
    page = context.new_page()
    start_from_landing_page(page, base)
    page.wait_for_url(re.compile(r"tz=America%2FNew_York"))
    assert "from=ai-readiness-assessment" in page.url
    first_label = page.locator(".slot-option label").first.inner_text()
    assert re.search(r"E[SD]T$", first_label)
    chosen = fill_and_submit(page)
    assert "Your time (America/New York)" in page.content()
    context.close()
    assert delivered_invite_start(app, handler) == parse_slot_value(chosen)


def test_booking_without_javascript_uses_the_zone_picker(browser, live_app):
    base, app, handler = live_app
    context = browser.new_context(java_script_enabled=False, timezone_id="America/New_York")
    page = context.new_page()
    start_from_landing_page(page, base)
    assert "tz=" not in page.url  # no script, no automatic reload
    page.get_by_label("Show times in").select_option("Asia/Tokyo")
    page.get_by_role("button", name="Update").click()
    page.wait_for_url(re.compile(r"tz=Asia%2FTokyo"))
    assert "from=ai-readiness-assessment" in page.url
    assert page.locator(".slot-option label").first.inner_text().endswith("JST")
    chosen = fill_and_submit(page)
    assert "Your time (Asia/Tokyo)" in page.content()
    context.close()
    assert delivered_invite_start(app, handler) == parse_slot_value(chosen)
