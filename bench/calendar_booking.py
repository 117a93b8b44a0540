"""Booking POST latency with the hosts' live calendar check, against the same POST without.

    .venv/bin/python -m bench.calendar_booking [--bookings 50] [--gets 200]

A Radicale on 127.0.0.1 holds two accounts, ada and grace, each with a "Work" calendar of
200 events over the booking horizon (some of them weekly series, one in ten marked free).
Two leadform apps on SQLite, each under `gunicorn -w 2` as bench/service.py serves them,
use the bench calendar of bench/service_booking.py (a 90-minute slot every 90 minutes of
every day, the real 42-day horizon): "plain" without [hosts], "hosted" with ada and grace
as collective hosts reading their CalDAV calendars. The hosted app is synced once with
`flask calendars sync`, then:

- POST /book: `--bookings` bookings on each app, alternating between the two, each on a
  different slot the hosted picker offers (the same slots on both apps), each from a fresh
  form (its own session, opened by a GET that is not timed), as bench/service.py posts; the
  hosted POST reads both calendars live before the reservation lock. One client, one
  request at a time: the figure is the latency a prospect sees, not a throughput.
- GET /book (the picker): `--gets` requests on each app, alternating; the hosted page
  reads the stored busy times through the booking page's cache, not the calendars.
- the live check alone (`live_busy_for`, both hosts, one session), in-process.

It prints p50/p90/p99 and mean wall time, the ratios hosted / plain, and the worker CPU per
request; it asserts nothing. Everything it starts is stopped and its folder removed at the
end, also after a failure.
"""

from __future__ import annotations

import argparse
import http.client
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import caldav
import icalendar

from bench.service_booking import FORM_FIELDS, leadform_env, open_booking_session, write_roomy_site
from bench.service_db import BenchDatabase
from bench.service_procs import (
    BIN,
    ROOT,
    BenchError,
    Processes,
    child_pids,
    free_port,
    http_get,
    process_cpu_seconds,
    start_gunicorn,
    wait_until_serving,
)
from leadform import create_app
from leadform.booking.reservations import free_slots
from leadform.booking.slots import parse_slot_value, slot_value
from leadform.calendars.services import live_busy_for
from leadform.db import db

ZONE = ZoneInfo("Europe/London")
HORIZON_DAYS = 42  # site.toml's booking_horizon_days
USERS = {"ada": "ada-bench-password", "grace": "grace-bench-password"}
SECRETS = {f"LEADFORM_CALENDAR_SECRET_{user.upper()}": password for user, password in USERS.items()}
CALENDAR_NAME = "Work"
LEADFORM_APP = "leadform:create_app()"


# --- The hosts' calendars -------------------------------------------------------------------


