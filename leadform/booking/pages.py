"""The parts of the day-then-time picker: the month grid, a day's times, the time zone list.

Plain functions of plain values (the free slots, a zone, the query string's values), so the
booking page and the manage page show the same picker, and tests compare it with
`slots.available_slots` without HTTP. Query values are parsed strictly: anything that is not
an offered month, a free day or a listed zone is ignored, never an error.
"""

from __future__ import annotations

import re
from calendar import Calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from markupsafe import Markup

from leadform.booking.slots import (
    MONTHS,
    Slot,
    day_label,
    group_by_local_day,
    slot_value,
    timezone_choices,
    utc_offset_label,
    zones_by_country,
)

# A prospect's working day; times outside it are marked, not hidden.
DAY_STARTS, DAY_ENDS = time(8), time(20)
MONTH_PATTERN = re.compile(r"(\d{4})-(\d{2})")
DAY_PATTERN = re.compile(r"\d{4}-\d{2}-\d{2}")
# Accept-Language regions looked at, and zones suggested per region.
MAX_REGIONS, MAX_ZONES_PER_REGION = 3, 6
REGION_PATTERN = re.compile(r"[a-z]{2,3}(?:-[A-Za-z]{4})?-([A-Za-z]{2})\b")
_WEEKS = Calendar(firstweekday=0)


@dataclass(frozen=True)
class DayCell:
    """One day of the month grid: free when it has a bookable time; chosen when shown."""

    day: date
    free: bool
    chosen: bool


@dataclass(frozen=True)
class MonthGrid:
    """One month of the grid, Monday first, with the neighbouring offered months."""

    year: int
    month: int
    weeks: tuple[tuple[DayCell | None, ...], ...]
    previous: str | None
    next: str | None

    @property
    def title(self) -> str:
        """Return e.g. "December 2026"."""
        return f"{MONTHS[self.month - 1]} {self.year}"


@dataclass(frozen=True)
class TimeChoice:
    """One free time in the prospect's zone, with a note when it is early or late for them."""

    value: str
    label: str
    zone: str
    note: str | None
    day: str


@dataclass(frozen=True)
class DayPick:
    """What the picker shows: a month, the chosen day (None when nothing is free) and times."""

    grid: MonthGrid
    day: date | None
    times: tuple[TimeChoice, ...]

    @property
    def title(self) -> str:
        """Return the chosen day's heading, e.g. "Tuesday 8 December 2026"."""
        return day_label(self.day) if self.day else ""


def month_value(year: int, month: int) -> str:
    """Return the query value of a month, e.g. "2026-12"."""
    return f"{year:04d}-{month:02d}"


def parse_month(value: object, months: Sequence[tuple[int, int]]) -> tuple[int, int] | None:
    """Return the offered (year, month) that `value` ("2026-12") names, else None."""
    match = MONTH_PATTERN.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return None
    month = (int(match.group(1)), int(match.group(2)))
    return month if month in months else None


def parse_day(value: object) -> date | None:
    """Return the date `value` ("2026-12-08") names, else None."""
    if not isinstance(value, str) or DAY_PATTERN.fullmatch(value) is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def pick_day(
    free: Iterable[Slot],
    tz: ZoneInfo,
    months: Sequence[tuple[int, int]],
    month_arg: object = None,
    day_arg: object = None,
) -> DayPick:
    """Return the month and day to show for the query values, and that day's times.

    A requested day with free times wins; otherwise the requested month (if offered) or the
    month of the first free day, with its first free day chosen.
    """
    by_day = dict(group_by_local_day(free, tz))
    day = parse_day(day_arg)
    if day not in by_day:
        day = None
    month = (day.year, day.month) if day else parse_month(month_arg, months)
    if month is None:
        first = min(by_day, default=None)
        month = (first.year, first.month) if first else months[0]
    if day is None:
        day = min((d for d in by_day if (d.year, d.month) == month), default=None)
    grid = month_grid(month, months, set(by_day), day)
    times = tuple(time_choice(slot, tz) for slot in by_day.get(day, ()))
    return DayPick(grid=grid, day=day, times=times)


def month_grid(
    month: tuple[int, int], months: Sequence[tuple[int, int]], free: set[date], chosen: date | None
) -> MonthGrid:
    """Return the grid of `month`; `months` are the offered ones, for previous and next."""
    year, number = month
    weeks = tuple(
        tuple(
            DayCell(day, day in free, day == chosen) if day.month == number else None
            for day in week
        )
        for week in _WEEKS.monthdatescalendar(year, number)
    )
    index = months.index(month) if month in months else -1
    previous = month_value(*months[index - 1]) if index > 0 else None
    following = month_value(*months[index + 1]) if 0 <= index < len(months) - 1 else None
    return MonthGrid(year, number, weeks, previous, following)


