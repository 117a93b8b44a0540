"""The adoption report's steps before the booking, from checks, signups and bookings made
through the real pages: readiness checks started and completed, reports emailed, newsletter
signups confirmed and bookings made from a check's result, per article and per campaign."""

import csv
import html
import io
import re
import shutil
from datetime import UTC, datetime, timedelta

import pytest

from leadform.desk.reports import adoption_report, percent
from leadform.sources import OTHER_SOURCE
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.test_reports import LONDON, london_today
from tests.leadform.newsletter.helpers import confirm_path, csrf_from, outbox
from tests.leadform.readiness.conftest import ARTICLES, FIXTURE
from tests.leadform.readiness.test_pages import csrf_of, open_check, take_check

operator, desk = admin_helpers.operator, admin_helpers.desk
SPRING = "utm_source=newsletter&utm_medium=email&utm_campaign=spring"


@pytest.fixture
def app(make_app, tmp_path):
    """The desk's app with the readiness fixture's articles and question file."""
    content = tmp_path / "content"
    (content / "articles").mkdir(parents=True)
    for slug, text in ARTICLES.items():
        (content / "articles" / f"{slug}.md").write_text(text)
    shutil.copy(FIXTURE, content / "readiness.toml")
    return make_app(
        CONTENT_DIR=content,
        READINESS_FILE=content / "readiness.toml",
        **admin_helpers.DESK_SETTINGS,
    )


def email_report(client, location: str, email: str) -> None:
    """Ask for the check's report by email from its result page."""
    response = client.post(
        location + "/email",
        data={"csrf_token": csrf_of(client, location), "email": email, "consent": "y"},
    )
    assert response.status_code == 303


def book_from_result(client, location: str) -> None:
    """Follow the result page's booking link and book."""
    result = client.get(location).get_data(as_text=True)
    link = re.search(r'href="http://127\.0\.0\.1:8000(/book\?check=[^"]+)"', result)
    page = open_form(client, html.unescape(link.group(1)))
    assert client.post("/book", data=answers(page)).status_code == 303


def sign_up(app, client, email: str, source: str, confirm: bool) -> None:
    """Sign up for the newsletter from `source`; confirm through the emailed link if asked."""
    client.post("/newsletter/subscribe", data={"email": email, "consent": "y", "source": source})
    if confirm:
        with app.app_context():
            path = confirm_path(outbox("newsletter_confirm")[-1])
        page = client.get(path).get_data(as_text=True)
        assert client.post(path, data={"csrf_token": csrf_from(page)}).status_code == 303


@pytest.fixture
def checks(app, client):
    """first-article via the spring campaign: 3 checks, 2 reports emailed, 1 booking from a
    result. second-article untagged: 2 checks started, 1 completed. A made-up article:
    1 check ("other"). Newsletter: one confirmed signup from first-article, one left
    unconfirmed."""
    spring = [take_check(client, f"/readiness-check?from=first-article&{SPRING}") for _ in "abc"]
    email_report(client, spring[0], "ada@example.com")
    email_report(client, spring[1], "bob@example.com")
    book_from_result(client, spring[2])
    take_check(client, "/readiness-check?from=second-article")
    open_check(client, "/readiness-check?from=second-article")  # started, never sent
    take_check(client, "/readiness-check?from=made-up-article")
    sign_up(app, client, "reader@example.com", "first-article", confirm=True)
    sign_up(app, client, "pending@example.com", "second-article", confirm=False)
    return app


def steps(row) -> tuple:
    return (row.checks, row.reports_emailed, row.signups, row.check_bookings)


def todays_report(app):
    today = london_today()
    with app.app_context():
        return adoption_report(today, today, datetime.now(UTC), zone_name=LONDON)


