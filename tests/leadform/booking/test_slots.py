"""The availability engine: loading site.toml, slot generation across DST, booking rules."""

import contextlib
import copy
import random
import tomllib
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from types import MappingProxyType
from zoneinfo import ZoneInfo
from zoneinfo import available_timezones as available_zone_names

import pytest

from leadform.booking.slots import (
    Availability,
    AvailabilityConfigError,
    Slot,
    SlotUnavailable,
    available_slots,
    bookable_slot,
    check_free,
    check_slot,
    check_span,
    day_slots,
    format_range,
    group_by_local_day,
    is_zone_choice,
    load_availability,
    parse_slot_value,
    resolve_timezone,
    slot_value,
    timezone_choices,
)
from leadform.sitefacts import load_site
from tests.leadform.conftest import SITE_FILE

ROOT = Path(__file__).resolve().parents[3]
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
SESSION = timedelta(minutes=90)
WEEKDAY_HOURS = {day: ((time(9), time(17)),) for day in range(5)}


def utc(*args) -> datetime:
    """An aware UTC datetime, for brevity."""
    return datetime(*args, tzinfo=UTC)


def make_availability(tz=LONDON, hours=None, **overrides) -> Availability:
    """An Availability with lenient rules, so each test switches on only what it checks."""
    values = {
        "timezone": tz,
        "weekly_hours": MappingProxyType(hours or WEEKDAY_HOURS),
        "session": SESSION,
        "buffer": timedelta(minutes=30),
        "minimum_notice": timedelta(0),
        "horizon": timedelta(days=60),
        "max_per_day": 99,
        "blocked_dates": frozenset(),
    }
    return Availability(**(values | overrides))


def starts_on(av: Availability, day: date, now: datetime, booked=()) -> list[datetime]:
    """Start times (UTC) of the free slots on host-local `day`."""
    return [
        slot.start
        for slot in available_slots(av, now, booked)
        if slot.start.astimezone(av.timezone).date() == day
    ]


# --- Loading site.toml -------------------------------------------------------------------


def site_config() -> dict:
    """The tests' own site.toml (tests/leadform/fixtures/site.toml), parsed."""
    with open(SITE_FILE, "rb") as file:
        return tomllib.load(file)


def test_the_real_site_toml_is_valid_and_consistent():
    # Validity only: editors change these values (docs/booking.md), so none is asserted.
    av = load_availability(load_site(ROOT / "site.toml"))

    assert av.weekly_hours, "no weekday has hours: nothing could ever be booked"
    assert av.minimum_notice < av.horizon, "the notice reaches past the booking horizon"


def test_fixture_site_toml_loads_every_setting():
    av = load_availability(site_config())

    assert av == Availability(
        timezone=LONDON,
        weekly_hours={
            **{day: ((time(9), time(17)),) for day in range(4)},
            4: ((time(9), time(13)),),
        },
        session=SESSION,
        buffer=timedelta(minutes=30),
        minimum_notice=timedelta(hours=24),
        horizon=timedelta(days=42),
        max_per_day=2,
        blocked_dates=frozenset(
            date.fromisoformat(text)
            for text in ["2026-12-24", "2026-12-25", "2026-12-26", "2026-12-31", "2027-01-01"]
        ),
    )


def test_toml_dates_without_quotes_are_accepted():
    site = tomllib.loads(
        '[assessment]\nminutes = 90\n[availability]\ntimezone = "UTC"\nbuffer_minutes = 0\n'
        "minimum_notice_hours = 0\nbooking_horizon_days = 1\nmax_sessions_per_day = 1\n"
        "blocked_dates = [2026-12-25]\n[availability.hours]\nmonday = []\n"
        'sunday = ["10:00-12:00", "12:00-14:00"]\n'
    )

    av = load_availability(site)

    assert av.blocked_dates == {date(2026, 12, 25)}
    assert av.weekly_hours == {6: ((time(10), time(12)), (time(12), time(14)))}


DELETE = object()


def with_change(path: str, value) -> dict:
    """site.toml with the value at dotted `path` replaced, or deleted when value is DELETE."""
    site = copy.deepcopy(site_config())
    *parents, last = path.split(".")
    table = site
    for name in parents:
        table = table[name]
    if value is DELETE:
        del table[last]
    else:
        table[last] = value
    return site


