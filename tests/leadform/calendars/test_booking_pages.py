"""Issue 13 through the booking pages: the hosts' real calendars decide what a prospect sees.

Hosts ada and grace each read one calendar on the session's Radicale (loopback). Events are
put there with caldav, a sync stores them, and the checks go through HTTP: the times the
booking page offers, the POST to /book, the manage and desk pages. Expectations are worked
out from the events' times and the page's own times before the events, not from site.toml's
clock strings.
"""

from datetime import UTC, date, datetime, timedelta
from html import unescape
from uuid import uuid4
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import func, select

from leadform.booking.emails import invite_uid
from leadform.booking.reservations import SLOT_TAKEN_MESSAGE, free_slots
from leadform.booking.slots import parse_slot_value
from leadform.calendars.sync import sync_all
from leadform.db import db
from leadform.messages.outbox import deliver_due
from leadform.messages.senders import make_sender
from leadform.models import Booking, utcnow
from tests.leadform.after_booking import email, invite_event, manage_path, queued
from tests.leadform.booking_pages import GOALS, FormPage, answers, offered_slots, open_form
from tests.leadform.desk.helpers import DESK_SETTINGS, signed_in, with_operator

NEW_YORK = ZoneInfo("America/New_York")
NAMES = {"ada": "Ada Example", "grace": "Grace Example"}
ROUND_ROBIN = '[assignment]\nrule = "round_robin"\nhosts = ["ada", "grace"]\ncount = 1\n'

Span = tuple[datetime, datetime]
DAY = timedelta(days=1)


def hosts_toml(url: str, calendars: dict[str, str], assignment: str = "") -> str:
    """Hosts ada and grace, each reading one CalDAV calendar on `url`; then `assignment`."""
    return "".join(
        f"""
[hosts.{user}]
name = "{NAMES[user]}"
email = "{user}@tessellate.example"
timezone = "Europe/London"

[[hosts.{user}.calendars]]
type = "caldav"
url = "{url}"
username = "{user}"
password_env = "LEADFORM_CALENDAR_SECRET_{user.upper()}"
calendars = ["{name}"]
"""
        for user, name in calendars.items()
    ) + (f"\n{assignment}" if assignment else "")


@pytest.fixture
def make_hosts(radicale, calendar_app):
    """Return a factory: (app, ada's calendar, grace's calendar), fresh calendars each time."""

    def _make(assignment: str = "", **settings):
        ada, grace = radicale.new_calendar("ada"), radicale.new_calendar("grace")
        names = {"ada": ada.get_display_name(), "grace": grace.get_display_name()}
        app = calendar_app(hosts_toml(radicale.url, names, assignment), **settings)
        return app, ada, grace

    return _make


# --- calendars ---------------------------------------------------------------------------


def vevent(start, end, uid: str | None = None, **properties) -> icalendar.Event:
    """An event from `start` to `end` (aware datetimes, or dates for a whole day)."""
    event = icalendar.Event()
    event.add("uid", uid or f"{uuid4().hex}@people.example")
    event.add("dtstamp", datetime(2026, 12, 1, tzinfo=UTC))
    event.add("summary", "Busy elsewhere")
    event.add("dtstart", start)
    event.add("dtend", end)
    for name, value in properties.items():
        event.add(name.replace("_", "-"), value)
    return event


def put(calendar, *events: icalendar.Event) -> None:
    """Store `events` in `calendar` as one resource (a series and its exceptions together)."""
    ical = icalendar.Calendar()
    ical.add("prodid", "-//leadform tests//EN")
    ical.add("version", "2.0")
    for event in events:
        ical.add_component(event)
    ical.add_missing_timezones()
    calendar.save_event(ical.to_ical().decode())


def stored_events(calendar, uid: str) -> list[icalendar.Event]:
    """Every VEVENT with `uid` in the calendar, read back from the server."""
    return [
        component
        for resource in calendar.search(event=True)
        for component in resource.icalendar_instance.walk("VEVENT")
        if str(component["UID"]) == uid
    ]


def sync(app) -> None:
    """One sync pass over both hosts' calendars, as `flask calendars sync` runs it."""
    with app.app_context():
        settings = app.extensions["calendars"]
        outcomes = sync_all(
            settings.hosts,
            datetime.now(UTC),
            settings.horizon,
            settings.sync_timeout,
            settings.reading,
        )
        db.session.commit()
    assert [outcome.error for outcome in outcomes] == [None, None]