def generate_events(events: int, series: int, today: date, seed: int) -> list[bytes]:
    """Return one VCALENDAR per event: `events` events, `series` of them weekly series.

    Singles fall on weekdays from a week back to the end of the horizon, 08:00-17:30 local,
    30-120 minutes, one in ten marked free; series started up to four months ago, half of
    them ending after 40 weeks, each with an EXDATE in the coming weeks.
    """
    rng = random.Random(seed)
    resources = []
    for index in range(events - series):
        day = today + timedelta(days=rng.randint(-7, HORIZON_DAYS))
        while day.weekday() > 4:
            day -= timedelta(days=1)
        start = datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.choice((0, 30)))
        event = _event(f"single-{seed}-{index}", start.replace(tzinfo=ZONE), rng)
        if index % 10 == 0:
            event.add("transp", "TRANSPARENT")
        resources.append(_resource(event))
    for index in range(series):
        first = today - timedelta(days=rng.randint(1, 120))
        start = datetime(first.year, first.month, first.day, rng.randint(8, 16), tzinfo=ZONE)
        event = _event(f"series-{seed}-{index}", start, rng)
        event.add("rrule", {"FREQ": "WEEKLY", "COUNT": 40} if index % 2 else {"FREQ": "WEEKLY"})
        event.add("exdate", start + timedelta(weeks=(today - first).days // 7 + 2))
        resources.append(_resource(event))
    return resources


def _event(uid: str, start: datetime, rng: random.Random) -> icalendar.Event:
    """Return one VEVENT from aware `start`, 30-120 minutes long."""
    event = icalendar.Event()
    event.add("uid", f"{uid}@bench.example")
    event.add("dtstamp", datetime(2026, 1, 1, tzinfo=UTC))
    event.add("summary", f"Appointment {uid}")
    event.add("dtstart", start)
    event.add("dtend", start + timedelta(minutes=rng.choice((30, 60, 90, 120))))
    return event


def _resource(event: icalendar.Event) -> bytes:
    """Wrap one event in a VCALENDAR with its VTIMEZONE (one CalDAV resource)."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//leadform bench//hosts//EN")
    calendar.add("version", "2.0")
    calendar.add_component(icalendar.Timezone.from_tzid(ZONE.key))
    calendar.add_component(event)
    return calendar.to_ical()


class Radicale:
    """A Radicale process on 127.0.0.1 with the USERS accounts (htpasswd, plain passwords)."""

    def __init__(self, folder: Path, processes: Processes):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        users = folder / "users"
        users.write_text("".join(f"{name}:{password}\n" for name, password in USERS.items()))
        config = folder / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        command = [sys.executable, "-m", "radicale", "--config", str(config)]
        self.process = processes.start("radicale", command, dict(os.environ))
        wait_until_serving(processes, self.process, self.port, "/")

    def fill(self, user: str, resources: list[bytes]) -> None:
        """Make `user`'s calendar "Work" and PUT every resource into it."""
        client = caldav.DAVClient(
            self.url, username=user, password=USERS[user], timeout=30, auth_type="basic"
        )
        calendar = client.principal().make_calendar(name=CALENDAR_NAME)
        for resource in resources:
            calendar.add_event(resource.decode(), increase_seqno=False)


def hosts_toml(caldav_url: str) -> str:
    """ada and grace, each reading their Radicale calendar; both attend every session."""
    hosts = "".join(
        f"""
[hosts.{user}]
name = "{user.title()} Bench"
email = "{user}@bench.example"
timezone = "{ZONE.key}"

[[hosts.{user}.calendars]]
type = "caldav"
label = "{user}'s work calendar"
url = "{caldav_url}"
username = "{user}"
password_env = "LEADFORM_CALENDAR_SECRET_{user.upper()}"
calendars = ["{CALENDAR_NAME}"]
"""
        for user in USERS
    )
    return hosts + '\n[assignment]\nrule = "collective"\nhosts = ["ada", "grace"]\n'


# --- The two apps ---------------------------------------------------------------------------


@dataclass
class Served:
    """One app under gunicorn: its site file, database, environment, port and timings."""

    label: str
    site: Path
    database: BenchDatabase
    env: dict
    port: int = 0
    workers: list[int] = field(default_factory=list)
    calendar_pids: list[int] = field(default_factory=list)  # Radicale, for the hosted app
    posts: list[float] = field(default_factory=list)
    gets: list[float] = field(default_factory=list)
    cpu: dict = field(default_factory=lambda: {"post": 0.0, "get": 0.0, "calendar": 0.0})


def prepare(tmp: Path, label: str, extra_toml: str) -> Served:
    """Write the site file, create and migrate the SQLite database; nothing served yet."""
    site = write_roomy_site(tmp / f"{label}.toml", horizon_days=HORIZON_DAYS)
    site.write_text(site.read_text() + extra_toml)
    database = BenchDatabase("sqlite", tmp)
    env = leadform_env(os.environ, tmp, database.url, site) | SECRETS
    database.create(env)
    return Served(label, site, database, env)


def serve(processes: Processes, app: Served) -> None:
    """Start gunicorn -w 2 for `app` and wait until both workers answer."""
    master, app.port = start_gunicorn(processes, app.label, LEADFORM_APP, app.env, workers=2)
    wait_until_serving(processes, master, app.port, "/healthz")
    deadline = time.monotonic() + 30
    while len(child_pids(master.pid)) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(1)  # let the last worker finish importing the app
    app.workers = child_pids(master.pid)


def sync(app: Served) -> float:
    """Run `flask calendars sync` as production does; return its wall seconds."""
    began = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "flask"), "--app", "leadform", "calendars", "sync"],
        cwd=ROOT,
        env=app.env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BenchError(f"calendars sync failed:\n{result.stdout}{result.stderr}")
    return time.perf_counter() - began


