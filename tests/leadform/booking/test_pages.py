"""The day-then-time picker agrees with the slot engine; every step is small and safe.

The grid and the times are compared with `available_slots` on the same clock, as plain
functions and over HTTP (the view's clock frozen), for prospects in New York, London and
Tokyo, with both daylight-saving changes of 2026 inside the horizon.
"""

import gzip
import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from zoneinfo import ZoneInfo

import pytest

from leadform.booking import pages, views
from leadform.booking.forms import BookingForm
from leadform.booking.slots import (
    available_slots,
    load_availability,
    offered_months,
    slot_value,
)
from leadform.cleaning import clean_attribution
from leadform.sitefacts import load_site
from tests.conftest import ROOT
from tests.leadform.booking_pages import FormPage, answers, offered_slots, open_form

ZONES = [ZoneInfo(name) for name in ("America/New_York", "Europe/London", "Asia/Tokyo")]
# Horizons holding: US spring (8 Mar), EU spring (29 Mar), EU autumn (25 Oct), US autumn (1 Nov).
CLOCKS = [
    datetime(2026, 2, 20, 10, 0, tzinfo=UTC),
    datetime(2026, 3, 20, 23, 30, tzinfo=UTC),
    datetime(2026, 10, 10, 7, 15, tzinfo=UTC),
    datetime(2026, 10, 24, 16, 0, tzinfo=UTC),
]
MAX_GZIPPED_BYTES = 14 * 1024
MAX_FORM_CONTROLS = 60


@pytest.fixture(scope="module")
def availability():
    """The real site.toml's availability."""
    return load_availability(load_site(ROOT / "site.toml"))


def every_pick(av, now, zone):
    """Return the picker for every offered month and every free day, as the links give them."""
    free = available_slots(av, now, [])
    months = offered_months(av, now, zone)
    picks = []
    for year, month in months:
        first = pages.pick_day(free, zone, months, pages.month_value(year, month))
        picks.append(first)
        for week in first.grid.weeks:
            picks += [
                pages.pick_day(free, zone, months, None, cell.day.isoformat())
                for cell in week
                if cell and cell.free
            ]
    return picks


@pytest.mark.parametrize("now", CLOCKS, ids=str)
@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_the_grid_and_times_are_exactly_the_free_slots(availability, now, zone):
    free = available_slots(availability, now, [])
    shown = {}
    for pick in every_pick(availability, now, zone):
        free_days = {cell.day for week in pick.grid.weeks for cell in week if cell and cell.free}
        expected_days = {
            s.start.astimezone(zone).date()
            for s in free
            if (s.start.astimezone(zone).year, s.start.astimezone(zone).month)
            == (pick.grid.year, pick.grid.month)
        }
        assert free_days == expected_days
        for choice in pick.times:
            shown[choice.value] = (pick.day, choice.label)

    assert sorted(shown) == [slot_value(s) for s in free]
    for slot in free:
        start, end = slot.local(zone)
        assert shown[slot_value(slot)] == (start.date(), f"{start:%H:%M}–{end:%H:%M}")


@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_months_beyond_the_horizon_are_not_offered(availability, zone):
    now = CLOCKS[0]
    months = offered_months(availability, now, zone)
    last = (now + availability.horizon).astimezone(zone).date()
    free = available_slots(availability, now, [])

    assert months[-1] == (last.year, last.month)
    assert pages.pick_day(free, zone, months, pages.month_value(*months[-1])).grid.next is None
    assert pages.pick_day(free, zone, months, pages.month_value(*months[0])).grid.previous is None
    beyond = pages.pick_day(free, zone, months, "2026-06")
    assert (beyond.grid.year, beyond.grid.month) == months[0]


def test_the_first_free_day_is_chosen(availability):
    now, zone = CLOCKS[1], ZONES[1]
    free = available_slots(availability, now, [])
    pick = pages.pick_day(free, zone, offered_months(availability, now, zone))

    assert pick.day == free[0].start.astimezone(zone).date()
    assert [c.value for c in pick.times] == [
        slot_value(s) for s in free if s.start.astimezone(zone).date() == pick.day
    ]


def test_times_outside_the_prospects_day_are_marked(availability):
    now = CLOCKS[0]
    free = available_slots(availability, now, [])
    notes = {zone.key: {pages.time_choice(slot, zone).note for slot in free} for zone in ZONES}

    assert notes["Europe/London"] == {None}
    assert "early for you" in notes["America/New_York"]  # 09:00 London is 04:00 there
    assert "late for you" in notes["Asia/Tokyo"]  # 15:00 London is midnight there


def test_likely_zones_come_from_the_accept_language_region():
    likely = pages.likely_zones("en-US,en;q=0.9", extra=["Europe/London"])

    assert likely[0] == "Europe/London"
    assert {"America/New_York", "America/Chicago", "America/Los_Angeles"} <= set(likely)
    assert "America/Detroit" not in likely  # same offsets as New York all year
    assert pages.likely_zones("garbage;;q=\x00") == ()


# --- over HTTP, on a frozen clock -----------------------------------------------------------


@pytest.fixture
def frozen(monkeypatch):
    """Freeze the booking views' clock; return a setter."""

    def freeze(now: datetime) -> None:
        class Clock(datetime):
            @classmethod
            def now(cls, tz=None):
                return now.astimezone(tz) if tz else now.replace(tzinfo=None)

        monkeypatch.setattr(views, "datetime", Clock)

    return freeze


