"""The adoption report: numbers from real form bookings, the period, the chart, the page."""

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from leadform.booking.changes import cancel_booking
from leadform.booking.visits import count_booking_page_visit, record_visit
from leadform.db import db
from leadform.desk.reports import (
    AdoptionReport,
    ReportPeriodError,
    ReportRow,
    WeekCount,
    adoption_report,
    articles_csv,
    bookings_chart_svg,
    percent,
    read_titles,
)
from leadform.models import Booking
from leadform.sources import OTHER_SOURCE
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import add_booking

# The desk's fixtures (`app` here overrides conftest's with cheap password hashing).
app, operator, desk = admin_helpers.app, admin_helpers.operator, admin_helpers.desk


LONDON = "Europe/London"
SVG = "{http://www.w3.org/2000/svg}"
NEWSLETTER = "from=why-ai-pilots-stall&utm_source=newsletter&utm_medium=email&utm_campaign=spring"
LINKEDIN = "from=why-ai-pilots-stall&utm_source=linkedin&utm_medium=social&utm_campaign=launch"


def visit_and_book(client, query: str, visits: int, bookings: int, email: str) -> list[str]:
    """Open /book?query `visits` times and book from the last `bookings` of those pages."""
    public_ids = []
    for number in range(visits):
        page = open_form(client, f"/book?{query}")
        if number >= visits - bookings:
            response = client.post("/book", data=answers(page, email=email))
            assert response.status_code == 303, response.status_code
            public_ids.append(response.location.rsplit("/", 1)[1])
    return public_ids


def cancel(app, public_id: str) -> None:
    """Cancel a booking the way the prospect's cancel link does."""
    with app.app_context():
        booking = db.session.scalars(select(Booking).filter_by(public_id=public_id)).one()
        assert cancel_booking(booking, datetime.now(UTC)) is True


def mark_attended(app, public_id: str) -> None:
    """Record attendance (operators can only do it after the session; here ahead of time)."""
    with app.app_context():
        booking = db.session.scalars(select(Booking).filter_by(public_id=public_id)).one()
        booking.attendance = "attended"
        db.session.commit()


@pytest.fixture
def funnel(app, client):
    """Bookings made through the real form from three articles and two campaigns.

    why-ai-pilots-stall via the newsletter: 4 visits, 2 bookings (1 cancelled, 1 attended);
    why-ai-pilots-stall via LinkedIn: 2 visits, no booking; site-header
    untagged: 2 visits, 1 booking (attended); the booking page direct: 3 visits, 1 booking
    (cancelled).
    """
    claims = visit_and_book(client, NEWSLETTER, 4, 2, "a@example.com")
    visit_and_book(client, LINKEDIN, 2, 0, "b@example.com")
    (pricing,) = visit_and_book(client, "from=site-header", 2, 1, "c@example.com")
    (direct,) = visit_and_book(client, "", 3, 1, "d@example.com")
    cancel(app, claims[0])
    cancel(app, direct)
    mark_attended(app, claims[1])
    mark_attended(app, pricing)
    return app


def london_today() -> date:
    """Today in the host's zone, the zone visits and the report count days in."""
    return datetime.now(UTC).astimezone(ZoneInfo(LONDON)).date()


def todays_report(app):
    """The report of today (host zone) only."""
    now, today = datetime.now(UTC), london_today()
    with app.app_context():
        return adoption_report(today, today, now, zone_name=LONDON)


def numbers(row) -> tuple:
    return (row.visits, row.bookings, row.cancellations, row.attended)


def rates(row) -> tuple[str, str]:
    return (percent(row.booking_rate), percent(row.attendance_rate))


def test_articles_funnel_from_the_real_form(funnel):
    report = todays_report(funnel)

    assert [(row.key, numbers(row)) for row in report.by_article] == [
        (("why-ai-pilots-stall",), (6, 2, 1, 1)),
        (("",), (3, 1, 1, 0)),
        (("site-header",), (2, 1, 0, 1)),
    ]
    assert [rates(row) for row in report.by_article] == [
        ("33.3%", "50.0%"),
        ("33.3%", "0.0%"),
        ("50.0%", "100.0%"),
    ]


def test_campaigns_funnel_from_the_real_form(funnel):
    report = todays_report(funnel)

    assert [(row.key, numbers(row), rates(row)) for row in report.by_campaign] == [
        (("", "", ""), (5, 2, 1, 1), ("40.0%", "50.0%")),
        (("newsletter", "email", "spring"), (4, 2, 1, 1), ("50.0%", "50.0%")),
        (("linkedin", "social", "launch"), (2, 0, 0, 0), ("0.0%", "–")),
    ]


