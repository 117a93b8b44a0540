"""The booking emails as queued in the outbox, including hostile input."""

import pytest
from icalendar import Calendar
from markupsafe import escape
from sqlalchemy import select

from leadform.booking.emails import booking_emails, greeting_name, queue_email
from leadform.db import db
from leadform.messages.senders import EmailMessage
from leadform.models import OutboxMessage
from tests.leadform.mail_fixtures import (
    MAIL_FROM,
    PROSPECT_EMAIL,
    TEAM_EMAIL,
    mail_app,  # noqa: F401 - a fixture
    make_booking,
)

SCRIPT = "<script>alert('x')</script>"
HOSTILE_NAME = f"Ada {SCRIPT}\r\nBcc: victim@example.com\n" + "ü" * 190


def store(booking) -> None:
    """Store `booking` and its two emails in the session, the way reserve_slot does."""
    db.session.add(booking)
    for kind, message in booking_emails(booking):
        queue_email(message, kind=kind, booking=booking)
    db.session.flush()


def queue(booking) -> dict[str, EmailMessage]:
    """Queue and commit the emails for `booking`; return them by kind, rebuilt from storage."""
    store(booking)
    db.session.commit()
    rows = db.session.scalars(select(OutboxMessage)).all()
    return {row.kind: EmailMessage.from_dict(row.payload) for row in rows}


def test_two_messages_are_queued_with_the_booking(mail_app):  # noqa: F811
    booking = make_booking()

    store(booking)
    db.session.commit()

    messages = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
    assert [m.kind for m in messages] == ["prospect_confirmation", "team_notification"]
    assert {(m.status, m.channel, m.booking_id) for m in messages} == {
        ("queued", "email", booking.id)
    }


def test_nothing_is_committed_by_queueing(mail_app):  # noqa: F811
    store(make_booking())

    db.session.rollback()

    assert db.session.scalars(select(OutboxMessage)).all() == []


def test_rendering_alone_touches_no_session(mail_app):  # noqa: F811
    booking = make_booking()

    rendered = booking_emails(booking)

    assert [kind for kind, _ in rendered] == ["prospect_confirmation", "team_notification"]
    assert rendered[0][1].attachments[0].filename == "invite.ics"
    assert booking not in db.session and not db.session.new


def test_confirmation_addresses(mail_app):  # noqa: F811
    email = queue(make_booking())["prospect_confirmation"]

    assert (email.to, email.from_, email.reply_to) == (PROSPECT_EMAIL, MAIL_FROM, TEAM_EMAIL)


def test_confirmation_subject_is_in_the_prospects_zone(mail_app):  # noqa: F811
    email = queue(make_booking(timezone="America/New_York"))["prospect_confirmation"]

    assert email.subject == (
        "Confirmed: AI Readiness Assessment on Tuesday 8 December 2026, 09:00–10:30 EST"
    )


def test_confirmation_shows_both_zones(mail_app):  # noqa: F811
    email = queue(make_booking(timezone="America/New_York"))["prospect_confirmation"]

    for body in (email.text, email.html):
        assert "Tuesday 8 December 2026, 09:00–10:30 EST" in body
        assert "Tuesday 8 December 2026, 14:00–15:30 GMT" in body


def test_confirmation_takes_firm_facts_from_site_config(mail_app):  # noqa: F811
    mail_app.config["SITE"]["firm"]["name"] = "Renamed Partners"

    email = queue(make_booking())["prospect_confirmation"]

    assert "Renamed Partners" in email.text
    assert "Renamed Partners" in email.html


def test_confirmation_carries_the_invite(mail_app):  # noqa: F811
    booking = make_booking()

    (attachment,) = queue(booking)["prospect_confirmation"].attachments

    event = Calendar.from_ical(attachment.content).walk("VEVENT")[0]
    assert attachment.mimetype == "text/calendar; method=REQUEST"
    assert str(event["UID"]) == f"{booking.public_id}@book.tessellate.example"
    assert str(event["ATTENDEE"]) == f"mailto:{PROSPECT_EMAIL}"


def test_team_notification_lists_answers_and_attribution(mail_app):  # noqa: F811
    booking = make_booking(
        source_article="why-ai-pilots-stall",
        utm_source="newsletter",
        utm_campaign="winter",
        referrer="https://www.example.org/list",
    )

    email = queue(booking)["team_notification"]

    assert (email.to, email.reply_to) == (TEAM_EMAIL, PROSPECT_EMAIL)
    for value in ("Example Ltd", "COO", "51-200", "why-ai-pilots-stall", "newsletter", "winter"):
        assert value in email.text
        assert value in email.html
    assert "https://www.example.org/list" in email.text


def test_hostile_name_is_escaped_in_html(mail_app):  # noqa: F811
    emails = queue(make_booking(name=HOSTILE_NAME, company=SCRIPT, goals=SCRIPT))

    for email in emails.values():
        assert SCRIPT not in email.html
    # The team sees every answer, escaped; the prospect's email leaves the free text out.
    assert str(escape(SCRIPT)) in emails["team_notification"].html
    assert "alert(" not in emails["prospect_confirmation"].html


def test_hostile_name_stays_verbatim_in_text(mail_app):  # noqa: F811
    emails = queue(make_booking(company=SCRIPT))

    assert SCRIPT in emails["team_notification"].text


def test_hostile_name_cannot_break_the_subject(mail_app):  # noqa: F811
    email = queue(make_booking(name=HOSTILE_NAME, company=HOSTILE_NAME))["team_notification"]

    assert "\r" not in email.subject
    assert "\n" not in email.subject
    assert len(email.subject) <= 150


def test_hostile_name_survives_in_the_invite(mail_app):  # noqa: F811
    email = queue(make_booking(name=HOSTILE_NAME))["prospect_confirmation"]

    (attachment,) = email.attachments
    (event,) = Calendar.from_ical(attachment.content).walk("VEVENT")
    assert str(event["ATTENDEE"]) == f"mailto:{PROSPECT_EMAIL}"
    assert event["ATTENDEE"].params["CN"].startswith("Ada <script>")


@pytest.mark.parametrize(
    ("name", "greeting"),
    [
        ("Siobhán O'Brien", "Siobhán O'Brien"),
        ("  Ada \t Lovelace ", "Ada Lovelace"),
        ("J. R. R. Tolkien", "J. R. R. Tolkien"),
        ("Ada \u202eLovelace", "Ada Lovelace"),
        ("Win a prize at evil.example", None),
        ("See https://evil.example/x", None),
        ("Mail me: ada@evil.example", None),
        ("Go to www.evil", None),
        ("A" * 61, None),
        ("", None),
    ],
)
def test_prospects_are_greeted_by_a_cleaned_name_only(name, greeting):
    assert greeting_name(name) == greeting


def test_prospect_emails_carry_no_free_text_but_a_cleaned_name(mail_app):  # noqa: F811
    booking = make_booking(name="Claim your refund at evil.example", company="Visit evil.example")

    email = queue(booking)["prospect_confirmation"]

    assert "evil.example" not in email.text and "evil.example" not in email.html
    assert email.text.startswith("Hello,") or "\nHello," in email.text
