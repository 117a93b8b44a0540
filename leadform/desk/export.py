"""The bookings CSV: one row per booking, safe to open in a spreadsheet.

A cell starting with =, +, -, @, a tab or a carriage return is a formula to Excel and
LibreOffice; such cells get a leading apostrophe so they stay text (OWASP's advice).
"""

import csv
import io
from collections.abc import Iterable
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from leadform.models import Booking

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
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
]


def neutralise(value) -> str:
    """Return `value` as text a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


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
    ]
    return [neutralise(cell) for cell in cells]


def bookings_csv(bookings: Iterable[Booking], host_zone: ZoneInfo) -> str:
    """The whole CSV document (BOM, header row, one row per booking)."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(HEADERS)
    for booking in bookings:
        writer.writerow(booking_row(booking, host_zone))
    return buffer.getvalue()


def export_filename(tab: str, today: date) -> str:
    """A dated file name such as bookings-upcoming-2026-11-23.csv."""
    return f"bookings-{tab}-{today.isoformat()}.csv"
