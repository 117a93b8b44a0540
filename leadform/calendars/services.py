"""What the booking wing asks the calendars wing: who is busy when, and who attends.

- `busy_for(host_ids, start, end, now)`: each host's busy intervals from the last sync, or
  a "host unavailable" marker when the stored data is too old (the stale policy below).
- `live_busy_for(host_ids, start, end, now)`: the same, read from the calendars right now
  (all sources at once, within the live-check timeout); a source that fails falls back to
  its stored blocks under the same policy.
- `assign_hosts(...)`: which hosts take a session at [start, end) under site.toml's rule
  (collective: all must be free; round robin: the least-loaded free ones), or None.

The stale policy (`LEADFORM_CALENDAR_MAX_STALE_MINUTES`, `LEADFORM_CALENDAR_WHEN_STALE`): a
source's blocks may be used while its last good sync is younger than the maximum age and
covers the asked window. Beyond that, "hide" (the default) stops offering that host's times
and "offer" keeps using the last blocks it has.
"""

import bisect
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from flask import Flask, current_app
from sqlalchemy import select

from leadform.calendars.busy import Interval, booking_uids, merge
from leadform.calendars.hosts import CalendarSource, Host, HostsConfig
from leadform.calendars.models import BusyBlock, CalendarSourceState
from leadform.calendars.sources import (
    CalendarAddresses,
    CalendarSourceError,
    run_many_with_deadline,
)
from leadform.calendars.sync import NO_READING, Reading, read_busy
from leadform.config import ConfigError
from leadform.db import db

WHEN_STALE_CHOICES = ("hide", "offer")


@dataclass(frozen=True)
class CalendarSettings:
    """The hosts and the calendar settings of one app (`app.extensions["calendars"]`)."""

    hosts: HostsConfig
    sync_timeout: float
    live_timeout: float
    max_stale: timedelta
    when_stale: str  # "hide" or "offer"
    horizon: timedelta
    # The service's own bookings (never busy: the booking wing keeps its sessions apart
    # itself) and the CalDAV calendars the syncs found, for the live check.
    reading: Reading = NO_READING


@dataclass(frozen=True)
class HostBusy:
    """One host's busy intervals in the asked window, or why the host cannot be offered."""

    host_id: str
    intervals: tuple[Interval, ...] = ()
    unavailable: str | None = None  # set: do not offer this host's times (says why)

    def is_free(self, start: datetime, end: datetime) -> bool:
        """Tell whether the host may take aware [start, end): available and not busy.

        The intervals are merged (sorted, apart), so the last one starting before `end` is
        the only one that can overlap: a binary search, not a scan of the whole horizon.
        """
        if self.unavailable is not None:
            return False
        before_end = bisect.bisect_left(self.intervals, end, key=lambda interval: interval.start)
        return before_end == 0 or self.intervals[before_end - 1].end <= start


def settings_from(app: Flask, hosts: HostsConfig) -> CalendarSettings:
    """Build the CalendarSettings from app.config; raise ConfigError on a bad choice."""
    when_stale = str(app.config["CALENDAR_WHEN_STALE"]).strip().lower()
    if when_stale not in WHEN_STALE_CHOICES:
        raise ConfigError(f"LEADFORM_CALENDAR_WHEN_STALE must be hide or offer, got {when_stale!r}")
    horizon_days = app.config["SITE"]["availability"]["booking_horizon_days"]
    return CalendarSettings(
        hosts=hosts,
        sync_timeout=float(app.config["CALENDAR_SYNC_TIMEOUT"]),
        live_timeout=float(app.config["CALENDAR_LIVE_TIMEOUT"]),
        max_stale=timedelta(minutes=app.config["CALENDAR_MAX_STALE_MINUTES"]),
        when_stale=when_stale,
        horizon=timedelta(days=horizon_days),
        reading=Reading(
            own_uids=booking_uids(urlsplit(app.config["PUBLIC_URL"]).hostname or "localhost"),
            addresses=CalendarAddresses(),
        ),
    )


def current_settings() -> CalendarSettings:
    """Return the calendar settings of the current app."""
    return current_app.extensions["calendars"]


