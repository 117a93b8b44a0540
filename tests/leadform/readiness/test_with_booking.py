"""A booking made from a readiness result carries the check to the team."""

import html
import re
from datetime import UTC, datetime

from sqlalchemy import select

from leadform.booking.reservations import reserve_slot
from leadform.booking.slots import available_slots
from leadform.db import db
from leadform.messages.senders import EmailMessage
from leadform.models import Booking, OutboxMessage
from leadform.readiness.models import ReadinessCheck
from leadform.readiness.services import forget_expired
from tests.leadform.booking.test_booking import booking_request
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.readiness.test_pages import take_check

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def book_with_check(app, check_id):
    slot = available_slots(app.extensions["availability"], NOW, [])[0]
    return reserve_slot(
        booking_request(slot.start, readiness_check_id=check_id),
        availability=app.extensions["availability"],
        privacy_version="2026-11-01",
        now=NOW,
    )


def team_email(app) -> EmailMessage:
    row = db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.kind == "team_notification")
    ).one()
    return EmailMessage.from_dict(row.payload)


def test_the_team_sees_the_scores_and_answers(readiness_app):
    take_check(readiness_app.test_client(), a1="4", a2="4", a3="4", a4="4")
    with readiness_app.app_context():
        check = db.session.scalars(select(ReadinessCheck)).one()
        overall, band = check.overall, check.band
        book_with_check(readiness_app, check.id)
        email = team_email(readiness_app)

    assert f"Readiness check: {overall}% ({band})" in email.text
    assert "- Alpha: 100%" in email.text and "- Beta: 50%" in email.text
    assert "Alpha one.\n  Yes" in email.text
    assert "Delta two &lt;script&gt;" in email.html  # question text escaped in HTML


def test_a_booking_without_a_check_says_nothing_of_one(readiness_app):
    with readiness_app.app_context():
        book_with_check(readiness_app, None)
        email = team_email(readiness_app)

    assert "Readiness check" not in email.text


def test_booking_from_the_result_page_carries_the_check(readiness_app):
    client = readiness_app.test_client()
    result = client.get(take_check(client, "/readiness-check?from=first-article"))
    book_url = re.search(r'href="http://127\.0\.0\.1:8000(/book\?check=[^"]+)"', result.text)
    url = html.unescape(book_url.group(1))

    page = open_form(client, url)
    response = client.post("/book", data=answers(page))

    assert response.status_code == 303
    with readiness_app.app_context():
        check = db.session.scalars(select(ReadinessCheck)).one()
        booking = db.session.scalars(select(Booking)).one()
        assert booking.readiness_check_id == check.id
        assert booking.source_article == "first-article"
        assert f"Readiness check: {check.overall}%" in team_email(readiness_app).text


def test_retention_forgets_old_checks_but_keeps_a_bookings_scores(readiness_app):
    client = readiness_app.test_client()
    take_check(client)
    take_check(client)
    with readiness_app.app_context():
        kept, dropped = db.session.scalars(select(ReadinessCheck).order_by(ReadinessCheck.id))
        kept.email, kept_id, dropped_id = "ada@example.com", kept.id, dropped.id
        db.session.commit()
        book_with_check(readiness_app, kept_id)

    with readiness_app.app_context():
        result = readiness_app.test_cli_runner().invoke(args=["bookings", "anonymise"])
        # Nothing is old yet: both stay.
        assert db.session.get(ReadinessCheck, dropped_id) is not None
        later = datetime(2099, 1, 1)
        assert forget_expired(later) == 1
        assert db.session.get(ReadinessCheck, dropped_id) is None
        survivor = db.session.get(ReadinessCheck, kept_id)
        assert survivor.scores and survivor.email is None
    assert "readiness check(s)" in result.output
