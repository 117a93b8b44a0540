"""Keeping each host's busy blocks in the database: `flask --app leadform calendars sync`.

One pass reads every calendar source of every host for the booking horizon and replaces
that source's busy blocks, one transaction per source. A source that cannot be read keeps
its last good blocks; its row records the error, so the desk and the policy in
`leadform.calendars.services` can tell how old the data is. A slow source costs at most the
sync timeout; the next pass tries again, so recovery needs no restart.
"""

import re
import signal
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import click
import icalendar
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import delete, select
from sqlalchemy.exc import OperationalError

from leadform.calendars.busy import CalendarDataError, Interval, busy_intervals
from leadform.calendars.hosts import CalDAVSource, CalendarSource, FeedSource, Host, HostsConfig
from leadform.calendars.models import BusyBlock, CalendarSourceState
from leadform.calendars.sources import (
    CalendarAddresses,
    CalendarGarbage,
    CalendarSourceError,
    fetch_caldav,
    fetch_feed,
)
from leadform.db import db
from leadform.messages.outbox import StopFlag
from leadform.models import utcnow

# Read a little beyond the horizon on both sides: a host-local day at either end, and the
# horizon moving on between two passes.
WINDOW_BEFORE = timedelta(days=1)
WINDOW_AFTER = timedelta(days=2)


@dataclass(frozen=True)
class Reading:
    """What every read of a calendar shares: which events are the service's own bookings
    (`busy.booking_uids`: never busy) and the CalDAV calendars found so far."""

    own_uids: re.Pattern | None = None
    addresses: CalendarAddresses | None = None


NO_READING = Reading()


@dataclass(frozen=True)
class SourceOutcome:
    """What one pass did with one source: its busy-block count, or the error."""

    host_id: str
    label: str
    blocks: int = 0
    error: str | None = None
    not_modified: bool = False


def sync_window(now: datetime, horizon: timedelta) -> tuple[datetime, datetime]:
    """Return the aware-UTC [start, end) a pass reads: the booking horizon plus margins."""
    now = _aware(now)
    return now - WINDOW_BEFORE, now + horizon + WINDOW_AFTER


def sync_all(
    hosts: HostsConfig,
    now: datetime,
    horizon: timedelta,
    timeout: float,
    reading: Reading = NO_READING,
) -> list[SourceOutcome]:
    """Refresh every source of every host; return one outcome per source, in order.

    Sources no longer in site.toml lose their state and blocks. `reading` says which events
    are the service's own and keeps the CalDAV calendars found for the live check.
    """
    start, end = sync_window(now, horizon)
    outcomes = [
        sync_source(host, source, start, end, timeout, now, reading)
        for host in hosts.hosts.values()
        for source in host.sources
    ]
    forget_removed_sources(hosts.sources())
    return outcomes


def sync_source(
    host: Host,
    source: CalendarSource,
    start: datetime,
    end: datetime,
    timeout: float,
    now,
    reading: Reading = NO_READING,
) -> SourceOutcome:
    """Read one source and store its busy blocks, or record why it could not be read."""
    state = source_state(source)
    state.last_attempt_at = _naive(now)
    try:
        intervals, not_modified = _read_busy(host, source, state, start, end, timeout, reading)
    except CalendarSourceError as exc:
        _record_failure(state, str(exc), now)
        return SourceOutcome(host.id, source.label, error=str(exc))
    _store_blocks(state, intervals, start, end, now)
    return SourceOutcome(host.id, source.label, blocks=len(intervals), not_modified=not_modified)


def source_state(source: CalendarSource) -> CalendarSourceState:
    """Return the state row of `source`, created (not yet committed) on its first sync."""
    state = db.session.scalar(
        select(CalendarSourceState).where(
            CalendarSourceState.host_id == source.host_id,
            CalendarSourceState.source_key == source.key,
        )
    )
    if state is None:
        state = CalendarSourceState(host_id=source.host_id, source_key=source.key)
        db.session.add(state)
    state.kind, state.label = source.kind, source.label
    return state


def read_busy(
    host: Host,
    source: CalendarSource,
    start: datetime,
    end: datetime,
    timeout: float,
    reading: Reading = NO_READING,
) -> list[Interval]:
    """Return the source's busy intervals in [start, end), read now over the network.

    No stored state is read or written: this is the live check's read. It queries the
    CalDAV calendars the last sync found (`reading.addresses`) without looking for them again.
    """
    if isinstance(source, CalDAVSource):
        calendar = fetch_caldav(source, start, end, timeout, reading.addresses, reuse=True)
    else:
        calendar = icalendar.Calendar.from_ical(fetch_feed(source, timeout).body)
    return _busy(host, source, calendar, start, end, reading.own_uids)


def _read_busy(
    host: Host,
    source: CalendarSource,
    state: CalendarSourceState,
    start: datetime,
    end: datetime,
    timeout: float,
    reading: Reading,
) -> tuple[list[Interval], bool]:
    """Fetch the source (a feed conditionally) and return (busy intervals, not modified)."""
    if isinstance(source, CalDAVSource):
        calendar = fetch_caldav(source, start, end, timeout, reading.addresses)
        return _busy(host, source, calendar, start, end, reading.own_uids), False
    body, not_modified = _feed_body(source, state, timeout)
    calendar = icalendar.Calendar.from_ical(body)
    return _busy(host, source, calendar, start, end, reading.own_uids), not_modified


