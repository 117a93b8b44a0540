"""Calendar sync time for one host with 2,000 events, 50 of them recurring series.

    .venv/bin/python -m bench.calendar_sync [--repeat 5] [--events 2000] [--series 50]

One generated diary (icalendar objects: single events from ten months back to two months
ahead, weekly series each with an EXDATE and a moved occurrence) is served two ways on
127.0.0.1: as an ICS feed by a small HTTP server that answers conditional requests, and as
one event per resource in a Radicale CalDAV account. A throw-away app (SQLite in a temporary
folder, the real site.toml plus two hosts) then times what production runs:

- expanding the diary alone (`busy.busy_intervals` over the sync window),
- a feed sync that downloads the file (200) and one that gets 304 and re-reads the kept copy,
- a CalDAV sync (time-range query for the sync window, expanded locally),
- the booking page's read of the stored blocks (`busy_for`, no network),
- the live check of one session against the CalDAV account (`live_busy_for`).

It prints medians (min–max) in milliseconds and asserts nothing. Everything it starts is
stopped and its folder removed at the end, also after a failure.
"""

from __future__ import annotations

import argparse
import hashlib
import http.server
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import caldav
import icalendar
from flask_migrate import upgrade
from sqlalchemy import delete

from leadform import create_app
from leadform.calendars.busy import busy_intervals
from leadform.calendars.models import CalendarSourceState
from leadform.calendars.services import busy_for, current_settings, live_busy_for
from leadform.calendars.sync import sync_source, sync_window
from leadform.db import db

ROOT = Path(__file__).resolve().parents[1]
ZONE = ZoneInfo("Europe/London")
PASSWORD = "bench-password"  # noqa: S105 - a local throw-away account
SECRETS = {"LEADFORM_CALENDAR_SECRET_BENCH": PASSWORD}


def generate_diary(events: int, series: int, today: date, seed: int = 7) -> bytes:
    """Return one VCALENDAR of `events` events, `series` of them weekly recurring series.

    Singles fall on weekdays between 300 days back and 60 days ahead, 30–120 minutes long,
    one in ten marked free and one in fifty cancelled; each series has an EXDATE and one
    occurrence moved by an hour (a RECURRENCE-ID override).
    """
    rng = random.Random(seed)
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//leadform bench//diary//EN")
    calendar.add("version", "2.0")
    calendar.add_component(icalendar.Timezone.from_tzid(ZONE.key))
    for index in range(events - series):
        day = today + timedelta(days=rng.randint(-300, 60))
        start = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.choice((0, 30)))
        event = _event(f"single-{index}", start.replace(tzinfo=ZONE), rng.choice((30, 60, 90, 120)))
        if index % 10 == 0:
            event.add("transp", "TRANSPARENT")
        if index % 50 == 0:
            event.add("status", "CANCELLED")
        calendar.add_component(event)
    for index in range(series):
        _add_series(calendar, index, today, rng)
    return calendar.to_ical()


def _event(uid: str, start: datetime, minutes: int) -> icalendar.Event:
    """Return one VEVENT of `minutes` from aware `start`."""
    event = icalendar.Event()
    event.add("uid", f"{uid}@bench.example")
    event.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
    event.add("summary", f"Appointment {uid}")
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=minutes))
    return event


def _add_series(calendar: icalendar.Calendar, index: int, today: date, rng: random.Random) -> None:
    """Add a weekly series started up to a year ago, with an EXDATE and a moved occurrence."""
    first = today - timedelta(days=rng.randint(7, 365))
    start = datetime(first.year, first.month, first.day, rng.randint(8, 16), tzinfo=ZONE)
    master = _event(f"series-{index}", start, 60)
    master.add("rrule", {"FREQ": "WEEKLY", "COUNT": 80} if index % 2 else {"FREQ": "WEEKLY"})
    weeks_to_now = (today - first).days // 7
    master.add("exdate", start + timedelta(weeks=weeks_to_now + 1))
    calendar.add_component(master)
    moved_from = start + timedelta(weeks=weeks_to_now + 2)
    override = _event(f"series-{index}", moved_from + timedelta(hours=1), 60)
    override.add("recurrence-id", moved_from)
    calendar.add_component(override)