def test_articles_steps_from_the_real_pages(checks):
    report = todays_report(checks)

    assert [(row.key, row.bookings, steps(row)) for row in report.by_article] == [
        (("first-article",), 1, (3, 2, 1, 1)),
        (("second-article",), 0, (1, 0, 0, 0)),
        ((OTHER_SOURCE,), 0, (1, 0, 0, 0)),
    ]
    assert [percent(row.check_booking_rate) for row in report.by_article] == [
        "33.3%",
        "0.0%",
        "0.0%",
    ]
    assert steps(report.totals) == (5, 2, 1, 1)
    assert percent(report.totals.check_booking_rate) == "20.0%"


def test_campaigns_steps_follow_the_check(checks):
    # The result page's booking link carries the article, not the tags: the booking itself
    # is untagged, but "bookings via check" follows the check to its campaign.
    report = todays_report(checks)

    assert [(row.key, row.bookings, steps(row)) for row in report.by_campaign] == [
        (("", "", ""), 1, (2, 0, 1, 0)),
        (("newsletter", "email", "spring"), 0, (3, 2, 0, 1)),
    ]


def started(row) -> tuple:
    return (row.check_starts, row.checks, percent(row.check_completion_rate))


def test_checks_started_per_article_from_the_real_pages(checks):
    report = todays_report(checks)

    assert [(row.key, started(row)) for row in report.by_article] == [
        (("first-article",), (3, 3, "100.0%")),
        (("second-article",), (2, 1, "50.0%")),
        ((OTHER_SOURCE,), (1, 1, "100.0%")),
    ]
    assert started(report.totals) == (6, 5, "83.3%")


def test_checks_started_per_campaign_from_the_real_pages(checks):
    report = todays_report(checks)

    assert [(row.key, started(row)) for row in report.by_campaign] == [
        (("", "", ""), (3, 2, "66.7%")),
        (("newsletter", "email", "spring"), (3, 3, "100.0%")),
    ]


def test_checks_started_count_on_their_day_only(checks):
    yesterday = london_today() - timedelta(days=1)
    with checks.app_context():
        report = adoption_report(yesterday, yesterday, datetime.now(UTC), zone_name=LONDON)

    assert started(report.totals) == (0, 0, "–")


def test_no_checks_show_a_dash(app):
    report = todays_report(app)

    assert steps(report.totals) == (0, 0, 0, 0)
    assert percent(report.totals.check_booking_rate) == "–"
    assert percent(report.totals.check_completion_rate) == "–"


def test_the_page_and_the_csv_show_the_steps(checks, desk):
    body = desk.get("/admin/reports").get_data(as_text=True)
    today = london_today().isoformat()
    text = desk.get(f"/admin/reports/articles.csv?start={today}&end={today}").get_data(True)

    assert '<th scope="col">Bookings per completed check</th>' in body
    assert (
        '<th scope="col">Checks started</th><th scope="col">Checks completed</th>'
        '<th scope="col">Completed per started</th>'
    ) in body
    assert (
        '<th scope="row">Total</th><td>1</td><td>1</td><td>0</td><td>0</td><td>0</td>'
        "<td>100.0%</td><td>0.0%</td><td>6</td><td>5</td><td>83.3%</td><td>2</td><td>1</td>"
        "<td>1</td><td>20.0%</td>"
    ) in body
    assert text.split("\r\n")[0] == (
        '"source_article","visits","bookings","cancellations","attended","undelivered",'
        '"booking_rate_percent","attendance_rate_percent","checks_completed","reports_emailed",'
        '"newsletter_signups","bookings_via_check","check_booking_rate_percent","checks_started",'
        '"check_completion_rate_percent"'
    )
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1] == [
        "first-article", "1", "1", "0", "0", "0", "100.0", "0.0", "3", "2", "1", "1", "33.3", "3",
        "100.0",
    ]  # fmt: skip
    assert rows[2][0] == "second-article" and rows[2][-2:] == ["2", "50.0"]
    assert rows[-1] == [
        "Total",
        "1",
        "1",
        "0",
        "0",
        "0",
        "100.0",
        "0.0",
        "5",
        "2",
        "1",
        "1",
        "20.0",
        "6",
        "83.3",
    ]
