"""Booking-page visits: counted per day and source, safely under concurrency, no tracking."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import select, text

from leadform.booking import visits
from leadform.booking.visits import count_booking_page_visit, record_visit, visit_buffer
from leadform.db import db
from leadform.desk.cli import create_operator
from leadform.models import BookingPageVisit
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.desk import helpers as admin_helpers

DAY = date(2026, 3, 2)
# An article of the site (both the real content and the tests' fixture have it).
ARTICLE = "why-ai-pilots-stall"
THREADS, VISITS_EACH = 8, 25


def visit_rows(app) -> list[tuple]:
    """Return every counter as (day, article, source, medium, campaign, visits)."""
    with app.app_context():
        rows = db.session.execute(
            select(
                BookingPageVisit.day,
                BookingPageVisit.source_article,
                BookingPageVisit.utm_source,
                BookingPageVisit.utm_medium,
                BookingPageVisit.utm_campaign,
                BookingPageVisit.visits,
            ).order_by(BookingPageVisit.id)
        )
        return [tuple(row) for row in rows]


def test_visits_are_counted_per_day_and_source(app):
    with app.app_context():
        record_visit("why-ai-pilots-stall", "newsletter", "email", "spring", DAY)
        record_visit("why-ai-pilots-stall", "newsletter", "email", "spring", DAY)
        record_visit("why-ai-pilots-stall", None, None, None, DAY)
        record_visit(None, None, None, None, date(2026, 3, 3))

    assert visit_rows(app) == [
        (DAY, "why-ai-pilots-stall", "newsletter", "email", "spring", 2),
        (DAY, "why-ai-pilots-stall", "", "", "", 1),
        (date(2026, 3, 3), "", "", "", "", 1),
    ]


def test_values_are_cleaned_and_cut_to_the_column_size(app):
    with app.app_context():
        record_visit("post\r\nX-Injected: 1", " news\x00letter ", "", "c" * 500, DAY)

    ((_, article, source, medium, campaign, visits),) = visit_rows(app)
    assert (article, source, medium, visits) == ("post X-Injected: 1", "news letter", "", 1)
    assert campaign == "c" * 200


def hammer(app, barrier: threading.Barrier, errors: list) -> None:
    """Record VISITS_EACH visits of the same source, starting with every other thread."""
    try:
        with app.app_context():
            barrier.wait()
            for _ in range(VISITS_EACH):
                record_visit("why-ai-pilots-stall", "linkedin", "social", "launch", DAY)
    except Exception as exc:  # noqa: BLE001 - the test reports any failure of a thread
        errors.append(exc)


def count_concurrently(app) -> list:
    """Run THREADS threads recording visits at once; return their errors."""
    barrier, errors = threading.Barrier(THREADS), []
    threads = [threading.Thread(target=hammer, args=(app, barrier, errors)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_visits_make_one_row_and_lose_no_count(app):
    assert count_concurrently(app) == []

    assert visit_rows(app) == [
        (DAY, "why-ai-pilots-stall", "linkedin", "social", "launch", THREADS * VISITS_EACH)
    ]


@pytest.mark.postgres
def test_concurrent_visits_on_postgresql(pg_app):
    app = pg_app()

    assert count_concurrently(app) == []

    assert visit_rows(app) == [
        (DAY, "why-ai-pilots-stall", "linkedin", "social", "launch", THREADS * VISITS_EACH)
    ]


def test_the_day_is_the_hosts_day(app):
    # 23:30 UTC on 1 July is already 2 July in London (BST).
    late_evening = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    with app.test_request_context():
        assert count_booking_page_visit("GET", {"from": ARTICLE}, late_evening) is True

    assert visit_rows(app) == [(date(2026, 7, 2), ARTICLE, "", "", "", 1)]


@pytest.mark.parametrize(
    ("method", "args"),
    [("POST", {"from": "post"}), ("HEAD", {}), ("GET", {"from": "post", "tz": "Asia/Tokyo"})],
)
def test_posts_heads_and_zone_reloads_are_not_visits(app, method, args):
    with app.test_request_context():
        assert count_booking_page_visit(method, args, datetime.now(UTC)) is False

    assert visit_rows(app) == []


def test_opening_the_booking_page_counts_one_visit(app, client):
    page = open_form(
        client, "/book?from=why-ai-pilots-stall&utm_source=newsletter&utm_campaign=spring"
    )
    open_form(client, "/book?from=why-ai-pilots-stall&utm_campaign=spring&tz=America/New_York")
    client.post("/book", data=answers(page))

    ((_, article, source, medium, campaign, visits),) = visit_rows(app)
    assert (article, source, medium, campaign, visits) == (
        "why-ai-pilots-stall",
        "newsletter",
        "",
        "spring",
        1,
    )


def test_a_made_up_source_is_counted_as_other(app, client):
    # Anyone can write anything after from=; only the site's own slugs are kept apart.
    open_form(client, "/book?from=why-ai-pilots-stall")
    open_form(client, "/book?from=site-header")
    with app.test_request_context():
        for number in range(500):
            count_booking_page_visit("GET", {"from": f"spam-{number}"}, datetime.now(UTC))
        count_booking_page_visit("GET", {"from": "Why-AI-Pilots-Stall"}, datetime.now(UTC))

    assert sorted(row[1:] for row in visit_rows(app)) == [
        ("other", "", "", "", 501),
        ("site-header", "", "", "", 1),
        ("why-ai-pilots-stall", "", "", "", 1),
    ]


def test_made_up_campaign_tags_beyond_the_days_cap_are_counted_as_other(app, monkeypatch):
    # utm_* cannot be checked against a list: past the cap a new tag folds into "other".
    monkeypatch.setattr("leadform.counters.MAX_SOURCES_PER_DAY", 2)
    with app.app_context():
        for campaign in ("spring", "autumn", "made-up-1", "made-up-2", "spring"):
            record_visit(ARTICLE, "news", "email", campaign, DAY)
        record_visit(ARTICLE, "news", "email", "made-up-3", date(2026, 3, 3))  # a new day

    assert [row[1:] for row in visit_rows(app)] == [
        (ARTICLE, "news", "email", "spring", 2),
        (ARTICLE, "news", "email", "autumn", 1),
        (ARTICLE, "other", "other", "other", 2),
        (ARTICLE, "news", "email", "made-up-3", 1),
    ]


def test_nothing_about_the_visitor_is_stored(app):
    columns = set(BookingPageVisit.__table__.columns.keys())

    assert columns == {
        "id",
        "day",
        "source_article",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "visits",
    }


# --- the buffer: visits are written every few seconds, not on every view ------------------


def test_buffered_visits_wait_and_are_written_as_one_update(make_app):
    app = make_app(VISIT_FLUSH_SECONDS=3600)
    client = app.test_client()
    for _ in range(3):
        open_form(client, "/book?from=why-ai-pilots-stall")
    open_form(client, "/book?from=site-header")

    buffer = visit_buffer(app)
    assert visit_rows(app) == []
    assert buffer.pending() == 4

    assert buffer.write_in_app_context() is True
    assert buffer.pending() == 0
    assert sorted(row[1:] for row in visit_rows(app)) == [
        ("site-header", "", "", "", 1),
        ("why-ai-pilots-stall", "", "", "", 3),
    ]


def test_the_timer_writes_the_visits_by_itself(make_app):
    app = make_app(VISIT_FLUSH_SECONDS=0.2)
    open_form(app.test_client(), "/book?from=why-ai-pilots-stall")

    deadline = time.monotonic() + 10
    while not visit_rows(app) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert [row[1:] for row in visit_rows(app)] == [("why-ai-pilots-stall", "", "", "", 1)]
    assert visit_buffer(app).pending() == 0


def test_a_failed_write_keeps_the_counts_for_the_next(make_app, capfd):
    app = make_app(VISIT_FLUSH_SECONDS=3600)
    open_form(app.test_client(), "/book?from=why-ai-pilots-stall")
    with app.app_context():
        db.session.execute(text("ALTER TABLE booking_page_visits RENAME TO away"))
        db.session.commit()

    buffer = visit_buffer(app)
    assert buffer.write_in_app_context() is False
    assert buffer.pending() == 1
    assert "Booking page visits not written yet: OperationalError" in capfd.readouterr().err

    with app.app_context():
        db.session.execute(text("ALTER TABLE away RENAME TO booking_page_visits"))
        db.session.commit()
    assert buffer.write_in_app_context() is True
    assert [row[1:] for row in visit_rows(app)] == [("why-ai-pilots-stall", "", "", "", 1)]


def test_too_many_sources_are_written_at_once(make_app, monkeypatch):
    monkeypatch.setattr(visits, "MAX_PENDING_SOURCES", 3)
    app = make_app(VISIT_FLUSH_SECONDS=3600)
    client = app.test_client()
    for n in range(3):
        open_form(client, f"/book?from=why-ai-pilots-stall&utm_campaign=c{n}")

    assert len(visit_rows(app)) == 3
    assert visit_buffer(app).pending() == 0


def test_the_report_writes_waiting_visits_first(make_app):
    app = make_app(VISIT_FLUSH_SECONDS=3600, **admin_helpers.DESK_SETTINGS)
    open_form(app.test_client(), "/book?from=why-ai-pilots-stall")
    with app.app_context():
        create_operator(admin_helpers.USERNAME, "Alice Example", admin_helpers.PASSWORD)
    desk = app.test_client()
    admin_helpers.sign_in(desk, admin_helpers.USERNAME, admin_helpers.PASSWORD)

    body = desk.get("/admin/reports").get_data(as_text=True)

    assert [row[1:] for row in visit_rows(app)] == [("why-ai-pilots-stall", "", "", "", 1)]
    assert "why-ai-pilots-stall" in body


EXIT_SCRIPT = """
import sys
from leadform import create_app
app = create_app({"SQLALCHEMY_DATABASE_URI": sys.argv[1], "VISIT_FLUSH_SECONDS": 3600,
                  "SECRET_KEY": "exit-test", "MAIL_DIR": sys.argv[2]})
