"""A booking made from a readiness result carries the check to the team."""

from datetime import UTC, datetime

from sqlalchemy import select

from leadform.booking.reservations import reserve_slot
from leadform.booking.slots import available_slots
from leadform.db import db
from leadform.messages.senders import EmailMessage
from leadform.models import OutboxMessage
from leadform.readiness.models import ReadinessCheck
from tests.leadform.booking.test_booking import booking_request
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
