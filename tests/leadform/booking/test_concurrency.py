"""Many prospects submit the same slot at the same moment: exactly one gets it."""

import http.client
import threading
from datetime import UTC, datetime
from http.cookies import SimpleCookie
from urllib.parse import urlencode

import pytest
from sqlalchemy import event, func, select
from werkzeug.serving import make_server

from leadform.booking.reservations import BookingRequest, reserve_slot
from leadform.booking.slots import available_slots
from leadform.db import db
from leadform.models import Booking
from tests.leadform.booking_pages import FormPage, answers

PROSPECTS = 24


@pytest.fixture
def serve():
    """Return a function that serves an app on a real threaded server; stop them afterwards."""
    servers = []

    def _serve(app) -> int:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.server_port

    yield _serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


class Prospect:
    """One browser: its own session cookie and CSRF token."""

    def __init__(self, port: int, number: int):
        self.port, self.number = port, number
        picker, _ = self.get("/book")
        # A tap on the first time opens the form: its CSRF token, start time and cookie.
        html, cookie = self.get(FormPage(picker).time_links[0])
        self.page = FormPage(html)
        self.cookie = "; ".join(f"{key}={morsel.value}" for key, morsel in cookie.items())

    def get(self, path: str) -> tuple[str, SimpleCookie]:
        """GET `path`; return (body, cookies set)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read().decode()
        connection.close()
        return body, SimpleCookie(response.getheader("Set-Cookie"))

    def submit(self, slot: str) -> tuple[int, str]:
        """POST the form for `slot`; return (status, body)."""
        data = answers(self.page, slot=slot, email=f"prospect{self.number}@example.com")
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": self.cookie,
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        connection.request("POST", "/book", body=urlencode(data), headers=headers)
        response = connection.getresponse()
        result = response.status, response.read().decode()
        connection.close()
        return result


def race(port: int) -> list[tuple[int, str]]:
    """Let PROSPECTS prospects post the same slot at once; return their answers."""
    prospects = [Prospect(port, number) for number in range(PROSPECTS)]
    slot = prospects[0].page.slots[0]
    barrier = threading.Barrier(PROSPECTS)
    results: list[tuple[int, str]] = [None] * PROSPECTS

    def run(index: int):
        barrier.wait()
        results[index] = prospects[index].submit(slot)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(PROSPECTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_exactly_one_booking(app, results):
    statuses = sorted(status for status, _ in results)
    assert statuses == [200] * (PROSPECTS - 1) + [303]
    losers = [body for status, body in results if status == 200]
    assert all("That time was just taken — please choose another." in body for body in losers)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


def test_one_booking_per_slot_on_sqlite(make_app, serve):
    app = make_app(RATE_LIMIT="10000/hour")
    assert_exactly_one_booking(app, race(serve(app)))


@pytest.mark.postgres
def test_one_booking_per_slot_on_postgresql(pg_app, serve):
    app = pg_app(RATE_LIMIT="10000/hour")
    assert_exactly_one_booking(app, race(serve(app)))


def statements_of_a_reservation(app) -> list[str]:
    """Reserve the first free slot and return the SQL statements it ran, in order."""
    seen = []
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
        slot = available_slots(app.extensions["availability"], now, [])[0]
        reserve_slot(
            BookingRequest(
                name="Ann Lee",
                email="ann@example.com",
                company="Acme",
                role="COO",
                company_size="50-249",
                goals="A ranked list of AI use cases for us.",
                timezone="Europe/London",
                slot_start=slot.start,
            ),
            availability=app.extensions["availability"],
            privacy_version="2026-11-01",
            now=now,
        )
    return seen


def test_sqlite_reservation_takes_the_write_lock_first(app):
    # Without BEGIN IMMEDIATE two requests could both read "free" before either writes;
    # only the unique index would then stand between them and a double booking.
    assert statements_of_a_reservation(app)[0] == "BEGIN IMMEDIATE"


@pytest.mark.postgres
def test_postgresql_reservation_takes_the_advisory_lock_first(pg_app):
    statements = statements_of_a_reservation(pg_app())
    assert "pg_advisory_xact_lock" in statements[0]