@pytest.mark.parametrize(
    ("path", "value", "key"),
    [
        ("availability", DELETE, "availability"),
        ("assessment", DELETE, "assessment"),
        ("assessment.minutes", 0, "assessment.minutes"),
        ("assessment.minutes", "90", "assessment.minutes"),
        ("availability.timezone", "Mars/Base", "availability.timezone"),
        ("availability.timezone", "../../etc/passwd", "availability.timezone"),
        ("availability.timezone", 0, "availability.timezone"),
        ("availability.timezone", DELETE, "availability.timezone"),
        ("availability.buffer_minutes", -5, "availability.buffer_minutes"),
        ("availability.buffer_minutes", 7.5, "availability.buffer_minutes"),
        ("availability.minimum_notice_hours", -1, "availability.minimum_notice_hours"),
        ("availability.booking_horizon_days", 0, "availability.booking_horizon_days"),
        ("availability.max_sessions_per_day", 0, "availability.max_sessions_per_day"),
        ("availability.max_sessions_per_day", True, "availability.max_sessions_per_day"),
        ("availability.max_sessions_per_day", DELETE, "availability.max_sessions_per_day"),
        ("availability.buffer_minute", 30, "availability.buffer_minute"),
        ("availability.blocked_dates", "2026-12-25", "availability.blocked_dates"),
        ("availability.blocked_dates", ["2026-13-01"], "availability.blocked_dates"),
        ("availability.blocked_dates", ["25/12/2026"], "availability.blocked_dates"),
        ("availability.hours", {}, "availability.hours"),
        ("availability.hours", ["09:00-17:00"], "availability.hours"),
        ("availability.hours.funday", ["09:00-17:00"], "availability.hours.funday"),
        ("availability.hours.Monday", ["09:00-17:00"], "availability.hours.Monday"),
        ("availability.hours.monday", "09:00-17:00", "availability.hours.monday"),
        ("availability.hours.monday", ["9-17"], "availability.hours.monday"),
        ("availability.hours.monday", ["9:00-17:00"], "availability.hours.monday"),
        ("availability.hours.monday", ["24:00-25:00"], "availability.hours.monday"),
        ("availability.hours.monday", ["09:60-17:00"], "availability.hours.monday"),
        ("availability.hours.monday", [900], "availability.hours.monday"),
        ("availability.hours.monday", ["17:00-09:00"], "availability.hours.monday"),
        ("availability.hours.monday", ["09:00-09:00"], "availability.hours.monday"),
        ("availability.hours.monday", ["09:00-10:00"], "availability.hours.monday"),
        ("availability.hours.monday", ["09:00-12:00", "11:00-14:00"], "availability.hours.monday"),
        ("availability.hours.monday", ["09:00-17:00", "10:00-12:00"], "availability.hours.monday"),
    ],
)
def test_bad_config_names_the_key(path, value, key):
    with pytest.raises(AvailabilityConfigError) as caught:
        load_availability(with_change(path, value))

    assert str(caught.value).startswith(f"{key}: ")


def test_bad_window_message_quotes_the_value():
    with pytest.raises(AvailabilityConfigError) as caught:
        load_availability(with_change("availability.hours.monday", ["9-17"]))

    assert str(caught.value) == (
        "availability.hours.monday: '9-17' is not HH:MM-HH:MM (e.g. '09:00-17:00')"
    )


def test_config_error_is_a_value_error():
    assert issubclass(AvailabilityConfigError, ValueError)


# --- Daylight saving time in the host's zone -----------------------------------------------