def test_totals(funnel):
    report = todays_report(funnel)

    assert numbers(report.totals) == (11, 4, 2, 2)
    assert rates(report.totals) == ("36.4%", "50.0%")


def test_no_visits_and_no_bookings_show_dashes(app):
    report = todays_report(app)

    assert (report.by_article, report.by_campaign) == ([], [])
    assert rates(report.totals) == ("–", "–")


def test_the_period_is_whole_days_in_the_host_zone(app):
    # 23:30 UTC is 00:30 the next day in London in summer (BST).
    add_booking(app, created_at=datetime(2026, 7, 1, 23, 30), start=datetime(2026, 8, 1, 9))
    add_booking(app, created_at=datetime(2026, 7, 2, 23, 30), start=datetime(2026, 8, 2, 9))
    add_booking(app, created_at=datetime(2026, 7, 1, 22, 59), start=datetime(2026, 8, 3, 9))
    with app.app_context():
        record_visit("why-ai-pilots-stall", None, None, None, date(2026, 7, 2))
        record_visit("why-ai-pilots-stall", None, None, None, date(2026, 7, 3))
        now = datetime(2026, 7, 10, tzinfo=UTC)
        report = adoption_report(date(2026, 7, 2), date(2026, 7, 2), now, zone_name=LONDON)

    assert (report.totals.bookings, report.totals.visits) == (1, 1)


def test_end_before_start_is_refused(app):
    with app.app_context(), pytest.raises(ReportPeriodError, match="end date"):
        adoption_report(date(2026, 3, 2), date(2026, 3, 1), datetime.now(UTC), zone_name=LONDON)


def test_bookings_per_iso_week(app):
    # Monday 2 March 2026 starts ISO week 10.
    for day, hour in [(3, 10), (4, 10), (4, 11), (12, 10)]:
        moment = datetime(2026, 3, day, hour)
        add_booking(app, created_at=moment, start=moment + timedelta(days=30))
    with app.app_context():
        now = datetime(2026, 3, 20, tzinfo=UTC)
        report = adoption_report(date(2026, 3, 1), date(2026, 3, 31), now, zone_name=LONDON)

    # The series stops at the current week (Friday 20 March is in W12).
    assert [(week.label, week.bookings) for week in report.weeks] == [
        ("2026-W09", 0),
        ("2026-W10", 3),
        ("2026-W11", 1),
        ("2026-W12", 0),
    ]


def test_chart_is_valid_svg_with_one_bar_per_week():
    weeks = [WeekCount(date(2026, 3, 2) + timedelta(weeks=n), n % 3) for n in range(5)]

    root = ET.fromstring(str(bookings_chart_svg(weeks)))

    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Bookings per week"
    assert root.find(f"{SVG}desc").text.endswith("4 in all.")
    bars = root.findall(f"{SVG}g[@class='bar']")
    assert [bar.find(f"{SVG}title").text for bar in bars] == [
        f"{week.label} (from {week.monday.isoformat()}): {week.bookings} "
        + ("booking" if week.bookings == 1 else "bookings")
        for week in weeks
    ]
    assert [int(bar.find(f"{SVG}rect").get("height")) for bar in bars] == [0, 80, 160, 0, 80]


def report_of_sources(*sources: str) -> AdoptionReport:
    """A report (not from the database) with one visit from each of `sources`."""
    rows = [ReportRow(key=(source,), visits=1) for source in sources]
    report = AdoptionReport(date(2026, 3, 2), date(2026, 3, 2), LONDON, by_article=rows)
    for row in rows:
        report.totals.add(row)
    return report


def test_csv_neutralises_formulas():
    hostile = ['=HYPERLINK("http://evil.example")', "+1", "-2", "@SUM(A1)", "plain"]

    rows = list(csv.reader(io.StringIO(articles_csv(report_of_sources(*hostile)))))

    assert rows[0][0] == "source_article"
    assert [row[0] for row in rows[1:-1]] == [
        '\'=HYPERLINK("http://evil.example")',
        "'+1",
        "'-2",
        "'@SUM(A1)",
        "plain",
    ]
    assert rows[-1] == [
        "Total", "5", "0", "0", "0", "0", "0.0", "", "0", "0", "0", "0", "", "0", ""
    ]  # fmt: skip


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_no_csv_cell_reads_as_a_formula_whatever_the_separator(delimiter):
    # The finding: a `from` of "Semi Colon;=1+1;" gave Excel in a ";" locale the cell "=1+1".
    text = articles_csv(report_of_sources("Semi Colon;=1+1;", "a,+1", "b\t@SUM(A1)"))

    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    cells = [cell.lstrip(" ") for row in rows for cell in row]
    assert [cell for cell in cells if cell.startswith(("=", "+", "-", "@"))] == []