def split_resources(diary: bytes) -> list[bytes]:
    """Return one VCALENDAR per UID (a CalDAV resource holds one event and its overrides)."""
    calendar = icalendar.Calendar.from_ical(diary)
    zones = list(calendar.walk("VTIMEZONE"))
    by_uid: dict[str, list] = {}
    for event in calendar.walk("VEVENT"):
        by_uid.setdefault(str(event["UID"]), []).append(event)
    resources = []
    for events in by_uid.values():
        resource = icalendar.Calendar()
        resource.add("prodid", "-//leadform bench//diary//EN")
        resource.add("version", "2.0")
        for component in [*zones, *events]:
            resource.add_component(component)
        resources.append(resource.to_ical())
    return resources


class FeedServer:
    """Serves one ICS body on 127.0.0.1 with an ETag; answers If-None-Match with 304."""

    def __init__(self, body: bytes):
        self.body = body
        self.etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                if self.headers.get("If-None-Match") == server.etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/calendar; charset=utf-8")
                self.send_header("Content-Length", str(len(server.body)))
                self.send_header("ETag", server.etag)
                self.end_headers()
                self.wfile.write(server.body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/diary.ics"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self.httpd.shutdown()
        self.httpd.server_close()


class RadicaleServer:
    """A Radicale process on 127.0.0.1 with one account, "bench"."""

    def __init__(self, folder: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/"
        (folder / "users").write_text(f"bench:{PASSWORD}\n")
        config = folder / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {folder / 'users'}\n"
            "htpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self._wait()

    def _wait(self) -> None:
        for _ in range(200):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("radicale did not start")

    def fill(self, resources: list[bytes]) -> float:
        """Make calendar "Diary" and PUT every resource; return the seconds it took."""
        client = caldav.DAVClient(
            self.url, username="bench", password=PASSWORD, timeout=30, auth_type="basic"
        )
        calendar = client.principal().make_calendar(name="Diary")
        began = time.perf_counter()
        for resource in resources:
            calendar.add_event(resource.decode(), increase_seqno=False)
        return time.perf_counter() - began

    def close(self) -> None:
        """Stop the server."""
        self.process.terminate()
        self.process.wait(timeout=10)


def hosts_toml(feed_url: str, caldav_url: str) -> str:
    """Two hosts: one reading the feed, one the CalDAV account."""
    return f"""
[hosts.feed]
name = "Feed Host"
email = "feed@bench.example"
timezone = "{ZONE.key}"

[[hosts.feed.calendars]]
type = "ics"
label = "bench feed"
url = "{feed_url}"

[hosts.dav]
name = "CalDAV Host"
email = "dav@bench.example"
timezone = "{ZONE.key}"

[[hosts.dav.calendars]]
type = "caldav"
label = "bench caldav"
url = "{caldav_url}"
username = "bench"
password_env = "LEADFORM_CALENDAR_SECRET_BENCH"
calendars = ["Diary"]
"""


def make_app(folder: Path, feed_url: str, caldav_url: str):
    """A migrated app on a SQLite file in `folder` with the two bench hosts."""
    site = folder / "site.toml"
    site.write_text((ROOT / "site.toml").read_text() + hosts_toml(feed_url, caldav_url))
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.sqlite3'}",
            "SITE_FILE": site,
            "MAIL_BACKEND": "file",
            "MAIL_DIR": folder / "mail",
            "CALENDAR_SECRETS": SECRETS,
            "CALENDAR_SYNC_TIMEOUT": 60.0,
            "CALENDAR_LIVE_TIMEOUT": 10.0,
        }
    )
    with app.app_context():
        upgrade()
    return app


def timed(call, repeat: int) -> list[float]:
    """Return the milliseconds of `repeat` calls of `call`."""
    samples = []
    for _ in range(repeat):
        began = time.perf_counter()
        call()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


