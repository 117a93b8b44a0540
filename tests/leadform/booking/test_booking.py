"""Booking end to end over HTTP, and reserve_slot as a plain function."""

import base64
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar
from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from leadform.booking import emails, reservations
from leadform.booking.reservations import (
    BookingRequest,
    active_bookings,
    active_bookings_outside_transaction,
    booking_slot,
    reserve_slot,
)
from leadform.booking.slots import SlotUnavailable, available_slots, format_range, parse_slot_value
from leadform.db import db
from leadform.models import Booking, BookingEvent, OutboxMessage
from tests.leadform.booking_pages import GOALS, FormPage, answers, open_form

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")


def book(client, url="/book", headers=None, **overrides):
    """Open the form at `url`, submit valid answers; return (response, chosen slot value)."""
    page = open_form(client, url, headers=headers or {})
    data = answers(page, **overrides)
    return client.post("/book", data=data), data["slot"]


def only_booking(app) -> Booking:
    with app.app_context():
        booking = db.session.scalars(select(Booking)).one()
        db.session.expunge(booking)
        return booking


def test_slots_are_shown_in_the_chosen_zone(client):
    page_html = client.get("/book?tz=America/New_York").get_data(as_text=True)
    page = FormPage(page_html)
    first = parse_slot_value(page.slots[0]).astimezone(NEW_YORK)
    assert f"{first:%H:%M}–" in page_html
    assert re.search(r'\d\d:\d\d–\d\d:\d\d <span class="time__zone">E[SD]T</span>', page_html)
    assert page.selected["tz"] == "America/New_York"
    assert open_form(client, "/book?tz=America/New_York").hidden["timezone"] == "America/New_York"


def test_the_chosen_days_times_come_under_its_heading(client):
    body = client.get("/book").get_data(as_text=True)
    heading = re.search(r'<h2 id="times-title">([^<]+)</h2>\s*<ul class="times__list">', body)
    assert heading
    assert re.fullmatch(r"[A-Z][a-z]+day \d{1,2} [A-Z][a-z]+ \d{4}", heading.group(1))


def test_unknown_zone_falls_back_to_the_host_zone(client):
    page = FormPage(client.get("/book?tz=Not/AZone").get_data(as_text=True))
    assert page.selected["tz"] == "Europe/London"
    assert open_form(client, "/book?tz=Not/AZone").hidden["timezone"] == "Europe/London"


def test_booking_redirects_to_the_confirmation(client, app):
    response, _ = book(client)
    assert response.status_code == 303
    assert response.headers["Location"] == f"/book/confirmed/{only_booking(app).public_id}"


def test_booking_stores_the_answers_and_consent(client, app):
    response, chosen = book(client, timezone="America/New_York")
    booking = only_booking(app)
    assert booking.slot_start == parse_slot_value(chosen).replace(tzinfo=None)
    assert booking.status == "confirmed"
    assert booking.email == "siobhan.obrien@example.com"
    assert booking.goals == GOALS
    assert booking.timezone == "America/New_York"
    assert booking.privacy_version == app.config["SITE"]["privacy"]["policy_version"]
    assert booking.consent_at is not None
    assert len(booking.public_id) >= 20


def test_booking_keeps_the_attribution(client, app):
    url = "/book?from=ai-readiness-assessment&utm_source=linkedin&utm_medium=social"
    url += "&utm_campaign=q4&utm_term=ai+strategy&utm_content=banner"
    book(client, url, headers={"Referer": "https://www.linkedin.com/feed/"})
    booking = only_booking(app)
    assert booking.source_article == "ai-readiness-assessment"
    assert (booking.utm_source, booking.utm_medium) == ("linkedin", "social")
    assert (booking.utm_campaign, booking.utm_term, booking.utm_content) == (
        "q4",
        "ai strategy",
        "banner",
    )
    assert booking.referrer == "https://www.linkedin.com/feed/"