@pytest.mark.parametrize(
    ("tz", "day", "window", "expected_utc_starts"),
    [
        # London springs forward 01:00 GMT -> 02:00 BST: 01:00 does not exist, 03:00 BST does.
        ("Europe/London", date(2026, 3, 29), ("01:00", "05:00"), [utc(2026, 3, 29, 2)]),
        # 00:00 GMT ends 02:30 BST; the wall-clock next start, 02:00 BST, would overlap it.
        ("Europe/London", date(2026, 3, 29), ("00:00", "05:00"), [utc(2026, 3, 29, 0)]),
        # London falls back 02:00 BST -> 01:00 GMT: 01:00 is repeated; the first one is used.
        (
            "Europe/London",
            date(2026, 10, 25),
            ("01:00", "05:00"),
            [utc(2026, 10, 25, 0), utc(2026, 10, 25, 3)],
        ),
        # New York springs forward 02:00 EST -> 03:00 EDT: 02:00 is skipped, 04:00 EDT offered.
        ("America/New_York", date(2026, 3, 8), ("02:00", "06:00"), [utc(2026, 3, 8, 8)]),
        # 01:00 EST ends 03:30 EDT; 03:00 EDT would overlap, 05:00 EDT runs past 06:00.
        ("America/New_York", date(2026, 3, 8), ("01:00", "06:00"), [utc(2026, 3, 8, 6)]),
        # The window ends at 02:30, a time the clock skips: a session to 03:00 EDT overruns it.
        ("America/New_York", date(2026, 3, 8), ("00:30", "02:30"), []),
        # New York falls back 02:00 EDT -> 01:00 EST: 01:00 EDT first, then 03:00 EST.
        (
            "America/New_York",
            date(2026, 11, 1),
            ("01:00", "05:00"),
            [utc(2026, 11, 1, 5), utc(2026, 11, 1, 8)],
        ),
        # A session from 00:00 EDT ends at 01:30 EDT, before the first 01:30 the clock shows.
        ("America/New_York", date(2026, 11, 1), ("00:00", "01:30"), [utc(2026, 11, 1, 4)]),
    ],
)
def test_host_zone_dst_transitions(tz, day, window, expected_utc_starts):
    start, end = (time.fromisoformat(text) for text in window)
    av = make_availability(ZoneInfo(tz), hours={day.weekday(): ((start, end),)})

    now = utc(day.year, day.month, day.day) - timedelta(days=7)

    assert starts_on(av, day, now) == expected_utc_starts


@pytest.mark.parametrize(
    ("tz", "day"),
    [
        ("Europe/London", date(2026, 3, 29)),
        ("Europe/London", date(2026, 10, 25)),
        ("America/New_York", date(2026, 3, 8)),
        ("America/New_York", date(2026, 11, 1)),
    ],
)
@pytest.mark.parametrize("window", [(time(0), time(6)), (time(1), time(5)), (time(0, 30), time(4))])
def test_dst_sessions_last_ninety_real_minutes_and_never_overlap(tz, day, window):
    av = make_availability(ZoneInfo(tz), hours={day.weekday(): (window,)})

    slots = day_slots(av, day)

    assert slots, "every one of these windows holds at least one session"
    assert all(slot.end - slot.start == SESSION for slot in slots)
    assert all(
        later.start >= earlier.end + av.buffer
        for earlier, later in zip(slots, slots[1:], strict=False)
    )


@pytest.mark.parametrize(
    ("tz", "day", "window"),
    [
        ("Europe/London", date(2026, 3, 29), (time(0), time(6))),
        ("Europe/London", date(2026, 10, 25), (time(0), time(6))),
        ("America/New_York", date(2026, 3, 8), (time(0), time(6))),
        ("America/New_York", date(2026, 11, 1), (time(0), time(6))),
    ],
)
def test_dst_sessions_stay_inside_the_hosts_window(tz, day, window):
    zone = ZoneInfo(tz)
    av = make_availability(zone, hours={day.weekday(): (window,)})

    for slot in day_slots(av, day):
        start, end = slot.local(zone)
        assert start.date() == end.date() == day
        assert window[0] <= start.time() and end.time() <= window[1]


# --- Daylight saving time in the prospect's zone -------------------------------------------


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        # Mid-March: New York is on EDT, London still on GMT, 4 hours apart instead of 5.
        (utc(2026, 3, 10, 9), "Tuesday 10 March 2026, 05:00–06:30 EDT"),
        # Late October: London is back on GMT, New York still on EDT.
        (utc(2026, 10, 27, 9), "Tuesday 27 October 2026, 05:00–06:30 EDT"),
        # The usual 5 hours, in winter and in summer.
        (utc(2026, 12, 8, 14), "Tuesday 8 December 2026, 09:00–10:30 EST"),
        (utc(2026, 10, 20, 8), "Tuesday 20 October 2026, 04:00–05:30 EDT"),
        # New York's own clock change inside the session gets a label at each end.
        (utc(2026, 11, 1, 5), "Sunday 1 November 2026, 01:00 EDT–01:30 EST"),
    ],
)
def test_format_range_in_prospect_zone(start, expected):
    assert format_range(Slot(start, start + SESSION), NEW_YORK) == expected


