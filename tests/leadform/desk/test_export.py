"""The bookings CSV: filters, columns, formula neutralising and download headers."""

import csv
import io
import unicodedata
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from leadform.db import db
from leadform.desk.export import BOM, HEADERS, bookings_csv, export_filename, neutralise
from leadform.models import Booking, OutboxMessage, utcnow
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import add_booking

app, operator, desk = admin_helpers.app, admin_helpers.operator, admin_helpers.desk


def _rows(response) -> list[dict]:
    """Parse a CSV download (BOM first) into dicts keyed by the header row."""
    text = response.get_data().decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[1:], newline="")))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('=HYPERLINK("http://x")', '\'=HYPERLINK("http://x")'),
        ("+1 555", "'+1 555"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("Plain text", "Plain text"),
        (None, ""),
        # A reader splitting on another separator (Excel in a ";" locale) starts a new cell
        # there, and a row broken at a line break starts one too.
        ("Semi Colon;=1+1;", "Semi Colon;'=1+1;"),
        ("a,+1", "a,'+1"),
        ("a; @SUM(A1)", "a;' @SUM(A1)"),
        ("one\n-2+3", "one\n'-2+3"),
        ("tab\t=1", "tab\t'=1"),
        (" =1+1", "' =1+1"),
        ("Smith, Jones; Partners", "Smith, Jones; Partners"),
        (42, "42"),
    ],
)
def test_neutralise_defuses_formula_starts(value, expected):
    assert neutralise(value) == expected


def test_hostile_cells_survive_a_csv_round_trip():
    hostile = Booking(
        public_id="abc",
        status="confirmed",
        slot_start=utcnow(),
        slot_end=utcnow() + timedelta(minutes=90),
        timezone="Europe/London",
        name='=cmd|" /C calc"!A0',
        email="@evil.example",
        company='Quote "and", comma',
        role="+role",
        company_size="-1",
        goals="line one\r\nline two",
        created_at=utcnow(),
    )
    text = bookings_csv([hostile], ZoneInfo("Europe/London"))
    rows = list(csv.reader(io.StringIO(text[1:], newline="")))
    assert rows[0] == HEADERS
    record = dict(zip(HEADERS, rows[1], strict=True))
    assert record["name"] == '\'=cmd|" /C calc"!A0'
    assert record["email"] == "'@evil.example"
    assert record["company"] == 'Quote "and", comma'
    assert (record["role"], record["company size"]) == ("'+role", "'-1")
    assert record["goals"] == "line one\r\nline two"


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def formula_cells(text: str, delimiter: str) -> list[str]:
    """Return the cells a reader using `delimiter` would see starting like a formula."""
    rows = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    return [cell for row in rows for cell in row if cell.lstrip(" ").startswith(FORMULA_STARTS)]


def hostile_booking(**fields) -> Booking:
    """A booking (not stored) with the given answers."""
    values = {
        "public_id": "abc",
        "status": "confirmed",
        "slot_start": utcnow(),
        "slot_end": utcnow() + timedelta(minutes=90),
        "timezone": "Europe/London",
        "name": "Ada",
        "created_at": utcnow(),
    }
    return Booking(**(values | fields))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_no_cell_reads_as_a_formula_whatever_the_separator(delimiter):
    # The finding: "Semi Colon;=1+1;" was written unquoted, and Excel in a ";" locale read
    # the cell "=1+1".
    booking = hostile_booking(
        name="Semi Colon;=1+1;",
        company="Acme,+cmd",
        role="x\t@SUM(A1)",
        goals='first line\n=HYPERLINK("http://evil.example")',
        source_article='q";=1+1',
    )
    text = bookings_csv([booking], ZoneInfo("Europe/London"))[1:]

    assert formula_cells(text, delimiter) == []


def test_every_cell_is_quoted():
    text = bookings_csv([hostile_booking()], ZoneInfo("Europe/London"))[1:]

    for line in text.split("\r\n")[:-1]:
        cells = line.split('","')
        assert line.startswith('"') and line.endswith('"'), line
        assert len(cells) == len(HEADERS), line


def test_the_finding_through_the_desk_download(app, desk):
    add_booking(app, name="Semi Colon;=1+1;")

    text = desk.get("/admin/bookings/export.csv").get_data(as_text=True)[1:]

    assert '"Semi Colon;\'=1+1;"' in text
    assert formula_cells(text, ";") == []


RLO_NAME = "Ann \u202egnp.exe\u202c Lee\u200b"  # right-to-left override, zero-width space


def test_direction_overrides_in_a_name_reach_no_email_desk_or_csv(app, desk):
    # The finding: U+202E in a name reached the team email subject, the desk and the CSV,
    # where it turns the rest of the line around ("Ann exe.png Lee").
    prospect = app.test_client()
    page = open_form(prospect, "/book?from=why-ai-pilots-stall")
    response = prospect.post("/book", data=answers(page, name=RLO_NAME, company="Acme\u2066"))
    assert response.status_code == 303, response.status_code

    with app.app_context():
        booking = db.session.scalars(select(Booking)).one()
        (team,) = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "team_notification")
        ).all()
        subject, public_id = team.payload["subject"], booking.public_id
        assert (booking.name, booking.company) == ("Ann gnp.exe Lee", "Acme")
    detail = desk.get(f"/admin/bookings/{public_id}").get_data(as_text=True)
    listing = desk.get("/admin/bookings?tab=upcoming").get_data(as_text=True)
    export = desk.get("/admin/bookings/export.csv").get_data(as_text=True).removeprefix(BOM)
    for text in (subject, detail, listing, export):
        assert [char for char in text if unicodedata.category(char) == "Cf"] == []
    assert "Ann gnp.exe Lee" in subject


def test_export_filename_is_dated():
    assert export_filename("past", date(2026, 11, 23)) == "bookings-past-2026-11-23.csv"


def test_export_download_headers(desk):
    response = desk.get("/admin/bookings/export.csv")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="bookings-upcoming-20')


def test_export_has_every_column_of_a_booking(app, desk):
    public_id = add_booking(app, source_article="ai-in-claims", utm_source="newsletter")
    [row] = _rows(desk.get("/admin/bookings/export.csv"))
    assert list(row) == HEADERS
    assert row["reference"] == public_id
    assert (row["source article"], row["utm_source"]) == ("ai-in-claims", "newsletter")
    assert row["name"] == "Siobhán O'Brien"
    assert row["start"].endswith(("+00:00", "+01:00"))  # the host zone (London) offset


def test_export_applies_the_tab_and_search(app, desk):
    now = utcnow()
    add_booking(app, company="Acme", start=now + timedelta(days=1))
    add_booking(app, company="Globex", start=now + timedelta(days=2))
    add_booking(app, company="Acme Past", start=now - timedelta(days=2))
    upcoming_acme = _rows(desk.get("/admin/bookings/export.csv?tab=upcoming&q=acme"))
    assert [row["company"] for row in upcoming_acme] == ["Acme"]
    past = _rows(desk.get("/admin/bookings/export.csv?tab=past"))
    assert [row["company"] for row in past] == ["Acme Past"]


def test_list_page_links_to_the_filtered_export(desk):
    html = desk.get("/admin/bookings?tab=past&q=acme").get_data(as_text=True)
    assert "/admin/bookings/export.csv?tab=past&amp;q=acme" in html
