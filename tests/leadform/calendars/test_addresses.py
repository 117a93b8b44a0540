"""The live check queries the CalDAV calendars the last sync found, without looking again.

Finding an account's calendars costs three requests; at booking time only the time-range
query per calendar should go out. A calendar that disappears is looked for afresh.
"""

from datetime import UTC, datetime, timedelta

from leadform.calendars.services import live_busy_for
from tests.leadform.calendars.test_failures import one_host
from tests.leadform.calendars.test_sync import _event, _next_monday, _put, at


def _slot():
    monday = _next_monday()
    return at(monday, 10), at(monday, 11, 30)


def _sync(app) -> None:
    result = app.test_cli_runner().invoke(args=["calendars", "sync"])
    assert result.exit_code == 0, result.output


def _ada(app):
    settings = app.extensions["calendars"]
    return settings, settings.hosts.hosts["ada"].sources[0]


def test_a_sync_records_the_calendar_and_the_live_check_reuses_it(radicale, calendar_app):
    calendar = radicale.new_calendar("ada")
    app = calendar_app(one_host(radicale.url, calendar.get_display_name()))
    settings, source = _ada(app)
    assert settings.reading.addresses.get(source) is None

    _sync(app)
    [url] = settings.reading.addresses.get(source)
    assert url.rstrip("/") == str(calendar.url).rstrip("/")

    # Point the record at another calendar holding an event: only a live check that reads
    # the recorded address, instead of looking the calendars up again, can see it.
    elsewhere = radicale.new_calendar("ada")
    start, end = _slot()
    _put(elsewhere, _event("e1", f"DTSTART:{start:%Y%m%dT%H%M%SZ}\nDTEND:{end:%Y%m%dT%H%M%SZ}"))
    settings.reading.addresses.put(source, (str(elsewhere.url),))
    with app.app_context():
        busy = live_busy_for(["ada"], start, end, datetime.now(UTC))["ada"]
    assert not busy.is_free(start, end)


def test_a_calendar_gone_since_the_sync_is_forgotten_and_found_again(radicale, calendar_app):
    calendar = radicale.new_calendar("ada")
    name = calendar.get_display_name()
    app = calendar_app(one_host(radicale.url, name))
    settings, source = _ada(app)
    _sync(app)
    calendar.delete()
    replacement = radicale.client("ada").principal().make_calendar(name=name)
    start, end = _slot()
    _put(replacement, _event("e2", f"DTSTART:{start:%Y%m%dT%H%M%SZ}\nDTEND:{end:%Y%m%dT%H%M%SZ}"))

    with app.app_context():
        now = datetime.now(UTC)
        live_busy_for(["ada"], start, end, now)  # the recorded address answers 404
        assert settings.reading.addresses.get(source) is None
        busy = live_busy_for(["ada"], start, end, now + timedelta(seconds=1))["ada"]

    assert not busy.is_free(start, end)  # looked for afresh: the new calendar's event
    assert settings.reading.addresses.get(source) is not None
