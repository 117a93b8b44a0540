"""The production layout end to end: nginx -> two gunicorn instances -> PostgreSQL, Redis, SMTP.

Everything runs for real (see conftest.py). The PostgreSQL restart test is last on purpose:
it stops the shared server for a few seconds, and brings it back whatever happens.
"""

import email
import http.client
import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
import tomllib
from collections import Counter
from datetime import UTC

import pytest

from leadform import config
from leadform.booking.slots import parse_slot_value
from leadform.messages.senders import EmailMessage
from tests.conftest import ROOT
from tests.deploy.conftest import (
    Visitor,
    ensure_postgres_running,
    pg_ctlcluster,
    request_log_lines,
    wait_until,
)
from tests.leadform.booking_pages import GOALS, FormPage, answers

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

PROSPECT = "production.prospect@example.com"
# Where the real site.toml puts the landing page; editors may move it, so never spell it here.
LANDING = tomllib.loads((ROOT / "site.toml").read_text(encoding="utf-8"))["assessment"]["page_path"]
RACERS = 24
# Each visitor connects from its own loopback address: a separate client to the rate limit.
SOURCES = (f"127.0.0.{n}" for n in itertools.count(2))
SECURITY_HEADERS = {
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "Permissions-Policy": "camera=()",
    "Strict-Transport-Security": "max-age=",
}


def new_visitor(stack, route: str = "nginx") -> Visitor:
    """A visitor from a loopback address no earlier visitor used."""
    return Visitor(stack, next(SOURCES), route)


def open_booking_form(visitor: Visitor, route: str | None = None) -> FormPage:
    """GET /book (the picker), follow its first free time; parse the form page."""
    status, _, body = visitor.request("GET", "/book", route=route)
    assert status == 200, body[:500]
    picker = FormPage(body)
    assert picker.time_links, "the booking page offers no time"
    status, _, body = visitor.request("GET", picker.time_links[0], route=route)
    assert status == 200, body[:500]
    return FormPage(body)


def messages_to(stack, address: str) -> list[email.message.Message]:
    """Messages the SMTP server received for `address`."""
    parsed = [email.message_from_bytes(raw) for raw in list(stack.smtp.messages)]
    return [message for message in parsed if address in (message["To"] or "")]


# --- the shipped files ---------------------------------------------------------------------


def documented_variables() -> set[str]:
    """Every LEADFORM_* variable the service reads."""
    return {config.PREFIX + suffix for suffix, *_ in config.SETTINGS}


def test_env_example_names_every_variable():
    text = (ROOT / "deploy" / "env.example").read_text()
    assert {name for name in documented_variables() if f"{name}=" not in text} == set()


def test_env_example_sets_no_secret():
    text = (ROOT / "deploy" / "env.example").read_text()
    secrets = re.findall(r"^(?:#\s*)?LEADFORM_\w*(?:KEY|PASSWORD|SECRET)=(.*)$", text, re.MULTILINE)
    assert secrets and set(secrets) == {""}


