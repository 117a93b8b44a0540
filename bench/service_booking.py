"""What bench/service.py needs to book: settings, a roomy calendar, a session and free slots.

The benchmark's site file is site.toml with only [availability] replaced, so firm facts still
come from their one source; the replacement offers a slot every 90 minutes of every day, so a
10-second load test never runs out of distinct free times.
"""

import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from bench.service_procs import ROOT, BenchError, http_get
from leadform import create_app
from leadform.booking.reservations import BookingRequest, reserve_slot
from leadform.booking.slots import available_slots, load_availability, parse_slot_value, slot_value
from leadform.db import db
from leadform.models import Booking
from leadform.sitefacts import load_site

BENCH_SECRET = "bench-only-" + "0123456789abcdef" * 3  # noqa: S105 - a throw-away test value
HUGE_RATE_LIMIT = "1000000/second"
SLOTS_PER_DAY = 15  # 00:00-23:59 holds 15 sessions of 90 minutes
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FORM_FIELDS = {
    "name": "Bench Prospect",
    "email": "prospect@bench.example",
    "company": "Bench Ltd",
    "role": "Head of Operations",
    "company_size": "50-249",
    "goals": "Find out where AI can shorten our quarterly planning cycle.",
    "timezone": "Europe/London",
    "consent": "y",
    "website": "",
}


def leadform_env(base: dict, tmp_dir: Path, database_url: str, site_file: Path) -> dict:
    """Return the environment of a production-mode leadform process for the benchmark."""
    env = {key: value for key, value in base.items() if not key.startswith("LEADFORM_")}
    env.update(
        LEADFORM_ENV="production",
        LEADFORM_SECRET_KEY=BENCH_SECRET,
        LEADFORM_DATABASE_URL=database_url,
        LEADFORM_SITE_FILE=str(site_file),
        LEADFORM_MAIL_BACKEND="file",
        LEADFORM_MAIL_DIR=str(tmp_dir / "mail"),
        # The limit and the fill timer guard against people; here one client books on purpose.
        LEADFORM_RATE_LIMIT=HUGE_RATE_LIMIT,
        LEADFORM_RATE_LIMIT_NETWORK=HUGE_RATE_LIMIT,
        LEADFORM_RATE_LIMIT_EMAIL=HUGE_RATE_LIMIT,
        LEADFORM_RATE_LIMIT_EMAIL_DOMAIN=HUGE_RATE_LIMIT,
        # One bench client books hundreds a second on purpose: no surge hold.
        LEADFORM_SURGE_BOOKINGS_PER_HOUR="0",
        LEADFORM_MIN_FILL_SECONDS="0",
    )
    return env


def write_roomy_site(path: Path, horizon_days: int) -> Path:
    """Write site.toml with an [availability] open all day, every day, for `horizon_days`."""
    text = (ROOT / "site.toml").read_text("utf-8")
    kept = _without_availability(text)
    hours = "\n".join(f'{day} = ["00:00-23:59"]' for day in WEEKDAYS)
    path.write_text(
        kept.rstrip()
        + "\n\n[availability]\n"
        + 'timezone = "Europe/London"\n'
        + "buffer_minutes = 0\n"
        + "minimum_notice_hours = 0\n"
        + f"booking_horizon_days = {horizon_days}\n"
        + f"max_sessions_per_day = {SLOTS_PER_DAY * 2}\n"
        + "\n[availability.hours]\n"
        + hours
        + "\n",
        "utf-8",
    )
    return path


def _without_availability(text: str) -> str:
    """Drop the [availability] table and its sub-tables from a site.toml text."""
    kept, skipping = [], False
    for line in text.splitlines():
        header = re.match(r"\s*\[\[?([^\]]+)\]", line)
        if header:
            skipping = header.group(1).strip().split(".")[0] == "availability"
        if not skipping:
            kept.append(line)
    return "\n".join(kept) + "\n"