class Steps:
    """The timed steps, each a call without arguments (run inside the app's context)."""

    def __init__(self, diary: bytes):
        settings = current_settings()
        self.diary, self.settings = diary, settings
        self.now = datetime.now(UTC)
        self.start, self.end = sync_window(self.now, settings.horizon)
        self.feed_host, self.dav_host = settings.hosts.hosts["feed"], settings.hosts.hosts["dav"]
        self.parsed = icalendar.Calendar.from_ical(diary)

    def expand(self):
        """Expand the already parsed diary over the sync window."""
        return busy_intervals(self.parsed, self.start, self.end, ZONE, self.feed_host.addresses)

    def parse_and_expand(self):
        """Parse the diary's text, then expand it."""
        calendar = icalendar.Calendar.from_ical(self.diary)
        return busy_intervals(calendar, self.start, self.end, ZONE, self.feed_host.addresses)

    def feed_downloaded(self):
        """Sync the feed with no kept copy, so it is downloaded (200)."""
        db.session.execute(delete(CalendarSourceState).where(CalendarSourceState.host_id == "feed"))
        db.session.commit()
        return self.feed_unchanged()

    def feed_unchanged(self):
        """Sync the feed with its kept copy (304 once a copy exists)."""
        return self._sync(self.feed_host)

    def caldav(self):
        """Sync the CalDAV account (time-range query, expanded locally)."""
        return self._sync(self.dav_host)

    def page_read(self):
        """The booking page's read: both hosts' stored blocks over the horizon."""
        return busy_for(["feed", "dav"], self.now, self.now + self.settings.horizon, self.now)

    def live_check(self):
        """The booking POST's live check of one 90-minute session a week ahead."""
        slot = self.now.replace(minute=0, second=0, microsecond=0) + timedelta(days=7)
        return live_busy_for(["dav"], slot, slot + timedelta(minutes=90), self.now)

    def _sync(self, host):
        return sync_source(
            host, host.sources[0], self.start, self.end, self.settings.sync_timeout, self.now
        )


def measure(app, diary: bytes, repeat: int) -> list[tuple[str, list[float], str]]:
    """Time each step; return (what, milliseconds, note) rows."""
    with app.app_context():
        steps = Steps(diary)
        size = f"{len(diary) / 1e6:.2f} MB"
        plan = [
            ("expand the diary (parsed once)", steps.expand, lambda r: f"{len(r)} busy blocks"),
            ("parse + expand", steps.parse_and_expand, lambda r: size),
            ("feed sync, downloaded (200)", steps.feed_downloaded, _outcome),
            ("feed sync, unchanged (304)", steps.feed_unchanged, _outcome),
            ("CalDAV sync (time-range query)", steps.caldav, _outcome),
            ("busy_for, both hosts, whole horizon", steps.page_read, lambda r: "database only"),
            ("live check, one session, CalDAV", steps.live_check, lambda r: "time-range query"),
        ]
        return [(what, timed(call, repeat), note(call())) for what, call, note in plan]


def _outcome(outcome) -> str:
    """Describe one sync outcome in a few words."""
    if outcome.error:
        return f"FAILED: {outcome.error}"
    return f"{outcome.blocks} busy blocks" + (" (not modified)" if outcome.not_modified else "")


def report(rows, events: int, series: int, fill_seconds: float, resources: int) -> None:
    """Print the table."""
    print(
        f"Diary: {events} events, {series} of them weekly series; Radicale filled with "
        f"{resources} resources in {fill_seconds:.1f} s"
    )
    print(f"{'step':<40} {'median ms':>10} {'min–max ms':>17}  note")
    for what, samples, note in rows:
        spread = f"{min(samples):.1f}–{max(samples):.1f}"
        print(f"{what:<40} {statistics.median(samples):>10.1f} {spread:>17}  {note}")


def main(argv: list[str] | None = None) -> None:
    """Generate the diary, serve it, time the syncs and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--series", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    diary = generate_diary(args.events, args.series, datetime.now(ZONE).date())
    resources = split_resources(diary)
    with ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="calendar-bench-")))
        (folder / "radicale").mkdir()
        feed = FeedServer(diary)
        stack.callback(feed.close)
        radicale = RadicaleServer(folder / "radicale")
        stack.callback(radicale.close)
        fill_seconds = radicale.fill(resources)
        app = make_app(folder, feed.url, radicale.url)
        rows = measure(app, diary, args.repeat)
        with app.app_context():
            db.engine.dispose()
    report(rows, args.events, args.series, fill_seconds, len(resources))


if __name__ == "__main__":
    main()
