"""The bookings CSV: filters, columns, formula neutralising and download headers."""

import csv
import io
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pytest

from leadform.desk.export import BOM, HEADERS, bookings_csv, export_filename, neutralise
from leadform.models import Booking, utcnow
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
