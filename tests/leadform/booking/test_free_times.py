"""The free times are reused per set of bookings, and never outlive what the clock allows."""

import random
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest

from leadform.booking import free_times
from leadform.booking.free_times import FreeTimes, valid_until
from leadform.booking.slots import Availability, available_slots

LONDON = ZoneInfo("Europe/London")


def availability(**overrides) -> Availability:
    """Weekday hours with notice and horizon, in London."""
    values = {
        "timezone": LONDON,
        "weekly_hours": MappingProxyType({day: ((time(9), time(17)),) for day in range(5)}),
        "session": timedelta(minutes=90),
        "buffer": timedelta(minutes=30),
        "minimum_notice": timedelta(hours=24),
        "horizon": timedelta(days=42),
        "max_per_day": 2,
        "blocked_dates": frozenset({date(2026, 12, 25)}),
    }
    return Availability(**(values | overrides))


def moments(seed: int, count: int) -> list[datetime]:
    """Random instants over a year, both DST changes included, at minute resolution."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [start + timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(count)]


@pytest.mark.parametrize("now", moments(seed=5, count=40))
def test_the_free_times_do_not_change_before_valid_until(now):
    av = availability()
    busy = [(now + timedelta(days=3, hours=2), now + timedelta(days=3, hours=3, minutes=30))]
    free = available_slots(av, now, busy)
    until = valid_until(av, now, free)

    assert until >= now
    for fraction in (0.25, 0.5, 0.999):
        assert available_slots(av, now + (until - now) * fraction, busy) == free
    if until - now < free_times.MAX_AGE:
        # The limit is exact: a moment later the list has changed.
        assert available_slots(av, until + timedelta(seconds=1), busy) != free


def test_the_list_ends_when_the_first_time_comes_within_notice():
    av = availability()
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    free = available_slots(av, now, [])

    expected = min(free[0].start - av.minimum_notice, now + free_times.MAX_AGE)
    assert valid_until(av, now, free) == expected


def test_a_time_joining_at_the_horizon_ends_the_list():
    av = availability(minimum_notice=timedelta(0))
    now = datetime(2026, 11, 24, 8, 59, tzinfo=UTC)

    assert valid_until(av, now, available_slots(av, now, [])) == datetime(
        2026, 11, 24, 9, 0, tzinfo=UTC
    )


@pytest.mark.parametrize("now", moments(seed=9, count=20))
def test_the_cache_always_answers_what_the_engine_answers(now):
    av, cache = availability(), FreeTimes()
    busy = [(now + timedelta(days=2), now + timedelta(days=2, minutes=90))]
    for step in range(0, 6 * 60, 7):  # a walk through six hours, minute by minute-ish
        moment = now + timedelta(minutes=step)
        assert cache.get(av, moment, busy) == available_slots(av, moment, busy), moment


def test_a_new_booking_is_a_new_key():
    av, cache = availability(), FreeTimes()
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    free = cache.get(av, now, [])
    taken = (free[0].start, free[0].end)

    assert free[0] not in cache.get(av, now, [taken])
    assert cache.get(av, now, []) is free  # the first list is reused, not recomputed


def test_an_earlier_clock_is_never_served_a_later_list():
    av, cache = availability(), FreeTimes()
    later = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    cache.get(av, later, [])
    earlier = later - timedelta(hours=6)

    assert cache.get(av, earlier, []) == available_slots(av, earlier, [])


def test_the_cache_keeps_only_its_size():
    av, cache = availability(), FreeTimes(size=3)
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    for hour in range(5):
        start = now + timedelta(days=3, hours=hour)
        cache.get(av, now, [(start, start + timedelta(minutes=90))])

    assert len(cache) == 3


def test_with_calendars_the_narrowed_list_is_reused_until_the_sync_marker_changes():
    av, cache = availability(), FreeTimes()
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    calls = []

    def narrow(free, at):
        calls.append(at)
        return free[1:]  # the hosts' calendars take the first time

    until = now + timedelta(minutes=20)
    first = cache.get(av, now, [], ("sync-1", until, narrow))
    assert first == available_slots(av, now, [])[1:]
    assert cache.get(av, now + timedelta(minutes=5), [], ("sync-1", until, narrow)) is first
    assert len(calls) == 1
    # A new sync, or the stale policy's moment passing, computes afresh.
    cache.get(av, now + timedelta(minutes=5), [], ("sync-2", until, narrow))
    cache.get(av, until + timedelta(seconds=1), [], ("sync-2", until, narrow))
    assert len(calls) == 3
    # Without calendars the unnarrowed list is its own entry.
    assert cache.get(av, now, []) == available_slots(av, now, [])
