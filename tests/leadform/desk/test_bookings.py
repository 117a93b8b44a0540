"""The bookings pages of the desk: tabs, search, detail, follow-up actions, escaping."""

from datetime import timedelta

import pytest

from leadform.db import db
from leadform.desk.queries import BookingFilter, escape_like, find_bookings, mask_email
from leadform.desk.services import AttendanceNotAllowed, mark_attendance
from leadform.models import (
    Booking,
    BookingEvent,
    BookingNote,
    DeliveryAttempt,
    Operator,
    utcnow,
)
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import add_booking, add_message, csrf_token

app, operator, desk = admin_helpers.app, admin_helpers.operator, admin_helpers.desk

HOSTILE = {
    "name": "<script>alert('name')</script>",
    "company": '"><img src=x onerror=alert(1)>',
    "role": "Chief\r\nSet-Cookie: evil=1",
    "goals": "Line one\r\n<b>bold</b>\n" + "ü€𝄞" * 500,
    "source_article": "<svg onload=alert(2)>",
    "referrer": "javascript:alert(3)//<i>",
}
RAW_MARKUP = ["<script>alert", "<img src=x", "<b>bold", "<svg onload", "<i>"]


def _page(desk, url: str) -> str:
    response = desk.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _booking(app, public_id: str) -> Booking:
    return db.session.scalar(db.select(Booking).where(Booking.public_id == public_id))


@pytest.mark.parametrize(
    ("tab", "shown", "hidden"),
    [
        ("upcoming", "Future Person", ["Past Person", "Gone Person"]),
        ("past", "Past Person", ["Future Person", "Gone Person"]),
        ("cancelled", "Gone Person", ["Future Person", "Past Person"]),
    ],
)
def test_tabs_split_upcoming_past_and_cancelled(app, desk, tab, shown, hidden):
    now = utcnow()
    add_booking(app, name="Future Person", start=now + timedelta(days=2))
    add_booking(app, name="Past Person", start=now - timedelta(days=2))
    add_booking(app, name="Gone Person", start=now + timedelta(days=3), status="cancelled")
    html = _page(desk, f"/admin/bookings?tab={tab}")
    assert shown in html
    assert [name for name in hidden if name in html] == []


@pytest.mark.parametrize(
    ("search", "found"),
    [("ACME", True), ("SIOBHAN@EXAMPLE", True), ("siobhán", True), ("nomatch", False)],
)
def test_search_matches_name_email_or_company(app, search, found):
    add_booking(app)
    with app.app_context():
        rows = find_bookings(db.session, BookingFilter(search=search), utcnow())
    assert bool(rows) is found


def test_search_treats_wildcards_literally(app):
    add_booking(app, company="50% Off Ltd")
    add_booking(app, company="500 Offices", start=utcnow() + timedelta(days=2))
    with app.app_context():
        rows = find_bookings(db.session, BookingFilter(search="50%"), utcnow())
        assert [row.company for row in rows] == ["50% Off Ltd"]
        assert find_bookings(db.session, BookingFilter(search="_"), utcnow()) == []


def test_escape_like_escapes_the_escape_character_first():
    assert escape_like("a\\%_") == "a\\\\\\%\\_"


def test_unknown_tab_falls_back_to_upcoming():
    parsed = BookingFilter.from_args({"tab": "<x>", "q": "  a   b "})
    assert parsed == BookingFilter("upcoming", "a b")


def test_mask_email_keeps_first_letter_and_domain():
    assert mask_email("Jane <jane@example.com>") == "j***@example.com"
    assert mask_email("not-an-address") == "***"


def test_detail_shows_answers_attribution_history_and_emails(app, desk):
    public_id = add_booking(app, source_article="ai-in-claims", utm_campaign="spring-launch")
    message_id = add_message(app, public_id, status="failed", attempts=3, last_error="HTTP 401")
    with app.app_context():
        booking = _booking(app, public_id)
        db.session.add(BookingEvent(booking=booking, kind="created", slot_start=booking.slot_start))
        db.session.add(DeliveryAttempt(message_id=message_id, outcome="failed", error="HTTP 401"))
        db.session.commit()
    html = _page(desk, f"/admin/bookings/{public_id}")
    for expected in ("Head of Operations", "A ranked shortlist", "ai-in-claims", "spring-launch"):
        assert expected in html
    assert "created" in html and "prospect confirmation" in html and "HTTP 401" in html
    assert "s***@example.com" in html and "SECRET BODY" not in html


def test_unknown_booking_is_404(desk):
    assert desk.get("/admin/bookings/nope").status_code == 404


def _post(desk, url: str, **data):
    data["csrf_token"] = csrf_token(desk, "/admin/bookings")
    return desk.post(url, data=data)