@pytest.mark.parametrize("now", [CLOCKS[1], CLOCKS[3]], ids=str)
@pytest.mark.parametrize("zone", ZONES, ids=str)
def test_the_page_offers_exactly_the_free_slots(app, frozen, now, zone):
    frozen(now)
    client = app.test_client()
    picker = FormPage(client.get(f"/book?tz={zone.key}").get_data(as_text=True))

    expected = [slot_value(s) for s in available_slots(app.extensions["availability"], now, [])]
    assert offered_slots(client, picker) == expected


def test_an_unlisted_zone_is_ignored(client):
    # A real IANA alias, but not one of the listed zones: the host's zone is used.
    page = FormPage(client.get("/book?tz=US/Eastern").get_data(as_text=True))

    assert page.selected["tz"] == "Europe/London"
    assert "tz=US" not in "".join(page.time_links)


HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "2026-13",
    "9999-99-99",
    "2026-02-30",
    "-1",
    "A" * 5000,
    "\x00\u202e",
    "../../etc/passwd",
]


@pytest.mark.parametrize("param", ["month", "day", "tz", "from", "utm_source", "referrer", "slot"])
@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_query_values_give_a_clean_page(client, param, value):
    response = client.get("/book", query_string={param: value})

    assert response.status_code in (200, 400)
    body = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "<img src=x" not in body
    assert "\x00" not in body


# --- sizes of every step --------------------------------------------------------------------


class Controls(HTMLParser):
    """Count form controls: input, select, textarea and button elements."""

    def __init__(self, html: str):
        super().__init__()
        self.count = 0
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        """Count one control."""
        self.count += tag in {"input", "select", "textarea", "button"}


def step_pages(client) -> dict[str, str]:
    """Return the HTML of every step: picker, form, form with errors, confirmation, manage."""
    query = "from=ai-in-claims&utm_source=newsletter&utm_medium=email&utm_campaign=spring"
    headers = {"Referer": "https://news.example/a/long/path?q=1", "Accept-Language": "en-US"}
    picker = client.get(f"/book?{query}", headers=headers).get_data(as_text=True)
    page = open_form(client, f"/book?{query}", headers=headers)
    form = client.get(FormPage(picker).time_links[0]).get_data(as_text=True)
    errors = client.post("/book", data=answers(page, email="nope", name=""))
    booked = client.post("/book", data=answers(page))
    assert booked.status_code == 303
    confirmed = client.get(booked.location).get_data(as_text=True)
    manage = re.search(r'href="(/manage/[^"]+)"', confirmed).group(1)
    return {
        "picker": picker,
        "form": form,
        "errors": errors.get_data(as_text=True),
        "confirmed": confirmed,
        "manage": client.get(manage).get_data(as_text=True),
        "cancel": client.get(f"{manage}/cancel").get_data(as_text=True),
        "delete": client.get(f"{manage}/delete").get_data(as_text=True),
    }


def test_each_step_is_one_round_trip_and_few_controls(client):
    for name, html in step_pages(client).items():
        size = len(gzip.compress(html.encode(), compresslevel=6))
        assert size <= MAX_GZIPPED_BYTES, (name, size)
        assert Controls(html).count <= MAX_FORM_CONTROLS, (name, Controls(html).count)


def test_the_booking_steps_are_indexable_and_the_visitors_pages_are_not(client):
    steps = step_pages(client)

    assert '<meta name="description" content="Book a 90-minute' in steps["picker"]
    for name in ("picker", "form"):
        assert 'name="robots"' not in steps[name], name
        assert '<meta name="description"' in steps[name], name
    # Every time's form is one page for search engines: the picker.
    assert '<link rel="canonical" href="http://127.0.0.1:8000/book">' in steps["form"]
    for name in ("confirmed", "manage", "cancel", "delete"):
        assert '<meta name="robots" content="noindex">' in steps[name], name


# --- the form's hidden attribution, as WTForms writes it -------------------------------------


HOSTILE_ATTRIBUTION = [
    {},
    {"source_article": "ai-in-claims", "utm_source": "news", "referrer": "https://x.example/"},
    {"source_article": "a\r\nb\x00c  d", "utm_medium": " \t ", "utm_term": "é" * 500},
    {"utm_campaign": "c" * 199 + "\u2028", "utm_content": "", "referrer": "r" * 5000},
]


@pytest.mark.parametrize("data", HOSTILE_ATTRIBUTION)
def test_the_picker_cleans_attribution_as_the_form_does(app, data):
    with app.test_request_context():
        form = BookingForm(data=data)

        assert clean_attribution(data) == form.attribution


def test_attribution_travels_through_every_step(client):
    page = open_form(
        client,
        "/book?from=post&utm_source=news&utm_campaign=q4",
        headers={"Referer": "https://news.example/x"},
    )

    assert page.hidden["source_article"] == "post"
    assert (page.hidden["utm_source"], page.hidden["utm_campaign"]) == ("news", "q4")
    assert page.hidden["referrer"] == "https://news.example/x"


def test_a_time_no_longer_free_sends_back_to_the_picker(client):
    body = client.get("/book?slot=2020-01-06T09:00:00Z").get_data(as_text=True)

    assert "That time is no longer free" in body
    assert FormPage(body).time_links


def test_the_zone_list_is_written_once_per_hour():
    # 419 options are the page's costliest part: within an hour, the same text is reused.
    first = pages.zone_options("Asia/Tokyo", ("Europe/London",), CLOCKS[0])
    later = CLOCKS[0].replace(minute=59, second=59, microsecond=999_999)

    assert pages.zone_options("Asia/Tokyo", ("Europe/London",), later) is first
    assert first.count(" selected") == 1 and first.count("<option") > 400