@pytest.mark.parametrize(
    ("start", "tz", "expected"),
    [
        (utc(2026, 12, 8, 14), "Europe/London", "Tuesday 8 December 2026, 14:00–15:30 GMT"),
        (utc(2026, 7, 7, 14), "Europe/London", "Tuesday 7 July 2026, 15:00–16:30 BST"),
        (utc(2026, 10, 25, 0), "Europe/London", "Sunday 25 October 2026, 01:00 BST–01:30 GMT"),
        (utc(2026, 12, 8, 14), "UTC", "Tuesday 8 December 2026, 14:00–15:30 UTC"),
        # Zones whose abbreviation is only digits get a UTC offset instead.
        (utc(2026, 12, 8, 14), "America/Sao_Paulo", "Tuesday 8 December 2026, 11:00–12:30 UTC-3"),
        (
            utc(2026, 12, 8, 14),
            "Asia/Kathmandu",
            "Tuesday 8 December 2026, 19:45–21:15 UTC+5:45",
        ),
        # An end on the next local day shows its date.
        (
            utc(2026, 3, 16, 3),
            "America/New_York",
            "Sunday 15 March 2026, 23:00–Monday 16 March 2026, 00:30 EDT",
        ),
    ],
)
def test_format_range(start, tz, expected):
    assert format_range(Slot(start, start + SESSION), ZoneInfo(tz)) == expected


def early_monday_slots(monday: date) -> list[Slot]:
    """A London host's Monday 03:00-06:00 slots (no buffer): 03:00 and 04:30 local."""
    av = make_availability(hours={0: ((time(3), time(6)),)}, buffer=timedelta(0))
    return day_slots(av, monday)


@pytest.mark.parametrize(
    ("monday", "expected_new_york"),
    [
        # 4 hours apart: 03:00 GMT is Sunday 23:00 EDT, 04:30 GMT is Monday 00:30 EDT.
        (date(2026, 3, 16), [(date(2026, 3, 15), [time(23)]), (date(2026, 3, 16), [time(0, 30)])]),
        # 5 hours apart: both fall on Sunday evening, 22:00 and 23:30 EST.
        (date(2026, 3, 2), [(date(2026, 3, 1), [time(22), time(23, 30)])]),
        # Late October, 4 hours apart again (GMT against EDT).
        (
            date(2026, 10, 26),
            [(date(2026, 10, 25), [time(23)]), (date(2026, 10, 26), [time(0, 30)])],
        ),
    ],
)
def test_group_by_local_day_in_prospect_zone(monday, expected_new_york):
    groups = group_by_local_day(early_monday_slots(monday), NEW_YORK)

    shown = [(day, [slot.local(NEW_YORK)[0].time() for slot in slots]) for day, slots in groups]
    assert shown == expected_new_york


def test_local_gives_wall_times_in_both_zones():
    slot = Slot(utc(2026, 3, 10, 9), utc(2026, 3, 10, 10, 30))

    assert [moment.isoformat() for moment in slot.local(LONDON) + slot.local(NEW_YORK)] == [
        "2026-03-10T09:00:00+00:00",
        "2026-03-10T10:30:00+00:00",
        "2026-03-10T05:00:00-04:00",
        "2026-03-10T06:30:00-04:00",
    ]


def test_group_by_local_day_sorts_its_input():
    slots = early_monday_slots(date(2026, 3, 2))

    assert group_by_local_day(reversed(slots), LONDON) == [(date(2026, 3, 2), slots)]


# --- Booking rules -------------------------------------------------------------------------

# December: London is on GMT, so local times equal UTC. Weekdays 09:00-17:00 with a
# 30-minute buffer give 09:00, 11:00, 13:00 and 15:00.
TUESDAY = date(2026, 12, 8)
TUESDAY_STARTS = [utc(2026, 12, 8, hour) for hour in (9, 11, 13, 15)]


def test_weekday_grid():
    assert starts_on(make_availability(), TUESDAY, now=utc(2026, 12, 1)) == TUESDAY_STARTS


def test_days_without_hours_have_no_slots():
    av = make_availability()
    saturday, sunday = date(2026, 12, 12), date(2026, 12, 13)

    assert starts_on(av, saturday, utc(2026, 12, 1)) + starts_on(av, sunday, utc(2026, 12, 1)) == []


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 12, 7, 8), TUESDAY_STARTS),
        (utc(2026, 12, 7, 9), TUESDAY_STARTS),  # exactly 24 hours' notice is enough
        (utc(2026, 12, 7, 9, 1), TUESDAY_STARTS[1:]),
        (utc(2026, 12, 7, 14), TUESDAY_STARTS[3:]),
        (utc(2026, 12, 7, 15, 30), []),
    ],
)
def test_minimum_notice(now, expected):
    av = make_availability(minimum_notice=timedelta(hours=24))

    assert starts_on(av, TUESDAY, now) == expected


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (utc(2026, 11, 24, 15), TUESDAY_STARTS),  # 15:00 is exactly 14 days ahead: included
        (utc(2026, 11, 24, 12), TUESDAY_STARTS[:2]),
        (utc(2026, 11, 24, 8), []),
    ],
)
def test_horizon(now, expected):
    av = make_availability(horizon=timedelta(days=14))

    assert starts_on(av, TUESDAY, now) == expected