def deliver(app) -> None:
    """Run the outbox worker until nothing is due: emails and calendar writes."""
    with app.app_context():
        sender = make_sender(app.config)
        for _ in range(5):
            if deliver_due(sender, worker_id="w1", now=utcnow()).handled == 0:
                return
    raise AssertionError("the outbox kept finding due messages")


# --- pages -------------------------------------------------------------------------------


def host_zone(app) -> ZoneInfo:
    return ZoneInfo(app.config["SITE"]["availability"]["timezone"])


def page_times(app, client, window: Span) -> list[Span]:
    """Every (start, end) the booking page offers (all days and months), starting in `window`.

    Read as a prospect in the host's zone would: the picker, then each day's and month's link.
    """
    picker = FormPage(client.get(f"/book?tz={host_zone(app).key}").get_data(as_text=True))
    session = app.extensions["availability"].session
    starts = [parse_slot_value(value) for value in offered_slots(client, picker)]
    return [(start, start + session) for start in starts if window[0] < start < window[1]]


def day_times(app, client, day: date) -> list[datetime]:
    """The starts the booking page offers on host-local `day` (none if it has no free time)."""
    zone = host_zone(app)
    html = client.get(f"/book?tz={zone.key}&day={day.isoformat()}").get_data(as_text=True)
    starts = [parse_slot_value(value) for value in FormPage(html).slots]
    return [start for start in starts if start.astimezone(zone).date() == day]


def by_day(app, times: list[Span]) -> dict[date, list[Span]]:
    """`times` grouped by their host-local day, each day in time order."""
    days: dict[date, list[Span]] = {}
    for span in sorted(times):
        days.setdefault(span[0].astimezone(host_zone(app)).date(), []).append(span)
    return days


def overlaps(span: Span, busy: list[Span]) -> bool:
    return any(start < span[1] and span[0] < end for start, end in busy)


def book_through_page(client, start: datetime, **overrides):
    """Open the form for `start` (as the picker's link does), post valid answers."""
    response = client.get(f"/book?slot={slot_value_of(start)}&tz=Europe/London")
    page = FormPage(response.get_data(as_text=True))
    assert page.checked_slot == slot_value_of(start), "the form is not for that time"
    return client.post("/book", data=answers(page, **overrides))


def slot_value_of(start: datetime) -> str:
    """The form's value for a time starting at `start` (as slots.slot_value writes it)."""
    return start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def booking_facts(app, public_id: str) -> tuple[tuple[str, ...], str, str]:
    """Return (host ids, invite UID, manage path) of the stored booking `public_id`."""
    with app.app_context():
        booking = db.session.scalars(select(Booking).where(Booking.public_id == public_id)).one()
        return tuple(booking.host_ids), invite_uid(booking, app.config), manage_path(booking)


def public_id_of(response) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)[:2000]
    return response.headers["Location"].rsplit("/", 1)[-1]


# --- 1. what counts as busy, as the page shows it ----------------------------------------


