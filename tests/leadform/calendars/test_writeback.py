"""Bookings written into the hosts' CalDAV calendars through the outbox, on a real Radicale.

Each write is queued with `queue_calendar_writes` and delivered by the outbox worker's own
function (`deliver_due`); time is stepped by passing `now`, nothing sleeps for a backoff.
"""

import secrets
from datetime import UTC, datetime, timedelta

import icalendar
import pytest
from sqlalchemy import select

from leadform.booking.emails import invite_uid
from leadform.calendars.busy import Interval
from leadform.calendars.services import busy_for
from leadform.calendars.writeback import (
    CHANNEL,
    WritebackError,
    event_uid,
    host_event,
    queue_calendar_writes,
)
from leadform.db import db
from leadform.messages import outbox
from leadform.messages.outbox import deliver_due
from leadform.messages.senders import make_sender
from leadform.models import Booking, OutboxMessage, utcnow
from tests.leadform.calendars.conftest import SECRETS

FEED_ONLY = """
[hosts.linus]
name = "Linus Example"
email = "linus@tessellate.example"
timezone = "Europe/London"

[[hosts.linus.calendars]]
type = "ics"
url = "http://127.0.0.1:9/linus.ics"
"""


def hosts_toml(url: str, ada_calendar: str, grace_calendar: str) -> str:
    """Two CalDAV hosts on `url` (each one calendar) and a host with an ICS feed only."""
    caldav_hosts = "".join(
        f"""
[hosts.{user}]
name = "{user.title()} Example"
email = "{user}@tessellate.example"
timezone = "Europe/London"

[[hosts.{user}.calendars]]
type = "caldav"
url = "{url}"
username = "{user}"
password_env = "LEADFORM_CALENDAR_SECRET_{user.upper()}"
calendars = ["{name}"]
"""
        for user, name in (("ada", ada_calendar), ("grace", grace_calendar))
    )
    return caldav_hosts + FEED_ONLY


def start_at(days: int = 3, hour: int = 14) -> datetime:
    """A naive-UTC session start a few days ahead (inside the sync window)."""
    day = utcnow().date() + timedelta(days=days)
    return datetime(day.year, day.month, day.day, hour)


def add_booking(start: datetime) -> Booking:
    """Store a confirmed 90-minute booking at naive-UTC `start` (no emails)."""
    booking = Booking(
        public_id=secrets.token_hex(8),
        status="confirmed",
        slot_start=start,
        slot_end=start + timedelta(minutes=90),
        timezone="Europe/Berlin",
        name="Siobhán O'Brien",
        email="siobhan@example.com",
        company="Acme Insurance",
        role="COO",
        company_size="250-999",
        goals="A ranked list of use cases.",
        consent_at=utcnow(),
        privacy_version="2026-11-01",
    )
    db.session.add(booking)
    db.session.flush()
    return booking


def book(app, start: datetime, hosts=("ada", "grace", "linus")) -> int:
    """Store a booking and queue its writes in one transaction; return the booking id."""
    with app.app_context():
        booking = add_booking(start)
        queue_calendar_writes(booking, hosts, "REQUEST")
        db.session.commit()
        return booking.id


def move(app, booking_id: int, start: datetime) -> None:
    """Move the booking as the booking wing does (SEQUENCE up) and queue the update."""
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        booking.slot_start, booking.slot_end = start, start + timedelta(minutes=90)
        booking.ics_sequence += 1
        queue_calendar_writes(booking, ["ada", "grace"], "REQUEST")
        db.session.commit()


def cancel(app, booking_id: int) -> None:
    """Cancel the booking and queue the removal from both calendars."""
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        booking.status = "cancelled"
        booking.ics_sequence += 1
        queue_calendar_writes(booking, ["ada", "grace"], "CANCEL")
        db.session.commit()


def deliver(app, now: datetime | None = None) -> outbox.DeliveryReport:
    """Run one pass of the outbox worker."""
    with app.app_context():
        return deliver_due(make_sender(app.config), worker_id="w1", now=now or utcnow())


def uid_of(app, booking_id: int) -> str:
    with app.app_context():
        return event_uid(db.session.get(Booking, booking_id), app.config)


def stored_events(calendar, uid: str) -> list[icalendar.Event]:
    """Every VEVENT with `uid` in the calendar, read back from the server."""
    return [
        component
        for resource in calendar.search(event=True)
        for component in resource.icalendar_instance.walk("VEVENT")
        if str(component["UID"]) == uid
    ]


