"""ICS feed addresses served by a local HTTP server: conditional requests, errors, policy."""

from datetime import UTC, datetime

import pytest
from sqlalchemy import select
from werkzeug import Request, Response

from leadform.calendars.busy import Interval
from leadform.calendars.models import CalendarSourceState
from leadform.calendars.services import busy_for
from leadform.db import db
from tests.leadform.calendars.test_busy import CORPUS

SECRET_URL = "LEADFORM_CALENDAR_SECRET_ADA_FEED"
WEEK = (datetime(2027, 1, 4, tzinfo=UTC), datetime(2027, 1, 11, tzinfo=UTC))
NOW = datetime(2026, 12, 28, 9, tzinfo=UTC)  # the corpus is in January 2027


class Feed:
    """A feed with an ETag and Last-Modified that answers 304 to a matching request."""

    def __init__(self, body: bytes):
        self.set(body, '"v1"')
        self.requests: list[dict] = []

    def set(self, body: bytes, etag: str) -> None:
        self.body, self.etag = body, etag

    def __call__(self, request: Request) -> Response:
        self.requests.append(dict(request.headers))
        if request.headers.get("If-None-Match") == self.etag:
            return Response(status=304, headers={"ETag": self.etag})
        headers = {"ETag": self.etag, "Last-Modified": "Mon, 30 Nov 2026 10:00:00 GMT"}
        return Response(self.body, content_type="text/calendar; charset=utf-8", headers=headers)


def feed_host() -> str:
    return f"""
[hosts.ada]
name = "Ada Example"
email = "ada@tessellate.example"
timezone = "Europe/London"

[[hosts.ada.calendars]]
type = "ics"
url_env = "{SECRET_URL}"
label = "Google feed"
"""


@pytest.fixture
def feed_app(calendar_app, httpserver):
    """Return (app, feed): one host whose secret feed address is on the local server."""
    feed = Feed((CORPUS / "01_single_utc.ics").read_bytes())
    httpserver.expect_request("/private-abc/basic.ics").respond_with_handler(feed)
    secrets = {SECRET_URL: httpserver.url_for("/private-abc/basic.ics")}
    return calendar_app(feed_host(), CALENDAR_SECRETS=secrets), feed


def _sync(app, now=NOW):
    from leadform.calendars.sync import sync_all

    with app.app_context():
        settings = app.extensions["calendars"]
        return sync_all(settings.hosts, now, settings.horizon, settings.sync_timeout)


def _busy(app, now=NOW):
    with app.app_context():
        return busy_for(["ada"], *WEEK, now=now)["ada"]


def _state(app) -> CalendarSourceState:
    with app.app_context():
        return db.session.scalars(select(CalendarSourceState)).one()


def _at(day, hour):
    return datetime(2027, 1, day, hour, tzinfo=UTC)


def test_a_feed_is_read_then_an_unchanged_feed_answers_304_and_keeps_its_copy(feed_app):
    app, feed = feed_app
    (first,) = _sync(app)
    (second,) = _sync(app, now=NOW.replace(hour=10))

    assert first.error is None and not first.not_modified
    assert second.error is None and second.not_modified
    assert "If-None-Match" not in feed.requests[0]
    assert feed.requests[1]["If-None-Match"] == '"v1"'
    assert feed.requests[1]["If-Modified-Since"] == "Mon, 30 Nov 2026 10:00:00 GMT"
    assert _state(app).last_good_at == NOW.replace(hour=10, tzinfo=None)
    assert list(_busy(app, now=NOW.replace(hour=10)).intervals) == [
        Interval(_at(5, 10), _at(5, 11).replace(minute=30)),
        Interval(_at(6, 23), _at(7, 1)),
        Interval(_at(8, 23), _at(9, 2)),
    ]


def test_a_changed_feed_replaces_the_blocks(feed_app):
    app, feed = feed_app
    _sync(app)
    feed.set((CORPUS / "15_overlapping_merge.ics").read_bytes(), '"v2"')

    (outcome,) = _sync(app)

    assert not outcome.not_modified
    assert _state(app).etag == '"v2"'
    assert list(_busy(app).intervals) == [
        Interval(_at(5, 9), _at(5, 11).replace(minute=30)),
        Interval(_at(5, 13), _at(5, 14)),
    ]


@pytest.mark.parametrize(
    ("status", "body", "problem"),
    [
        (404, b"Not found", "HTTP 404"),
        (401, b"", "the username or password was refused"),
        (200, b"<html><body>Sign in</body></html>", "did not return a calendar"),
        (500, b"oops", "HTTP 500"),
    ],
)
def test_a_failing_feed_keeps_the_last_good_blocks_and_records_the_error(
    feed_app, httpserver, status, body, problem
):
    app, _ = feed_app
    _sync(app)
    httpserver.clear_all_handlers()
    httpserver.expect_request("/private-abc/basic.ics").respond_with_data(body, status=status)

    (outcome,) = _sync(app, now=NOW.replace(minute=5))

    assert problem in outcome.error
    state = _state(app)
    assert problem in state.last_error and state.last_good_at == NOW.replace(tzinfo=None)
    assert "private-abc" not in state.last_error  # the secret address never shows
    assert len(_busy(app, now=NOW.replace(minute=5)).intervals) == 3


def test_the_secret_address_is_not_in_the_label_or_the_state(feed_app):
    app, _ = feed_app
    _sync(app)
    state = _state(app)
    assert state.label == "Google feed"
    assert "private-abc" not in (state.label + state.source_key)
