"""Many prospects book the hosts' times at once: no host is ever in two sessions (issue 13).

The hosts' calendars are ICS feeds on a local server, empty unless a test puts an event in
one. The races run through the booking form on a real threaded server, as
tests/leadform/booking/test_concurrency.py does, on SQLite and on PostgreSQL (which may skip
on a machine without it, never on CI).
"""

import http.server
import threading
from collections import Counter, defaultdict
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from leadform.booking.hosting import LOAD_WINDOW
from leadform.booking.reservations import (
    BUSY_STATUSES,
    SLOT_TAKEN_MESSAGE,
    BookingRequest,
    active_bookings,
    free_slots,
    reserve_slot,
)
from leadform.booking.slots import available_slots, slot_value
from leadform.db import db
from leadform.models import Booking, BookingHost
from tests.leadform.booking.test_concurrency import Prospect

PROSPECTS = 20
# How soon a stopped server notices (the default half second adds up over the tests).
POLL_SECONDS = 0.05
HOSTS = ("ada", "grace", "linus")
EMPTY_FEED = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//leadform tests//EN\r\nEND:VCALENDAR\r\n"


class Feeds:
    """One ICS feed per host on a threaded loopback server; `bodies` may be changed."""

    def __init__(self):
        self.bodies = {host: EMPTY_FEED for host in HOSTS}
        bodies = self.bodies

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server naming
                body = bodies[self.path.strip("/").removesuffix(".ics")].encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads, self.server.block_on_close = True, False
        serving = {"poll_interval": POLL_SECONDS}
        threading.Thread(target=self.server.serve_forever, kwargs=serving, daemon=True).start()

    def url(self, host: str) -> str:
        """Return the feed address of `host`."""
        return f"http://127.0.0.1:{self.server.server_port}/{host}.ics"

    def close(self) -> None:
        """Stop the server."""
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def feeds():
    """The hosts' feeds, served on loopback for the test."""
    served = Feeds()
    yield served
    served.close()


def hosts_toml(feeds: Feeds, rule: str, pool: tuple[str, ...], count: int | None = None) -> str:
    """The three hosts (ICS feeds) and an [assignment] of `pool` by `rule`."""
    hosts = "".join(
        f"""
[hosts.{host}]
name = "{host.title()} Example"
email = "{host}@tessellate.example"
timezone = "Europe/London"

[[hosts.{host}.calendars]]
type = "ics"
url = "{feeds.url(host)}"
"""
        for host in HOSTS
    )
    listed = ", ".join(f'"{host}"' for host in pool)
    assignment = f'\n[assignment]\nrule = "{rule}"\nhosts = [{listed}]\n'
    if count is not None:
        assignment += f"count = {count}\n"
    return hosts + assignment


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hosted_app(request, make_app, hosts_site):
    """Return a factory: hosted_app(toml) gives a migrated app with those hosts, synced."""
    factory = make_app if request.param == "sqlite" else request.getfixturevalue("pg_app")

    def _make(extra: str):
        app = factory(
            SITE_FILE=hosts_site(extra),
            CALENDAR_SECRETS={},
            CALENDAR_SYNC_TIMEOUT=5.0,
            CALENDAR_LIVE_TIMEOUT=5.0,
            RATE_LIMIT="10000/hour",
        )
        result = app.test_cli_runner().invoke(args=["calendars", "sync"])
        assert result.exit_code == 0, result.output
        return app

    return _make


@pytest.fixture
def serve():
    """Return a function serving an app on a real threaded server; stop them afterwards."""
    servers = []

    def _serve(app) -> int:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        serving = {"poll_interval": POLL_SECONDS}
        thread = threading.Thread(target=server.serve_forever, kwargs=serving, daemon=True)
        thread.start()
        servers.append((server, thread))
        return server.server_port

    yield _serve
    for server, thread in servers:
        server.shutdown()
        server.server_close()
        thread.join()