def test_every_csv_cell_is_quoted():
    text = articles_csv(report_of_sources("why-ai-pilots-stall"))

    assert text.split("\r\n") == [
        '"source_article","visits","bookings","cancellations","attended","undelivered",'
        '"booking_rate_percent","attendance_rate_percent","checks_completed","reports_emailed",'
        '"newsletter_signups","bookings_via_check","check_booking_rate_percent","checks_started",'
        '"check_completion_rate_percent"',
        '"why-ai-pilots-stall","1","0","0","0","0","0.0","","0","0","0","0","","0",""',
        '"Total","1","0","0","0","0","0.0","","0","0","0","0","","0",""',
        "",
    ]


def test_the_report_page_needs_a_session(client):
    for url in ("/admin/reports", "/admin/reports/articles.csv"):
        response = client.get(url)
        assert response.status_code == 302
        assert response.location.startswith("/admin/login")


def test_the_report_page_shows_the_tables_and_the_chart(funnel, desk):
    response = desk.get("/admin/reports")

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert '<th scope="row">(direct / unknown)</th><td>3</td><td>1</td>' in body
    assert '<th scope="row">Total</th><td>11</td><td>4</td><td>2</td><td>2</td>' in body
    assert body.count('<g class="bar">') >= 13  # 90 days reach into 13 or 14 ISO weeks
    assert "<script" not in body.split("<main", 1)[1]


def test_the_page_escapes_hostile_sources(app, desk):
    with app.app_context():
        # The article becomes "other"; campaign tags are shown as they came, escaped.
        script = "<script>alert(1)</script>"
        record_visit(script, script, "<b>x</b>", '"><img src=x>', london_today())

    body = desk.get("/admin/reports").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body
    assert "<b>x</b>" not in body and '"><img' not in body


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("start=2026-02-30&end=2026-03-01", "start", "Not a valid date value."),
        ("start=2026-03-02&end=2026-03-01", "end", "must not be before the start date"),
        ("start=2020-01-01&end=2026-03-01", "end", "at most 1098 days"),
        ("start=0001-01-01&end=2026-03-01", "start", "between 2000-01-01 and 2999-12-31"),
        ("start=2026-03-01&end=9999-12-31", "end", "between 2000-01-01 and 2999-12-31"),
        ("start=%3Cb%3E&end=2026-03-01", "start", "Not a valid date value."),
    ],
)
def test_bad_periods_are_shown_next_to_the_field(desk, query, field, message):
    response = desk.get(f"/admin/reports?{query}")

    body = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f'id="{field}-error">' in body
    assert message in body.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert "By article" not in body
    assert "<b>" not in body


def test_csv_download(funnel, desk):
    response = desk.get("/admin/reports/articles.csv?start=2020-01-01&end=2022-01-01")
    assert response.status_code == 200  # an empty but valid period

    today = london_today().isoformat()
    response = desk.get(f"/admin/reports/articles.csv?start={today}&end={today}")

    assert response.mimetype == "text/csv"
    assert response.headers["Cache-Control"] == "no-store"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))
    assert rows[0][:8] == [
        "source_article",
        "visits",
        "bookings",
        "cancellations",
        "attended",
        "undelivered",
        "booking_rate_percent",
        "attendance_rate_percent",
    ]  # the columns consumers already read keep their places; the new ones follow
    zero_checks = ["0", "0", "0", "0", "", "0", ""]
    assert rows[1] == ["why-ai-pilots-stall", "6", "2", "1", "1", "0", "33.3", "50.0", *zero_checks]
    assert rows[-1] == ["Total", "11", "4", "2", "2", "0", "36.4", "50.0", *zero_checks]


def test_csv_with_a_bad_period_goes_back_to_the_form(desk):
    response = desk.get("/admin/reports/articles.csv?start=nonsense&end=2026-03-01")

    assert response.status_code == 303
    assert response.location == "/admin/reports?start=nonsense&end=2026-03-01"


# --- only the site's own slugs: anything else in `from` is "other" ---------------------------


