"""Booking-page visits: counted per day and source, safely under concurrency, no tracking."""

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from leadform.db import db
from leadform.models import BookingPageVisit
from leadform.visits import count_booking_page_visit, record_visit
from tests.leadform.booking_pages import answers, open_form

DAY = date(2026, 3, 2)
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
        record_visit("ai-in-claims", "newsletter", "email", "spring", DAY)
        record_visit("ai-in-claims", "newsletter", "email", "spring", DAY)
        record_visit("ai-in-claims", None, None, None, DAY)
        record_visit(None, None, None, None, date(2026, 3, 3))

    assert visit_rows(app) == [
        (DAY, "ai-in-claims", "newsletter", "email", "spring", 2),
        (DAY, "ai-in-claims", "", "", "", 1),
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
                record_visit("ai-in-claims", "linkedin", "social", "launch", DAY)
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
        (DAY, "ai-in-claims", "linkedin", "social", "launch", THREADS * VISITS_EACH)
    ]


@pytest.mark.postgres
def test_concurrent_visits_on_postgresql(pg_app):
    app = pg_app()

    assert count_concurrently(app) == []

    assert visit_rows(app) == [
        (DAY, "ai-in-claims", "linkedin", "social", "launch", THREADS * VISITS_EACH)
    ]


def test_the_day_is_the_hosts_day(app):
    # 23:30 UTC on 1 July is already 2 July in London (BST).
    late_evening = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    with app.test_request_context():
        assert count_booking_page_visit("GET", {"from": "post"}, late_evening) is True

    assert visit_rows(app) == [(date(2026, 7, 2), "post", "", "", "", 1)]


@pytest.mark.parametrize(
    ("method", "args"),
    [("POST", {"from": "post"}), ("HEAD", {}), ("GET", {"from": "post", "tz": "Asia/Tokyo"})],
)
def test_posts_heads_and_zone_reloads_are_not_visits(app, method, args):
    with app.test_request_context():
        assert count_booking_page_visit(method, args, datetime.now(UTC)) is False

    assert visit_rows(app) == []


def test_opening_the_booking_page_counts_one_visit(app, client):
    page = open_form(client, "/book?from=ai-in-claims&utm_source=newsletter&utm_campaign=spring")
    open_form(client, "/book?from=ai-in-claims&utm_campaign=spring&tz=America/New_York")
    client.post("/book", data=answers(page))

    ((_, article, source, medium, campaign, visits),) = visit_rows(app)
    assert (article, source, medium, campaign, visits) == (
        "ai-in-claims",
        "newsletter",
        "",
        "spring",
        1,
    )


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
