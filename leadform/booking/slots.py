"""The availability engine: which assessment slots a prospect may book.

Everything here is a pure function of plain values: the parsed site.toml, the current time
(always passed in, so results are reproducible) and the active bookings. No Flask, no database.

Times inside the engine are aware UTC datetimes. Bookings may arrive as naive UTC, the form the
database stores; they are read as UTC. Wall-clock times (working hours, blocked dates) belong
to the host's zone and are turned into UTC one day at a time, so that daylight-saving changes
are handled where they happen.
"""

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from importlib import resources
from itertools import groupby
from pathlib import Path
from types import MappingProxyType
from zoneinfo import TZPATH, ZoneInfo, available_timezones

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
# English names by hand: strftime's %A/%B follow the process locale.
DAY_NAMES = tuple(name.capitalize() for name in WEEKDAYS)

REQUIRED_KEYS = (
    "timezone",
    "buffer_minutes",
    "minimum_notice_hours",
    "booking_horizon_days",
    "max_sessions_per_day",
    "hours",
)
OPTIONAL_KEYS = ("blocked_dates",)
WINDOW_PATTERN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
# The longest IANA name is 32 characters; anything far longer is not worth a file lookup.
MAX_ZONE_NAME = 64
ZONE_NAME_PATTERN = re.compile(r"[A-Za-z0-9_+\-]+(/[A-Za-z0-9_+\-]+)*")
# The areas of canonical Area/City names, used only if zone.tab cannot be read.
ZONE_AREAS = frozenset(
    ("Africa", "America", "Antarctica", "Arctic", "Asia", "Atlantic")
    + ("Australia", "Europe", "Indian", "Pacific")
)


class AvailabilityConfigError(ValueError):
    """site.toml's availability settings are wrong; the message starts with the key."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


class SlotUnavailable(Exception):
    """The requested slot cannot be booked; `reason` is a short sentence for the prospect.

    `code` is a stable identifier of the same reason for programs: "not_offered", "too_soon",
    "too_far", "day_full" or "taken".
    """

    def __init__(self, reason: str, code: str):
        self.reason = reason
        self.code = code
        super().__init__(reason)


Window = tuple[time, time]


@dataclass(frozen=True)
class Availability:
    """When the host takes assessment sessions; built by `load_availability`."""

    timezone: ZoneInfo
    weekly_hours: Mapping[int, tuple[Window, ...]]  # weekday 0=Monday; absent = not bookable
    session: timedelta
    buffer: timedelta
    minimum_notice: timedelta
    horizon: timedelta
    max_per_day: int
    blocked_dates: frozenset[date]  # host-local dates


@dataclass(frozen=True, order=True)
class Slot:
    """One bookable session, as aware UTC instants."""

    start: datetime
    end: datetime

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("Slot times must be timezone-aware")
        if self.end <= self.start:
            raise ValueError(f"Slot ends ({self.end}) before it starts ({self.start})")
        # Normalised to UTC so that equal slots also print and serialise alike.
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        object.__setattr__(self, "end", self.end.astimezone(UTC))

    def local(self, tz: ZoneInfo) -> tuple[datetime, datetime]:
        """Return (start, end) as wall-clock times in zone `tz`."""
        return self.start.astimezone(tz), self.end.astimezone(tz)


# --- Loading site.toml -------------------------------------------------------------------


def load_availability(site: Mapping) -> Availability:
    """Build an Availability from the parsed site.toml, validating every setting.

    Raises AvailabilityConfigError naming the offending key, e.g.
    "availability.hours.monday: '9-17' is not HH:MM-HH:MM".
    """
    section = _section(site, "availability")
    _check_keys(section)
    session = timedelta(minutes=_number(_section(site, "assessment"), "assessment", "minutes"))
    return Availability(
        timezone=_zone(section["timezone"]),
        weekly_hours=_weekly_hours(section["hours"], session),
        session=session,
        buffer=timedelta(minutes=_number(section, "availability", "buffer_minutes", minimum=0)),
        minimum_notice=timedelta(
            hours=_number(section, "availability", "minimum_notice_hours", minimum=0)
        ),
        horizon=timedelta(days=_number(section, "availability", "booking_horizon_days")),
        max_per_day=_number(section, "availability", "max_sessions_per_day"),
        blocked_dates=_blocked_dates(section.get("blocked_dates", [])),
    )


def _section(site: Mapping, name: str) -> Mapping:
    """Return table `name` of site.toml, or fail saying it is missing."""
    value = site.get(name)
    if not isinstance(value, Mapping):
        raise AvailabilityConfigError(name, "missing table (see site.toml)")
    return value


def _check_keys(section: Mapping) -> None:
    """Fail on missing keys, and on unknown ones, which are usually typos."""
    for key in REQUIRED_KEYS:
        if key not in section:
            raise AvailabilityConfigError(f"availability.{key}", "missing")
    for key in section:
        if key not in REQUIRED_KEYS + OPTIONAL_KEYS:
            known = ", ".join(REQUIRED_KEYS + OPTIONAL_KEYS)
            raise AvailabilityConfigError(f"availability.{key}", f"unknown key (known: {known})")


def _number(table: Mapping, prefix: str, key: str, minimum: int = 1) -> int:
    """Return integer `table[key]`, at least `minimum`."""
    name = f"{prefix}.{key}"
    if key not in table:
        raise AvailabilityConfigError(name, "missing")
    value = table[key]
    # bool is an int subclass, but `true` is never a meant number.
    if isinstance(value, bool) or not isinstance(value, int):
        raise AvailabilityConfigError(name, f"{value!r} is not a whole number")
    if value < minimum:
        raise AvailabilityConfigError(name, f"{value} must be at least {minimum}")
    return value


def _zone(name: object) -> ZoneInfo:
    """Return the host's zone, which must be a valid IANA name."""
    if not isinstance(name, str) or name not in _known_zone_names():
        raise AvailabilityConfigError(
            "availability.timezone", f"{name!r} is not an IANA time zone (e.g. 'Europe/London')"
        )
    return ZoneInfo(name)