def _feed_body(
    source: FeedSource, state: CalendarSourceState, timeout: float
) -> tuple[bytes, bool]:
    """Return the feed's current text and whether it was unchanged (304, the kept copy)."""
    has_copy = state.feed_body is not None
    response = fetch_feed(
        source,
        timeout,
        etag=state.etag if has_copy else None,
        last_modified=state.last_modified if has_copy else None,
    )
    if response.not_modified:
        return state.feed_body, True
    state.etag, state.last_modified = response.etag, response.last_modified
    state.feed_body = response.body
    return response.body, False


def _busy(
    host: Host, source: CalendarSource, calendar, start: datetime, end: datetime, skip_uids=None
) -> list[Interval]:
    """Return the busy intervals of an already fetched calendar, as CalendarSourceError."""
    try:
        return busy_intervals(
            calendar,
            start,
            end,
            host.timezone,
            host.addresses,
            all_day_busy=source.all_day_busy,
            skip_uids=skip_uids,
        )
    except CalendarDataError as exc:
        raise CalendarGarbage(source, str(exc)) from None


def _store_blocks(
    state: CalendarSourceState, intervals: list[Interval], start, end, now: datetime
) -> None:
    """Replace the source's blocks with `intervals` and mark the sync good; commit."""
    db.session.flush()  # a new state row needs its id before blocks can point at it
    db.session.execute(delete(BusyBlock).where(BusyBlock.source_id == state.id))
    db.session.add_all(
        BusyBlock(
            source_id=state.id,
            host_id=state.host_id,
            starts_at=_naive(interval.start),
            ends_at=_naive(interval.end),
        )
        for interval in intervals
    )
    state.last_good_at = _naive(now)
    state.window_start, state.window_end = _naive(start), _naive(end)
    state.last_error = state.last_error_at = state.failing_since = None
    db.session.commit()


def _record_failure(state: CalendarSourceState, error: str, now: datetime) -> None:
    """Record why the source could not be read; its last good blocks stay. Commit."""
    state.last_error = error
    state.last_error_at = _naive(now)
    if state.failing_since is None:
        state.failing_since = _naive(now)
    db.session.commit()


def forget_removed_sources(configured: Iterable[CalendarSource]) -> int:
    """Delete the state and blocks of sources no longer in site.toml; return how many."""
    keep = {(source.host_id, source.key) for source in configured}
    stale = [
        state
        for state in db.session.scalars(select(CalendarSourceState))
        if (state.host_id, state.source_key) not in keep
    ]
    for state in stale:
        db.session.execute(delete(BusyBlock).where(BusyBlock.source_id == state.id))
        db.session.delete(state)
    db.session.commit()
    return len(stale)


def _aware(moment: datetime) -> datetime:
    """Return `moment` as aware UTC; naive values are UTC already (the database's form)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    """Return `moment` as naive UTC, the form every column stores."""
    return _aware(moment).replace(tzinfo=None)


calendars_cli = AppGroup(
    "calendars", help="Consultants' calendars: busy times for the booking page."
)


@calendars_cli.command("sync")
@click.option(
    "--every",
    type=click.FloatRange(min=1),
    default=None,
    metavar="SECONDS",
    help="Sync again every SECONDS until SIGTERM/SIGINT (how `flask serve` runs it).",
)
def sync_command(every: float | None) -> None:
    """Refresh every host's busy blocks for the booking horizon; exit 1 if a calendar failed."""
    if every is not None:
        sync_every(every, StopFlag())
        return
    if sync_pass(quiet=False):
        raise SystemExit(1)


def sync_pass(quiet: bool) -> int:
    """Run one sync of every calendar, report it, and return how many calendars failed.

    `quiet` prints only failures and the total (a line per calendar every few minutes would
    bury `make run`'s log).
    """
    settings = current_app.extensions["calendars"]
    outcomes = sync_all(
        settings.hosts, utcnow(), settings.horizon, settings.sync_timeout, settings.reading
    )
    for outcome in outcomes:
        if outcome.error or not quiet:
            click.echo(_outcome_line(outcome))
    failed = sum(1 for outcome in outcomes if outcome.error)
    click.echo(f"Synced {len(outcomes) - failed} of {len(outcomes)} calendar(s).")
    return failed


def sync_every(seconds: float, stop: StopFlag) -> None:
    """Sync every `seconds` until `stop` is set (by SIGTERM or SIGINT when on the main thread).

    A failing calendar or an unreachable database ends one pass, never the loop: the next
    pass tries again, so recovery needs no restart.
    """
    previous = _route_signals(stop)
    try:
        while not stop():
            try:
                sync_pass(quiet=True)
            except OperationalError as exc:
                db.session.rollback()
                click.echo(f"Calendar sync: database unavailable ({type(exc).__name__})")
            stop.wait(seconds)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _route_signals(stop: StopFlag) -> dict:
    """Route SIGTERM and SIGINT to `stop`; return the previous handlers to restore."""
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {sig: signal.signal(sig, stop.set) for sig in (signal.SIGTERM, signal.SIGINT)}


def _outcome_line(outcome: SourceOutcome) -> str:
    """Return one line of the sync command's report."""
    if outcome.error:
        return f"FAILED {outcome.error}"
    unchanged = " (unchanged)" if outcome.not_modified else ""
    return (
        f"ok     host {outcome.host_id}, {outcome.label}: {outcome.blocks} busy block(s){unchanged}"
    )
