"""A calendar server that is down, slow or answers garbage: the sync finishes, records the
error, the stale policy holds, and the next sync recovers with no restart."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from leadform.calendars.models import CalendarSourceState
from leadform.calendars.services import busy_for, live_busy_for
from leadform.db import db
from tests.leadform.calendars.test_sync import _event, _next_monday, _put, _week, at


def one_host(url: str, calendar: str = "Work") -> str:
    return f"""
[hosts.ada]
name = "Ada Example"
email = "ada@tessellate.example"
timezone = "UTC"

[[hosts.ada.calendars]]
type = "caldav"
url = "{url}"
username = "ada"
password_env = "LEADFORM_CALENDAR_SECRET_ADA"
calendars = ["{calendar}"]
"""


def _state(app) -> CalendarSourceState:
    with app.app_context():
        return db.session.scalars(select(CalendarSourceState)).one()


@pytest.mark.parametrize(
    ("server", "problem"),
    [
        ("down_url", "cannot connect"),
        ("slow_server", "no answer within 1 s"),
        ("garbage_server", "no calendars"),
    ],
)
def test_a_failing_server_is_recorded_and_its_host_not_offered(
    request, calendar_app, server, problem
):
    url = request.getfixturevalue(server)
    app = calendar_app(one_host(url), CALENDAR_SYNC_TIMEOUT=1.0)

    result = app.test_cli_runner().invoke(args=["calendars", "sync"])

    assert result.exit_code == 1
    assert "FAILED host ada" in result.output and problem in result.output
    state = _state(app)
    assert problem in state.last_error and state.last_good_at is None
    assert state.failing_since is not None
    with app.app_context():
        busy = busy_for(["ada"], *_week(_next_monday()), now=datetime.now(UTC))["ada"]
    assert busy.unavailable is not None


def test_a_wrong_password_says_so(radicale, calendar_app):
    app = calendar_app(
        one_host(radicale.url),
        CALENDAR_SECRETS={"LEADFORM_CALENDAR_SECRET_ADA": "not-the-password"},
    )
    result = app.test_cli_runner().invoke(args=["calendars", "sync"])
    assert result.exit_code == 1
    assert "the username or password was refused" in _state(app).last_error


def test_a_missing_calendar_name_lists_the_ones_found(radicale, calendar_app):
    radicale.new_calendar("ada", "Work")
    app = calendar_app(one_host(radicale.url, calendar="Wrok"))
    app.test_cli_runner().invoke(args=["calendars", "sync"])
    assert "no calendar named 'Wrok'" in _state(app).last_error
    assert "Work" in _state(app).last_error


def test_with_the_offer_policy_a_stale_host_is_still_offered(calendar_app, down_url):
    app = calendar_app(one_host(down_url), CALENDAR_WHEN_STALE="offer", CALENDAR_SYNC_TIMEOUT=1.0)
    app.test_cli_runner().invoke(args=["calendars", "sync"])
    with app.app_context():
        busy = busy_for(["ada"], *_week(_next_monday()), now=datetime.now(UTC))["ada"]
    assert busy.unavailable is None and busy.intervals == ()


def test_last_good_sync_is_used_until_too_old_then_recovery_needs_no_restart(
    own_radicale, calendar_app
):
    calendar = own_radicale.new_calendar("ada", "Work")
    monday = _next_monday()
    stamp = "%Y%m%dT%H%M%SZ"
    _put(
        calendar, _event("talk", f"DTSTART:{at(monday, 9):{stamp}}\nDTEND:{at(monday, 10):{stamp}}")
    )
    app = calendar_app(one_host(own_radicale.url), CALENDAR_MAX_STALE_MINUTES=30)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["calendars", "sync"]).exit_code == 0
    good_at = _state(app).last_good_at

    own_radicale.stop()
    failed = runner.invoke(args=["calendars", "sync"])

    assert failed.exit_code == 1
    state = _state(app)
    assert state.last_good_at == good_at and "cannot connect" in state.last_error
    now = datetime.now(UTC)
    with app.app_context():
        fresh = busy_for(["ada"], *_week(monday), now=now)["ada"]
        too_old = busy_for(["ada"], *_week(monday), now=now + timedelta(minutes=31))["ada"]
    assert fresh.unavailable is None and not fresh.is_free(at(monday, 9), at(monday, 10))
    assert fresh.is_free(at(monday, 10), at(monday, 11))
    assert too_old.unavailable is not None and "30 minutes" in too_old.unavailable

    own_radicale.start()
    recovered = runner.invoke(args=["calendars", "sync"])

    assert recovered.exit_code == 0, recovered.output
    state = _state(app)
    assert state.last_error is None and state.failing_since is None
    assert state.last_good_at > good_at


def test_the_live_check_returns_on_a_slow_server_and_falls_back_to_the_policy(
    calendar_app, slow_server
):
    app = calendar_app(one_host(slow_server), CALENDAR_LIVE_TIMEOUT=0.5)
    monday = _next_monday()
    with app.app_context():
        busy = live_busy_for(["ada"], *_week(monday), now=datetime.now(UTC))["ada"]
    # Never synced and the live read timed out: under "hide" the host is not offered.
    assert busy.unavailable is not None
    assert not busy.is_free(at(monday, 9), at(monday, 10))


def test_the_live_check_falls_back_to_a_fresh_sync_when_the_server_dies(own_radicale, calendar_app):
    calendar = own_radicale.new_calendar("ada", "Work")
    monday = _next_monday()
    stamp = "%Y%m%dT%H%M%SZ"
    _put(
        calendar, _event("talk", f"DTSTART:{at(monday, 9):{stamp}}\nDTEND:{at(monday, 10):{stamp}}")
    )
    app = calendar_app(one_host(own_radicale.url), CALENDAR_LIVE_TIMEOUT=1.0)
    app.test_cli_runner().invoke(args=["calendars", "sync"])
    own_radicale.stop()

    with app.app_context():
        busy = live_busy_for(["ada"], *_week(monday), now=datetime.now(UTC))["ada"]

    assert busy.unavailable is None
    assert not busy.is_free(at(monday, 9), at(monday, 10))
    assert busy.is_free(at(monday, 11), at(monday, 12))
