"""The desk's calendars page: each calendar's last good sync and error, busy blocks by day."""

from datetime import UTC, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

from leadform.desk.calendar_views import DAYS
from tests.leadform.calendars.test_failures import one_host
from tests.leadform.calendars.test_sync import _event, _put
from tests.leadform.desk.helpers import (
    DESK_SETTINGS,
    add_booking,
    is_sign_in_redirect,
    signed_in,
    with_operator,
)

DESK_ZONE = ZoneInfo("Europe/London")  # the fixture site.toml's [availability] zone


def two_calendars_toml(caldav_url: str, calendar: str, feed_url: str) -> str:
    """Host ada with a CalDAV calendar and an ICS feed, host grace with nothing to read."""
    return f"""
[hosts.ada]
name = "Ada Example"
email = "ada@tessellate.example"
timezone = "UTC"

[[hosts.ada.calendars]]
type = "caldav"
url = "{caldav_url}"
username = "ada"
password_env = "LEADFORM_CALENDAR_SECRET_ADA"
calendars = ["{calendar}"]

[[hosts.ada.calendars]]
type = "ics"
label = "Ada's Google"
url = "{feed_url}"

[hosts.grace]
name = "Grace Example"
email = "grace@tessellate.example"
timezone = "UTC"
"""


def day_at(days: int, hour: int) -> datetime:
    """An aware-UTC time `days` ahead at `hour`:00 UTC."""
    day = datetime.now(UTC).date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


def local(moment: datetime) -> str:
    return f"{moment.astimezone(DESK_ZONE):%H:%M}"


def row_of(page: str, moment: datetime) -> str:
    """The table row of the local day of `moment` on the page."""
    label = moment.astimezone(DESK_ZONE).strftime("%a %d %b")
    start = page.index(f'<th scope="row">{label}</th>')
    return page[start : page.index("</tr>", start)]


def test_the_page_needs_a_signed_in_operator(calendar_app):
    app = calendar_app("", **DESK_SETTINGS)
    assert is_sign_in_redirect(app.test_client().get("/admin/calendars"))


def test_without_hosts_the_page_says_no_calendar_is_read(make_app):
    app = with_operator(make_app(**DESK_SETTINGS))
    response = signed_in(app).get("/admin/calendars")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "site.toml names no hosts" in response.get_data(as_text=True)


def test_busy_blocks_sit_beside_the_bookings_with_each_calendars_sync_and_error(
    radicale, calendar_app, down_url
):
    calendar = radicale.new_calendar("ada")
    meeting = day_at(3, 9)
    stamp = "%Y%m%dT%H%M%SZ"
    end = meeting + timedelta(hours=1)
    _put(calendar, _event("desk-meeting", f"DTSTART:{meeting:{stamp}}\nDTEND:{end:{stamp}}"))
    toml = two_calendars_toml(radicale.url, calendar.get_display_name(), down_url + "ada.ics")
    app = calendar_app(toml, **DESK_SETTINGS)
    app.test_cli_runner().invoke(args=["calendars", "sync"])  # CalDAV good, the feed down
    session = meeting.replace(hour=13)
    public_id = add_booking(app, start=session.replace(tzinfo=None), name="Mae Prospect")

    response = signed_in(with_operator(app)).get("/admin/calendars")

    assert response.status_code == 200
    page = unescape(response.get_data(as_text=True))
    row = row_of(page, meeting)
    ada_cell, grace_cell = row.split("<td>")[1:3]
    assert f"{local(meeting)}–{local(end)}" in ada_cell
    assert grace_cell.strip().startswith("—")
    booked = f"{local(session)}–{local(session + timedelta(minutes=90))} Mae Prospect"
    assert f'href="/admin/bookings/{public_id}">{booked}</a>' in row
    assert "Ada's Google (ICS feed)" in page and "cannot connect" in page
    assert "No: no good sync in the last 60 minutes of: Ada's Google" in page
    assert page.count('<th scope="row">') == DAYS


def test_a_day_wide_block_reads_all_day(radicale, calendar_app):
    calendar = radicale.new_calendar("ada")
    holiday = day_at(5, 0)
    _put(calendar, _event("holiday", f"DTSTART;VALUE=DATE:{holiday:%Y%m%d}"))
    london_host = one_host(radicale.url, calendar.get_display_name()).replace(
        '"UTC"', '"Europe/London"'
    )
    app = calendar_app(london_host, **DESK_SETTINGS)
    synced = app.test_cli_runner().invoke(args=["calendars", "sync"])
    assert synced.exit_code == 0, synced.output

    page = unescape(signed_in(with_operator(app)).get("/admin/calendars").get_data(as_text=True))

    ada_cell = row_of(page, holiday).split("<td>")[1]  # the host's day is the desk's here
    assert ada_cell.startswith("all day")