def in_process_app(app: Served):
    """The hosted app in this process, for the free slots and the live check alone."""
    return create_app(
        {
            "SQLALCHEMY_DATABASE_URI": app.database.url,
            "SITE_FILE": app.site,
            "CALENDAR_SECRETS": SECRETS,
        }
    )


def chosen_slots(flask_app, count: int) -> list[str]:
    """`count` slots the hosted picker offers from tomorrow on, in working hours if it can.

    Spread over the horizon, so that each booking's live check asks about another day.
    """
    now = datetime.now(UTC)
    with flask_app.app_context():
        offered = free_slots(flask_app.extensions["availability"], now)
    later = [slot for slot in offered if slot.start >= now + timedelta(days=1)]
    daytime = [slot for slot in later if 9 <= slot.start.astimezone(ZONE).hour < 17]
    pool = daytime if len(daytime) >= count else later
    if len(pool) < count:
        raise BenchError(f"the hosted picker offers {len(pool)} slots, {count} needed")
    step = len(pool) / count
    return [slot_value(pool[int(n * step)]) for n in range(count)]


# --- Timing ---------------------------------------------------------------------------------


def post_booking(app: Served, slot: str) -> None:
    """Open a fresh form for `slot` (not timed), then time its POST; it must answer 303."""
    cookie, hidden = open_booking_session(app.port, slot)
    body = urlencode({**hidden, **FORM_FIELDS, "slot": slot})
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    cpu_before = process_cpu_seconds(app.workers)
    calendar_before = process_cpu_seconds(app.calendar_pids)
    began = time.perf_counter()
    status = _request(app.port, "POST", "/book", body, headers)
    app.posts.append((time.perf_counter() - began) * 1000)
    app.cpu["post"] += process_cpu_seconds(app.workers) - cpu_before
    app.cpu["calendar"] += process_cpu_seconds(app.calendar_pids) - calendar_before
    if status != 303:
        raise BenchError(f"POST /book on {app.label} answered {status}, not 303")


def get_picker(app: Served) -> None:
    """Time one GET /book (the picker); it must answer 200."""
    cpu_before = process_cpu_seconds(app.workers)
    began = time.perf_counter()
    status = http_get(app.port, "/book")[0]
    app.gets.append((time.perf_counter() - began) * 1000)
    app.cpu["get"] += process_cpu_seconds(app.workers) - cpu_before
    if status != 200:
        raise BenchError(f"GET /book on {app.label} answered {status}")


