"""The bookings CSV: one row per booking, safe to open in a spreadsheet.

Every CSV the service writes goes through `spreadsheet_csv` (the adoption report's too):
A cell starting with =, +, -, @, a tab or a carriage return is a formula to Excel and
LibreOffice; such cells get a leading apostrophe so they stay text (OWASP's advice). That is
not enough on its own: Excel in a German, French or Dutch locale splits on ";" and a row
broken at a line break starts a new cell, so "Semi Colon;=1+1;" would hand it the cell
"=1+1". So every cell is quoted, and an apostrophe also goes after any ",", ";", tab or line
break that is followed by a formula character: whatever separator the reader picks, no cell
it sees starts like a formula.
"""

import csv
import io
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from leadform.models import Booking

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# Where a reader may start a cell: the start, or after a separator some locale uses or a
# line break; what follows (spaces skipped, as some readers trim them) is a formula start.
_FORMULA_AT_A_CELL_START = re.compile(r"(?:^|(?<=[,;\t\r\n]))(?=[ ]*[=+\-@\t\r])")
BOM = "\ufeff"  # lets Excel read the file as UTF-8
HEADERS = [
    "reference",
    "status",
    "start",
    "prospect zone",
    "name",
    "email",
    "company",
    "role",
    "company size",
    "goals",
    "source article",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
    "attendance",
    "created",
    "consultants",
]


def neutralise(value) -> str:
    """Return `value` as text a spreadsheet will not run as a formula, whatever its separator."""
    text = "" if value is None else str(value)
    return _FORMULA_AT_A_CELL_START.sub("'", text)


def spreadsheet_csv(header: Iterable[str], rows: Iterable[Iterable]) -> str:
    """Return CSV text with every cell quoted and neutralised (see the module's docstring).

    Quoting every cell keeps a reader that splits on "," from splitting inside one;
    neutralising covers readers that split elsewhere.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow([neutralise(cell) for cell in header])
    writer.writerows([neutralise(cell) for cell in row] for row in rows)
    return buffer.getvalue()


def _iso(moment: datetime | None, zone: ZoneInfo) -> str:
    """A naive-UTC column value as ISO 8601 in `zone` (to the minute), or empty."""
    if moment is None:
        return ""
    return moment.replace(tzinfo=UTC).astimezone(zone).isoformat(timespec="minutes")


def booking_row(booking: Booking, host_zone: ZoneInfo) -> list[str]:
    """The CSV cells of one booking, in HEADERS order, neutralised."""
    cells = [
        booking.public_id,
        booking.status,
        _iso(booking.slot_start, host_zone),
        booking.timezone,
        booking.name,
        booking.email,
        booking.company,
        booking.role,
        booking.company_size,
        booking.goals,
        booking.source_article,
        booking.utm_source,
        booking.utm_medium,
        booking.utm_campaign,
        booking.utm_term,
        booking.utm_content,
        booking.referrer,
        booking.attendance,
        _iso(booking.created_at, host_zone),
        " ".join(booking.host_ids),  # site.toml's host ids
    ]
    return [neutralise(cell) for cell in cells]


def bookings_csv(bookings: Iterable[Booking], host_zone: ZoneInfo) -> str:
    """The whole CSV document (BOM, header row, one row per booking)."""
    rows = (booking_row(booking, host_zone) for booking in bookings)
    return BOM + spreadsheet_csv(HEADERS, rows)


def export_filename(tab: str, today: date) -> str:
    """A dated file name such as bookings-upcoming-2026-11-23.csv."""
    return f"bookings-{tab}-{today.isoformat()}.csv"