def bookable_slot_values(site_file: Path, count: int) -> tuple[list[str], float, int]:
    """Return `count` free slot values from tomorrow on, and slots.py's time and total.

    The time and the total are those of listing every free slot of the calendar at once,
    which is what GET /book does.

    Today is skipped: with no minimum notice, a slot starting within the run would turn
    "too soon" under the benchmark's feet.
    """
    availability = load_availability(load_site(site_file))
    now = datetime.now(UTC)
    started = time.perf_counter()
    free = available_slots(availability, now, [])
    elapsed = time.perf_counter() - started
    tomorrow = now + timedelta(days=1)
    values = [slot_value(slot) for slot in free if slot.start >= tomorrow]
    if len(values) < count:
        raise BenchError(f"the bench calendar offers {len(values)} slots, {count} needed")
    return values[:count], elapsed, len(free)


def open_booking_session(port: int, slot: str) -> tuple[str, dict[str, str]]:
    """Open the form for `slot` as a browser would; return (session cookie, hidden fields).

    Each booking needs its own form: the start value is tied to the session and books once
    (leadform.booking.guard), so every POST of a run gets a session of its own.
    """
    query = urlencode({"slot": slot, "tz": "Europe/London"})
    status, headers, body = http_get(port, f"/book?{query}", timeout=120)
    if status != 200:
        raise BenchError(f"GET /book?slot=... answered {status}")
    cookie = headers.get("Set-Cookie", "").split(";")[0]
    if not cookie:
        raise BenchError("GET /book set no session cookie")
    page = body.decode("utf-8")
    hidden = {name: _hidden_value(page, name) for name in ("csrf_token", "started")}
    return cookie, hidden


def _hidden_value(page: str, name: str) -> str:
    """Return the value of hidden input `name` in the rendered form."""
    match = re.search(rf'<input[^>]*name="{name}"[^>]*value="([^"]*)"', page)
    if match is None:
        raise BenchError(f"no {name} field in GET /book's page")
    return match.group(1)


def write_post_data(path: Path, port: int, slots: list[str]) -> Path:
    """Write bench/wrk/book_post.lua's data file: per slot, a session's cookie and its body.

    One line per booking: the Cookie header, a tab, then the whole form body.
    """
    lines = []
    for slot in slots:
        cookie, hidden = open_booking_session(port, slot)
        lines.append(cookie + "\t" + urlencode({**hidden, **FORM_FIELDS, "slot": slot}))
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def queue_booking_emails(database_url: str, site_file: Path, slots: list[str]) -> int:
    """Book each of `slots` through the real reservation (two emails each); return emails queued.

    Uses the real reservation path, so the outbox holds exactly what a POST would leave.
    """
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "SITE_FILE": site_file})
    fields = {key: value for key, value in FORM_FIELDS.items() if key not in {"consent", "website"}}
    try:
        with app.app_context():
            for value in slots:
                request = BookingRequest(**fields, slot_start=parse_slot_value(value))
                reserve_slot(
                    request,
                    availability=app.extensions["availability"],
                    privacy_version=app.config["SITE"]["privacy"]["policy_version"],
                    now=datetime.now(UTC),
                )
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
    return 2 * len(slots)


def add_past_bookings(database_url: str, count: int) -> None:
    """Store `count` confirmed bookings in the past, two a day: a few years of history.

    They are inserted directly, because reserve_slot rightly refuses past times.
    """
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url})
    fields = {key: value for key, value in FORM_FIELDS.items() if key not in {"consent", "website"}}
    today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0, tzinfo=None)
    try:
        with app.app_context():
            for n in range(count):
                start = today - timedelta(days=n // 2 + 1, hours=-4 * (n % 2))
                db.session.add(
                    Booking(
                        public_id=secrets.token_urlsafe(16),
                        status="confirmed",
                        slot_start=start,
                        slot_end=start + timedelta(minutes=90),
                        consent_at=start - timedelta(days=7),
                        privacy_version="bench",
                        **fields,
                    )
                )
            db.session.commit()
            db.session.remove()
    finally:
        with app.app_context():
            db.engine.dispose()