def test_the_page_drops_exactly_the_times_the_calendars_make_busy(make_hosts):
    app, ada, grace = make_hosts()
    client = app.test_client()
    # Leave out the times the clock could move in or out during the test: near the minimum
    # notice, and near the horizon's end.
    now = datetime.now(UTC)
    window = (now + timedelta(hours=25), now + app.extensions["calendars"].horizon - DAY)
    sync(app)
    before = page_times(app, client, window)
    days = by_day(app, before)
    most = max(len(spans) for spans in days.values())
    assert most >= 4, "the fixture's working day should hold at least four sessions"
    full = sorted(day for day, spans in days.items() if len(spans) == most)
    weekly = next(
        (
            [day + timedelta(weeks=week) for week in range(4)]
            for day in full
            if all(day + timedelta(weeks=week) in full for week in range(4))
        ),
        None,
    )
    assert weekly, f"no weekday is fully free four weeks running: {full}"
    single_day, free_day, holiday = [day for day in full if day not in weekly][:3]

    busy: list[Span] = []
    # A single event in another zone, over the end of the second session only.
    first, second, third, fourth = days[single_day][:4]
    single = (second[1] - timedelta(minutes=15), second[1] + timedelta(minutes=15))
    assert single[1] <= third[0]
    put(ada, vevent(*(moment.astimezone(NEW_YORK) for moment in single)))
    busy.append(single)
    # A busy event in the gap between two sessions (the buffer) takes neither.
    gap = (third[1], fourth[0])
    put(grace, vevent(*gap))
    busy.append(gap)
    # Grace's weekly series in her own zone: week 2 is an EXDATE, week 3 moved later that day.
    zone = host_zone(app)
    hour = timedelta(hours=1)
    week_first = [days[day][0][0].astimezone(zone) for day in weekly]
    moved_to = days[weekly[2]][-1][0].astimezone(zone) + timedelta(minutes=30)
    master = vevent(
        week_first[0],
        week_first[0] + hour,
        uid="weekly@people.example",
        rrule={"freq": "weekly", "count": 4},
        exdate=[week_first[1]],
    )
    moved = vevent(
        moved_to, moved_to + hour, uid="weekly@people.example", recurrence_id=week_first[2]
    )
    put(grace, master, moved)
    busy += [(week_first[0], week_first[0] + hour), (moved_to, moved_to + hour)]
    busy.append((week_first[3], week_first[3] + hour))
    # An all-day event blocks the host's whole day, even marked free (Google's default).
    put(ada, vevent(holiday, holiday + timedelta(days=1), transp="TRANSPARENT"))
    midnight = datetime.combine(holiday, datetime.min.time(), zone)
    busy.append((midnight, datetime.combine(holiday + timedelta(days=1), midnight.time(), zone)))
    # Free: marked transparent, or cancelled; neither takes a time.
    free_second, free_third = days[free_day][1], days[free_day][2]
    put(ada, vevent(*free_second, transp="TRANSPARENT"))
    put(grace, vevent(*free_third, status="CANCELLED"))

    sync(app)
    shown = page_times(app, client, window)

    # Rule by rule first, so a failure says which one broke (one host busy is enough).
    assert second not in shown, "the single event in New York time did not take its time"
    assert {first, third, fourth} <= set(shown), "an event took a time it does not overlap"
    assert days[weekly[0]][0] not in shown and days[weekly[3]][0] not in shown
    assert days[weekly[1]][0] in shown, "the EXDATE'd occurrence still blocks its time"
    assert days[weekly[2]][0] in shown, "the moved occurrence still blocks its old time"
    assert days[weekly[2]][-1] not in shown, "the moved occurrence does not block its new time"
    assert not by_day(app, shown).get(holiday), "the all-day event left times on its day"
    assert set(days[free_day]) <= set(shown), "a transparent or cancelled event took a time"
    # Then exactly: the times overlapping a busy event went, and nothing else.
    expected = [span for span in before if not overlaps(span, busy)]
    assert sorted(set(before) - set(shown)) == sorted(set(before) - set(expected))
    assert shown == expected
    assert len(before) - len(shown) == 4 + most
    # The same answer without HTTP.
    with app.app_context():
        free = free_slots(app.extensions["availability"], datetime.now(UTC))
    assert [(s.start, s.end) for s in free if window[0] < s.start < window[1]] == shown


# --- 2. an event added after the page was shown ------------------------------------------


def test_an_event_added_after_the_form_was_shown_refuses_the_booking_and_keeps_the_answers(
    make_hosts,
):
    app, _, grace = make_hosts()
    client = app.test_client()
    sync(app)
    form = open_form(client, "/book?tz=Europe/London")
    chosen = form.checked_slot
    start = parse_slot_value(chosen)
    # Grace is now busy for half an hour in the middle; the last sync does not know it.
    put(grace, vevent(start + timedelta(minutes=30), start + timedelta(minutes=60)))
    data = answers(form, company="Lovelace Analytics")

    response = client.post("/book", data=data)

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert SLOT_TAKEN_MESSAGE in body
    page = FormPage(body)
    assert (page.values["name"], page.values["company"]) == (data["name"], "Lovelace Analytics")
    assert page.values["email"] == data["email"]
    assert GOALS in unescape(body)
    assert page.slots, "no other times are offered"
    assert chosen not in page.slots
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 0


# --- 3. a booking in both calendars, named everywhere; moved and cancelled ---------------