client = app.test_client()
for _ in range(5):
    assert client.get("/book?from=why-ai-pilots-stall").status_code == 200
print("pending", app.extensions["leadform.visit_buffer"].pending())
"""


def test_a_process_that_exits_writes_its_waiting_visits(app, tmp_path):
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    done = subprocess.run(
        [sys.executable, "-c", EXIT_SCRIPT, url, str(tmp_path / "mail")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={key: value for key, value in os.environ.items() if not key.startswith("LEADFORM_")},
    )

    assert done.returncode == 0, done.stderr[-2000:]
    assert "pending 5" in done.stdout
    assert [row[1:] for row in visit_rows(app)] == [("why-ai-pilots-stall", "", "", "", 5)]


def test_gunicorn_writes_waiting_visits_when_stopped(app, tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith("LEADFORM_")}
    env |= {
        "LEADFORM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "LEADFORM_VISIT_FLUSH_SECONDS": "3600",
        "LEADFORM_MAIL_DIR": str(tmp_path / "mail"),
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    command = [str(gunicorn), "-w", "2", "-b", "127.0.0.1:0", "--no-control-socket"]
    log = tmp_path / "gunicorn.log"
    with log.open("w") as log_file:
        server = subprocess.Popen([*command, "leadform:create_app()"], env=env, stderr=log_file)
    try:
        port = listening_port(log)
        for _ in range(6):
            url = f"http://127.0.0.1:{port}/book?from={ARTICLE}"
            with urllib.request.urlopen(url, timeout=30) as r:
                assert r.status == 200
        assert visit_rows(app) == []
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)

    assert [row[1:] for row in visit_rows(app)] == [(ARTICLE, "", "", "", 6)]


def listening_port(log: Path) -> int:
    """Wait until gunicorn's log says where it listens and that both workers booted."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        text_so_far = log.read_text()
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text_so_far)
        if found and text_so_far.count("Booting worker") == 2:
            time.sleep(0.5)  # let the workers finish importing the app
            return int(found.group(1))
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not start:\n{log.read_text()[-2000:]}")
