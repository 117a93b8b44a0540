"""The consultants who host the assessment, read from site.toml's [hosts] and [assignment].

Each host has a time zone, optional weekly hours (in that zone) and the calendars that hold
their busy times: CalDAV accounts and ICS feed addresses. Secrets never live in site.toml: a
CalDAV password, and an ICS address when it is a secret link, are named there by an
environment variable (`LEADFORM_CALENDAR_SECRET_...`), whose value arrives through app.config.

No [hosts] table means today's single-host setup: `HostsConfig.enabled` is False and the
booking wing keeps using [availability] alone.
"""

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from types import MappingProxyType
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WINDOW_PATTERN = re.compile(r"([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-3]):([0-5]\d)")
HOST_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")
# Only LEADFORM_* variables configure the service (docs/configuration.md); this prefix keeps
# calendar secrets recognisable and is how leadform.config collects them.
SECRET_PREFIX = "LEADFORM_CALENDAR_SECRET_"  # noqa: S105 - a name prefix, no secret
SECRET_NAME_PATTERN = re.compile(re.escape(SECRET_PREFIX) + r"[A-Z0-9_]+")
HOST_KEYS = ("name", "email", "timezone", "hours", "calendars", "aliases")
CALDAV_KEYS = (
    "type",
    "label",
    "url",
    "username",
    "password_env",
    "calendars",
    "all_day_events",
    "write_to",
)
FEED_KEYS = ("type", "label", "url", "url_env", "all_day_events")
# "busy": an all-day event blocks its day even when marked free (the default, see busy.py);
# "as_marked": it follows its TRANSP like any other event.
ALL_DAY_CHOICES = ("busy", "as_marked")
ASSIGNMENT_RULES = ("collective", "round_robin")

Window = tuple[time, time]


class HostsConfigError(ValueError):
    """site.toml's [hosts] or [assignment] is wrong; the message starts with the key."""

    def __init__(self, key: str, problem: str):
        self.key = key
        self.problem = problem
        super().__init__(f"{key}: {problem}")


@dataclass(frozen=True)
class CalDAVSource:
    """A CalDAV account (Nextcloud, iCloud, Fastmail, Radicale...) read for busy times."""

    host_id: str
    key: str  # stable identity of this source, kept in the sync-state table
    label: str  # shown to operators and in errors; never holds a secret
    url: str
    username: str
    password: str = field(repr=False)
    calendar_names: tuple[str, ...] = ()  # empty: every calendar of the account
    all_day_busy: bool = True
    # Where bookings are written (leadform.calendars.writeback): this calendar, else the
    # first of `calendar_names`, else the account's first calendar that holds events.
    write_to: str | None = None

    kind = "caldav"


@dataclass(frozen=True)
class FeedSource:
    """An ICS feed address (Google's, Outlook's or iCloud's secret link) read for busy times."""

    host_id: str
    key: str
    label: str
    url: str = field(repr=False)  # often a secret: a read link anyone holding it may use
    all_day_busy: bool = True

    kind = "ics"


CalendarSource = CalDAVSource | FeedSource


@dataclass(frozen=True)
class Host:
    """One consultant: who they are, where their clock is, when they work, their calendars."""

    id: str
    name: str
    email: str
    timezone: ZoneInfo
    # weekday 0=Monday -> windows; None: whenever [availability] offers times
    weekly_hours: Mapping[int, tuple[Window, ...]] | None
    sources: tuple[CalendarSource, ...]
    aliases: tuple[str, ...] = ()

    @property
    def addresses(self) -> frozenset[str]:
        """Return the host's email addresses, lower case (to find their own PARTSTAT)."""
        return frozenset(address.lower() for address in (self.email, *self.aliases))

    def works_during(self, start: datetime, end: datetime) -> bool:
        """Tell whether aware [start, end) lies inside one of the host's weekly windows.

        A host without weekly hours works whenever the firm offers times.
        """
        if self.weekly_hours is None:
            return True
        local_start, local_end = start.astimezone(self.timezone), end.astimezone(self.timezone)
        if local_end.date() != local_start.date():
            return False  # a session across the host's midnight fits no daily window
        windows = self.weekly_hours.get(local_start.weekday(), ())
        start_time, end_time = local_start.time(), local_end.time()
        return any(w_start <= start_time and end_time <= w_end for w_start, w_end in windows)