def test_overlong_attribution_is_cut_not_refused(client, app):
    response, _ = book(client, f"/book?utm_source={'x' * 5000}")
    assert response.status_code == 303
    assert only_booking(app).utm_source == "x" * 200


def test_time_zone_reload_keeps_the_original_referrer(client, app):
    # The zone picker (and book.js) reload /book; the first page's Referer must survive.
    first = open_form(client, "/book?from=post", headers={"Referer": "https://news.example/x"})
    assert first.hidden["referrer"] == "https://news.example/x"
    reloaded = open_form(
        client,
        "/book?tz=Asia/Tokyo&from=post&referrer=https://news.example/x",
        headers={"Referer": "http://localhost/book?from=post"},
    )
    assert reloaded.hidden["referrer"] == "https://news.example/x"
    assert reloaded.hidden["source_article"] == "post"


def test_confirmation_shows_both_zones(client, app):
    response, chosen = book(client, timezone="America/New_York")
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    booking = only_booking(app)
    slot = booking_slot(booking)
    assert format_range(slot, NEW_YORK) in body
    assert format_range(slot, LONDON) in body
    assert f"/book/{booking.public_id}/invite.ics" in body
    assert app.config["SITE"]["firm"]["email"] in body


def test_confirmation_links_to_the_manage_page(client, app):
    response, _ = book(client)
    body = client.get(response.headers["Location"]).get_data(as_text=True)
    match = re.search(r'href="(/manage/[^"]+)"', body)
    assert match, "the confirmation page has no link to the manage page"
    manage_page = client.get(match.group(1))
    assert manage_page.status_code == 200
    assert "Cancel" in manage_page.get_data(as_text=True)


def test_unknown_confirmation_is_404(client):
    assert client.get("/book/confirmed/nope").status_code == 404
    assert client.get("/book/nope/invite.ics").status_code == 404


def test_invite_download_matches_the_booking_and_the_email(client, app):
    response, chosen = book(client)
    booking = only_booking(app)
    download = client.get(f"/book/{booking.public_id}/invite.ics")
    assert download.mimetype == "text/calendar"
    event = Calendar.from_ical(download.data).walk("VEVENT")[0]
    assert event.decoded("dtstart").astimezone(UTC) == parse_slot_value(chosen)
    with app.app_context():
        confirmation = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.kind == "prospect_confirmation")
        ).one()
        emailed = base64.b64decode(confirmation.payload["attachments"][0]["content"])
    assert str(event["uid"]) == str(Calendar.from_ical(emailed).walk("VEVENT")[0]["uid"])


def test_booking_queues_two_emails_for_it(client, app):
    book(client)
    booking = only_booking(app)
    with app.app_context():
        messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.kind for m in messages] == ["prospect_confirmation", "team_notification"]
    assert {m.booking_id for m in messages} == {booking.id}
    assert {m.status for m in messages} == {"queued"}


def test_taken_slot_gives_the_form_back_with_answers(app):
    first, second = app.test_client(), app.test_client()
    page = open_form(second)  # second prospect sees the slot while it is free
    book(first, slot=page.slots[0])
    response = second.post("/book", data=answers(page, company="Other Co"))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "That time was just taken — please choose another." in body
    assert 'value="Other Co"' in body
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 1


# --- reserve_slot without HTTP -------------------------------------------------------------


def booking_request(start: datetime, **overrides) -> BookingRequest:
    values = dict(
        name="Ann Lee",
        email="ann@example.com",
        company="Acme",
        role="COO",
        company_size="50-249",
        goals=GOALS,
        timezone="Europe/London",
        slot_start=start,
        source_article="ai-readiness-assessment",
    )
    values.update(overrides)
    return BookingRequest(**values)


def first_free(app, now):
    return available_slots(app.extensions["availability"], now, [])[0]


def reserve(app, start, now, **overrides):
    return reserve_slot(
        booking_request(start, **overrides),
        availability=app.extensions["availability"],
        privacy_version="2026-11-01",
        now=now,
    )


