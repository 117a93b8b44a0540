"""The booking page is rendered once per state and reused: never stale, never shared tokens."""

import random
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from zoneinfo import ZoneInfo

import pytest
from markupsafe import Markup
from sqlalchemy import select
from wtforms import Form, HiddenField, SelectField

from leadform.booking import pages
from leadform.booking.forms import BookingForm, clean_attribution
from leadform.booking.reservations import BookingRequest, reserve_slot
from leadform.booking.slots import Availability, available_slots, slot_value
from leadform.db import db
from leadform.models import Booking
from tests.leadform.booking_pages import GOALS, answers, open_form

LONDON = ZoneInfo("Europe/London")


def reserve(app, value: str) -> None:
    """Book the slot with form value `value` directly, as another gunicorn worker would."""
    start = next(
        slot.start
        for slot in available_slots(app.extensions["availability"], datetime.now(UTC), [])
        if slot_value(slot) == value
    )
    with app.app_context():
        reserve_slot(
            BookingRequest(
                name="Other Worker",
                email="other@example.com",
                company="Elsewhere",
                role="COO",
                company_size="50-249",
                goals=GOALS,
                timezone="Europe/London",
                slot_start=start,
            ),
            availability=app.extensions["availability"],
            privacy_version="test",
            now=datetime.now(UTC),
        )


def second_worker(make_app):
    """Another app on the same database file: a second process with its own page cache."""
    return make_app()


def test_the_second_visitor_gets_the_cached_page_with_their_own_tokens(app):
    first = open_form(app.test_client())
    second = open_form(app.test_client())

    assert len(pages.page_cache(app)) == 1
    assert first.slots == second.slots and first.slots
    assert first.hidden["csrf_token"] != second.hidden["csrf_token"]


def test_each_visitor_can_book_from_the_cached_page(app):
    clients = [app.test_client() for _ in range(3)]
    pages = [open_form(client) for client in clients]

    for n, (client, page) in enumerate(zip(clients, pages, strict=True)):
        # Times ten apart fall on different days, below the daily cap.
        response = client.post("/book", data=answers(page, slot=page.slots[n * 10]))
        assert response.status_code == 303, response.get_data(as_text=True)[:500]

    with app.app_context():
        assert len(db.session.scalars(select(Booking)).all()) == 3


def test_a_booking_made_by_another_process_disappears_at_once(make_app):
    app = make_app()
    other = second_worker(make_app)
    before = open_form(app.test_client())

    reserve(other, before.slots[0])

    after = open_form(app.test_client())
    assert before.slots[0] not in after.slots
    assert len(after.slots) < len(before.slots)


def test_a_cancellation_made_elsewhere_brings_the_time_back(make_app):
    app = make_app()
    other = second_worker(make_app)
    first = open_form(app.test_client()).slots[0]
    reserve(other, first)
    assert first not in open_form(app.test_client()).slots

    with other.app_context():
        booking = db.session.scalars(select(Booking)).one()
        booking.status = "cancelled"
        db.session.commit()

    assert open_form(app.test_client()).slots[0] == first


def test_each_request_gets_its_own_attribution(app):
    client = app.test_client()
    one = open_form(client, "/book?from=first-article&utm_source=news")
    two = open_form(client, "/book?from=second-article")

    assert len(pages.page_cache(app)) == 1
    assert (one.hidden["source_article"], one.hidden["utm_source"]) == ("first-article", "news")
    assert (two.hidden["source_article"], two.hidden["utm_source"]) == ("second-article", "")
    page = client.get("/book?from=second-article").get_data(as_text=True)
    assert '<input type="hidden" name="from" value="second-article">' in page
    assert "first-article" not in page


def test_hostile_attribution_cannot_pose_as_a_marker(app):
    cache = pages.page_cache(app)
    hostile = f"{cache.form_marker}<script>alert(1)</script>"
    client = app.test_client()
    open_form(client)

    page = client.get("/book", query_string={"from": hostile}).get_data(as_text=True)

    assert "<script>alert(1)</script>" not in page
    assert page.count("<!--form-inputs-") == 0
    assert open_form(client, "/book").hidden["source_article"] == ""


def test_zones_and_detection_get_their_own_pages(app):
    client = app.test_client()
    london = open_form(client, "/book?tz=Europe/London")
    tokyo = open_form(client, "/book?tz=Asia/Tokyo")
    open_form(client, "/book")

    assert len(pages.page_cache(app)) == 3
    assert london.selected == {"tz": "Europe/London", "timezone": "Europe/London"}
    assert tokyo.selected == {"tz": "Asia/Tokyo", "timezone": "Asia/Tokyo"}


def test_the_cache_keeps_only_its_size(app):
    cache = pages.PageCache(size=3)
    page = f"a{cache.picker_marker}b{cache.form_marker}c"
    later = datetime(2030, 1, 1, tzinfo=UTC)
    for key in range(5):
        cache.put(key, page, later)

    assert len(cache) == 3
    assert cache.get(0, datetime.now(UTC)) is None
    assert cache.get(4, datetime.now(UTC)).fill("P", "F") == "aPbFc"