@dataclass(frozen=True)
class Assignment:
    """Who attends a session: all of `host_ids` (collective) or `count` of them (round robin)."""

    rule: str
    host_ids: tuple[str, ...]
    count: int


@dataclass(frozen=True)
class HostsConfig:
    """The hosts of site.toml and the assessment's assignment rule."""

    hosts: Mapping[str, Host]
    assignment: Assignment | None

    @property
    def enabled(self) -> bool:
        """Tell whether site.toml names hosts (otherwise: today's single-host setup)."""
        return bool(self.hosts)

    def sources(self) -> list[CalendarSource]:
        """Return every calendar source of every host, in site.toml's order."""
        return [source for host in self.hosts.values() for source in host.sources]


NO_HOSTS = HostsConfig(hosts=MappingProxyType({}), assignment=None)


def load_hosts(site: Mapping, secrets: Mapping[str, str]) -> HostsConfig:
    """Build the HostsConfig from parsed site.toml and the calendar secrets of app.config.

    Raises HostsConfigError naming the offending key, e.g.
    "hosts.ada.calendars[1].password_env: LEADFORM_CALENDAR_SECRET_ADA is not set".
    """
    table = site.get("hosts")
    if table is None:
        if "assignment" in site:
            raise HostsConfigError("assignment", "needs a [hosts] table naming the hosts")
        return NO_HOSTS
    if not isinstance(table, Mapping) or not table:
        raise HostsConfigError("hosts", "must hold one table per host, e.g. [hosts.ada]")
    hosts = {host_id: _host(host_id, value, secrets) for host_id, value in table.items()}
    assignment = _assignment(site.get("assignment"), hosts)
    return HostsConfig(hosts=MappingProxyType(hosts), assignment=assignment)


def _host(host_id: str, table: object, secrets: Mapping[str, str]) -> Host:
    """Parse one [hosts.<id>] table."""
    key = f"hosts.{host_id}"
    if not HOST_ID_PATTERN.fullmatch(host_id):
        raise HostsConfigError(key, "a host id is lower case letters, digits, _ or - (e.g. ada)")
    if not isinstance(table, Mapping):
        raise HostsConfigError(key, "must be a table")
    _check_keys(key, table, HOST_KEYS, required=("name", "email", "timezone"))
    calendars = table.get("calendars", [])
    if not isinstance(calendars, list):
        raise HostsConfigError(f"{key}.calendars", "must be a list of [[...calendars]] tables")
    return Host(
        id=host_id,
        name=_text(f"{key}.name", table["name"]),
        email=_email(f"{key}.email", table["email"]),
        timezone=_zone(f"{key}.timezone", table["timezone"]),
        weekly_hours=_weekly_hours(f"{key}.hours", table["hours"]) if "hours" in table else None,
        sources=_sources(host_id, calendars, secrets),
        aliases=tuple(_email(f"{key}.aliases", a) for a in _list(f"{key}.aliases", table)),
    )


def _sources(host_id: str, calendars: list, secrets: Mapping[str, str]) -> tuple:
    """Parse a host's [[hosts.<id>.calendars]] tables; two alike are a mistake."""
    sources = [
        _source(f"hosts.{host_id}.calendars[{index}]", host_id, value, secrets)
        for index, value in enumerate(calendars)
    ]
    seen: set[str] = set()
    for index, source in enumerate(sources):
        if source.key in seen:
            raise HostsConfigError(f"hosts.{host_id}.calendars[{index}]", "listed twice")
        seen.add(source.key)
    return tuple(sources)


def _source(key: str, host_id: str, table: object, secrets: Mapping[str, str]):
    """Parse one calendar source table: type = "caldav" or "ics"."""
    if not isinstance(table, Mapping):
        raise HostsConfigError(key, "must be a table")
    kind = table.get("type")
    if kind == "caldav":
        return _caldav_source(key, host_id, table, secrets)
    if kind == "ics":
        return _feed_source(key, host_id, table, secrets)
    raise HostsConfigError(f"{key}.type", f'{kind!r} must be "caldav" or "ics"')