def test_all_slots_lie_between_notice_and_horizon():
    av = make_availability(minimum_notice=timedelta(hours=24), horizon=timedelta(days=42))
    now = utc(2026, 11, 23, 23, 17)

    slots = available_slots(av, now, [])

    assert slots == sorted(slots)
    assert now + av.minimum_notice <= slots[0].start
    assert slots[-1].start <= now + av.horizon
    assert slots[-1].start > now + av.horizon - timedelta(days=4)


@pytest.mark.parametrize(
    ("booking", "expected"),
    [
        # A booking on the grid leaves exactly the buffer to its neighbours.
        ((utc(2026, 12, 8, 11), utc(2026, 12, 8, 12, 30)), [9, 13, 15]),
        # Off the grid (booked by hand): 11:00 ends 12:30, within 30 minutes of 12:45.
        ((utc(2026, 12, 8, 12, 45), utc(2026, 12, 8, 14, 15)), [9, 15]),
        # 14:30 to 16:00 is within the buffer of 13:00 (ends 14:30) and overlaps 15:00.
        ((utc(2026, 12, 8, 14, 30), utc(2026, 12, 8, 16)), [9, 11]),
        # 15:00 ends 16:30, so its buffer runs to 17:00: 16:59 is inside it, 17:00 is not.
        ((utc(2026, 12, 8, 16, 59), utc(2026, 12, 8, 18)), [9, 11, 13]),
        ((utc(2026, 12, 8, 17), utc(2026, 12, 8, 18)), [9, 11, 13, 15]),
        # Naive UTC, as the database returns it, counts the same.
        ((datetime(2026, 12, 8, 11), datetime(2026, 12, 8, 12, 30)), [9, 13, 15]),
        # Aware in another zone: 06:00 EST is 11:00 UTC.
        (
            (
                datetime(2026, 12, 8, 6, tzinfo=NEW_YORK),
                datetime(2026, 12, 8, 7, 30, tzinfo=NEW_YORK),
            ),
            [9, 13, 15],
        ),
    ],
)
def test_bookings_block_their_slot_and_buffer(booking, expected):
    starts = starts_on(make_availability(), TUESDAY, utc(2026, 12, 1), booked=[booking])

    assert starts == [utc(2026, 12, 8, hour) for hour in expected]


@pytest.mark.parametrize(
    ("booked_hours", "expected"),
    [
        ([], [9, 11, 13, 15]),
        ([9], [11, 13, 15]),
        ([11], [9, 13, 15]),
        ([9, 13], []),
    ],
)
def test_daily_cap(booked_hours, expected):
    av = make_availability(max_per_day=2)
    booked = [(utc(2026, 12, 8, hour), utc(2026, 12, 8, hour) + SESSION) for hour in booked_hours]

    starts = starts_on(av, TUESDAY, utc(2026, 12, 1), booked)

    assert starts == [utc(2026, 12, 8, hour) for hour in expected]


def test_daily_cap_counts_host_local_days():
    # 23:30 UTC on Monday 6 July is 00:30 BST on Tuesday 7 July in London.
    av = make_availability(max_per_day=1)
    booked = [(datetime(2026, 7, 6, 23, 30), datetime(2026, 7, 7, 1))]
    now = utc(2026, 7, 1)

    assert (
        len(starts_on(av, date(2026, 7, 6), now, booked)),
        starts_on(av, date(2026, 7, 7), now, booked),
    ) == (4, [])


def test_blocked_dates_have_no_slots():
    av = make_availability(blocked_dates=frozenset({TUESDAY}))
    now = utc(2026, 12, 1)

    assert [
        len(starts_on(av, day, now)) for day in (date(2026, 12, 7), TUESDAY, date(2026, 12, 9))
    ] == [4, 0, 4]


# --- check_slot ----------------------------------------------------------------------------


RULES = {
    "minimum_notice": timedelta(hours=24),
    "horizon": timedelta(days=42),
    "max_per_day": 2,
    "blocked_dates": frozenset({date(2026, 12, 9)}),
}
NOW = utc(2026, 12, 7, 10)