def busy_for(
    host_ids: Iterable[str],
    start: datetime,
    end: datetime,
    now: datetime,
    settings: CalendarSettings | None = None,
) -> dict[str, HostBusy]:
    """Return host id -> HostBusy for aware [start, end), from the last syncs.

    Never touches the network: this is what the booking page calls. A host whose stored
    data is too old or does not reach `end` is `unavailable` under the "hide" policy.
    """
    settings = settings or current_settings()
    return {
        host_id: _stored_busy(settings, settings.hosts.hosts[host_id], start, end, now)
        for host_id in host_ids
    }


def _stored_busy(
    settings: CalendarSettings,
    host: Host,
    start: datetime,
    end: datetime,
    now: datetime,
    sources: Iterable[CalendarSource] | None = None,
) -> HostBusy:
    """Return one host's HostBusy from the stored blocks of `sources` (default: all)."""
    sources = list(host.sources if sources is None else sources)
    states = _states(host, sources)
    stale = [
        source.label
        for source in sources
        if not _usable(states.get(source.key), settings, start, end, now)
    ]
    if stale and settings.when_stale == "hide":
        return HostBusy(host.id, unavailable=_stale_reason(stale, settings))
    source_ids = [state.id for state in states.values()]
    return HostBusy(host.id, intervals=tuple(_stored_blocks(source_ids, start, end)))


def _states(host: Host, sources: list[CalendarSource]) -> dict[str, CalendarSourceState]:
    """Return source key -> sync state of the given sources of `host`."""
    keys = [source.key for source in sources]
    if not keys:
        return {}
    rows = db.session.scalars(
        select(CalendarSourceState).where(
            CalendarSourceState.host_id == host.id, CalendarSourceState.source_key.in_(keys)
        )
    )
    return {row.source_key: row for row in rows}


def _usable(
    state: CalendarSourceState | None,
    settings: CalendarSettings,
    start: datetime,
    end: datetime,
    now: datetime,
) -> bool:
    """Tell whether a source's stored blocks may be trusted for [start, end) at `now`."""
    if state is None or state.last_good_at is None:
        return False
    if _aware(state.last_good_at) < _aware(now) - settings.max_stale:
        return False
    return _aware(state.window_start) <= _aware(start) and _aware(end) <= _aware(state.window_end)