def messages(app) -> list[tuple[str, str, int, str | None]]:
    """(kind, status, attempts, last error) of every calendar message, oldest first."""
    with app.app_context():
        rows = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.channel == CHANNEL).order_by("id")
        )
        return [(row.kind, row.status, row.attempts, row.last_error) for row in rows]


@pytest.fixture
def two_hosts(radicale, calendar_app):
    """An app whose hosts ada and grace have fresh calendars on the session's Radicale."""
    ada = radicale.new_calendar("ada")
    grace = radicale.new_calendar("grace")
    app = calendar_app(hosts_toml(radicale.url, ada.get_display_name(), grace.get_display_name()))
    return app, ada, grace


def test_a_booking_lands_in_both_hosts_calendars_with_the_invites_uid(two_hosts):
    app, ada, grace = two_hosts
    start = start_at()
    booking_id = book(app, start)

    report = deliver(app)

    assert report.sent == 2 and report.retried == report.failed == 0
    with app.app_context():
        uid = invite_uid(db.session.get(Booking, booking_id), app.config)
    assert uid == uid_of(app, booking_id)
    for calendar in (ada, grace):
        [event] = stored_events(calendar, uid)
        assert event.decoded("dtstart") == start.replace(tzinfo=UTC)
        assert event.decoded("dtend") == start.replace(tzinfo=UTC) + timedelta(minutes=90)
        assert event["SEQUENCE"] == 0
        attendees = {str(a).lower() for a in event.get("ATTENDEE")}
        assert attendees == {f"mailto:{h}@tessellate.example" for h in ("ada", "grace", "linus")}


def test_the_feed_only_host_gets_no_calendar_write(two_hosts):
    app, _, _ = two_hosts
    book(app, start_at())
    with app.app_context():
        hosts = [row["host_id"] for row in db.session.scalars(select(OutboxMessage.payload))]
    assert sorted(hosts) == ["ada", "grace"]


def test_the_written_booking_is_busy_after_the_next_sync(two_hosts):
    app, _, _ = two_hosts
    start = start_at()
    book(app, start)
    deliver(app)

    assert app.test_cli_runner().invoke(args=["calendars", "sync"]).exit_code == 1  # linus' feed
    with app.app_context():
        busy = busy_for(["ada"], start - timedelta(hours=3), start + timedelta(hours=3), utcnow())
    aware = start.replace(tzinfo=UTC)
    assert list(busy["ada"].intervals) == [Interval(aware, aware + timedelta(minutes=90))]


def test_a_move_updates_the_same_event_with_a_higher_sequence(two_hosts):
    app, ada, grace = two_hosts
    booking_id = book(app, start_at())
    deliver(app)
    later = start_at(days=4, hour=10)

    move(app, booking_id, later)
    report = deliver(app)

    assert report.sent == 2
    uid = uid_of(app, booking_id)
    for calendar in (ada, grace):
        [event] = stored_events(calendar, uid)  # updated in place, not a second event
        assert event.decoded("dtstart") == later.replace(tzinfo=UTC)
        assert event["SEQUENCE"] == 1


def test_a_cancel_removes_the_event_from_both_calendars(two_hosts):
    app, ada, grace = two_hosts
    booking_id = book(app, start_at())
    deliver(app)

    cancel(app, booking_id)
    report = deliver(app)

    assert report.sent == 2
    uid = uid_of(app, booking_id)
    assert stored_events(ada, uid) == [] and stored_events(grace, uid) == []


def test_cancelling_an_event_that_is_already_gone_succeeds(two_hosts):
    app, ada, _ = two_hosts
    booking_id = book(app, start_at())
    deliver(app)
    ada.event_by_uid(uid_of(app, booking_id)).delete()  # removed by hand meanwhile

    cancel(app, booking_id)

    assert deliver(app).sent == 2


def test_radicale_down_is_retried_later_and_nothing_is_lost(own_radicale, calendar_app):
    ada = own_radicale.new_calendar("ada", "Work")
    grace = own_radicale.new_calendar("grace", "Work")
    app = calendar_app(hosts_toml(own_radicale.url, "Work", "Work"), CALENDAR_SYNC_TIMEOUT=2.0)
    booking_id = book(app, start_at())
    own_radicale.stop()

    now = utcnow()
    down = deliver(app, now)

    assert down.retried == 2 and down.sent == 0
    assert all(
        status == "queued" and "cannot connect" in error for _, status, _, error in messages(app)
    )
    own_radicale.start()
    assert deliver(app, now).handled == 0  # not due before its backoff
    assert deliver(app, now + timedelta(hours=1)).sent == 2
    uid = uid_of(app, booking_id)
    assert len(stored_events(ada, uid)) == 1 and len(stored_events(grace, uid)) == 1