@pytest.mark.parametrize(
    ("start", "booked", "code", "reason"),
    [
        (utc(2026, 12, 8, 10), [], "not_offered", "not one of the offered times"),
        (utc(2026, 12, 12, 9), [], "not_offered", "not one of the offered times"),  # Saturday
        (utc(2026, 12, 9, 9), [], "not_offered", "not one of the offered times"),  # blocked
        (utc(2026, 12, 8, 9), [], "too_soon", "too soon: bookings need 24 hours' notice"),
        (utc(2027, 1, 19, 9), [], "too_far", "too far ahead: bookings open 42 days in advance"),
        (
            utc(2026, 12, 8, 15),
            [(datetime(2026, 12, 8, 11), datetime(2026, 12, 8, 12, 30))] * 2,
            "day_full",
            "that day is fully booked",
        ),
        (
            utc(2026, 12, 8, 11),
            [(datetime(2026, 12, 8, 11), datetime(2026, 12, 8, 12, 30))],
            "taken",
            "that time was just taken",
        ),
        (
            utc(2026, 12, 8, 13),
            [(datetime(2026, 12, 8, 12), datetime(2026, 12, 8, 12, 45))],
            "taken",
            "that time was just taken",
        ),
    ],
)
def test_check_slot_reasons(start, booked, code, reason):
    with pytest.raises(SlotUnavailable) as caught:
        check_slot(make_availability(**RULES), start, NOW, booked)

    assert (caught.value.code, caught.value.reason) == (code, reason)


def test_check_slot_returns_the_slot():
    slot = check_slot(make_availability(**RULES), utc(2026, 12, 8, 11), NOW, [])

    assert slot == Slot(utc(2026, 12, 8, 11), utc(2026, 12, 8, 12, 30))


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York"])
def test_check_slot_agrees_with_available_slots(tz):
    av = make_availability(
        ZoneInfo(tz),
        hours={day: ((time(0), time(23, 59)),) for day in range(7)},
        minimum_notice=timedelta(hours=24),
        horizon=timedelta(days=10),
        max_per_day=3,
    )
    now = utc(2026, 10, 22, 7, 45)
    booked = [(utc(2026, 10, 24, 12), utc(2026, 10, 24, 13, 30))] + [
        (utc(2026, 10, 28, hour), utc(2026, 10, 28, hour, 30)) for hour in (3, 9, 14)
    ]
    offered = set(available_slots(av, now, booked))
    # Every half hour, in UTC, from a day before `now` to past the horizon.
    candidates = [utc(2026, 10, 21) + timedelta(minutes=30 * step) for step in range(13 * 48)]

    accepted = set()
    for start in candidates:
        with contextlib.suppress(SlotUnavailable):
            accepted.add(check_slot(av, start, now, booked))

    assert len(offered) > 40, "the hours are wide enough for many slots"
    assert accepted == offered


# --- Reading only the bookings near the slot ----------------------------------------------

ALL_DAY = {day: ((time(0), time(23, 59)),) for day in range(7)}
# Days whose clock change makes the local day shorter or longer than 24 hours, some of them
# at midnight itself (Santiago, Havana, Beirut), and the day Samoa skipped.
CLOCK_CHANGE_DAYS = [
    ("Europe/London", date(2026, 3, 29)),
    ("Europe/London", date(2026, 10, 25)),
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("America/Santiago", date(2026, 4, 4)),
    ("America/Santiago", date(2026, 4, 5)),
    ("America/Santiago", date(2026, 9, 5)),
    ("America/Santiago", date(2026, 9, 6)),
    ("America/Havana", date(2026, 3, 8)),
    ("America/Havana", date(2026, 10, 31)),
    ("America/Havana", date(2026, 11, 1)),
    ("Asia/Beirut", date(2026, 3, 28)),
    ("Asia/Beirut", date(2026, 3, 29)),
    ("Asia/Beirut", date(2026, 10, 25)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
    ("Pacific/Chatham", date(2026, 4, 5)),
    ("Pacific/Apia", date(2011, 12, 29)),
    ("Pacific/Apia", date(2011, 12, 31)),
    ("Asia/Kathmandu", date(2026, 6, 1)),
]


def overlapping(booked, span) -> list:
    """The bookings that overlap `span`: what bookings.active_bookings(span=...) reads."""
    since, until = span
    return [(start, end) for start, end in booked if end > since and start < until]


def outcome(check, *args) -> str:
    """Run a slot check; return "free" or the SlotUnavailable code."""
    try:
        check(*args)
    except SlotUnavailable as refusal:
        return refusal.code
    return "free"


@pytest.mark.parametrize(("tz", "day"), CLOCK_CHANGE_DAYS)
def test_check_span_holds_the_whole_local_day(tz, day):
    zone = ZoneInfo(tz)
    av = make_availability(zone, hours=ALL_DAY, buffer=timedelta(0))
    slots = day_slots(av, day)
    # Every quarter of an hour (the finest offset step in use) within two days either side.
    instants = [
        datetime.combine(day, time(0), tzinfo=UTC) + timedelta(minutes=15 * step)
        for step in range(-2 * 96, 3 * 96)
    ]
    on_day = [moment for moment in instants if moment.astimezone(zone).date() == day]

    assert slots and on_day
    for slot in (slots[0], slots[-1]):
        since, until = check_span(av, slot)
        assert all(since <= moment < until for moment in on_day), slot


@pytest.mark.parametrize("buffer_minutes", [0, 30, 60 * 20])
def test_check_span_holds_the_slot_widened_by_the_buffer(buffer_minutes):
    av = make_availability(hours=ALL_DAY, buffer=timedelta(minutes=buffer_minutes))
    slot = day_slots(av, date(2026, 12, 8))[-1]

    since, until = check_span(av, slot)

    assert since <= slot.start - av.buffer and until >= slot.end + av.buffer


def random_bookings(rng: random.Random, zone: ZoneInfo, day: date) -> list:
    """Bookings of 15 minutes to 23 hours, dense from two days before `day` to two after."""
    first = datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC) - timedelta(days=2)
    booked = []
    for _ in range(rng.randint(0, 40)):
        start = first + timedelta(minutes=15 * rng.randint(0, 5 * 96))
        length = timedelta(minutes=rng.choice([15, 30, 90, 90, 90, 240, 23 * 60]))
        booked.append((start, start + length))
    return booked