def _request(port: int, method: str, path: str, body: str, headers: dict) -> int:
    """Send one request on a new connection; return the status once the body is read."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def alternate(apps: tuple[Served, Served], count: int, call) -> None:
    """Call call(app, n) `count` times per app, swapping which goes first every round."""
    for n in range(count):
        for app in apps if n % 2 == 0 else reversed(apps):
            call(app, n)


def live_check_alone(flask_app, slots: list[str], repeat: int, radicale: int):
    """Time `live_busy_for` for both hosts and one session, in-process.

    Return (milliseconds per call, this process's CPU ms per call, Radicale's CPU ms per call).
    """
    samples = []
    own_cpu, radicale_cpu = time.process_time(), process_cpu_seconds([radicale])
    with flask_app.app_context():
        for value in slots[:repeat]:
            start = parse_slot_value(value)
            began = time.perf_counter()
            live_busy_for(["ada", "grace"], start, start + timedelta(minutes=90), datetime.now(UTC))
            samples.append((time.perf_counter() - began) * 1000)
        db.engine.dispose()
    own_cpu = (time.process_time() - own_cpu) * 1000 / len(samples)
    radicale_cpu = (process_cpu_seconds([radicale]) - radicale_cpu) * 1000 / len(samples)
    return samples, own_cpu, radicale_cpu


# --- Report ---------------------------------------------------------------------------------


def percentile(samples: list[float], share: float) -> float:
    """The nearest-rank percentile (with 50 samples, p99 is the slowest)."""
    ordered = sorted(samples)
    return ordered[max(math.ceil(share / 100 * len(ordered)) - 1, 0)]


def summary(samples: list[float]) -> dict[str, float]:
    """p50, p90, p99 and mean of `samples`."""
    figures = {f"p{p}": percentile(samples, p) for p in (50, 90, 99)}
    return figures | {"mean": statistics.fmean(samples)}


def report(plain: Served, hosted: Served, live: tuple, notes: list[str]) -> None:
    """Print the table and the ratios."""
    print(f"\nCalendar booking benchmark ({os.cpu_count()} CPUs, gunicorn -w 2, SQLite)")
    for note in notes:
        print(note)
    print(f"{'request':<34} {'n':>4} {'p50':>8} {'p90':>8} {'p99':>8} {'mean':>8}  CPU/req")
    for what, key in (("POST /book", "posts"), ("GET /book (picker)", "gets")):
        rows = [(app, summary(getattr(app, key))) for app in (plain, hosted)]
        for app, figures in rows:
            count = len(getattr(app, key))
            cpu = app.cpu[key[:-1]] * 1000 / count
            cells = " ".join(f"{figures[k]:>8.1f}" for k in ("p50", "p90", "p99", "mean"))
            print(f"{what + ', ' + app.label:<34} {count:>4} {cells}  {cpu:.1f} ms")
        (_, without), (_, with_hosts) = rows
        ratios = " ".join(f"{with_hosts[k] / without[k]:>8.2f}" for k in without)
        print(f"{what + ', hosted / plain':<34} {'':>4} {ratios}")
    samples, own_cpu, radicale_cpu = live
    cells = " ".join(f"{v:>8.1f}" for v in summary(samples).values())
    print(f"{'live_busy_for alone, in-process':<34} {len(samples):>4} {cells}  {own_cpu:.1f} ms")
    print("(milliseconds, wall time at the client; CPU/req: both gunicorn workers' CPU,")
    print(" or this process's for live_busy_for)")
    radicale_post = hosted.cpu["calendar"] * 1000 / len(hosted.posts)
    print(f"Radicale CPU: {radicale_post:.1f} ms per hosted POST", end="")
    print(f", {radicale_cpu:.1f} ms per live_busy_for")


# --- Command line ---------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    """Set up Radicale and the two apps, time the requests, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=50, help="POSTs per app (50)")
    parser.add_argument("--gets", type=int, default=200, help="picker GETs per app (200)")
    parser.add_argument("--events", type=int, default=200, help="events per host (200)")
    parser.add_argument("--series", type=int, default=20, help="of them weekly series (20)")
    args = parser.parse_args(argv)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="calendar-booking-")))
        processes = Processes(tmp)
        stack.callback(processes.close)
        notes = [f"load average at start: {os.getloadavg()[0]:.2f}"]
        plain, hosted, slots, flask_app = set_up(tmp, processes, args, notes)
        alternate((plain, hosted), 3, lambda app, n: get_picker(app))  # warm the workers
        for app in (plain, hosted):
            app.gets.clear()
            app.cpu["get"] = 0.0
        alternate((plain, hosted), args.bookings, lambda app, n: post_booking(app, slots[n]))
        alternate((plain, hosted), args.gets, lambda app, n: get_picker(app))
        live = live_check_alone(flask_app, slots, 20, hosted.calendar_pids[0])
        notes.append(f"load average at the end: {os.getloadavg()[0]:.2f}")
        for app in (plain, hosted):
            app.database.drop()
    report(plain, hosted, live, notes)


def set_up(tmp: Path, processes: Processes, args, notes: list[str]):
    """Start and fill Radicale, prepare, sync and serve both apps; pick the slots."""
    (tmp / "radicale").mkdir()
    radicale = Radicale(tmp / "radicale", processes)
    today = datetime.now(ZONE).date()
    began = time.perf_counter()
    for seed, user in enumerate(USERS):
        radicale.fill(user, generate_events(args.events, args.series, today, seed))
    notes.append(
        f"Radicale: {len(USERS)} accounts x {args.events} events ({args.series} weekly series)"
        f", filled in {time.perf_counter() - began:.1f} s"
    )
    plain = prepare(tmp, "plain", "")
    hosted = prepare(tmp, "hosted", hosts_toml(radicale.url))
    hosted.calendar_pids = [radicale.process.pid]
    notes.append(f"flask calendars sync (2 hosts): {sync(hosted):.1f} s")
    flask_app = in_process_app(hosted)
    slots = chosen_slots(flask_app, args.bookings)
    for app in (plain, hosted):
        serve(processes, app)
    return plain, hosted, slots, flask_app


if __name__ == "__main__":
    main()