def test_a_page_expires_at_its_valid_until():
    cache = pages.PageCache()
    until = datetime(2026, 11, 24, 12, tzinfo=UTC)
    cache.put("k", f"{cache.picker_marker}{cache.form_marker}", until)

    assert cache.get("k", until - timedelta(microseconds=1)) is not None
    assert cache.get("k", until) is None
    assert len(cache) == 0


def test_a_template_without_markers_is_refused():
    with pytest.raises(ValueError, match="marker"):
        pages.PageCache().put("k", "<html>no markers</html>", datetime.now(UTC))


# --- valid_until against the slot engine -------------------------------------------------


def availability(**overrides) -> Availability:
    """Weekday hours with notice and horizon, like site.toml, in London."""
    values = {
        "timezone": LONDON,
        "weekly_hours": MappingProxyType({day: ((time(9), time(17)),) for day in range(5)}),
        "session": timedelta(minutes=90),
        "buffer": timedelta(minutes=30),
        "minimum_notice": timedelta(hours=24),
        "horizon": timedelta(days=42),
        "max_per_day": 2,
        "blocked_dates": frozenset({date(2026, 12, 25)}),
    }
    return Availability(**(values | overrides))


def moments(seed: int, count: int) -> list[datetime]:
    """Random instants over a year, both DST changes included, at minute resolution."""
    rng = random.Random(seed)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [start + timedelta(minutes=rng.randrange(365 * 24 * 60)) for _ in range(count)]


@pytest.mark.parametrize("now", moments(seed=5, count=40))
def test_the_free_times_do_not_change_before_valid_until(now):
    av = availability()
    busy = [(now + timedelta(days=3, hours=2), now + timedelta(days=3, hours=3, minutes=30))]
    free = available_slots(av, now, busy)
    until = pages.valid_until(av, now, free)

    # A time exactly at the notice boundary is shown now and gone a moment later.
    assert until >= now
    for fraction in (0.25, 0.5, 0.999):
        assert available_slots(av, now + (until - now) * fraction, busy) == free
    if until - now < pages.MAX_AGE:
        # The limit is exact: a moment later the list has changed.
        assert available_slots(av, until + timedelta(seconds=1), busy) != free


def test_the_page_expires_when_the_first_time_comes_within_notice():
    av = availability()
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    free = available_slots(av, now, [])

    expected = min(free[0].start - av.minimum_notice, now + pages.MAX_AGE)
    assert pages.valid_until(av, now, free) == expected


def test_a_time_joining_at_the_horizon_ends_the_page():
    # 08:59 UTC: the 09:00 slot 42 days ahead joins the list one minute later.
    av = availability(minimum_notice=timedelta(0))
    now = datetime(2026, 11, 24, 8, 59, tzinfo=UTC)
    free = available_slots(av, now, [])

    assert pages.valid_until(av, now, free) == datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


# --- the cheap parts written by hand match WTForms ----------------------------------------


class ZoneForm(Form):
    plain = SelectField(choices=[])
    fast = SelectField(choices=[], widget=pages.ZoneSelect())
    hidden = HiddenField()


@pytest.mark.parametrize("selected", ["Europe/London", "America/Argentina/Buenos_Aires", None])
def test_zone_select_writes_what_wtforms_writes(selected):
    zones = ["Africa/Abidjan", "America/Argentina/Buenos_Aires", "Europe/London", "UTC"]
    form = ZoneForm(data={"plain": selected, "fast": selected})
    form.plain.choices = [(name, name.replace("_", " ")) for name in zones]
    form.fast.choices = zones

    expected = str(form.plain(required=False, **{"aria-describedby": "x"}))
    written = str(form.fast(required=False, **{"aria-describedby": "x"}))
    assert written == expected.replace('id="plain" name="plain"', 'id="fast" name="fast"')


@pytest.mark.parametrize("value", ["", "plain", 'q"uote & <tag>', "ünï'cödé", None])
def test_hidden_input_writes_what_wtforms_writes(value):
    form = ZoneForm(data={"hidden": value})

    assert pages.hidden_input("hidden", value) == Markup(form.hidden())


def test_hidden_input_refuses_a_strange_name():
    with pytest.raises(ValueError, match="field name"):
        pages.hidden_input('x" onfocus="alert(1)', "v")


HOSTILE_ATTRIBUTION = [
    {},
    {"source_article": "ai-in-claims", "utm_source": "news", "referrer": "https://x.example/"},
    {"source_article": "a\r\nb\x00c  d", "utm_medium": " \t ", "utm_term": "é" * 500},
    {"utm_campaign": "c" * 199 + "\u2028", "utm_content": "", "referrer": "r" * 5000},
]


@pytest.mark.parametrize("data", HOSTILE_ATTRIBUTION)
def test_the_blank_form_cleans_attribution_as_the_form_does(app, data):
    with app.test_request_context():
        form = BookingForm(data=data)

        assert clean_attribution(data) == form.attribution