def _caldav_source(key: str, host_id: str, table: Mapping, secrets: Mapping) -> CalDAVSource:
    """Parse a CalDAV account: url, username, password_env and optional calendar names."""
    _check_keys(key, table, CALDAV_KEYS, required=("url", "username", "password_env"))
    url = _http_url(f"{key}.url", table["url"])
    username = _text(f"{key}.username", table["username"])
    names = tuple(_text(f"{key}.calendars", n) for n in _list(f"{key}.calendars", table))
    label = table.get("label") or f"CalDAV {username} at {urlsplit(url).hostname}"
    return CalDAVSource(
        host_id=host_id,
        key=_source_key("caldav", url, username, *names),
        label=_text(f"{key}.label", label),
        url=url,
        username=username,
        password=_secret(f"{key}.password_env", table["password_env"], secrets),
        calendar_names=names,
        all_day_busy=_all_day_busy(key, table),
        write_to=_text(f"{key}.write_to", table["write_to"]) if "write_to" in table else None,
    )


def _feed_source(key: str, host_id: str, table: Mapping, secrets: Mapping) -> FeedSource:
    """Parse an ICS feed: `url` in site.toml, or `url_env` naming a secret address."""
    _check_keys(key, table, FEED_KEYS, required=())
    if ("url" in table) == ("url_env" in table):
        raise HostsConfigError(key, "give either url or url_env (for a secret address)")
    if "url" in table:
        url, identity = _http_url(f"{key}.url", table["url"]), table["url"]
    else:
        url = _http_url(f"{key}.url_env", _secret(f"{key}.url_env", table["url_env"], secrets))
        identity = table["url_env"]  # the key must not be derived from the secret itself
    label = table.get("label") or f"ICS feed at {urlsplit(url).hostname}"
    return FeedSource(
        host_id=host_id,
        key=_source_key("ics", identity),
        label=_text(f"{key}.label", label),
        url=url,
        all_day_busy=_all_day_busy(key, table),
    )


def _all_day_busy(key: str, table: Mapping) -> bool:
    """Read `all_day_events`: "busy" (the default) or "as_marked"."""
    value = table.get("all_day_events", "busy")
    if value not in ALL_DAY_CHOICES:
        raise HostsConfigError(f"{key}.all_day_events", f'{value!r} must be "busy" or "as_marked"')
    return value == "busy"


def _source_key(*parts: str) -> str:
    """Return a short stable key for a source: the same settings give the same key.

    Reordering a host's calendars in site.toml keeps each one's sync state.
    """
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def _assignment(table: object, hosts: Mapping[str, Host]) -> Assignment:
    """Parse [assignment]; without it every host attends (collective)."""
    if table is None:
        return Assignment(rule="collective", host_ids=tuple(hosts), count=len(hosts))
    if not isinstance(table, Mapping):
        raise HostsConfigError("assignment", "must be a table")
    _check_keys("assignment", table, ("rule", "hosts", "count"), required=("rule", "hosts"))
    rule = table["rule"]
    if rule not in ASSIGNMENT_RULES:
        raise HostsConfigError("assignment.rule", f'{rule!r} must be "collective" or "round_robin"')
    host_ids = tuple(_list("assignment.hosts", table))
    if not host_ids:
        raise HostsConfigError("assignment.hosts", "must name at least one host")
    for host_id in host_ids:
        if host_id not in hosts:
            raise HostsConfigError("assignment.hosts", f"{host_id!r} is not a [hosts.…] table")
    if len(set(host_ids)) != len(host_ids):
        raise HostsConfigError("assignment.hosts", "names a host twice")
    return Assignment(rule=rule, host_ids=host_ids, count=_count(table, rule, len(host_ids)))