@pytest.mark.parametrize(("tz", "day"), CLOCK_CHANGE_DAYS)
@pytest.mark.parametrize("buffer_minutes", [0, 30, 600])
def test_check_free_needs_only_the_bookings_in_its_span(tz, day, buffer_minutes):
    zone = ZoneInfo(tz)
    av = make_availability(
        zone, hours=ALL_DAY, buffer=timedelta(minutes=buffer_minutes), max_per_day=3
    )
    rng = random.Random(f"{tz} {day} {buffer_minutes}")
    seen = set()
    for _ in range(30):
        booked = random_bookings(rng, zone, day)
        for slot in day_slots(av, day):
            near = overlapping(booked, check_span(av, slot))
            result = outcome(check_free, av, slot, booked)

            assert outcome(check_free, av, slot, near) == result, (slot, booked)
            seen.add(result)

    assert seen == {"free", "day_full", "taken"}, "the bookings exercise every answer"


@pytest.mark.parametrize("tz", ["Europe/London", "America/New_York", "America/Santiago"])
def test_check_slot_on_nearby_bookings_agrees_with_available_slots(tz):
    # What reserve_slot does: check offered and window first, then only nearby bookings.
    av = make_availability(
        ZoneInfo(tz),
        hours=ALL_DAY,
        minimum_notice=timedelta(hours=24),
        horizon=timedelta(days=16),
        max_per_day=4,
    )
    now = utc(2026, 10, 22, 7, 45)  # the horizon spans October's and November's changes
    rng = random.Random(tz)
    booked = [
        (start, start + rng.choice([SESSION, timedelta(minutes=30)]))
        for start in rng.sample(
            [utc(2026, 10, 21) + timedelta(minutes=30 * step) for step in range(18 * 48)], 45
        )
    ]
    offered = set(available_slots(av, now, booked))
    candidates = [utc(2026, 10, 21) + timedelta(minutes=30 * step) for step in range(19 * 48)]

    accepted = set()
    for start in candidates:
        with contextlib.suppress(SlotUnavailable):
            slot = bookable_slot(av, start, now)
            near = overlapping(booked, check_span(av, slot))
            accepted.add(check_slot(av, start, now, near))

    assert len(offered) > 30, "the calendar keeps many slots free"
    assert accepted == offered


@pytest.mark.parametrize(
    ("start", "code"),
    [
        (utc(2026, 12, 8, 10), "not_offered"),
        (utc(2026, 12, 8, 9), "too_soon"),
        (utc(2027, 1, 19, 9), "too_far"),
    ],
)
def test_bookable_slot_refuses_without_looking_at_bookings(start, code):
    with pytest.raises(SlotUnavailable) as caught:
        bookable_slot(make_availability(**RULES), start, NOW)

    assert caught.value.code == code


# --- Form values ---------------------------------------------------------------------------