def test_marking_a_past_session_attended_records_an_event(app, desk):
    public_id = add_booking(app, start=utcnow() - timedelta(hours=3))
    response = _post(desk, f"/admin/bookings/{public_id}/attendance", attendance="no_show")
    assert response.status_code == 303
    with app.app_context():
        booking = _booking(app, public_id)
        assert booking.attendance == "no_show"
        assert [(e.kind, e.actor) for e in booking.events] == [("no_show", "operator:alice")]


def test_attendance_cannot_be_marked_before_the_session(app, desk):
    public_id = add_booking(app)
    _post(desk, f"/admin/bookings/{public_id}/attendance", attendance="attended")
    assert "has not started yet" in _page(desk, f"/admin/bookings/{public_id}")
    with app.app_context():
        assert _booking(app, public_id).attendance is None


def test_invalid_attendance_value_is_refused(app, desk):
    public_id = add_booking(app, start=utcnow() - timedelta(hours=3))
    response = _post(desk, f"/admin/bookings/{public_id}/attendance", attendance="maybe")
    assert response.status_code == 400


def test_note_is_stored_with_its_operator(app, desk):
    public_id = add_booking(app)
    response = _post(desk, f"/admin/bookings/{public_id}/notes", body="Call back on Monday.")
    assert response.status_code == 303
    with app.app_context():
        note = db.session.scalar(db.select(BookingNote))
        assert (note.body, note.operator.username) == ("Call back on Monday.", "alice")
    assert "Call back on Monday." in _page(desk, f"/admin/bookings/{public_id}")


def test_empty_note_is_refused_and_nothing_stored(app, desk):
    public_id = add_booking(app)
    response = _post(desk, f"/admin/bookings/{public_id}/notes", body="   ")
    assert response.status_code == 400
    assert "Write the note" in response.get_data(as_text=True)


def test_post_without_csrf_token_is_refused(app, desk):
    public_id = add_booking(app)
    response = desk.post(f"/admin/bookings/{public_id}/notes", data={"body": "hello"})
    assert response.status_code == 400


def test_cancel_on_behalf_records_the_operator(app, desk):
    public_id = add_booking(app)
    assert _post(desk, f"/admin/bookings/{public_id}/cancel").status_code == 303
    with app.app_context():
        booking = _booking(app, public_id)
        assert booking.status == "cancelled"
        assert booking.events[-1].actor == "operator:alice"


def test_cancelling_twice_says_it_was_already_cancelled(app, desk):
    public_id = add_booking(app, status="cancelled")
    _post(desk, f"/admin/bookings/{public_id}/cancel")
    assert "already cancelled" in _page(desk, f"/admin/bookings/{public_id}")


def test_erase_replaces_personal_data_and_keeps_history(app, desk):
    public_id = add_booking(app, start=utcnow() - timedelta(days=3))
    assert _post(desk, f"/admin/bookings/{public_id}/erase").status_code == 303
    with app.app_context():
        booking = _booking(app, public_id)
        assert booking.anonymised_at is not None
        assert "siobhan" not in booking.email
        assert booking.events[-1].kind == "anonymised"


def test_hostile_answers_are_escaped_on_every_page(app, desk):
    public_id = add_booking(app, start=utcnow() - timedelta(hours=2), **HOSTILE)
    add_message(app, public_id, status="failed", last_error="<script>alert('err')</script>")
    with app.app_context():
        booking = _booking(app, public_id)
        note = BookingNote(booking=booking, body="<img src=x onerror=alert(4)>")
        db.session.add(note)
        db.session.commit()
    for url in (
        "/admin/bookings?tab=past",
        f"/admin/bookings?tab=past&q={HOSTILE['company'][:5]}",
        f"/admin/bookings/{public_id}",
        "/admin/outbox",
    ):
        html = _page(desk, url)
        assert [raw for raw in RAW_MARKUP if raw in html] == [], url
        assert "&lt;script&gt;alert(" in html or "&#34;&gt;&lt;img" in html, url


@pytest.mark.parametrize(
    ("status", "hours_from_now", "attendance", "refusal"),
    [
        ("cancelled", -3, "attended", "was cancelled"),
        ("confirmed", 3, "attended", "has not started yet"),
        ("confirmed", -3, "maybe", "must be one of"),
    ],
)
def test_mark_attendance_refusals(app, status, hours_from_now, attendance, refusal):
    start = utcnow() + timedelta(hours=hours_from_now)
    public_id = add_booking(app, start=start, status=status)
    with app.app_context():
        booking = _booking(app, public_id)
        alice = Operator(username="alice", display_name="Alice", password_hash="x")
        with pytest.raises(AttendanceNotAllowed, match=refusal):
            mark_attendance(booking, attendance, alice, utcnow())
        assert booking.attendance is None
