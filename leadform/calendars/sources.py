"""Reading a host's calendars over the network: CalDAV accounts and ICS feed addresses.

Every read has a deadline: the call runs on a daemon thread and is abandoned when the
deadline passes, so a server that accepts the connection and then trickles bytes (or
nothing) costs at most `timeout` seconds, whatever the HTTP library does with its own
per-read timeouts. Every failure becomes a `CalendarSourceError` subclass whose message
names the host, the calendar (by its label, never its secret address) and what failed.
"""

import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime
from http.client import HTTPException
from typing import TypeVar

import caldav
import icalendar
import niquests
from caldav.lib import error as caldav_error
from lxml import etree

from leadform.calendars.busy import CalendarDataError, parse_calendar
from leadform.calendars.hosts import CalDAVSource, CalendarSource, FeedSource

# A feed bigger than this is not a diary (Google's largest personal exports are a few MB).
MAX_FEED_BYTES = 20_000_000
USER_AGENT = "leadform-calendar-sync/1 (read-only busy times)"
CALENDAR_COMPONENTS = ("VEVENT", "VTIMEZONE")

T = TypeVar("T")
logger = logging.getLogger(__name__)


class CalendarSourceError(Exception):
    """Reading one calendar failed; the message says whose, which and what went wrong."""

    def __init__(self, source: CalendarSource, problem: str):
        self.host_id = source.host_id
        self.source_key = source.key
        self.label = source.label
        self.problem = problem
        super().__init__(f"host {source.host_id}, {source.label}: {problem}")


class CalendarTimeout(CalendarSourceError):
    """The calendar server did not answer within the timeout."""


class CalendarUnreachable(CalendarSourceError):
    """The calendar server could not be reached (refused, unknown name, TLS, reset)."""


class CalendarRefused(CalendarSourceError):
    """The server answered, but with an error status (wrong password, gone, broken)."""


class CalendarNotFound(CalendarSourceError):
    """The account has no calendar of the configured name, or none at all."""


class CalendarGarbage(CalendarSourceError):
    """The server answered with something that is not calendar data."""


@dataclass(frozen=True)
class FeedResponse:
    """One fetch of an ICS feed: new content, or "not modified" (HTTP 304)."""

    not_modified: bool
    body: bytes | None = None
    etag: str | None = None
    last_modified: str | None = None