def test_env_example_can_be_sourced_by_a_shell():
    command = (
        "set -a; . deploy/env.example; set +a;"
        ' printf "%s|%s" "$LEADFORM_MAIL_FROM" "$LEADFORM_LOGIN_RATE_LIMIT"'
    )
    result = subprocess.run(["sh", "-c", command], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout == "Tessellate Advisory <bookings@tessellate.example>|5/minute;20/hour"


# --- the site through nginx ----------------------------------------------------------------


def an_article(site) -> str:
    """The site path of one article the build wrote (articles come and go; this one exists)."""
    return "/blog/" + sorted(p.parent.name for p in (site / "blog").glob("*/index.html"))[0] + "/"


@pytest.mark.parametrize("path", ["/", "article", LANDING, "/search/"])
def test_pages_are_served_with_security_headers(production, built_site, path):
    path = an_article(built_site) if path == "article" else path
    status, headers, body = new_visitor(production).request("GET", path)
    assert status == 200
    assert "<html" in body
    missing = {
        name: part for name, part in SECURITY_HEADERS.items() if part not in (headers[name] or "")
    }
    assert missing == {}


def test_unknown_page_gets_the_sites_404_page(production, built_site):
    status, headers, body = new_visitor(production).request("GET", "/no-such-page/")
    assert status == 404
    assert body == (built_site / "404.html").read_text()
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_blog_folder_sends_readers_to_the_article_list(production):
    # /blog/ is a page Pelican writes (theme/templates/blog.html), served as any other.
    status, _, body = new_visitor(production).request("GET", "/blog/")
    assert status == 200
    assert '<meta http-equiv="refresh" content="0; url=/">' in body


def test_html_is_cached_briefly(production):
    _, headers, _ = new_visitor(production).request("GET", "/archives/")
    assert headers["Cache-Control"] == "public, max-age=300"


def test_pagefind_fragments_are_cached_for_a_year(production, built_site):
    fragment = next((built_site / "pagefind" / "fragment").iterdir()).name
    _, headers, _ = new_visitor(production).request("GET", f"/pagefind/fragment/{fragment}")
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"


def test_theme_assets_are_cached_for_a_day(production):
    status, headers, _ = new_visitor(production).request("GET", "/theme/css/site.css")
    assert (status, headers["Cache-Control"]) == (200, "public, max-age=86400")


def test_booking_pages_keep_the_apps_own_cache_header(production):
    _, headers, _ = new_visitor(production).request("GET", "/book")
    assert headers.get_all("Cache-Control") == ["no-store"]


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/readiness-check", 200),
        ("GET", "/newsletter/subscribe", 200),
        ("POST", "/email/events", 403),  # the service refuses an unsigned batch; nginx would 405
    ],
)
def test_every_service_page_reaches_the_service(production, method, path, status):
    answer, headers, _ = new_visitor(production).request(method, path)
    assert answer == status
    assert "public" not in (headers.get("Cache-Control") or "")


def test_text_assets_are_compressed(production):
    gzip_ok = {"Accept-Encoding": "gzip"}
    _, headers, _ = new_visitor(production).request("GET", "/theme/css/site.css", headers=gzip_ok)
    assert headers["Content-Encoding"] == "gzip"


def test_plain_http_moves_to_https(production):
    connection = http.client.HTTPConnection("127.0.0.1", production.http_port, timeout=10)
    connection.request("GET", "/archives/")
    response = connection.getresponse()
    connection.close()
    assert response.status == 301
    assert response.headers["Location"] == "https://127.0.0.1/archives/"


def test_readiness_is_reported_through_nginx(production):
    status, _, body = new_visitor(production).request("GET", "/readyz")
    assert (status, json.loads(body)["status"]) == (200, "ok")


def test_nginx_spreads_requests_over_both_instances(production):
    a, b = production.services["gunicorn-a"], production.services["gunicorn-b"]
    before = (len(request_log_lines(a)), len(request_log_lines(b)))
    visitor = new_visitor(production)
    for _ in range(8):
        visitor.request("GET", "/healthz")
    after = (len(request_log_lines(a)), len(request_log_lines(b)))
    assert after[0] > before[0] and after[1] > before[1]


def test_search_works_under_the_content_security_policy(production, browser):
    context = browser.new_context(ignore_https_errors=True)
    violations = []
    try:
        page = context.new_page()
        page.on("console", lambda message: violations.append(message.text))
        page.goto(f"{production.base}/search/")
        page.locator(".pagefind-ui__search-input").fill("pilot")
        results = page.locator(".pagefind-ui__result")
        deadline = time.monotonic() + 20
        while results.count() == 0 and time.monotonic() < deadline:
            page.wait_for_timeout(200)
        found = results.count()
    finally:
        context.close()
    assert [text for text in violations if "Content Security Policy" in text] == []
    assert found > 0


def test_app_and_worker_logs_are_one_json_object_per_line(production):
    names = ("gunicorn-a", "gunicorn-b", "worker-1")
    lines = [line for name in names for line in production.services[name].log_text().splitlines()]

    def is_json_object(line: str) -> bool:
        try:
            return isinstance(json.loads(line), dict)
        except ValueError:
            return False

    assert lines and [line for line in lines if not is_json_object(line)] == []


# --- a booking in a real browser, and its email --------------------------------------------


