"""A host's CalDAV calendar down, slow or answering garbage, seen through the booking pages.

Issue 13. Ada's calendar lives on the session's Radicale behind a front server that a test
switches: "down" (nothing listens on its port), "slow" (no answer for 3 s, longer than the
0.5 s live check) or "garbage" (a sign-in page), and back to "good". The pages read the
stored busy times only; the POST's live check gives up after the live timeout and falls
back to the stored times while they are fresh. Time passing is simulated by moving the
last good sync back, as the clock would after CALENDAR_MAX_STALE_MINUTES without one.
"""

import http.client
import http.server
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from leadform.booking.reservations import SLOT_TAKEN_MESSAGE
from leadform.booking.slots import available_slots, slot_value
from leadform.calendars.models import CalendarSourceState
from leadform.db import db
from leadform.models import Booking, BookingEvent, BookingHost, OutboxMessage
from tests.leadform.booking_pages import FormPage, answers, offered_slots, open_form
from tests.leadform.calendars.conftest import free_port
from tests.leadform.calendars.test_failures import one_host
from tests.leadform.calendars.test_sync import _event, _put

LIVE_TIMEOUT = 0.5
# How soon a stopped server notices (the default half second adds up over the tests).
POLL_SECONDS = 0.05
MAX_STALE_MINUTES = 60
PROBLEMS = ["down", "slow", "garbage"]
SIGN_IN_PAGE = b"<!DOCTYPE html><html><body><h1>Welcome! Please sign in</h1></body></html>"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host"}


class Front:
    """A server in front of Radicale that relays ("good") or fails as told, on one port."""

    def __init__(self, backend_port: int):
        self.backend_port, self.port = backend_port, free_port()
        self.mode, self.requests = "good", 0
        self.url = f"http://127.0.0.1:{self.port}/"
        self._server: http.server.ThreadingHTTPServer | None = None
        self._listen()

    def switch(self, mode: str) -> None:
        """Become "good", "down", "slow" or "garbage"; "down" closes the port."""
        if mode == "down":
            self._close()
        elif self._server is None:
            self._listen()
        self.mode = mode

    def _listen(self) -> None:
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def answer(self):
                front.requests += 1
                if front.mode == "slow":
                    time.sleep(3)
                    self._send(503, b"", [])
                elif front.mode == "garbage":
                    self._send(200, SIGN_IN_PAGE, [("Content-Type", "text/html")])
                else:
                    self._send(*front.relay(self))

            def _send(self, status: int, body: bytes, headers: list) -> None:
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_PUT = do_DELETE = do_PROPFIND = do_REPORT = answer  # noqa: N815
            do_OPTIONS = do_MKCALENDAR = do_PROPPATCH = answer  # noqa: N815

            def log_message(self, *args):
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        # A slow answer still sleeping must not hold up closing the port.
        self._server.daemon_threads, self._server.block_on_close = True, False
        serving = {"poll_interval": POLL_SECONDS}
        threading.Thread(target=self._server.serve_forever, kwargs=serving, daemon=True).start()

    def relay(self, handler) -> tuple[int, bytes, list]:
        """Pass one request to Radicale; return its (status, body, headers)."""
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP}
        connection = http.client.HTTPConnection("127.0.0.1", self.backend_port, timeout=10)
        try:
            connection.request(handler.command, handler.path, body=body, headers=headers)
            response = connection.getresponse()
            kept = [(k, v) for k, v in response.getheaders() if k.lower() not in HOP_BY_HOP]
            return response.status, response.read(), kept
        finally:
            connection.close()

    def _close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def front(radicale):
    """Ada's calendar server as the booking service sees it, switchable."""
    server = Front(radicale.port)
    yield server
    server.switch("down")


def stamp(moment: datetime) -> str:
    """Return `moment` as an iCalendar UTC date-time."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@pytest.fixture
def ada(radicale, front, calendar_app):
    """Return a factory: ada(**settings) gives (app, free, busy), synced while all is good.

    `free` and `busy` are two times of the firm's hours (form values) an hour or more past
    the minimum notice, so that neither becomes too soon during the test; Ada's calendar
    holds an event at `busy`.
    """

    def _make(**settings):
        calendar = radicale.new_calendar("ada")
        app = calendar_app(
            one_host(front.url, calendar.get_display_name()),
            CALENDAR_LIVE_TIMEOUT=LIVE_TIMEOUT,
            CALENDAR_SYNC_TIMEOUT=1.0,
            CALENDAR_MAX_STALE_MINUTES=MAX_STALE_MINUTES,
            **settings,
        )
        free, busy = later_slots(app)[:2]
        _put(calendar, _event("talk", f"DTSTART:{stamp(busy.start)}\nDTEND:{stamp(busy.end)}"))
        assert sync(app) == 0
        return app, slot_value(free), slot_value(busy)

    return _make


def later_slots(app) -> list:
    """Return the firm's free times starting an hour or more past the minimum notice."""
    availability = app.extensions["availability"]
    now = datetime.now(UTC)
    earliest = now + availability.minimum_notice + timedelta(hours=1)
    return [slot for slot in available_slots(availability, now, []) if slot.start >= earliest]