def _stale_reason(labels: list[str], settings: CalendarSettings) -> str:
    """Return the operator-facing reason a host's times are not offered."""
    minutes = int(settings.max_stale.total_seconds() // 60)
    return f"no good sync in the last {minutes} minutes of: {', '.join(labels)}"


def _stored_blocks(source_ids: list[int], start: datetime, end: datetime) -> list[Interval]:
    """Return the merged stored blocks of `source_ids` overlapping [start, end)."""
    if not source_ids:
        return []
    rows = db.session.execute(
        select(BusyBlock.starts_at, BusyBlock.ends_at).where(
            BusyBlock.source_id.in_(source_ids),
            BusyBlock.starts_at < _naive(end),
            BusyBlock.ends_at > _naive(start),
        )
    )
    return merge(Interval(_aware(row.starts_at), _aware(row.ends_at)) for row in rows)


def live_busy_for(
    host_ids: Iterable[str],
    start: datetime,
    end: datetime,
    now: datetime,
    settings: CalendarSettings | None = None,
) -> dict[str, HostBusy]:
    """Return host id -> HostBusy for aware [start, end), read from the calendars now.

    Every source of every host is read at once, and the whole call takes at most about the
    live-check timeout. A source that fails or is late counts with its stored blocks, under
    the stale policy (so a host whose calendar is down and stale is `unavailable`).
    """
    settings = settings or current_settings()
    hosts = [settings.hosts.hosts[host_id] for host_id in host_ids]
    calls = {
        (host.id, source.key): (source, _live_read(host, source, start, end, settings))
        for host in hosts
        for source in host.sources
    }
    results = run_many_with_deadline(calls, settings.live_timeout)
    return {host.id: _live_host_busy(settings, host, results, start, end, now) for host in hosts}


def _live_read(host: Host, source: CalendarSource, start, end, settings: CalendarSettings):
    """Return a call reading one source's busy intervals now."""
    timeout, reading = settings.live_timeout, settings.reading
    return lambda: read_busy(host, source, start, end, timeout, reading)


def _live_host_busy(
    settings: CalendarSettings, host: Host, results: Mapping, start, end, now
) -> HostBusy:
    """Combine one host's live results, falling back to stored data for failed sources."""
    outcomes = [(source, results[(host.id, source.key)]) for source in host.sources]
    failed = [source for source, result in outcomes if isinstance(result, CalendarSourceError)]
    fresh = [
        interval
        for _, result in outcomes
        if not isinstance(result, CalendarSourceError)
        for interval in result
    ]
    if not failed:
        return HostBusy(host.id, intervals=tuple(merge(fresh)))
    fallback = _stored_busy(settings, host, start, end, now, sources=failed)
    if fallback.unavailable is not None:
        return fallback
    return HostBusy(host.id, intervals=tuple(merge([*fresh, *fallback.intervals])))


def sync_marker(now: datetime, settings: CalendarSettings | None = None):
    """Return (key, until): what the stored busy times depend on at `now`, and until when.

    The key changes whenever a sync stores new blocks or a source appears or goes; `until`
    is the first moment after `now` at which the stale policy may judge a source otherwise
    (its last good sync growing too old). Free times computed from `busy_for` may be reused
    while both hold: the booking wing's cache keys on them.
    """
    settings = settings or current_settings()
    rows = db.session.execute(
        select(CalendarSourceState.id, CalendarSourceState.last_good_at).order_by(
            CalendarSourceState.id
        )
    ).all()
    key = tuple((row.id, row.last_good_at) for row in rows)
    ageing = [_aware(row.last_good_at) + settings.max_stale for row in rows if row.last_good_at]
    now = _aware(now)
    until = min((moment for moment in ageing if moment > now), default=now + settings.max_stale)
    return key, until


def staffed(slots: list, now: datetime, settings: CalendarSettings | None = None) -> list:
    """Return the `slots` (aware `.start`, `.end`) the assignment rule can staff, stored data.

    A slot stays when the hosts it needs (all, or `count` of the pool) work then and their
    last synced calendars leave it free. Sessions already booked are not looked at: the
    booking wing has taken their times out of `slots` already.
    """
    settings = settings or current_settings()
    if not slots or not settings.hosts.enabled:
        return list(slots)
    rule = settings.hosts.assignment
    end = max(slot.end for slot in slots)
    busy = busy_for(rule.host_ids, slots[0].start, end, now, settings)
    return [
        slot
        for slot in slots
        if assign_hosts(settings.hosts, busy, slot.start, slot.end) is not None
    ]


def assign_hosts(
    hosts: HostsConfig,
    busy: Mapping[str, HostBusy],
    start: datetime,
    end: datetime,
    booked: Mapping[str, Iterable[tuple[datetime, datetime]]] | None = None,
    load: Mapping[str, int] | None = None,
) -> tuple[str, ...] | None:
    """Return the hosts who take a session at aware [start, end), or None if it cannot be.

    A host can take it when they work then (their weekly hours), their calendars leave it
    free (`busy`, from `busy_for` or `live_busy_for`) and none of their `booked` sessions
    (aware (start, end) pairs, widened by the caller's buffer) overlaps it. Collective: all
    of the rule's hosts, or None. Round robin: the `count` free hosts with the least `load`
    (e.g. sessions in the coming weeks), ties in site.toml's order.
    """
    rule = hosts.assignment
    free = [
        host_id
        for host_id in rule.host_ids
        if _can_take(hosts.hosts[host_id], busy.get(host_id), start, end, booked or {})
    ]
    if rule.rule == "collective":
        return rule.host_ids if len(free) == len(rule.host_ids) else None
    if len(free) < rule.count:
        return None
    load = load or {}
    ranked = sorted(free, key=lambda host_id: (load.get(host_id, 0), rule.host_ids.index(host_id)))
    chosen = set(ranked[: rule.count])
    return tuple(host_id for host_id in rule.host_ids if host_id in chosen)


def _can_take(host: Host, busy: HostBusy | None, start, end, booked: Mapping) -> bool:
    """Tell whether one host can take [start, end)."""
    if busy is None or not busy.is_free(start, end) or not host.works_during(start, end):
        return False
    return not any(b_start < end and start < b_end for b_start, b_end in booked.get(host.id, ()))


def _aware(moment: datetime) -> datetime:
    """Return `moment` as aware UTC; naive values are UTC already (the database's form)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    """Return `moment` as naive UTC, the form every column stores."""
    return _aware(moment).replace(tzinfo=None)