def test_a_booking_names_both_hosts_and_follows_its_moves_in_both_calendars(make_hosts):
    app, ada, grace = make_hosts(**DESK_SETTINGS)
    with_operator(app)
    client = app.test_client()
    sync(app)
    form = open_form(client, "/book?tz=Europe/London")
    start = parse_slot_value(form.checked_slot)

    public_id = public_id_of(client.post("/book", data=answers(form)))
    deliver(app)

    hosts, uid, path = booking_facts(app, public_id)
    assert hosts == ("ada", "grace")
    sequences = []
    for calendar in (ada, grace):
        [event] = stored_events(calendar, uid)
        assert event.decoded("dtstart") == start
        sequences.append(event["SEQUENCE"])
    with app.app_context():
        [team] = [email(row) for row in queued("team_notification")]
        [confirmation_row] = queued("prospect_confirmation")
        confirmation = email(confirmation_row)
        _, invite = invite_event(confirmation_row)
    assert f"Consultants: {NAMES['ada']}, {NAMES['grace']}" in team.text
    assert f"With: {NAMES['ada']} and {NAMES['grace']}" in confirmation.text
    assert str(invite["UID"]) == uid
    listed = invite.get("ATTENDEE", [])
    attendees = {str(a).lower() for a in (listed if isinstance(listed, list) else [listed])}
    assert {"mailto:ada@tessellate.example", "mailto:grace@tessellate.example"} <= attendees
    manage_html = client.get(path).get_data(as_text=True)
    assert f"<dt>With</dt>\n  <dd>{NAMES['ada']} and {NAMES['grace']}</dd>" in manage_html
    desk_html = signed_in(app).get(f"/admin/bookings/{public_id}").get_data(as_text=True)
    consultants = f"<p>Consultants: {NAMES['ada']}, {NAMES['grace']}</p>"
    assert consultants in desk_html

    manage = FormPage(manage_html)
    target = next(value for value in reversed(manage.slots) if parse_slot_value(value) != start)
    moved = client.post(
        f"{path}/move",
        data={"csrf_token": manage.hidden["csrf_token"], "slot": target, "tz": "Europe/London"},
    )
    assert moved.status_code == 303, moved.get_data(as_text=True)[:2000]
    deliver(app)

    for calendar, sequence in zip((ada, grace), sequences, strict=True):
        [event] = stored_events(calendar, uid)  # the same event, updated
        assert event.decoded("dtstart") == parse_slot_value(target)
        assert event["SEQUENCE"] > sequence
    confirm = FormPage(client.get(f"{path}/cancel").get_data(as_text=True))
    cancelled = client.post(f"{path}/cancel", data={"csrf_token": confirm.hidden["csrf_token"]})
    assert cancelled.status_code == 303
    deliver(app)

    assert stored_events(ada, uid) == [] and stored_events(grace, uid) == []


# --- 4. the service's own events are never busy ------------------------------------------


def test_a_bookings_own_event_left_in_the_calendars_does_not_block_its_old_time(make_hosts):
    # No move to an overlapping time exists (a day's sessions never overlap), so: the
    # prospect moves away, the calendars still hold the booking's event at the old time
    # (the outbox has not delivered the move yet) when the sync runs; the old time must be
    # offered, and bookable, to the next prospect.
    app, ada, grace = make_hosts()
    client = app.test_client()
    sync(app)
    form = open_form(client, "/book?tz=Europe/London")
    start = parse_slot_value(form.checked_slot)
    public_id = public_id_of(client.post("/book", data=answers(form)))
    deliver(app)
    _, uid, path = booking_facts(app, public_id)
    manage = FormPage(client.get(path).get_data(as_text=True))
    target = next(value for value in reversed(manage.slots) if parse_slot_value(value) != start)
    moved = client.post(
        f"{path}/move",
        data={"csrf_token": manage.hidden["csrf_token"], "slot": target, "tz": "Europe/London"},
    )
    assert moved.status_code == 303

    sync(app)

    for calendar in (ada, grace):
        [event] = stored_events(calendar, uid)
        assert event.decoded("dtstart") == start  # still there: the move is not delivered
    day = start.astimezone(host_zone(app)).date()
    assert start in day_times(app, client, day)
    other = app.test_client()
    second = public_id_of(book_through_page(other, start, email="second@example.com"))
    assert booking_facts(app, second)[0] == ("ada", "grace")


# --- 5. round robin ----------------------------------------------------------------------


def test_round_robin_offers_a_time_ada_is_busy_and_gives_it_to_grace(make_hosts):
    app, ada, _ = make_hosts(ROUND_ROBIN)
    client = app.test_client()
    sync(app)
    form = open_form(client, "/book?tz=Europe/London")
    start = parse_slot_value(form.checked_slot)
    end = start + app.extensions["availability"].session
    put(ada, vevent(start, end))
    sync(app)

    assert start in day_times(app, client, start.astimezone(host_zone(app)).date())
    public_id = public_id_of(book_through_page(client, start))

    # With loads equal, ada (first in hosts) would take it were her calendar ignored.
    assert booking_facts(app, public_id)[0] == ("grace",)
