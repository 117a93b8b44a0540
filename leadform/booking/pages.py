"""The booking page, rendered once per state and reused, and its cheap per-request parts.

A blank booking form looks the same to every visitor who sees the same free times in the
same zone; only its hidden inputs differ (CSRF token, signed start time, the attribution
from the query string). So a GET renders the page once with markers where those inputs go,
keeps the parts between the markers, and joins them with each visitor's inputs. A page is
reused while both hold:

- the confirmed bookings that can still matter are the same rows (read on every GET: one
  indexed query, so a booking, cancellation or move made by any process is seen at once);
- no listed time has come within the minimum notice, and no new time can have come within
  the booking horizon (checked against the clock; see `valid_until`).

Anything else that shapes the page (site.toml, templates) only changes with a restart.
"""

from __future__ import annotations

import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from flask import Flask, current_app
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from wtforms.widgets import html_params

from leadform.booking.slots import Availability, Slot, day_slots

_EXTENSION_KEY = "leadform.booking_pages"
# Pages kept per process: one per (zone, zone detection, bookings) seen lately, ~80 KB each.
CACHE_SIZE = 64
# Look this many days past the horizon for the next time to open (blocked weeks included).
_OPENING_LOOKAHEAD_DAYS = 31
# However quiet the calendar, render again after this long.
MAX_AGE = timedelta(hours=1)
_SAFE_NAME = re.compile(r"[a-z_]+")


@dataclass(frozen=True)
class CachedPage:
    """A rendered booking page cut at its two markers, valid until an instant."""

    before_form_inputs: str
    before_picker_inputs: str
    rest: str
    valid_until: datetime

    def fill(self, picker_inputs: str, form_inputs: str) -> str:
        """Return the page with the visitor's hidden inputs in place."""
        parts = (self.before_picker_inputs, picker_inputs, self.before_form_inputs, form_inputs)
        return "".join(parts) + self.rest


class PageCache:
    """A small least-recently-used store of CachedPage, safe across threads."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self._pages: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._lock = threading.Lock()
        # Unguessable, so no value a visitor sends can pose as a marker.
        token = secrets.token_hex(8)
        self.picker_marker = Markup("<!--picker-inputs-{}-->").format(token)
        self.form_marker = Markup("<!--form-inputs-{}-->").format(token)

    def get(self, key: Hashable, now: datetime) -> CachedPage | None:
        """Return the page stored under `key` if it is still valid at `now`."""
        with self._lock:
            page = self._pages.get(key)
            if page is None:
                return None
            if now >= page.valid_until:
                del self._pages[key]
                return None
            self._pages.move_to_end(key)
            return page

    def put(self, key: Hashable, html: str, valid_until: datetime) -> CachedPage:
        """Cut `html` at the markers, store it under `key` and return it."""
        head, picker_marker, middle = html.partition(self.picker_marker)
        between, form_marker, rest = middle.partition(self.form_marker)
        if not picker_marker or not form_marker:
            raise ValueError("the booking page template lost a hidden-inputs marker")
        page = CachedPage(
            before_picker_inputs=head,
            before_form_inputs=between,
            rest=rest,
            valid_until=valid_until,
        )
        with self._lock:
            self._pages[key] = page
            self._pages.move_to_end(key)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)
        return page

    def __len__(self) -> int:
        return len(self._pages)


def init_app(app: Flask) -> None:
    """Give `app` its booking page cache."""
    app.extensions[_EXTENSION_KEY] = PageCache()


def page_cache(app: Flask | None = None) -> PageCache:
    """Return the booking page cache of `app` (the current app by default)."""
    return (app or current_app).extensions[_EXTENSION_KEY]


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


def cached_page(
    key: Hashable,
    now: datetime,
    free_slots: Callable[[], list[Slot]],
    render: Callable[[list[Slot], Markup, Markup], str],
) -> CachedPage:
    """Return the page for `key`, rendering it with `render(free, markers...)` when needed."""
    cache = page_cache()
    page = cache.get(key, now)
    if page is None:
        free = free_slots()
        html = render(free, cache.picker_marker, cache.form_marker)
        until = valid_until(current_app.extensions["availability"], now, free)
        page = cache.put(key, html, until)
    return page


def hidden_input(name: str, value: object) -> Markup:
    """Return `<input type="hidden">` as WTForms writes it, the value escaped.

    Written out directly: WTForms' html_params took half of a cached page's time.
    """
    if not _SAFE_NAME.fullmatch(name):
        raise ValueError(f"not a form field name: {name!r}")
    text = "" if value is None else escape(str(value))
    # `name` is a checked identifier and `text` is escaped, so the result is safe HTML.
    return Markup(f'<input id="{name}" name="{name}" type="hidden" value="{text}">')  # noqa: S704


def form_inputs(started: str, attribution: Mapping[str, str | None]) -> Markup:
    """Return the booking form's hidden inputs: CSRF token, start time, then the attribution.

    `attribution` is `forms.clean_attribution(...)` or `BookingForm.attribution`: every
    attribution field, in the form's order.
    """
    inputs = [hidden_input("csrf_token", generate_csrf()), hidden_input("started", started)]
    inputs += [hidden_input(name, value) for name, value in attribution.items()]
    return Markup("").join(inputs)


def picker_inputs(query: Mapping[str, str]) -> Markup:
    """Return the zone picker's hidden inputs: the attribution its reload must carry over."""
    return Markup("").join(
        Markup('<input type="hidden" name="{}" value="{}">').format(key, value)
        for key, value in sorted(query.items())
    )


@lru_cache(maxsize=128)
def zone_options(zones: tuple[str, ...], selected: str | None) -> Markup:
    """Return the `<option>`s of a time zone list, `selected` marked (computed once per pair).

    419 options cost WTForms about 5 ms to write; the result only depends on the arguments.
    """
    return Markup("").join(_zone_option(name, name == selected) for name in zones)


def _zone_option(name: str, selected: bool) -> Markup:
    label = name.replace("_", " ")
    if selected:
        return Markup('<option selected value="{}">{}</option>').format(name, label)
    return Markup('<option value="{}">{}</option>').format(name, label)


class ZoneSelect:
    """A WTForms widget writing a time zone `<select>` from `zone_options`."""

    def __call__(self, field, **kwargs) -> Markup:
        """Render `field` (a SelectField whose choices are zone names) as a select."""
        kwargs.setdefault("id", field.id)
        options = zone_options(tuple(field.choices or ()), field.data)
        return Markup("<select %s>%s</select>") % (html_params(name=field.name, **kwargs), options)