def test_slot_value_round_trip():
    slot = Slot(utc(2026, 12, 8, 14), utc(2026, 12, 8, 15, 30))

    assert (slot_value(slot), parse_slot_value(slot_value(slot))) == (
        "2026-12-08T14:00:00Z",
        slot.start,
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-12-08T14:00:00Z", utc(2026, 12, 8, 14)),
        ("2026-12-08T14:00:00+00:00", utc(2026, 12, 8, 14)),
        ("2026-12-08T09:00:00-05:00", utc(2026, 12, 8, 14)),
        (" 2026-12-08T14:00Z ", utc(2026, 12, 8, 14)),
    ],
)
def test_parse_slot_value_gives_aware_utc(value, expected):
    parsed = parse_slot_value(value)

    assert (parsed, parsed.tzinfo) == (expected, UTC)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "tomorrow",
        "2026-12-08T14:00:00",  # no zone: ambiguous
        "2026-13-08T14:00:00Z",
        "2026-12-08T25:00:00Z",
        "2026-12-08T14:00:00Z; DROP TABLE bookings",
        "9" * 100_000,
        None,
        1765202400,
    ],
)
def test_parse_slot_value_rejects_garbage(value):
    with pytest.raises(ValueError, match="slot time|no time zone") as caught:
        parse_slot_value(value)

    assert len(str(caught.value)) < 120


@pytest.mark.parametrize(
    ("start", "end"),
    [
        (datetime(2026, 12, 8, 14), datetime(2026, 12, 8, 15, 30)),
        (utc(2026, 12, 8, 14), utc(2026, 12, 8, 14)),
    ],
)
def test_slot_rejects_naive_or_empty_ranges(start, end):
    with pytest.raises(ValueError, match="Slot"):
        Slot(start, end)


def test_slot_normalises_to_utc():
    slot = Slot(
        datetime(2026, 12, 8, 9, tzinfo=NEW_YORK), datetime(2026, 12, 8, 10, 30, tzinfo=NEW_YORK)
    )

    assert (slot.start.tzinfo, slot_value(slot)) == (UTC, "2026-12-08T14:00:00Z")


# --- Time zones ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        None,
        "",
        " ",
        "Mars/Base",
        "../../etc/passwd",
        "/etc/localtime",
        "Europe/../Europe/London",
        "localtime",
        "Factory",
        "posix/Europe/London",
        "right/Europe/London",
        "Europe",
        "Europe/London\x00",
        "A" * 10_000,
        "Europe/" + "x" * 300,
        42,
    ],
)
def test_resolve_timezone_falls_back_on_garbage(name):
    # A default unlike any name above, so a wrongly accepted London cannot pass unnoticed.
    default = ZoneInfo("Pacific/Chatham")

    assert resolve_timezone(name, default) is default


@pytest.mark.parametrize(
    "name", ["America/New_York", "Asia/Kolkata", "UTC", "US/Eastern", " Europe/Paris\n"]
)
def test_resolve_timezone_accepts_iana_names(name):
    assert resolve_timezone(name, LONDON) == ZoneInfo(name.strip())


def test_timezone_choices_are_sorted_canonical_names():
    choices = timezone_choices()

    assert choices == sorted(set(choices))
    assert {"UTC", "Europe/London", "America/New_York", "Asia/Kolkata", "Europe/Amsterdam"} <= set(
        choices
    )
    assert not [
        name
        for name in choices
        if name.startswith(("Etc/", "US/", "posix/", "right/")) or name in {"Asia/Calcutta", "GB"}
    ]


def test_timezone_choices_all_resolve():
    sentinel = ZoneInfo("Pacific/Chatham")

    assert [
        name for name in timezone_choices() if resolve_timezone(name, sentinel) is sentinel
    ] == ["Pacific/Chatham"]


def test_timezone_choices_include_valid_extras_only():
    choices = timezone_choices(["US/Eastern", "Mars/Base", "Europe/London"])

    assert ("US/Eastern" in choices, "Mars/Base" in choices, choices.count("Europe/London")) == (
        True,
        False,
        1,
    )


@pytest.mark.parametrize("extra", [(), ("Europe/London",), ("US/Eastern", "Mars/Base")])
def test_is_zone_choice_is_membership_of_timezone_choices(extra):
    names = sorted(available_zone_names()) + ["Mars/Base", "", "utc", "../etc/passwd", None, 7]
    choices = set(timezone_choices(extra))

    assert [name for name in names if is_zone_choice(name, extra)] == [
        name for name in names if name in choices
    ]