def book_in_browser(browser, base: str) -> None:
    """From the assessment page's Book link to the confirmation page, in Chromium."""
    context = browser.new_context(ignore_https_errors=True, timezone_id="Europe/London")
    try:
        page = context.new_page()
        page.goto(base + LANDING)
        page.locator('main a[href^="/book"]').first.click()
        page.wait_for_url(re.compile(r"/book\?"))
        page.locator("a.time").first.click()
        page.get_by_label("Your name").fill("Production Prospect")
        page.get_by_label("Work email").fill(PROSPECT)
        page.get_by_label("Company", exact=True).fill("Acme Insurance")
        page.get_by_label("Your role").fill("Head of Operations")
        page.get_by_label("Company size (employees)").select_option("250-999")
        page.get_by_label("What do you want from the session?").fill(GOALS)
        page.locator("#consent").check()
        page.get_by_role("button", name="Book the assessment").click()
        page.wait_for_url(re.compile(r"/book/confirmed/"))
    finally:
        context.close()


def test_browser_booking_sends_one_confirmation_email(production, browser):
    book_in_browser(browser, production.base)
    wait_until(lambda: messages_to(production, PROSPECT), "the confirmation email")
    # Two workers share the queue: give a duplicate every chance to show up, then count.
    time.sleep(3)
    assert len(messages_to(production, PROSPECT)) == 1


def test_logs_carry_no_personal_data(production):
    visitor = new_visitor(production)
    page = open_booking_form(visitor)
    visitor.request("GET", "/book?utm_source=newsletter-private&utm_campaign=autumn")
    data = answers(page, name="Logcheck Person", email="logcheck.person@example.com")
    data["utm_source"] = "newsletter-private"
    status, headers, _ = visitor.request("POST", "/book", data=data)
    assert status == 303
    visitor.request("GET", headers["Location"])
    public_id = headers["Location"].rstrip("/").rsplit("/", 1)[-1]
    wait_until(lambda: messages_to(production, "logcheck.person@example.com"), "the email")
    # nginx-error.log is the test harness's own main-context log; the shipped site's error
    # log (nginx-site-error.log) is checked with the rest.
    paths = [p for p in (production.tmp / "logs").iterdir() if p.name != "nginx-error.log"]
    logs = "".join(path.read_text() for path in paths)
    secrets = ("logcheck.person@example.com", "Logcheck Person", "newsletter-private", public_id)
    found = [secret for secret in secrets if secret in logs]
    assert found == []
    assert not re.search(rf"\b{re.escape(visitor.source)}\b", logs)


# --- concurrency, rate limit ---------------------------------------------------------------


