"""Readiness checks started: one per opening of the questions, per day and source, no tracking."""

import threading
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from leadform.counters import source_of
from leadform.db import db
from leadform.readiness.models import ReadinessCheck, ReadinessCheckStart
from leadform.readiness.starts import count_check_start, record_start
from leadform.sources import HEADER_SOURCE, OTHER_SOURCE
from tests.leadform.readiness.test_pages import HOSTILE, all_answers, open_check, take_check

DAY = date(2026, 3, 2)
THREADS, STARTS_EACH = 8, 25


def start_rows(app) -> list[tuple]:
    """Return every counter as (article, source, medium, campaign, starts), day left out."""
    with app.app_context():
        rows = db.session.execute(
            select(
                ReadinessCheckStart.source_article,
                ReadinessCheckStart.utm_source,
                ReadinessCheckStart.utm_medium,
                ReadinessCheckStart.utm_campaign,
                ReadinessCheckStart.starts,
            ).order_by(ReadinessCheckStart.id)
        )
        return [tuple(row) for row in rows]


def test_each_opening_of_the_check_is_counted_per_source(readiness_app):
    client = readiness_app.test_client()
    for _ in range(2):
        open_check(client, "/readiness-check?from=first-article&utm_source=news&utm_campaign=x")
    open_check(client, "/readiness-check?from=second-article")
    open_check(client, f"/readiness-check?from={HEADER_SOURCE}")
    open_check(client)

    assert start_rows(readiness_app) == [
        ("first-article", "news", "", "x", 2),
        ("second-article", "", "", "", 1),
        (HEADER_SOURCE, "", "", "", 1),
        ("", "", "", "", 1),
    ]


def test_answers_sent_back_and_the_result_are_not_starts(readiness_app):
    client = readiness_app.test_client()
    page = open_check(client, "/readiness-check?from=first-article")

    incomplete = client.post("/readiness-check", data=all_answers(page, b2=None))
    complete = client.post("/readiness-check", data=all_answers(page))
    result = client.get(complete.headers["Location"])

    assert (incomplete.status_code, complete.status_code, result.status_code) == (400, 303, 200)
    assert start_rows(readiness_app) == [("first-article", "", "", "", 1)]


def test_a_head_request_is_not_a_start(readiness_app):
    assert readiness_app.test_client().head("/readiness-check").status_code == 200

    assert start_rows(readiness_app) == []


def test_a_made_up_article_is_counted_as_other(readiness_app):
    # Anyone can write anything after from=; only the site's own slugs are kept apart.
    client = readiness_app.test_client()
    for value in ("spam-1", "spam-2", "First-Article", HOSTILE):
        open_check(client, f"/readiness-check?from={value}&utm_campaign=x")

    assert start_rows(readiness_app) == [(OTHER_SOURCE, "", "", "x", 4)]


def test_a_start_and_its_check_share_one_source(readiness_app):
    # The report divides checks completed by checks started of the same source, so the
    # campaign tags must be cleaned and cut exactly like the check's hidden fields.
    long_tag = "c" * 500
    take_check(
        readiness_app.test_client(),
        f"/readiness-check?from=first-article&utm_source={HOSTILE}&utm_campaign={long_tag}",
    )

    with readiness_app.app_context():
        check = db.session.scalars(select(ReadinessCheck)).one()
        stored = (check.source_article, check.utm_source, check.utm_medium, check.utm_campaign)
    assert start_rows(readiness_app) == [(*(value or "" for value in stored), 1)]
    assert "\u202e" not in stored[1] and len(stored[3]) == 200


def test_the_day_is_the_hosts_day(readiness_app):
    # 23:30 UTC on 1 July is already 2 July in London (BST), the fixture host's zone.
    late_evening = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    with readiness_app.test_request_context():
        assert count_check_start("GET", {"from": "first-article"}, late_evening) is True

    with readiness_app.app_context():
        assert db.session.scalars(select(ReadinessCheckStart.day)).all() == [date(2026, 7, 2)]


def test_nothing_about_the_reader_is_stored():
    columns = set(ReadinessCheckStart.__table__.columns.keys())

    assert columns == {
        "id",
        "day",
        "source_article",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "starts",
    }


def test_a_database_error_does_not_cost_the_reader_the_check(readiness_app, caplog):
    with readiness_app.app_context():
        db.session.execute(text("ALTER TABLE readiness_check_starts RENAME TO away"))
        db.session.commit()

    response = readiness_app.test_client().get("/readiness-check?from=first-article")

    assert response.status_code == 200
    assert "Readiness check start not counted: OperationalError" in caplog.messages


def hammer(app, barrier: threading.Barrier, errors: list) -> None:
    """Record STARTS_EACH starts of the same source, starting with every other thread."""
    try:
        with app.test_request_context():
            source = source_of({"from": "first-article", "utm_campaign": "launch"})
            barrier.wait()
            for _ in range(STARTS_EACH):
                record_start(source, DAY)
    except Exception as exc:  # noqa: BLE001 - the test reports any failure of a thread
        errors.append(exc)


def count_concurrently(app) -> list:
    """Run THREADS threads recording starts at once; return their errors."""
    barrier, errors = threading.Barrier(THREADS), []
    threads = [threading.Thread(target=hammer, args=(app, barrier, errors)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors


def test_concurrent_starts_make_one_row_and_lose_no_count(readiness_app):
    assert count_concurrently(readiness_app) == []

    assert start_rows(readiness_app) == [("first-article", "", "", "launch", THREADS * STARTS_EACH)]


@pytest.mark.postgres
def test_starts_on_postgresql(pg_app, content_dir):
    app = pg_app(CONTENT_DIR=content_dir, READINESS_FILE=content_dir / "readiness.toml")
    open_check(app.test_client(), "/readiness-check?from=first-article")

    assert count_concurrently(app) == []

    assert start_rows(app) == [
        ("first-article", "", "", "", 1),
        ("first-article", "", "", "launch", THREADS * STARTS_EACH),
    ]


def test_made_up_campaign_tags_beyond_the_days_cap_are_counted_as_other(readiness_app, monkeypatch):
    # utm_* cannot be checked against a list: past the cap a new tag folds into "other".
    monkeypatch.setattr("leadform.counters.MAX_SOURCES_PER_DAY", 3)
    client = readiness_app.test_client()
    for number in range(6):
        open_check(client, f"/readiness-check?from=first-article&utm_campaign=c{number}")
    open_check(client, "/readiness-check?from=first-article&utm_campaign=c1")  # already counted

    assert start_rows(readiness_app) == [
        ("first-article", "", "", "c0", 1),
        ("first-article", "", "", "c1", 2),
        ("first-article", "", "", "c2", 1),
        ("first-article", OTHER_SOURCE, OTHER_SOURCE, OTHER_SOURCE, 3),
    ]