def time_choice(slot: Slot, tz: ZoneInfo) -> TimeChoice:
    """Return `slot` as the prospect sees it in `tz`, marked when outside 08:00–20:00."""
    start, end = slot.local(tz)
    note = None
    if start.time() < DAY_STARTS:
        note = "early for you"
    elif end.date() > start.date() or end.time() > DAY_ENDS:
        note = "late for you"
    label = f"{start:%H:%M}–{end:%H:%M}"
    return TimeChoice(slot_value(slot), label, end.tzname() or "", note, day_label(start.date()))


# --- The time zone list ---------------------------------------------------------------------


def zone_label(name: str, at: datetime) -> str:
    """Return a readable label: "New York (UTC−5)", "Rio Gallegos, Argentina (UTC−3)"."""
    parts = name.replace("_", " ").split("/")
    place = parts[-1] if len(parts) < 3 else f"{parts[-1]}, {parts[1]}"
    return f"{place} ({utc_offset_label(at.astimezone(ZoneInfo(name)))})"


def likely_zones(accept_language: str | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Return the zones worth listing first: `extra`, then those of Accept-Language's regions.

    "en-US,en;q=0.9" gives New York, Chicago, Denver, Phoenix, Los Angeles...: per region,
    one zone per distinct pair of winter and summer offsets, in zone.tab's order.
    """
    names = list(dict.fromkeys(name for name in extra if name))
    for region in _regions(accept_language or ""):
        names += [name for name in _distinct_zones(region) if name not in names]
    return tuple(names)


def _regions(accept_language: str) -> list[str]:
    """Return up to MAX_REGIONS country codes named by an Accept-Language header."""
    codes = [match.upper() for match in REGION_PATTERN.findall(accept_language[:200])]
    return list(dict.fromkeys(codes))[:MAX_REGIONS]


@lru_cache(maxsize=512)
def _distinct_zones(country: str) -> tuple[str, ...]:
    """Return a country's zones, one per (January offset, July offset), at most a few."""
    seen, picked = set(), []
    for name in zones_by_country().get(country, ()):
        zone = ZoneInfo(name)
        offsets = tuple(datetime(2026, m, 1, tzinfo=zone).utcoffset() for m in (1, 7))
        if offsets not in seen:
            seen.add(offsets)
            picked.append(name)
    return tuple(picked[:MAX_ZONES_PER_REGION])


def zone_options(selected: str, likely: tuple[str, ...], now: datetime) -> Markup:
    """Return the `<optgroup>`s of the zone list: likely zones first, then every zone by area.

    `selected` leads the suggested group and is the one option marked selected (it appears
    again, unmarked, in its area). Offsets are those of the current hour; cached per hour.
    """
    suggested = tuple(dict.fromkeys((selected, *likely)))
    return _zone_options(suggested, now.astimezone(UTC).replace(minute=0, second=0, microsecond=0))


@lru_cache(maxsize=256)
def _zone_options(suggested: tuple[str, ...], hour: datetime) -> Markup:
    # 419 options per page view; the result only depends on the arguments, so it is cached.
    groups: dict[str, list[str]] = {}
    for name in timezone_choices(extra=suggested):
        groups.setdefault(name.split("/")[0] if "/" in name else "Other", []).append(name)
    parts = [_group("Suggested", suggested, hour, selected=suggested[0], sort=False)]
    parts += [_group(area, names, hour) for area, names in groups.items()]
    return Markup("").join(parts)


def _group(
    area: str, names: Iterable[str], hour: datetime, selected: str | None = None, sort=True
) -> Markup:
    """Return one `<optgroup>` of zones, sorted by label unless `sort` is false."""
    labels = [(zone_label(name, hour), name) for name in names]
    if sort:
        labels.sort()
    options = Markup("").join(
        Markup('<option value="{}"{}>{}</option>').format(
            name, Markup(" selected") if name == selected else "", label
        )
        for label, name in labels
    )
    return Markup('<optgroup label="{}">{}</optgroup>').format(area, options)


# --- Calendar links --------------------------------------------------------------------------

GOOGLE_CALENDAR = "https://calendar.google.com/calendar/render"
OUTLOOK_CALENDAR = "https://outlook.office.com/calendar/action/compose"


def calendar_links(title: str, slot: Slot, details: str) -> dict[str, str]:
    """Return {"google": ..., "outlook": ...}: pages that open a new event for `slot`.

    Both take UTC times, so no zone can be misread; the .ics download stays the way for
    every other calendar (and the one whose UID matches the emailed invite).
    """
    start, end = (moment.astimezone(UTC) for moment in (slot.start, slot.end))
    google = {
        "action": "TEMPLATE",
        "text": title,
        "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
        "details": details,
    }
    outlook = {
        "rru": "addevent",
        "subject": title,
        "startdt": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "enddt": f"{end:%Y-%m-%dT%H:%M:%SZ}",
        "body": details,
    }
    return {
        "google": f"{GOOGLE_CALENDAR}?{urlencode(google, quote_via=quote)}",
        "outlook": f"{OUTLOOK_CALENDAR}?{urlencode(outlook, quote_via=quote)}",
    }