def test_a_late_retry_of_the_booking_never_brings_back_a_cancelled_event(
    own_radicale, calendar_app
):
    ada = own_radicale.new_calendar("ada", "Work")
    own_radicale.new_calendar("grace", "Work")
    app = calendar_app(
        hosts_toml(own_radicale.url, "Work", "Work"),
        CALENDAR_SYNC_TIMEOUT=2.0,
        OUTBOX_BACKOFF_SECONDS=3600,
    )
    booking_id = book(app, start_at())
    own_radicale.stop()
    deliver(app)  # both PUTs fail and wait an hour for their retry
    own_radicale.start()

    cancel(app, booking_id)
    assert deliver(app).sent == 2  # the cancels are due at once; nothing to delete yet
    assert deliver(app, utcnow() + timedelta(hours=2)).sent == 2  # the PUTs: superseded

    assert stored_events(ada, uid_of(app, booking_id)) == []
    assert [status for _, status, _, _ in messages(app)] == ["sent"] * 4


def test_a_refused_password_fails_the_write_at_once(radicale, calendar_app):
    name = radicale.new_calendar("ada").get_display_name()
    wrong = {**SECRETS, "LEADFORM_CALENDAR_SECRET_ADA": "not-the-password"}
    app = calendar_app(hosts_toml(radicale.url, name, name), CALENDAR_SECRETS=wrong)
    book(app, start_at(), hosts=["ada"])

    report = deliver(app)

    assert report.failed == 1
    [(_, status, attempts, error)] = messages(app)
    assert status == "failed" and attempts == 1
    assert "host ada" in error and "password was refused" in error
    assert "not-the-password" not in error


def test_a_calendar_name_the_account_lacks_fails_naming_what_it_has(own_radicale, calendar_app):
    # A server of its own: the shared one's account holds every other test's calendars, and
    # the error's list of names is cut to a readable length.
    present = own_radicale.new_calendar("ada").get_display_name()
    app = calendar_app(hosts_toml(own_radicale.url, "Absent", "Absent"))
    book(app, start_at(), hosts=["ada"])

    assert deliver(app).failed == 1
    [(_, _, _, error)] = messages(app)
    assert "no calendar named 'Absent'" in error and present in error


def test_the_stored_event_names_the_hosts_and_never_the_prospect(two_hosts):
    app, _, _ = two_hosts
    with app.app_context():
        booking = add_booking(start_at())
        hosts = list(app.extensions["calendars"].hosts.hosts.values())
        calendar = icalendar.Calendar.from_ical(host_event(booking, hosts, app.config))
    text = calendar.to_ical().decode()
    [event] = calendar.walk("VEVENT")
    assert "METHOD" not in calendar  # RFC 4791 4.1: no METHOD in a calendar collection
    assert all(a.params["SCHEDULE-AGENT"] == "CLIENT" for a in event.get("ATTENDEE"))
    assert event["ORGANIZER"].params["SCHEDULE-AGENT"] == "CLIENT"
    for personal in ("siobhan", "Siobh", "Acme", "COO", "ranked list"):
        assert personal not in text
    assert f"/admin/bookings/{booking.public_id}" in str(event["URL"])


def test_an_unknown_method_or_host_is_refused_when_queued(two_hosts):
    app, _, _ = two_hosts
    with app.app_context():
        booking = add_booking(start_at())
        with pytest.raises(WritebackError, match="REQUEST or CANCEL"):
            queue_calendar_writes(booking, ["ada"], "PUBLISH")
        with pytest.raises(WritebackError, match="'nobody'"):
            queue_calendar_writes(booking, ["nobody"], "REQUEST")


def test_without_hosts_nothing_is_queued_and_the_channel_is_still_known(app):
    with app.app_context():
        with pytest.raises(WritebackError):
            queue_calendar_writes(add_booking(start_at()), ["ada"], "REQUEST")
        assert CHANNEL in app.extensions[outbox.CHANNELS_KEY]


def test_a_taken_channel_name_cannot_be_registered_again(app):
    with pytest.raises(outbox.ChannelTakenError):
        outbox.register_channel(app, "email", lambda message: None)
    with pytest.raises(outbox.ChannelTakenError):
        outbox.register_channel(app, CHANNEL, lambda message: None)
