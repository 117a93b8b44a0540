"""How the hosts' calendars are doing: for the desk's calendars page and for /readyz.

`host_overviews` gives, per host, each calendar's last good sync and last error and the
stored busy blocks of a window (what the booking page is working from). `check_ready` is
the "calendars" check of /readyz: it fails when a calendar has had no good sync for longer
than READY_MAX_CALENDAR_FAILING_MINUTES, whether its server fails or the sync stopped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from leadform.calendars.busy import Interval, merge
from leadform.calendars.hosts import CalendarSource, Host
from leadform.calendars.models import BusyBlock, CalendarSourceState
from leadform.calendars.services import CalendarSettings, HostBusy, busy_for, current_settings
from leadform.db import db
from leadform.health import CheckFailed
from leadform.models import utcnow


@dataclass(frozen=True)
class SourceStatus:
    """One calendar of one host as the last syncs left it (times naive UTC, None: never)."""

    host_id: str
    label: str
    kind: str  # "caldav" or "ics"
    last_good_at: datetime | None
    last_attempt_at: datetime | None
    last_error: str | None
    failing_since: datetime | None

    def good_until(self) -> datetime | None:
        """Return its last good sync, else its first failure (None: never tried yet)."""
        return self.last_good_at or self.failing_since


@dataclass(frozen=True)
class HostOverview:
    """One host on the desk: their calendars, busy blocks, and whether times are offered."""

    host: Host
    sources: tuple[SourceStatus, ...]
    blocks: tuple[Interval, ...]  # merged, aware UTC, from the last good syncs
    busy: HostBusy  # what the booking page gets now (unavailable: why no times are offered)


def source_statuses(host: Host) -> list[SourceStatus]:
    """Return the status of each of the host's calendars, in site.toml's order."""
    rows = {
        row.source_key: row
        for row in db.session.scalars(
            select(CalendarSourceState).where(CalendarSourceState.host_id == host.id)
        )
    }
    return [_status(source, rows.get(source.key)) for source in host.sources]


def _status(source: CalendarSource, row: CalendarSourceState | None) -> SourceStatus:
    """Return one calendar's status; a calendar never synced has no times."""
    return SourceStatus(
        host_id=source.host_id,
        label=source.label,
        kind=source.kind,
        last_good_at=row.last_good_at if row else None,
        last_attempt_at=row.last_attempt_at if row else None,
        last_error=row.last_error if row else None,
        failing_since=row.failing_since if row else None,
    )


def stored_blocks(host_id: str, start: datetime, end: datetime) -> list[Interval]:
    """Return the host's stored busy blocks overlapping aware [start, end), merged."""
    rows = db.session.execute(
        select(BusyBlock.starts_at, BusyBlock.ends_at).where(
            BusyBlock.host_id == host_id,
            BusyBlock.starts_at < _naive(end),
            BusyBlock.ends_at > _naive(start),
        )
    )
    return merge(Interval(_aware(row.starts_at), _aware(row.ends_at)) for row in rows)


def host_overviews(
    start: datetime, end: datetime, now: datetime, settings: CalendarSettings | None = None
) -> list[HostOverview]:
    """Return every host's overview for aware [start, end), in site.toml's order."""
    settings = settings or current_settings()
    hosts = list(settings.hosts.hosts.values())
    busy = busy_for([host.id for host in hosts], start, end, now, settings)
    return [
        HostOverview(
            host=host,
            sources=tuple(source_statuses(host)),
            blocks=tuple(stored_blocks(host.id, start, end)),
            busy=busy[host.id],
        )
        for host in hosts
    ]


def failing_sources(now: datetime, limit: timedelta) -> list[SourceStatus]:
    """Return the configured calendars with no good sync for longer than `limit`."""
    hosts = current_settings().hosts.hosts.values()
    statuses = [status for host in hosts for status in source_statuses(host)]
    cutoff = _naive(now) - limit
    return [
        status
        for status in statuses
        if (since := status.good_until()) is not None and since < cutoff
    ]


def check_ready(connection) -> None:
    """The /readyz check: fail naming each calendar without a good sync for too long."""
    minutes = int(current_app.config["READY_MAX_CALENDAR_FAILING_MINUTES"])
    failing = failing_sources(utcnow(), timedelta(minutes=minutes))
    if failing:
        names = "; ".join(f"host {status.host_id}, {status.label}" for status in failing)
        raise CheckFailed(
            f"{len(failing)} calendar(s) without a good sync for more than {minutes} min: "
            f"{names} (see /admin/calendars; is `flask calendars sync` running?)"
        )


def _aware(moment: datetime) -> datetime:
    """Return `moment` as aware UTC; naive values are UTC already (the database's form)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _naive(moment: datetime) -> datetime:
    """Return `moment` as naive UTC, the form every column stores."""
    return _aware(moment).replace(tzinfo=None)