def _count(table: Mapping, rule: str, pool: int) -> int:
    """Return how many hosts attend: all for collective, `count` (1..pool) for round robin."""
    if rule == "collective":
        if "count" in table:
            raise HostsConfigError("assignment.count", "only for round_robin (collective: all)")
        return pool
    count = table.get("count")
    if isinstance(count, bool) or not isinstance(count, int):
        raise HostsConfigError("assignment.count", f"{count!r} is not a whole number")
    if not 1 <= count <= pool:
        raise HostsConfigError("assignment.count", f"{count} must be between 1 and {pool}")
    return count


# --- Small parsers -----------------------------------------------------------------------


def _check_keys(key: str, table: Mapping, known: tuple, required: tuple) -> None:
    """Fail on a missing required key, and on unknown ones, which are usually typos."""
    for name in required:
        if name not in table:
            raise HostsConfigError(f"{key}.{name}", "missing")
    for name in table:
        if name not in known:
            raise HostsConfigError(f"{key}.{name}", f"unknown key (known: {', '.join(known)})")


def _text(key: str, value: object) -> str:
    """Return a non-empty string."""
    if not isinstance(value, str) or not value.strip():
        raise HostsConfigError(key, f"{value!r} must be non-empty text")
    return value.strip()


def _list(key: str, table: Mapping) -> list:
    """Return the optional list `table[last part of key]`, empty when absent."""
    value = table.get(key.rsplit(".", 1)[-1], [])
    if not isinstance(value, list):
        raise HostsConfigError(key, "must be a list")
    return value


def _email(key: str, value: object) -> str:
    """Return an address that looks like one (the host's own, to read their PARTSTAT)."""
    text = _text(key, value)
    if text.count("@") != 1 or any(char.isspace() for char in text):
        raise HostsConfigError(key, f"{text!r} is not an email address")
    return text


def _zone(key: str, value: object) -> ZoneInfo:
    """Return the IANA zone named `value`."""
    name = _text(key, value)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise HostsConfigError(
            key, f"{name!r} is not an IANA time zone (e.g. 'Europe/London')"
        ) from None


def _http_url(key: str, value: object) -> str:
    """Return an http(s) address (webcal:// is read as https://, as calendar apps do)."""
    text = _text(key, value)
    if text.lower().startswith("webcal://"):
        text = "https://" + text[len("webcal://") :]
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostsConfigError(key, "must be an http:// or https:// address")
    return text


def _secret(key: str, name: object, secrets: Mapping[str, str]) -> str:
    """Return the value of the environment variable `name`, read via app.config."""
    if not isinstance(name, str) or not SECRET_NAME_PATTERN.fullmatch(name):
        raise HostsConfigError(
            key, f"{name!r} must name an environment variable {SECRET_PREFIX}<NAME>"
        )
    value = secrets.get(name)
    if not value:
        raise HostsConfigError(key, f"{name} is not set in the environment")
    return value


def _weekly_hours(key: str, hours: object) -> Mapping[int, tuple[Window, ...]]:
    """Return weekday -> sorted windows from a host's hours table."""
    if not isinstance(hours, Mapping):
        raise HostsConfigError(key, 'must be a table such as { monday = ["09:00-17:00"] }')
    weekly = {}
    for day, windows in hours.items():
        if day not in WEEKDAYS:
            raise HostsConfigError(f"{key}.{day}", f"unknown weekday (use {', '.join(WEEKDAYS)})")
        if not isinstance(windows, list):
            raise HostsConfigError(f"{key}.{day}", 'must be a list such as ["09:00-17:00"]')
        parsed = sorted(_window(f"{key}.{day}", text) for text in windows)
        if parsed:
            weekly[WEEKDAYS.index(day)] = tuple(parsed)
    return MappingProxyType(weekly)


def _window(key: str, text: object) -> Window:
    """Parse one "HH:MM-HH:MM" window of one day."""
    match = WINDOW_PATTERN.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        raise HostsConfigError(key, f"{text!r} is not HH:MM-HH:MM (e.g. '09:00-17:00')")
    start, end = time(int(match[1]), int(match[2])), time(int(match[3]), int(match[4]))
    if end <= start:
        raise HostsConfigError(key, f"{text!r} ends before it starts")
    return start, end