def sync(app) -> int:
    """Run `flask calendars sync`; return its exit code."""
    return app.test_cli_runner().invoke(args=["calendars", "sync"]).exit_code


def age_last_sync(app, minutes: int = MAX_STALE_MINUTES + 1) -> None:
    """Move every source's last good sync `minutes` back, as time passing would."""
    with app.app_context():
        for state in db.session.scalars(select(CalendarSourceState)):
            state.last_good_at -= timedelta(minutes=minutes)
        db.session.commit()


def booking_page(client, front: Front) -> list[str]:
    """GET the booking page (timed, no network); return every time its picker offers."""
    before = front.requests
    started = time.monotonic()
    response = client.get("/book")
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    # Generous: the page's real cost is measured in bench/.
    assert elapsed < 2.0, f"the booking page took {elapsed:.2f} s"
    offered = offered_slots(client, FormPage(response.get_data(as_text=True)))
    assert front.requests == before, "the booking page asked the calendar server"
    return offered


def post(client, form: FormPage, slot: str):
    """POST the form for `slot`; return the response, asserting it came within the limit."""
    data = answers(form, slot=slot, company="Hopper & Co")
    started = time.monotonic()
    response = client.post("/book", data=data)
    elapsed = time.monotonic() - started
    assert response.status_code in (200, 303), response.status_code
    assert elapsed < LIVE_TIMEOUT + 2.0, f"the POST took {elapsed:.2f} s"
    return response


def stored(app) -> dict[str, int]:
    """Return how many rows each table of a booking holds."""
    with app.app_context():
        return {
            model.__name__: db.session.scalar(select(func.count()).select_from(model))
            for model in (Booking, BookingHost, BookingEvent, OutboxMessage)
        }


NOTHING = {"Booking": 0, "BookingHost": 0, "BookingEvent": 0, "OutboxMessage": 0}


def assert_refused_with_answers_kept(response) -> None:
    """The form again, saying the time was just taken, with the prospect's answers in it."""
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert SLOT_TAKEN_MESSAGE in html
    page = FormPage(html)
    assert page.values["company"] == "Hopper & Co"
    assert page.values["email"] == "siobhan.obrien@example.com"


def assert_booked_with_messages(app, response) -> None:
    """One booking, Ada's, with its two emails and the write into her calendar queued."""
    assert response.status_code == 303
    with app.app_context():
        booking = db.session.scalars(select(Booking)).one()
        kinds = sorted(message.kind for message in booking.messages)
        assert booking.host_ids == ("ada",)
    assert kinds == ["calendar_put", "prospect_confirmation", "team_notification"]


@pytest.mark.parametrize("problem", PROBLEMS)
def test_with_a_fresh_sync_the_booking_uses_the_stored_busy_times(ada, front, problem):
    app, free, busy = ada()
    client = app.test_client()
    front.switch(problem)

    offered = booking_page(client, front)
    refused = post(client, open_form(client), busy)
    after_refusal = stored(app)
    booked = post(client, open_form(client), free)

    assert free in offered and busy not in offered
    # The live check failed; the stored event still says Ada is busy then.
    assert_refused_with_answers_kept(refused)
    assert after_refusal == NOTHING
    assert_booked_with_messages(app, booked)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_with_a_stale_sync_the_host_is_not_offered_nor_booked(ada, front, problem):
    app, free, _ = ada()
    client = app.test_client()
    form = open_form(client)
    front.switch(problem)
    age_last_sync(app)

    offered = booking_page(client, front)
    response = post(client, form, free)

    assert offered == []
    assert_refused_with_answers_kept(response)
    assert stored(app) == NOTHING


@pytest.mark.parametrize("problem", PROBLEMS)
def test_with_the_offer_policy_a_stale_host_is_still_offered(ada, front, problem):
    app, free, busy = ada(CALENDAR_WHEN_STALE="offer")
    client = app.test_client()
    front.switch(problem)
    age_last_sync(app)

    offered = booking_page(client, front)
    booked = post(client, open_form(client), free)

    assert free in offered and busy not in offered
    assert_booked_with_messages(app, booked)


@pytest.mark.parametrize("problem", PROBLEMS)
def test_a_good_sync_brings_the_times_back_without_a_restart(ada, front, problem):
    app, free, busy = ada()
    client = app.test_client()
    front.switch(problem)
    assert sync(app) == 1
    age_last_sync(app)
    assert booking_page(client, front) == []

    front.switch("good")
    assert sync(app) == 0

    offered = booking_page(client, front)
    booked = post(client, open_form(client), free)
    assert free in offered and busy not in offered
    assert_booked_with_messages(app, booked)