def test_unknown_sources_add_at_most_one_row(app, desk):
    # The finding: each made-up ?from= value added a row to the report and its CSV.
    with app.test_request_context():
        for number in range(500):
            count_booking_page_visit("GET", {"from": f"spam-{number}"}, datetime.now(UTC))
    add_booking(app, source_article="spam-booking", created_at=datetime.now(UTC))

    report = todays_report(app)
    rows = list(csv.reader(io.StringIO(desk.get("/admin/reports/articles.csv").get_data(True))))

    assert [(row.key, numbers(row)) for row in report.by_article] == [
        ((OTHER_SOURCE,), (500, 1, 0, 0))
    ]
    assert [row[:3] for row in rows[1:]] == [[OTHER_SOURCE, "500", "1"], ["Total", "500", "1"]]


def test_unknown_sources_already_stored_are_counted_as_other(app):
    # Counters written before the limit (or by another process) are folded in at report time.
    with app.app_context():
        for source in ("spam-1", "spam-2", "why-ai-pilots-stall", "site-header", ""):
            record_visit(source, None, None, None, london_today())

    report = todays_report(app)

    assert sorted(row.key[0] for row in report.by_article) == [
        "",
        OTHER_SOURCE,
        "site-header",
        "why-ai-pilots-stall",
    ]
    assert next(row for row in report.by_article if row.key == (OTHER_SOURCE,)).visits == 2


def test_titles_are_read_from_the_markdown_headers(tmp_path):
    (tmp_path / "articles").mkdir()
    (tmp_path / "articles" / "a.md").write_text(
        "Title: Why pilots stall\nSlug: why-pilots-stall\n\nBody: not a header\n"
    )
    (tmp_path / "articles" / "no-slug.md").write_text("Title: Named by file\n\nText\n")

    assert read_titles(tmp_path) == {
        "why-pilots-stall": "Why pilots stall",
        "no-slug": "Named by file",
    }


def test_the_page_shows_article_titles(app, desk):
    with app.app_context():
        record_visit("why-ai-pilots-stall", None, None, None, london_today())

    body = desk.get("/admin/reports").get_data(as_text=True)

    assert '<span class="report-title">Why AI pilots stall after the demo' in body


@pytest.mark.postgres
def test_the_report_query_on_postgresql(pg_app):
    app = pg_app()
    made = datetime(2026, 3, 3, 10)
    article = "why-ai-pilots-stall"
    add_booking(app, created_at=made, start=datetime(2026, 4, 1, 9), source_article=article)
    add_booking(
        app,
        created_at=made,
        start=datetime(2026, 4, 2, 9),
        source_article="why-ai-pilots-stall",
        utm_campaign="spring",
        status="cancelled",
    )
    add_booking(app, created_at=made, start=datetime(2026, 4, 3, 9), attendance="attended")
    with app.app_context():
        for campaign in (None, "spring", "spring", "spring"):
            record_visit("why-ai-pilots-stall", None, None, campaign, date(2026, 3, 3))
        now = datetime(2026, 3, 10, tzinfo=UTC)
        report = adoption_report(date(2026, 3, 1), date(2026, 3, 8), now, zone_name=LONDON)

    assert [(row.key, numbers(row)) for row in report.by_article] == [
        (("why-ai-pilots-stall",), (4, 2, 1, 0)),
        (("",), (0, 1, 0, 1)),
    ]
    assert [(row.key, numbers(row)) for row in report.by_campaign] == [
        (("", "", ""), (1, 2, 0, 1)),
        (("", "", "spring"), (3, 1, 1, 0)),
    ]
    assert [(week.label, week.bookings) for week in report.weeks] == [
        ("2026-W09", 0),
        ("2026-W10", 3),
    ]


def test_bookings_whose_email_never_arrived_are_counted(app, desk):
    made = datetime(2026, 4, 1, 10, 0)
    add_booking(
        app, created_at=made, start=datetime(2026, 4, 8, 9), source_article="why-ai-pilots-stall"
    )
    add_booking(
        app,
        created_at=made,
        start=datetime(2026, 4, 9, 9),
        source_article="why-ai-pilots-stall",
        email_undeliverable_at=made,
    )
    with app.app_context():
        report = adoption_report(
            date(2026, 4, 1),
            date(2026, 4, 30),
            datetime(2026, 5, 1, tzinfo=UTC),
            zone_name="Europe/London",
        )

    (row,) = [row for row in report.by_article if row.key[0] == "why-ai-pilots-stall"]
    assert (row.bookings, row.undelivered) == (2, 1)
    assert "Email never arrived" in desk.get("/admin/reports?start=2026-04-01&end=2026-04-30").text