def _weekly_hours(hours: object, session: timedelta) -> Mapping[int, tuple[Window, ...]]:
    """Return weekday -> sorted windows from the [availability.hours] table."""
    if not isinstance(hours, Mapping):
        raise AvailabilityConfigError("availability.hours", "must be a table of weekdays")
    weekly = {}
    for day, windows in hours.items():
        key = f"availability.hours.{day}"
        if day not in WEEKDAYS:
            raise AvailabilityConfigError(key, f"unknown weekday (use {', '.join(WEEKDAYS)})")
        if not isinstance(windows, list):
            raise AvailabilityConfigError(key, 'must be a list such as ["09:00-17:00"]')
        parsed = sorted(_window(key, text, session) for text in windows)
        _check_no_overlap(key, parsed)
        if parsed:
            weekly[WEEKDAYS.index(day)] = tuple(parsed)
    if not weekly:
        raise AvailabilityConfigError("availability.hours", "no day has bookable hours")
    return MappingProxyType(weekly)


def _window(key: str, text: object, session: timedelta) -> Window:
    """Parse one "HH:MM-HH:MM" window that can hold at least one session."""
    match = WINDOW_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise AvailabilityConfigError(key, f"{text!r} is not HH:MM-HH:MM (e.g. '09:00-17:00')")
    start_h, start_m, end_h, end_m = (int(part) for part in match.groups())
    start, end = time(start_h, start_m), time(end_h, end_m)
    if end <= start:
        raise AvailabilityConfigError(key, f"{text!r} ends before it starts")
    length = datetime.combine(date.min, end) - datetime.combine(date.min, start)
    if length < session:
        minutes = int(session.total_seconds() // 60)
        raise AvailabilityConfigError(key, f"{text!r} is shorter than a {minutes}-minute session")
    return start, end


def _check_no_overlap(key: str, windows: list[Window]) -> None:
    """Fail if two windows of one day overlap (touching is fine)."""
    for (_, previous_end), (start, end) in zip(windows, windows[1:], strict=False):
        if start < previous_end:
            raise AvailabilityConfigError(
                key, f"windows overlap around {start:%H:%M}-{min(end, previous_end):%H:%M}"
            )


def _blocked_dates(values: object) -> frozenset[date]:
    """Parse the blocked dates: ISO strings, or TOML dates written without quotes."""
    key = "availability.blocked_dates"
    if not isinstance(values, list):
        raise AvailabilityConfigError(key, 'must be a list such as ["2026-12-25"]')
    dates = set()
    for value in values:
        # datetime is a date subclass, but a time of day makes no sense here.
        if isinstance(value, date) and not isinstance(value, datetime):
            dates.add(value)
            continue
        try:
            dates.add(date.fromisoformat(value))
        except (TypeError, ValueError):
            raise AvailabilityConfigError(key, f"{value!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(dates)


# --- The engine ----------------------------------------------------------------------------


def available_slots(
    av: Availability, now: datetime, booked: Iterable[tuple[datetime, datetime]]
) -> list[Slot]:
    """Return the free slots, sorted, from now + minimum notice up to now + horizon.

    `booked` holds (start, end) of active bookings, aware or naive UTC. A naive `now` is also
    read as UTC.
    """
    now = _as_utc(now)
    bookings = [(_as_utc(start), _as_utc(end)) for start, end in booked]
    full_days = _full_days(av, bookings)
    return [
        slot
        for day in _days(av, now)
        if day not in full_days
        for slot in day_slots(av, day)
        if _bookable_window(av, now, slot) is None and not _taken(av, slot, bookings)
    ]


def check_slot(
    av: Availability, start: datetime, now: datetime, booked: Iterable[tuple[datetime, datetime]]
) -> Slot:
    """Return the free slot starting at `start`, or raise SlotUnavailable saying why not.

    Gives the same answer as looking `start` up in `available_slots(av, now, booked)`.
    """
    slot = bookable_slot(av, start, now)
    check_free(av, slot, booked)
    return slot


def bookable_slot(av: Availability, start: datetime, now: datetime) -> Slot:
    """Return the offered slot starting at `start` if it may be booked at `now`, else raise.

    The half of `check_slot` that looks at no booking: SlotUnavailable's code is
    "not_offered", "too_soon" or "too_far".
    """
    start, now = _as_utc(start), _as_utc(now)
    day = start.astimezone(av.timezone).date()
    slot = next((slot for slot in day_slots(av, day) if slot.start == start), None)
    if slot is None:
        raise SlotUnavailable("not one of the offered times", "not_offered")
    problem = _bookable_window(av, now, slot)
    if problem is not None:
        raise problem
    return slot


def check_free(av: Availability, slot: Slot, booked: Iterable[tuple[datetime, datetime]]) -> None:
    """Raise SlotUnavailable ("day_full" or "taken") unless `booked` leaves `slot` free.

    The other half of `check_slot`. Only bookings overlapping `check_span(av, slot)` can
    change its answer, so those are all a caller needs to read.
    """
    bookings = [(_as_utc(b_start), _as_utc(b_end)) for b_start, b_end in booked]
    if slot.start.astimezone(av.timezone).date() in _full_days(av, bookings):
        raise SlotUnavailable("that day is fully booked", "day_full")
    if _taken(av, slot, bookings):
        raise SlotUnavailable("that time was just taken", "taken")


def check_span(av: Availability, slot: Slot) -> tuple[datetime, datetime]:
    """Return the aware-UTC span [since, until) holding every booking `check_free` weighs.

    Checking `slot` looks at two kinds of booking: those overlapping the slot widened by the
    buffer, and those starting on the slot's host-local day (the daily cap). Both overlap
    this span, so `check_free` given only the bookings that overlap it answers exactly as it
    would given all of them; a reservation then reads a few rows, not the whole calendar.
    """
    day = slot.start.astimezone(av.timezone).date()
    # A clock change can skip or repeat midnight: the earliest reading of this midnight and
    # the latest of the next one keep the whole local day inside the span.
    day_start = _earliest_instant(day, time(0), av.timezone)
    day_end = _latest_instant(day + timedelta(days=1), time(0), av.timezone)
    return min(day_start, slot.start - av.buffer), max(day_end, slot.end + av.buffer)


def day_slots(av: Availability, day: date) -> list[Slot]:
    """Return every slot the weekly hours give on host-local date `day`, booked or not.

    Starts step by session + buffer in wall-clock time from each window's start. A start the
    clock skips (spring forward) is left out; a repeated one (autumn) means its first
    occurrence. Ends are computed in UTC, so every session lasts exactly `av.session`.
    """
    if day in av.blocked_dates:
        return []
    slots: list[Slot] = []
    for window_start, window_end in av.weekly_hours.get(day.weekday(), ()):
        limit = _earliest_instant(day, window_end, av.timezone)
        for wall in _wall_starts(av, day, window_start, window_end):
            start = _existing_instant(day, wall, av.timezone)
            if start is None or start + av.session > limit:
                continue
            # Across a spring-forward jump the wall-clock grid can land inside the previous
            # session; the real-time gap must hold the buffer too.
            if slots and start < slots[-1].end + av.buffer:
                continue
            slots.append(Slot(start, start + av.session))
    return slots


def _wall_starts(av: Availability, day: date, start: time, end: time) -> Iterator[time]:
    """Yield wall-clock candidate starts within one window, before DST is considered."""
    wall = datetime.combine(day, start)
    step = av.session + av.buffer
    while wall + av.session <= datetime.combine(day, end):
        yield wall.time()
        wall += step


def _existing_instant(day: date, wall: time, tz: ZoneInfo) -> datetime | None:
    """Return the UTC instant of local `day` `wall`, or None if the clock skips that time.

    zoneinfo happily accepts a skipped time, so existence is checked by a round trip.
    """
    local = datetime.combine(day, wall, tzinfo=tz)  # fold=0: the first of a repeated time
    instant = local.astimezone(UTC)
    if instant.astimezone(tz).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return instant


def _earliest_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Return the earliest UTC instant the host's clock could read `wall` on `day`.

    Used for window ends: a session must be over by the time the clock first shows the end,
    whether that time is repeated (autumn) or skipped (spring).
    """
    local = datetime.combine(day, wall, tzinfo=tz)
    return min(local.astimezone(UTC), local.replace(fold=1).astimezone(UTC))


def _latest_instant(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """Return the latest UTC instant the host's clock could read `wall` on `day`."""
    local = datetime.combine(day, wall, tzinfo=tz)
    return max(local.astimezone(UTC), local.replace(fold=1).astimezone(UTC))


def _days(av: Availability, now: datetime) -> Iterator[date]:
    """Yield the host-local dates that may hold a bookable slot."""
    day = (now + av.minimum_notice).astimezone(av.timezone).date()
    last = (now + av.horizon).astimezone(av.timezone).date()
    while day <= last:
        yield day
        day += timedelta(days=1)


def _bookable_window(av: Availability, now: datetime, slot: Slot) -> SlotUnavailable | None:
    """Return why `slot` is too soon or too far ahead at `now`, or None if neither."""
    if slot.start < now + av.minimum_notice:
        hours = av.minimum_notice.total_seconds() / 3600
        return SlotUnavailable(f"too soon: bookings need {hours:g} hours' notice", "too_soon")
    if slot.start > now + av.horizon:
        return SlotUnavailable(
            f"too far ahead: bookings open {av.horizon.days} days in advance", "too_far"
        )
    return None


def _full_days(av: Availability, bookings: list[tuple[datetime, datetime]]) -> set[date]:
    """Return the host-local dates that already hold max_per_day bookings."""
    counts: dict[date, int] = {}
    for start, _ in bookings:
        day = start.astimezone(av.timezone).date()
        counts[day] = counts.get(day, 0) + 1
    return {day for day, count in counts.items() if count >= av.max_per_day}


def _taken(av: Availability, slot: Slot, bookings: list[tuple[datetime, datetime]]) -> bool:
    """Tell whether `slot` overlaps a booking widened by the buffer on both sides."""
    return any(
        slot.start < end + av.buffer and start - av.buffer < slot.end for start, end in bookings
    )


def _as_utc(moment: datetime) -> datetime:
    """Return `moment` as aware UTC; naive values are UTC already (the database's form)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


# --- Form values and display ---------------------------------------------------------------


def parse_slot_value(value: str) -> datetime:
    """Parse a form's slot value (ISO 8601 with a zone, e.g. "2026-12-08T14:00:00Z").

    Returns an aware UTC datetime; raises ValueError with a readable message otherwise.
    """
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    problem = f"{shown} is not a slot time such as 2026-12-08T14:00:00Z"
    # The length cap keeps arbitrary user input away from the parser.
    if not isinstance(value, str) or len(value) > 40:
        raise ValueError(problem)
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(problem) from None
    if moment.tzinfo is None:
        raise ValueError(f"{shown} has no time zone; slot times end in Z (UTC)")
    return moment.astimezone(UTC)


def slot_value(slot: Slot) -> str:
    """Return the form value for `slot`, which `parse_slot_value` reads back."""
    return slot.start.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def group_by_local_day(slots: Iterable[Slot], tz: ZoneInfo) -> list[tuple[date, list[Slot]]]:
    """Group slots by their start's date in zone `tz` (the prospect's), in time order."""
    return [
        (day, list(group))
        for day, group in groupby(sorted(slots), key=lambda slot: slot.start.astimezone(tz).date())
    ]


def format_range(slot: Slot, tz: ZoneInfo) -> str:
    """Describe `slot` in zone `tz`, e.g. "Tuesday 8 December 2026, 14:00–15:30 GMT".

    The end's date is shown when it falls on another local day, and each end gets its own
    zone label when a clock change falls inside the session.
    """
    start, end = slot.local(tz)
    start_label, end_label = _zone_label(start), _zone_label(end)
    first = f"{_long_date(start)}, {start:%H:%M}"
    if start_label != end_label:
        first += f" {start_label}"
    last = f"{end:%H:%M} {end_label}"
    if end.date() != start.date():
        last = f"{_long_date(end)}, {last}"
    return f"{first}–{last}"


def _long_date(moment: datetime) -> str:
    """Return e.g. "Tuesday 8 December 2026", independent of the process locale."""
    return f"{DAY_NAMES[moment.weekday()]} {moment.day} {MONTHS[moment.month - 1]} {moment.year}"


def _zone_label(moment: datetime) -> str:
    """Return the zone abbreviation ("GMT", "EDT"), or "UTC+5:45" when it has no letters."""
    name = moment.tzname() or ""
    if any(char.isalpha() for char in name):
        return name
    minutes = int(moment.utcoffset().total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


# --- Time zones ----------------------------------------------------------------------------


def timezone_choices(extra: Iterable[str] = ()) -> list[str]:
    """Return sorted IANA zone names worth offering to a prospect.

    Canonical Area/City names (those of zone.tab, so no "Etc/", "US/Eastern" or other legacy
    aliases), plus "UTC" and the valid names of `extra` (such as the host's zone or the one a
    prospect already chose); invalid `extra` names are left out.
    """
    names = set(_canonical_zone_names()) | {"UTC"}
    names.update(name for name in extra if isinstance(name, str) and _is_zone_name(name))
    return sorted(names)


def is_zone_choice(name: object, extra: Iterable[str] = ()) -> bool:
    """Tell whether `name` is one of `timezone_choices(extra)`, without building the list."""
    if not isinstance(name, str):
        return False
    if name == "UTC" or name in _canonical_zone_names():
        return True
    return name in extra and _is_zone_name(name)


def resolve_timezone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """Return the zone called `name` if it is a valid IANA name, else `default`; never raises."""
    if isinstance(name, str) and _is_zone_name(name.strip()):
        return ZoneInfo(name.strip())
    return default


def _is_zone_name(name: str) -> bool:
    """Tell whether `name` is a zone we accept, without touching the file system for junk."""
    return (
        0 < len(name) <= MAX_ZONE_NAME
        and ZONE_NAME_PATTERN.fullmatch(name) is not None
        and name in _known_zone_names()
    )


@lru_cache(maxsize=1)
def _known_zone_names() -> frozenset[str]:
    """Return every valid zone name, minus files that are not civil time zones."""
    return frozenset(
        name
        for name in available_timezones()
        if name not in {"localtime", "Factory"} and not name.startswith(("posix/", "right/"))
    )


@lru_cache(maxsize=1)
def _canonical_zone_names() -> frozenset[str]:
    """Return the canonical Area/City names: zone.tab's entries that this system knows.

    zone.tab lists one line per zone in current use (Europe/Amsterdam included, Asia/Calcutta
    not); if it cannot be read, fall back to the Area/ prefix alone.
    """
    known = _known_zone_names()
    table = _read_zone_tab()
    if table is None:
        return frozenset(name for name in known if name.split("/")[0] in ZONE_AREAS)
    names = (line.split("\t")[2] for line in table.splitlines() if line and line[0] != "#")
    return frozenset(names) & known


def _read_zone_tab() -> str | None:
    """Return the text of zone.tab from the tzdata package or the system, if any."""
    try:
        return resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text("utf-8")
    except (ModuleNotFoundError, OSError):
        pass
    for folder in TZPATH:
        path = Path(folder) / "zone.tab"
        if path.is_file():
            return path.read_text("utf-8")
    return None


def day_label(day: date) -> str:
    """Return e.g. "Tuesday 8 December 2026", the heading of a day's times."""
    return f"{DAY_NAMES[day.weekday()]} {day.day} {MONTHS[day.month - 1]} {day.year}"


def time_label(slot: Slot, tz: ZoneInfo) -> str:
    """Return e.g. "14:00–15:30 GMT" for a slot shown under its day's heading."""
    start, end = slot.local(tz)
    return f"{start:%H:%M}–{end:%H:%M} {end.tzname()}"


def choices_by_day(slots: Iterable[Slot], tz: ZoneInfo) -> list[dict]:
    """Return slots as days in `tz`, each {"label", "slots": [(value, time label), ...]}.

    The booking form and the manage page both show free times this way.
    """
    return [
        {"label": day_label(day), "slots": [(slot_value(s), time_label(s, tz)) for s in day_slots]}
        for day, day_slots in group_by_local_day(slots, tz)
    ]


# --- Months, offsets and countries, for the day-then-time picker ---------------------------


def offered_months(av: Availability, now: datetime, tz: ZoneInfo) -> list[tuple[int, int]]:
    """Return the (year, month)s in zone `tz` that can hold a bookable slot at `now`.

    From the month of the earliest bookable instant (now + notice) to that of the latest
    (now + horizon), both read in `tz`; a month beyond the horizon is never offered.
    """
    first = (_as_utc(now) + av.minimum_notice).astimezone(tz).date()
    last = (_as_utc(now) + av.horizon).astimezone(tz).date()
    months = []
    year, month = first.year, first.month
    while (year, month) <= (last.year, last.month):
        months.append((year, month))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return months


def utc_offset_label(moment: datetime) -> str:
    """Return the UTC offset of aware `moment` as "UTC", "UTC+1", "UTC−5" or "UTC+5:30"."""
    minutes = int(moment.utcoffset().total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    # U+2212, the minus sign, reads better than a hyphen next to a number.
    sign = "\u2212" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


@lru_cache(maxsize=1)
def zones_by_country() -> Mapping[str, tuple[str, ...]]:
    """Return ISO 3166 country code -> its canonical zones, in zone.tab's order.

    zone.tab lists a country's most populous zone first (America/New_York for US); empty
    when zone.tab cannot be read.
    """
    table = _read_zone_tab() or ""
    known = _known_zone_names()
    countries: dict[str, list[str]] = {}
    for line in table.splitlines():
        if line and line[0] != "#":
            code, _, name = line.split("\t")[:3]
            if name in known:
                countries.setdefault(code, []).append(name)
    return MappingProxyType({code: tuple(names) for code, names in countries.items()})