def test_reserve_slot_stores_booking_and_emails_together(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        booking = reserve(app, slot.start, now)
        assert booking.slot_start == slot.start.replace(tzinfo=None)
        assert len(booking.messages) == 2


def test_reserve_slot_refuses_a_booked_slot(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        reserve(app, slot.start, now)
        with pytest.raises(SlotUnavailable) as info:
            reserve(app, slot.start, now, email="other@example.com")
        assert info.value.code == "taken"


def test_reserve_slot_refuses_a_slot_outside_the_hours(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with app.app_context(), pytest.raises(SlotUnavailable):
        reserve(app, datetime(2026, 11, 29, 3, 0, tzinfo=UTC), now)  # a Sunday night


def test_failed_email_leaves_no_booking(app):
    # An address that cannot be a mail header makes queueing fail: nothing may be stored.
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        with pytest.raises(ValueError):
            reserve(app, slot.start, now, email="ann@example.com\r\nBcc: x@evil.example")
        assert db.session.scalar(select(func.count()).select_from(Booking)) == 0
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


def test_database_index_refuses_two_active_bookings_of_one_slot(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        booking = reserve(app, slot.start, now)
        twin = Booking(
            **{
                c.name: getattr(booking, c.name)
                for c in Booking.__table__.columns
                if c.name != "id"
            }
        )
        twin.public_id = "another-public-id"
        db.session.add(twin)
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_only_recent_and_future_bookings_are_read(client, app):
    """Long-past sessions cannot block a slot, so they are not read on every request."""
    book(client)
    with app.app_context():
        booking = only_booking(app)
        start, end = booking.slot_start, booking.slot_end
        assert active_bookings(start) == [(start, end)]
        assert active_bookings(end + timedelta(days=1)) == [(start, end)]
        assert active_bookings(end + timedelta(days=3)) == []
        assert active_bookings(start, excluding=booking.id) == []


def assert_outside_transaction_reads_the_same(app) -> None:
    """The booking page's autocommit read returns what active_bookings does."""
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    with app.app_context():
        free = available_slots(app.extensions["availability"], now, [])
        for n, slot in enumerate(free[::8][:6]):  # days apart, below the daily cap
            reserve(app, slot.start, now, email=f"p{n}@example.com")
        db.session.execute(
            update(Booking).where(Booking.email == "p1@example.com").values(status="cancelled")
        )
        db.session.commit()
        for moment in (now, now + timedelta(days=5), now + timedelta(days=60)):
            expected = active_bookings(moment)
            assert active_bookings_outside_transaction(moment) == expected
        assert len(active_bookings_outside_transaction(now)) == 5


def test_the_booking_page_reads_bookings_outside_a_transaction(app):
    assert_outside_transaction_reads_the_same(app)


@pytest.mark.postgres
def test_the_booking_page_reads_bookings_outside_a_transaction_on_postgresql(pg_app):
    assert_outside_transaction_reads_the_same(pg_app())


# --- What a reservation reads and writes ---------------------------------------------------


def add_confirmed(starts_and_lengths) -> None:
    """Store confirmed bookings at the given (naive UTC start, length) pairs."""
    for number, (start, length) in enumerate(starts_and_lengths):
        db.session.add(
            Booking(
                public_id=f"fixed-{number}",
                status="confirmed",
                slot_start=start,
                slot_end=start + length,
                timezone="Europe/London",
                name="Ann Lee",
                email="ann@example.com",
                company="Acme",
                role="COO",
                company_size="50-249",
                goals=GOALS,
                consent_at=start - timedelta(days=9),
                privacy_version="2026-11-01",
            )
        )
    db.session.commit()


def assert_span_reads_exactly_the_overlapping_bookings(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    first = datetime(2026, 11, 22, 0, 0)
    lengths = [timedelta(minutes=m) for m in (15, 90, 90, 240, 23 * 60)]
    with app.app_context():
        add_confirmed(
            (first + timedelta(minutes=45 * step), lengths[step % len(lengths)])
            for step in range(200)
        )
        everything = active_bookings(now)
        for offset in range(0, 5 * 24 * 60, 97):
            since = datetime(2026, 11, 22) + timedelta(minutes=offset)
            for width in (timedelta(minutes=30), timedelta(hours=26)):
                until = since + width
                expected = [(s, e) for s, e in everything if e > since and s < until]
                # The span may be aware, as slots.check_span gives it.
                span = (since.replace(tzinfo=UTC), until.replace(tzinfo=UTC))
                assert sorted(active_bookings(now, span=span)) == sorted(expected), span


def test_a_span_reads_exactly_the_bookings_overlapping_it(app):
    assert_span_reads_exactly_the_overlapping_bookings(app)


@pytest.mark.postgres
def test_a_span_reads_exactly_the_bookings_overlapping_it_on_postgresql(pg_app):
    assert_span_reads_exactly_the_overlapping_bookings(pg_app())


def test_a_new_booking_starts_its_history_with_its_creation(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        booking = reserve(app, slot.start, now)
        (created,) = db.session.scalars(select(BookingEvent)).all()

        assert (created.booking_id, created.kind) == (booking.id, "created")
        assert created.slot_start == slot.start.replace(tzinfo=None)
        assert created.at == now.replace(tzinfo=None)
        assert (created.actor, created.source) == ("prospect", "booking form")


def test_the_new_booking_holds_what_the_database_holds(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        booking = reserve(app, slot.start, now)
        returned = {c.name: getattr(booking, c.name) for c in Booking.__table__.columns}
        stored = db.session.execute(select(Booking.__table__)).mappings().one()

        assert returned == dict(stored)
        assert booking.created_at is not None and booking.ics_sequence == 0


def test_the_reservation_queues_the_rows_queueing_would(app):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        booking = reserve(app, slot.start, now)
        reserved = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        queued = [
            emails.queue_email(message, kind=kind, booking=booking)
            for kind, message in emails.booking_emails(booking)
        ]
        db.session.flush()

        for got, want in zip(reserved, queued, strict=True):
            assert (got.channel, got.kind, got.status, got.attempts, got.booking_id) == (
                want.channel,
                want.kind,
                want.status,
                want.attempts,
                want.booking_id,
            )
            assert got.created_at is not None and got.next_attempt_at is not None
            assert got.locked_until is None and got.sent_at is None
            assert without_stamp(got.payload) == without_stamp(want.payload)
        db.session.rollback()


def without_stamp(payload: dict) -> dict:
    """An email payload with each invite's DTSTAMP (the moment it was written) blanked."""
    payload = dict(payload)
    attachments = []
    for attachment in payload["attachments"]:
        content = base64.b64decode(attachment["content"])
        content = re.sub(rb"DTSTAMP:\w+", b"DTSTAMP:", content)
        attachments.append(attachment | {"content": content})
    payload["attachments"] = attachments
    return payload


def test_emails_are_rendered_before_the_lock_is_taken(app, monkeypatch):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    events = []
    lock, render = reservations.lock_reservations, emails.booking_emails
    monkeypatch.setattr(reservations, "lock_reservations", lambda: events.append("lock") or lock())
    monkeypatch.setattr(
        emails, "booking_emails", lambda booking: events.append("render") or render(booking)
    )
    with app.app_context():
        reserve(app, slot.start, now)

    assert events == ["render", "lock"]


def test_a_clash_only_the_index_catches_stores_nothing_of_the_second(app, monkeypatch):
    now = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
    slot = first_free(app, now)
    with app.app_context():
        reserve(app, slot.start, now)
        # As if the check had missed the first booking: the unique index must still refuse.
        monkeypatch.setattr(reservations, "active_bookings", lambda *args, **kwargs: [])
        with pytest.raises(reservations.SlotTaken):
            reserve(app, slot.start, now, email="other@example.com")

        assert db.session.scalar(select(func.count()).select_from(Booking)) == 1
        assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 2