def fetch_feed(
    source: FeedSource,
    timeout: float,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FeedResponse:
    """GET the feed with a conditional request; raise CalendarSourceError on any failure.

    A 304 answer (the ETag or Last-Modified still matches) is `not_modified`: the caller
    keeps its last good copy. A 200 body is checked to be iCalendar before it is returned.
    """
    response = run_with_deadline(
        lambda: _get_feed(source, timeout, etag, last_modified), timeout, source
    )
    if not response.not_modified:
        try:
            parse_calendar(response.body)
        except CalendarDataError as exc:
            raise CalendarGarbage(source, f"the address did not return a calendar: {exc}") from None
    return response


def _get_feed(
    source: FeedSource, timeout: float, etag: str | None, last_modified: str | None
) -> FeedResponse:
    """Do the HTTP request itself (on the deadline thread)."""
    headers = {"User-Agent": USER_AGENT, "Accept": "text/calendar, */*;q=0.5"}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    request = urllib.request.Request(source.url, headers=headers)  # noqa: S310 - http(s) only
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            body = answer.read(MAX_FEED_BYTES + 1)
            if len(body) > MAX_FEED_BYTES:
                raise CalendarGarbage(source, f"the feed is larger than {MAX_FEED_BYTES} bytes")
            return FeedResponse(
                not_modified=False,
                body=body,
                etag=answer.headers.get("ETag"),
                last_modified=answer.headers.get("Last-Modified"),
            )
    except urllib.error.HTTPError as exc:
        exc.close()  # it holds the open response; left open, its socket leaks
        if exc.code == 304:
            return FeedResponse(not_modified=True, etag=etag, last_modified=last_modified)
        raise CalendarRefused(source, _http_status_problem(exc.code, exc.reason)) from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise CalendarTimeout(source, f"no answer within {timeout:g} s") from None
        raise CalendarUnreachable(source, f"cannot connect ({exc.reason})") from None
    except TimeoutError:
        raise CalendarTimeout(source, f"no answer within {timeout:g} s") from None
    except (HTTPException, OSError) as exc:
        raise CalendarUnreachable(source, f"the connection failed ({_describe(exc)})") from None


def _http_status_problem(code: int, reason: str) -> str:
    """Return what an HTTP error status means for an operator fixing a calendar address."""
    hints = {
        401: "the username or password was refused",
        403: "access was refused (is the address or password still valid?)",
        404: "the address was not found (was the secret link reset?)",
        410: "the address is gone (was the secret link reset?)",
    }
    hint = hints.get(code, "the server reported an error")
    return f"HTTP {code} {reason}: {hint}"


class CalendarAddresses:
    """The calendar addresses found in each CalDAV account, shared by the app's threads.

    Finding an account's calendars takes three requests before the one that matters (the
    principal, its calendar home, the calendars in it). A sync always looks afresh and
    records what it found; the live check at booking reuses that and sends one time-range
    query per calendar. An address that fails is forgotten, so the next read looks again.
    """

    def __init__(self):
        self._urls: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    def get(self, source: CalDAVSource) -> tuple[str, ...] | None:
        """Return the calendar addresses last found for `source`, or None."""
        with self._lock:
            return self._urls.get(source.key)

    def put(self, source: CalDAVSource, urls: tuple[str, ...]) -> None:
        """Record the calendar addresses just found for `source`."""
        with self._lock:
            self._urls[source.key] = urls

    def forget(self, source: CalDAVSource) -> None:
        """Drop what is known of `source` (its read failed)."""
        with self._lock:
            self._urls.pop(source.key, None)


def fetch_caldav(
    source: CalDAVSource,
    start: datetime,
    end: datetime,
    timeout: float,
    addresses: CalendarAddresses | None = None,
    reuse: bool = False,
) -> icalendar.Calendar:
    """Return one Calendar holding the events of the source's calendars in [start, end).

    A time-range query per calendar (RFC 4791 calendar-query); recurring events come back
    whole (master and overrides) and are expanded locally by `busy`, the same way as feeds.
    With `addresses`, the calendars found are recorded there; with `reuse` too, addresses
    recorded earlier are queried directly (the live check).
    """

    def read() -> icalendar.Calendar:
        try:
            return _read_caldav(source, start, end, timeout, addresses, reuse)
        except BaseException:
            if addresses is not None:
                addresses.forget(source)
            raise

    return run_with_deadline(read, timeout, source)


def _read_caldav(
    source: CalDAVSource,
    start: datetime,
    end: datetime,
    timeout: float,
    addresses: CalendarAddresses | None,
    reuse: bool,
) -> icalendar.Calendar:
    """Talk to the CalDAV server (on the deadline thread); translate its failures."""
    try:
        with caldav_client(source, timeout) as client:
            combined = _empty_calendar()
            for calendar in _calendars(source, client, addresses, reuse):
                for resource in calendar.search(start=start, end=end, event=True, expand=False):
                    _add_components(combined, resource.icalendar_instance)
            return combined
    except CalendarSourceError:
        raise
    except caldav_error.AuthorizationError:
        raise CalendarRefused(source, "the username or password was refused") from None
    except caldav_error.NotFoundError:
        raise CalendarNotFound(source, "the address was not found on the server") from None
    except caldav_error.DAVError as exc:
        raise CalendarRefused(source, f"the server refused a request ({_describe(exc)})") from None
    except niquests.exceptions.Timeout:
        raise CalendarTimeout(source, f"no answer within {timeout:g} s") from None
    except (niquests.exceptions.ConnectionError, OSError) as exc:
        raise CalendarUnreachable(source, f"cannot connect ({_describe(exc)})") from None
    except (etree.LxmlError, ValueError, KeyError, AttributeError) as exc:
        # What a server that is not CalDAV (a login page, a proxy's error) makes caldav raise.
        raise CalendarGarbage(
            source, f"the server's answer is not CalDAV ({_describe(exc)})"
        ) from None


def caldav_client(source: CalDAVSource, timeout: float) -> caldav.DAVClient:
    """Return a DAVClient for the account; DNS discovery off, so only the given URL is used."""
    return caldav.DAVClient(
        url=source.url,
        username=source.username,
        password=source.password,
        # Send the credentials with the first request: waiting for a 401 to pick the scheme
        # costs a round trip, and Radicale delays every 401 by up to a second.
        auth_type="basic" if source.username else None,
        timeout=timeout,
        enable_rfc6764=False,
    )


def _calendars(
    source: CalDAVSource,
    client: caldav.DAVClient,
    addresses: CalendarAddresses | None,
    reuse: bool,
) -> list:
    """Return the calendars to read: the recorded addresses when reusing, else discovered."""
    known = addresses.get(source) if addresses is not None and reuse else None
    if known is not None:
        return [client.calendar(url=url) for url in known]
    calendars = _chosen_calendars(source, client)
    if addresses is not None:
        addresses.put(source, tuple(str(calendar.url) for calendar in calendars))
    return calendars


def _chosen_calendars(source: CalDAVSource, client: caldav.DAVClient) -> list:
    """Return the account's calendars named in site.toml, or all of them.

    An account with no calendar at all is an error: a server that is not CalDAV (a login
    page) can look like an empty account, and empty must never read as "always free".
    """
    calendars = client.principal().calendars()
    if not calendars:
        raise CalendarNotFound(source, "the account has no calendars (is the URL right?)")
    if not source.calendar_names:
        return calendars
    by_name = {calendar.get_display_name(): calendar for calendar in calendars}
    missing = [name for name in source.calendar_names if name not in by_name]
    if missing:
        found = ", ".join(sorted(str(name) for name in by_name)) or "none"
        raise CalendarNotFound(source, f"no calendar named {missing[0]!r} (found: {found})")
    return [by_name[name] for name in source.calendar_names]


def _empty_calendar() -> icalendar.Calendar:
    """Return an empty VCALENDAR to gather events from several CalDAV resources."""
    calendar = icalendar.Calendar()
    calendar.add("prodid", "-//leadform//calendar sync//EN")
    calendar.add("version", "2.0")
    return calendar


def _add_components(combined: icalendar.Calendar, resource: icalendar.Calendar) -> None:
    """Copy the events and time zone definitions of one CalDAV resource into `combined`."""
    for component in resource.subcomponents:
        if component.name in CALENDAR_COMPONENTS:
            combined.add_component(component)


def run_with_deadline(call: Callable[[], T], timeout: float, source: CalendarSource) -> T:
    """Return `call()`, or raise CalendarTimeout if it has not finished after `timeout` s.

    The call runs on a daemon thread: an abandoned one cannot keep the process alive, and
    it ends by itself at its socket timeout, which is the same `timeout`.
    """
    outcome: dict = {}
    worker = threading.Thread(
        target=_capture, args=(call, outcome), name=f"calendar-{source.key}", daemon=True
    )
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise CalendarTimeout(source, f"no answer within {timeout:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def run_many_with_deadline(
    calls: Mapping[Hashable, tuple[CalendarSource, Callable[[], T]]], timeout: float
) -> dict[Hashable, T | CalendarSourceError]:
    """Run every call at once; return key -> its value or its CalendarSourceError.

    All calls share one deadline, so the whole takes about `timeout`, not the sum. A call
    still running then, or failing in a way no source error describes, becomes an error
    for its own source only.
    """
    outcomes: dict[Hashable, dict] = {key: {} for key in calls}
    workers = {
        key: threading.Thread(
            target=_capture, args=(call, outcomes[key]), name=f"calendar-{source.key}", daemon=True
        )
        for key, (source, call) in calls.items()
    }
    for worker in workers.values():
        worker.start()
    deadline = time.monotonic() + timeout
    for worker in workers.values():
        worker.join(max(0.0, deadline - time.monotonic()))
    return {
        key: _outcome(source, outcomes[key], workers[key].is_alive(), timeout)
        for key, (source, _) in calls.items()
    }


def _capture(call: Callable, outcome: dict) -> None:
    """Run `call` on a worker thread, keeping its value or exception in `outcome`."""
    try:
        outcome["value"] = call()
    except Exception as exc:  # noqa: BLE001 - handed to the waiting caller
        outcome["error"] = exc


def _outcome(source: CalendarSource, outcome: dict, late: bool, timeout: float):
    """Return one call's value, or the CalendarSourceError that stands for its failure."""
    if late:
        return CalendarTimeout(source, f"no answer within {timeout:g} s")
    error = outcome.get("error")
    if error is None:
        return outcome["value"]
    if isinstance(error, CalendarSourceError):
        return error
    logger.exception("unexpected error reading %s", source.label, exc_info=error)
    return CalendarSourceError(source, f"unexpected error ({_describe(error)})")


def _describe(exc: BaseException) -> str:
    """Return a short, single-line description of a low-level error for an operator."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
