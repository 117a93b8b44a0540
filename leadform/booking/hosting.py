"""Who takes each session: the calendars wing's hosts, applied to bookings.

The booking wing asks the calendars wing three things (leadform.calendars.services):
which free times the hosts can staff by their last synced calendars (the pages), whether
they are still free right now (the POST reads their calendars live, before the reservation
lock, within the live-check timeout), and which of them take a session (under the lock,
with every session already booked counted). The answer is stored on the booking
(`Booking.hosts`) and written into the hosts' CalDAV calendars through the outbox.

Without a [hosts] table in site.toml every function here does nothing: the firm's
[availability] alone decides, as before.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from leadform.booking.slots import Slot
from leadform.calendars import services as calendars
from leadform.calendars.writeback import queue_calendar_writes
from leadform.db import db
from leadform.models import Booking, BookingHost

# Round robin balances the sessions of the coming weeks: this far ahead counts.
LOAD_WINDOW = timedelta(weeks=4)


class NoHostFree(Exception):
    """No assignment of hosts can take the session now (a calendar event, a session)."""


def enabled() -> bool:
    """Tell whether site.toml names hosts, so that their calendars decide too."""
    return calendars.current_settings().hosts.enabled


def marker(now: datetime):
    """Return (key, until) of the stored busy times (calendars.services.sync_marker)."""
    return calendars.sync_marker(now)


def staffed(slots: list[Slot], now: datetime) -> list[Slot]:
    """Return the `slots` the hosts can take by their last synced calendars."""
    return calendars.staffed(slots, now)


def live_busy(slot: Slot, now: datetime) -> Mapping[str, calendars.HostBusy]:
    """Read the hosts' calendars now for `slot` (at most the live-check timeout); {} without.

    Called before the reservation lock: a slow calendar must never hold up other bookings.
    """
    if not enabled():
        return {}
    rule = calendars.current_settings().hosts.assignment
    return calendars.live_busy_for(rule.host_ids, slot.start, slot.end, now)


def choose(
    slot: Slot,
    busy: Mapping[str, calendars.HostBusy],
    now: datetime,
    statuses: Iterable[str],
    excluding: int | None = None,
) -> tuple[str, ...]:
    """Return the hosts who take `slot` (none without hosts); raise NoHostFree if nobody can.

    `busy` is `live_busy`'s answer; the hosts' booked sessions (bookings in `statuses`,
    but `excluding`, widened by the buffer) must not overlap, and round robin picks the
    least loaded. Run it under the reservation lock for an answer that holds.
    """
    if not enabled():
        return ()
    settings = calendars.current_settings()
    buffer = current_app.extensions["availability"].buffer
    booked, load = _host_sessions(now, tuple(statuses), excluding, buffer)
    hosts = calendars.assign_hosts(settings.hosts, busy, slot.start, slot.end, booked, load)
    if hosts is None:
        raise NoHostFree("no host can take that time")
    return hosts


def _host_sessions(now: datetime, statuses: tuple, excluding: int | None, buffer: timedelta):
    """Return (host -> booked (start, end) widened by `buffer`, host -> sessions ahead)."""
    since = _naive(now) - timedelta(days=2)
    query = (
        select(BookingHost.host_id, Booking.slot_start, Booking.slot_end)
        .join(Booking, BookingHost.booking_id == Booking.id)
        .where(Booking.status.in_(statuses), Booking.slot_end > since)
    )
    if excluding is not None:
        query = query.where(Booking.id != excluding)
    booked: dict[str, list[tuple[datetime, datetime]]] = defaultdict(list)
    load: Counter[str] = Counter()
    ahead = _naive(now) + LOAD_WINDOW
    for host_id, start, end in db.session.execute(query):
        booked[host_id].append((_aware(start) - buffer, _aware(end) + buffer))
        if _naive(now) <= start < ahead:
            load[host_id] += 1
    return booked, load


def record(booking: Booking, host_ids: Iterable[str]) -> None:
    """Make `host_ids` the booking's hosts (replacing any), in the caller's transaction."""
    existing = {link.host_id: link for link in booking.hosts}
    # In the order given (site.toml's), keeping the rows of hosts who stay.
    booking.hosts = [existing.get(h) or BookingHost(host_id=h) for h in host_ids]


def names(booking: Booking) -> list[str]:
    """Return the display names of the booking's hosts ("Ada Lovelace"), in order.

    A host removed from site.toml since keeps its id, so the booking still says who it was.
    """
    if not booking.host_ids:
        return []
    hosts = calendars.current_settings().hosts.hosts
    return [hosts[h].name if h in hosts else h for h in booking.host_ids]


def people(booking: Booking) -> list[tuple[str, str]]:
    """Return (name, email) of the booking's hosts still in site.toml, for the invite."""
    if not booking.host_ids:
        return []
    hosts = calendars.current_settings().hosts.hosts
    return [(hosts[h].name, hosts[h].email) for h in booking.host_ids if h in hosts]


def write_booking(booking: Booking, previous: Iterable[str] = ()) -> None:
    """Queue the booking into its hosts' calendars; remove it from `previous` hosts dropped.

    For a new, confirmed or moved booking, in the caller's transaction.
    """
    current = _known(booking.host_ids)
    dropped = _known(h for h in previous if h not in booking.host_ids)
    if current:
        queue_calendar_writes(booking, current, "REQUEST")
    if dropped:
        queue_calendar_writes(booking, dropped, "CANCEL")


def remove_booking(booking: Booking) -> None:
    """Queue the removal of a cancelled booking from its hosts' calendars."""
    current = _known(booking.host_ids)
    if current:
        queue_calendar_writes(booking, current, "CANCEL")


def _known(host_ids: Iterable[str]) -> list[str]:
    """The hosts of `host_ids` still in site.toml (a removed host has no calendar to write)."""
    hosts = calendars.current_settings().hosts.hosts
    return [h for h in host_ids if h in hosts]


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    return _aware(moment).replace(tzinfo=None)