def contested_slots(app, days: int = 2, per_day: int = 2) -> list[str]:
    """Return the first `per_day` offered times of `days` days that have them.

    The first day is skipped: its earliest time could fall within the minimum notice during
    the race. Two a day is the site's daily cap, so every time returned can be booked; the
    two of a day are back to back (one buffer apart), the closest two sessions can be.
    """
    with app.app_context():
        offered = free_slots(app.extensions["availability"], datetime.now(UTC))
    by_day = defaultdict(list)
    for slot in offered:
        by_day[slot.start.astimezone(UTC).date()].append(slot)
    later_days = list(by_day.values())[1:]
    chosen = [slots[:per_day] for slots in later_days if len(slots) >= per_day][:days]
    assert len(chosen) == days, "the booking page offers too few times"
    return [slot_value(slot) for slots in chosen for slot in slots]


def race(port: int, slots: list[str]) -> list[tuple[str, int, str]]:
    """Let PROSPECTS prospects post `slots` (in turn) at once; return (slot, status, body)."""
    prospects = [Prospect(port, number) for number in range(PROSPECTS)]
    wanted = [slots[number % len(slots)] for number in range(PROSPECTS)]
    barrier = threading.Barrier(PROSPECTS)
    results: list[tuple[str, int, str]] = [None] * PROSPECTS

    def run(index: int):
        barrier.wait()
        results[index] = (wanted[index], *prospects[index].submit(wanted[index]))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(PROSPECTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def assert_one_winner_per_slot(results, slots: list[str]) -> None:
    """Each contested slot: one 303, every other prospect the form with "just taken"."""
    assert sorted({status for _, status, _ in results}) == [200, 303]
    winners = Counter(slot for slot, status, _ in results if status == 303)
    assert winners == Counter(slots)
    losers = [body for _, status, body in results if status == 200]
    assert len(losers) == PROSPECTS - len(slots)
    assert all(SLOT_TAKEN_MESSAGE in body for body in losers)


def stored_sessions(app) -> dict[str, tuple[str, ...]]:
    """Return slot value -> its booking's hosts, asserting one booking per slot at most."""
    with app.app_context():
        bookings = db.session.scalars(select(Booking).where(Booking.status.in_(BUSY_STATUSES)))
        sessions = {
            slot_value_of(booking.slot_start): tuple(sorted(booking.host_ids))
            for booking in bookings
        }
        total = db.session.scalar(select(func.count()).select_from(Booking))
        links = db.session.scalar(select(func.count()).select_from(BookingHost))
    assert total == len(sessions), "two bookings share a slot"
    # A losing submission must not leave a host row behind.
    assert links == sum(len(hosts) for hosts in sessions.values())
    return sessions


def slot_value_of(naive_start: datetime) -> str:
    """Return the form value of a stored (naive UTC) slot start."""
    return naive_start.strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_no_host_double_booked(app) -> None:
    """No host has two sessions closer than the buffer, from booking_hosts and bookings."""
    with app.app_context():
        rows = db.session.execute(
            select(BookingHost.host_id, Booking.slot_start, Booking.slot_end)
            .join(Booking, BookingHost.booking_id == Booking.id)
            .where(Booking.status.in_(BUSY_STATUSES))
            .order_by(BookingHost.host_id, Booking.slot_start)
        ).all()
        buffer = app.extensions["availability"].buffer
    sessions = defaultdict(list)
    for host_id, start, end in rows:
        sessions[host_id].append((start, end))
    for host_id, spans in sessions.items():
        for (_, earlier_end), (later_start, _) in zip(spans, spans[1:], strict=False):
            assert earlier_end + buffer <= later_start, f"{host_id} is in two sessions"


def test_collective_one_slot_gets_one_booking_with_both_hosts(hosted_app, feeds, serve):
    app = hosted_app(hosts_toml(feeds, "collective", ("ada", "grace")))
    slot = contested_slots(app, days=1, per_day=1)

    results = race(serve(app), slot)

    assert_one_winner_per_slot(results, slot)
    assert stored_sessions(app) == {slot[0]: ("ada", "grace")}


def test_collective_spread_over_slots_never_double_books_a_host(hosted_app, feeds, serve):
    app = hosted_app(hosts_toml(feeds, "collective", ("ada", "grace")))
    slots = contested_slots(app)

    results = race(serve(app), slots)

    assert_one_winner_per_slot(results, slots)
    assert stored_sessions(app) == {slot: ("ada", "grace") for slot in slots}
    assert_no_host_double_booked(app)


@pytest.mark.parametrize("count", [1, 2])
def test_round_robin_under_a_race_never_double_books_a_host(hosted_app, feeds, serve, count):
    app = hosted_app(hosts_toml(feeds, "round_robin", HOSTS, count))
    slots = contested_slots(app)

    results = race(serve(app), slots)

    assert_one_winner_per_slot(results, slots)
    sessions = stored_sessions(app)
    assert sorted(sessions) == sorted(slots)
    assert all(len(set(hosts)) == count and set(hosts) <= set(HOSTS) for hosts in sessions.values())
    assert_no_host_double_booked(app)
    # The hosts are chosen again under the lock, with the winners before counted.
    load = Counter(host for hosts in sessions.values() for host in hosts)
    assert max(load[host] for host in HOSTS) - min(load[host] for host in HOSTS) <= 1


# A Sunday: the four weeks of LOAD_WINDOW from here hold exactly 40 bookable sessions (20
# weekdays under the daily cap of 2, no blocked date), so every booking counts in the load.
SEQUENTIAL_NOW = datetime(2027, 1, 3, 9, 0, tzinfo=UTC)
SEQUENTIAL_BOOKINGS = 40


def _request(number: int, start: datetime) -> BookingRequest:
    return BookingRequest(
        name="Ann Lee",
        email=f"prospect{number}@example.com",
        company="Acme",
        role="COO",
        company_size="50-249",
        goals="A ranked list of AI use cases for us.",
        timezone="Europe/London",
        slot_start=start,
    )


def book_in_turn(app, count: int, now: datetime) -> None:
    """Reserve the earliest free time `count` times, one after another."""
    with app.app_context():
        availability = app.extensions["availability"]
        for number in range(count):
            slot = available_slots(availability, now, active_bookings(now))[0]
            reserve_slot(
                _request(number, slot.start),
                availability=availability,
                privacy_version="2026-11-01",
                now=now,
            )


def test_round_robin_spreads_sequential_bookings_evenly(hosted_app, feeds):
    # Ada is away all of the first Monday: Grace takes both its sessions, then Ada catches up.
    feeds.bodies["ada"] = EMPTY_FEED.replace(
        "END:VCALENDAR",
        "BEGIN:VEVENT\r\nUID:away@test.invalid\r\nDTSTAMP:20261201T120000Z\r\n"
        "DTSTART:20270104T080000Z\r\nDTEND:20270104T180000Z\r\nEND:VEVENT\r\nEND:VCALENDAR",
    )
    app = hosted_app(hosts_toml(feeds, "round_robin", ("ada", "grace"), 1))

    book_in_turn(app, SEQUENTIAL_BOOKINGS, SEQUENTIAL_NOW)

    with app.app_context():
        bookings = db.session.scalars(select(Booking).order_by(Booking.slot_start)).all()
        hosts = [booking.host_ids for booking in bookings]
        latest = max(booking.slot_start for booking in bookings)
    assert len(bookings) == SEQUENTIAL_BOOKINGS
    assert latest < (SEQUENTIAL_NOW + LOAD_WINDOW).replace(tzinfo=None)
    assert hosts[:2] == [("grace",), ("grace",)]
    load = Counter(host for chosen in hosts for host in chosen)
    assert sum(load.values()) == SEQUENTIAL_BOOKINGS
    assert abs(load["ada"] - load["grace"]) <= 1