def race(stack, routes: list[str]) -> tuple[str, list[tuple[int, str]]]:
    """RACERS visitors (own session, token and address) post one slot at once.

    Returns the slot's value and every (status, body).
    """
    visitors = [new_visitor(stack, routes[i % len(routes)]) for i in range(RACERS)]
    pages = [open_booking_form(visitor) for visitor in visitors]
    slot = pages[0].slots[0]
    barrier = threading.Barrier(RACERS, timeout=60)
    results: list = [None] * RACERS

    def submit(index: int):
        barrier.wait()
        data = answers(pages[index], slot=slot, email=f"racer{index}@example.com")
        status, _, body = visitors[index].request("POST", "/book", data=data)
        results[index] = (status, body)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(RACERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return slot, results


def bookings_of(stack, slot: str) -> int:
    """How many confirmed bookings the database holds for `slot`."""
    start = parse_slot_value(slot).astimezone(UTC).replace(tzinfo=None)
    rows = stack.sql(
        "SELECT count(*) FROM bookings WHERE slot_start = %s AND status = 'confirmed'", (start,)
    )
    return rows[0][0]


@pytest.mark.parametrize("routes", [["nginx"], ["a", "b"]], ids=["through-nginx", "direct"])
def test_simultaneous_bookings_of_one_slot_make_one_booking(production, routes):
    slot, results = race(production, routes)
    statuses = Counter(status for status, _ in results)
    assert (statuses, bookings_of(production, slot)) == (Counter({303: 1, 200: RACERS - 1}), 1)


def test_rate_limit_holds_across_both_instances(production):
    visitor = new_visitor(production)
    routes = ["nginx", "a", "b", "nginx", "a"]
    for route in routes:  # five posts, spread over every way in
        page = open_booking_form(visitor, route)
        status, _, _ = visitor.request(
            "POST", "/book", data=answers(page, consent=None), route=route
        )
        assert status == 200
    page = open_booking_form(visitor)
    refused = {
        route: visitor.request("POST", "/book", data=answers(page, consent=None), route=route)[0]
        for route in ("nginx", "a", "b")
    }
    assert refused == {"nginx": 429, "a": 429, "b": 429}


def test_spoofed_forwarded_for_does_not_dodge_the_rate_limit(production):
    visitor = new_visitor(production)
    page = open_booking_form(visitor)
    statuses = []
    for n in range(6):
        spoofed = {"X-Forwarded-For": f"1.2.3.{n + 4}"}
        status, _, _ = visitor.request(
            "POST", "/book", data=answers(page, consent=None), headers=spoofed
        )
        statuses.append(status)
    assert statuses == [200] * 5 + [429]


# --- the outbox worker killed mid-batch ----------------------------------------------------


def queue_messages(stack, count: int, tag: str) -> list[str]:
    """Insert `count` queued emails straight into the outbox; return their subjects."""
    subjects = [f"{tag} {n}" for n in range(count)]
    for subject in subjects:
        payload = EmailMessage(
            to="kill.test@example.com",
            from_="Tessellate Advisory <bookings@tessellate.example>",
            subject=subject,
            text="Body",
            html="<p>Body</p>",
        ).to_dict()
        stack.sql(
            "INSERT INTO outbox_messages (channel, kind, payload, status, attempts,"
            " next_attempt_at, created_at) VALUES ('email', 'kill_test', %s, 'queued', 0,"
            " now() AT TIME ZONE 'utc', now() AT TIME ZONE 'utc')",
            (json.dumps(payload),),
        )
    return subjects


def delivered_subjects(stack, tag: str) -> Counter:
    """How often each `tag` message reached the SMTP server."""
    subjects = [email.message_from_bytes(raw)["Subject"] for raw in list(stack.smtp.messages)]
    return Counter(s for s in subjects if s and s.startswith(tag))


def sending_worker_pid(stack, tag: str) -> int | None:
    """The pid of a worker holding a lease on a `tag` message right now, if any."""
    rows = stack.sql(
        "SELECT locked_by FROM outbox_messages WHERE status = 'queued'"
        " AND locked_by IS NOT NULL AND payload->>'subject' LIKE %s",
        (f"{tag}%",),
    )
    pids = {int(locked_by.split(":")[1]) for (locked_by,) in rows}
    workers = {s.process.pid for n, s in stack.services.items() if n.startswith("worker")}
    return next(iter(pids & workers), None)


def test_worker_killed_mid_batch_loses_no_email(production):
    """SIGKILL one worker while it sends: every message still arrives (at least once)."""
    tag = "kill-test"
    production.smtp.delay = 0.3
    try:
        subjects = queue_messages(production, 30, tag)
        wait_until(lambda: len(delivered_subjects(production, tag)) >= 3, "the first sends")
        victim = wait_until(lambda: sending_worker_pid(production, tag), "a worker mid-batch")
        os.kill(victim, signal.SIGKILL)
        held = production.sql(
            "SELECT id FROM outbox_messages WHERE status = 'queued' AND locked_by LIKE %s",
            (f"%:{victim}:%",),
        )
        assert held, "the worker was killed between batches; nothing was in flight"
        wait_until(
            lambda: len(delivered_subjects(production, tag)) == len(subjects),
            "every message after the kill",
            timeout=90,
        )
    finally:
        production.smtp.delay = 0.0
    delivered = delivered_subjects(production, tag)
    # The message in flight when the worker died may go out twice; none may go missing.
    assert sum(delivered.values()) - len(subjects) <= 1


# --- PostgreSQL restarted while bookings arrive (keep this test last) ----------------------


def test_bookings_resume_by_themselves_after_postgres_restarts(production):
    visitors = [new_visitor(production) for _ in range(4)]
    pages = [open_booking_form(visitor) for visitor in visitors]
    try:
        stopped = pg_ctlcluster("stop")
        assert stopped.returncode == 0, stopped.stderr
        status, _, body = visitors[0].request("POST", "/book", data=answers(pages[0]))
    finally:
        ensure_postgres_running(production.server_url)
    # No warm-up request (e.g. polling /readyz): the first requests after the restart are
    # the bookings themselves, on connections every worker pooled before the restart.
    assert status == 503
    assert "try again" in body.lower() and "Traceback" not in body
    after = []
    for index, (visitor, page) in enumerate(zip(visitors, pages, strict=True)):
        fresh = open_booking_form(visitor)
        data = answers(page, slot=fresh.slots[0], email=f"after{index}@example.com")
        after.append(visitor.request("POST", "/book", data=data)[0])
    assert after == [303] * len(visitors)
