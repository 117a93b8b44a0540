"""A prospect books in real Chromium, from an article's Book button to the email in the inbox.

At 375 px (a phone, 812 px tall) and 1280 px, JavaScript on and off, light and dark: the
first time to tap is on the first screen, the submit button within two screens of the form's
top, no step scrolls sideways at 320 px, and axe-core finds nothing on any step. Set
UPDATE_DOCS_SCREENSHOTS=1 to rewrite docs/img/booking-*.png from the phone run.
"""

import email
import os
import re
import threading
from datetime import UTC

import pytest
from icalendar import Calendar
from PIL import Image
from werkzeug.serving import make_server

from leadform.booking.slots import parse_slot_value
from leadform.messages import outbox
from leadform.messages.senders import make_sender
from tests.conftest import ROOT
from tests.leadform.mail_fixtures import smtp_server  # noqa: F401 - a fixture
from tests.site.checkers import describe_violations, run_axe

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PROSPECT = "browser.prospect@example.com"
PHONE_HEIGHT = 812
SCREENSHOTS = ROOT / "docs" / "img"
# (width, JavaScript, colour scheme): every width and scheme with and without script.
RUNS = [(375, False, "light"), (375, True, "dark"), (1280, True, "light"), (1280, False, "dark")]


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


def start_from_an_article(page, base: str) -> None:
    """Open the newest article from the home page and press its "Next step" Book button."""
    page.goto(f"{base}/")
    page.locator(".post-card__title a").first.click()
    page.locator('.next-step a[href^="/book?from="]').click()
    # Not the "load" event: with JavaScript on, book.js swaps the page in place as it loads
    # (zone detection), and under load that once left the wait hanging for its full timeout.
    page.wait_for_url(re.compile(r"/book\?from="), wait_until="domcontentloaded")
    page.locator("a.time").first.wait_for()


def axe_violations(page, checker) -> list[dict]:
    """Run axe-core on the page; with the page's JavaScript off, on a copy in `checker`.

    `checker` is a context with JavaScript on (axe needs it) and book.js blocked, so the
    copy shows what the prospect without JavaScript sees.
    """
    if checker is None:
        return run_axe(page)
    copy = checker.new_page()
    copy.goto(page.url)
    try:
        return run_axe(copy)
    finally:
        copy.close()


def check_step(page, name: str, checker=None) -> None:
    """axe-core finds no violation, and at 320 px nothing scrolls sideways."""
    assert describe_violations(axe_violations(page, checker)) == [], name
    size = page.viewport_size
    page.set_viewport_size({"width": 320, "height": size["height"]})
    width = page.evaluate("document.documentElement.scrollWidth")
    page.set_viewport_size(size)
    assert width <= 320, (name, width)


def bottom(page, selector: str) -> float:
    """Return the bottom of the first `selector` element, from the top of the document."""
    return page.locator(selector).first.evaluate(
        "el => el.getBoundingClientRect().bottom + window.scrollY"
    )


def choose_day_and_time(page, javascript: bool) -> str:
    """Pick the second free day (a step of its own), then its first time; return the slot."""
    page.locator(".month__days a").nth(1).click()
    if javascript:
        page.wait_for_function("location.search.includes('day=')")
    else:
        page.wait_for_url(re.compile(r"day="))
    page.wait_for_selector(".month__days a[aria-current]")
    first = page.locator("a.time").first
    chosen = re.search(r"slot=([^&]+)", first.get_attribute("href")).group(1)
    first.click()
    page.get_by_label("Your name").wait_for()
    return chosen.replace("%3A", ":")


def fill_and_submit(page) -> None:
    """Answer every question and send the form."""
    page.get_by_label("Your name").fill("Siobhán O'Brien")
    page.get_by_label("Work email").fill(PROSPECT)
    page.get_by_label("What do you want from the session?").fill(
        "A ranked shortlist of AI use cases for our claims team."
    )
    page.get_by_label("Company", exact=True).fill("Acme Insurance")
    page.get_by_label("Your role").fill("Head of Operations")
    page.get_by_label("Company size (employees)").select_option("250-999")
    page.locator("#consent").check()
    page.get_by_role("button", name="Book the assessment").click()
    page.wait_for_url(re.compile(r"/book/confirmed/"))


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


def screenshot(page, name: str) -> None:
    """Rewrite docs/img/booking-<name>.png when asked to (a phone's first screen)."""
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS") == "1":
        path = SCREENSHOTS / f"booking-{name}.png"
        page.screenshot(path=str(path), scale="css")
        # A 64-colour palette keeps each image near 20 KB in the repository.
        Image.open(path).quantize(64).save(path, optimize=True)


@pytest.mark.parametrize(("width", "javascript", "scheme"), RUNS)
def test_booking_from_an_article(browser, live_app, width, javascript, scheme):
    base, app, handler = live_app
    options = {"viewport": {"width": width, "height": PHONE_HEIGHT}, "color_scheme": scheme}
    context = browser.new_context(
        java_script_enabled=javascript, timezone_id="America/New_York", **options
    )
    checker = None if javascript else browser.new_context(**options)
    if checker:
        checker.route("**/book.js", lambda route: route.abort())
    page = context.new_page()
    start_from_an_article(page, base)
    loads = []
    page.on("load", lambda _: loads.append(page.url))
    if javascript:  # the browser's zone is picked once, in place
        page.wait_for_function("location.search.includes('tz=America%2FNew_York')")
    assert bottom(page, "a.time") <= PHONE_HEIGHT
    check_step(page, "picker", checker)
    if width == 375 and not javascript:
        screenshot(page, "picker")

    chosen = choose_day_and_time(page, javascript)
    assert bottom(page, "button[type=submit]") <= 2 * PHONE_HEIGHT
    check_step(page, "form", checker)
    if width == 375 and not javascript:
        screenshot(page, "form")
    assert re.search(r"E[SD]T", page.locator(".chosen__time").inner_text()) or not javascript

    fill_and_submit(page)
    # With script: no page load between the article's click and the confirmation.
    assert len(loads) == (1 if javascript else 3), loads
    check_step(page, "confirmation", checker)
    page.get_by_role("link", name="your booking's page").click()
    check_step(page, "manage", checker)
    page.get_by_role("link", name="Cancel my session").click()
    check_step(page, "cancel", checker)
    context.close()
    if checker:
        checker.close()
    assert delivered_invite_start(app, handler) == parse_slot_value(chosen)
