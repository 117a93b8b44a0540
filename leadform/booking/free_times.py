"""The free times, computed once per set of bookings and reused until the clock changes them.

Every step of the booking flow needs the free times over the whole horizon; computing them
is about half of a page's work (42 days of slots, buffers, daily caps, DST). For one set of
bookings the list only changes when the clock moves the earliest time inside the minimum
notice or brings a new time within the horizon (`valid_until`), so a per-process cache keyed
by the bookings themselves is never stale: a booking, move or cancellation made by any
process changes the key at the next page view.

With hosts in site.toml the list is also narrowed to the times the hosts can staff by their
synced calendars (booking/hosting.py). That answer depends on the stored busy times, so the
key also holds the calendars' sync marker (each source's last good sync), and the entry ends
when the stale policy could next change its mind about a calendar.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from datetime import datetime, timedelta

from flask import Flask, current_app

from leadform.booking import hosting
from leadform.booking.slots import Availability, Slot, available_slots, day_slots

_EXTENSION_KEY = "leadform.free_times"
# Distinct booking sets seen lately; more only happens while bookings change.
CACHE_SIZE = 32
# An upper bound however quiet the calendar: blocked dates or a settings change on restart
# are the only other inputs, and they come with a new process anyway.
MAX_AGE = timedelta(hours=1)
_OPENING_LOOKAHEAD_DAYS = 31


class FreeTimes:
    """A small, thread-safe cache of free-time lists keyed by the bookings they account for."""

    def __init__(self, size: int = CACHE_SIZE):
        self._size = size
        # bookings -> (free times, computed at, valid until)
        self._entries: OrderedDict[tuple, tuple[list[Slot], datetime, datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def get(
        self,
        av: Availability,
        now: datetime,
        busy: Sequence[tuple],
        calendars: tuple | None = None,
    ) -> list[Slot]:
        """Return `available_slots(av, now, busy)`, reusing a list still valid at `now`.

        `calendars` is None, or (marker key, marker until, narrow): the list is then
        `narrow(free, now)`, reused while the marker is the same and `now` before its until.
        """
        key = (tuple(busy), calendars[0] if calendars else None)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[1] <= now < entry[2]:
                self._entries.move_to_end(key)
                return entry[0]
        free = available_slots(av, now, busy)
        until = valid_until(av, now, free)
        if calendars is not None:
            _, calendars_until, narrow = calendars
            # Narrowing only removes times: the unnarrowed list's bound stays a safe one.
            free, until = narrow(free, now), max(min(until, calendars_until), now)
        with self._lock:
            self._entries[key] = (free, now, until)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return free

    def __len__(self) -> int:
        return len(self._entries)


def valid_until(av: Availability, now: datetime, free: list[Slot]) -> datetime:
    """Return when the list of free times computed at `now` may first differ from `free`.

    With the same bookings, time changes the list in two ways only: the earliest time comes
    within the minimum notice and drops out, or a time comes within the booking horizon and
    joins. Full days and buffers depend on the bookings alone.
    """
    limit = now + MAX_AGE
    if free:
        limit = min(limit, free[0].start - av.minimum_notice)
    opening = _next_opening(av, now)
    if opening is not None:
        limit = min(limit, opening - av.horizon)
    return max(limit, now)


def _next_opening(av: Availability, now: datetime) -> datetime | None:
    """Return the start of the first time beyond the horizon at `now`, or None within a month."""
    edge = now + av.horizon
    day = edge.astimezone(av.timezone).date()
    for _ in range(_OPENING_LOOKAHEAD_DAYS):
        later = [slot.start for slot in day_slots(av, day) if slot.start > edge]
        if later:
            return min(later)
        day += timedelta(days=1)
    return None


def init_app(app: Flask) -> None:
    """Give `app` its free-times cache (one per process)."""
    app.extensions[_EXTENSION_KEY] = FreeTimes()


def free_times(now: datetime, busy: Sequence[tuple]) -> list[Slot]:
    """The current app's free times at `now` for the bookings `busy`, staffed (cached)."""
    calendars = None
    if hosting.enabled():
        key, until = hosting.marker(now)
        calendars = (key, until, hosting.staffed)
    return current_app.extensions[_EXTENSION_KEY].get(
        current_app.extensions["availability"], now, busy, calendars
    )
