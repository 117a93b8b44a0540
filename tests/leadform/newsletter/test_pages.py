"""Hostile input on every newsletter field, the signup partial, and erasure of emails in flight."""

from datetime import timedelta

import pytest
from jinja2 import Environment, FileSystemLoader
from sqlalchemy import select

from leadform.db import db
from leadform.models import OutboxMessage, utcnow
from leadform.newsletter.emails import queue_for, signup_email
from leadform.newsletter.models import PENDING, Subscriber, SubscriberEmail
from leadform.newsletter.services import SCRUBBED_PAYLOAD, erase_subscriber
from tests.conftest import ROOT
from tests.leadform.mail_fixtures import load_site
from tests.leadform.newsletter.helpers import add_subscriber, outbox

HOSTILE = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "a@b.c\r\nBcc: victim@example.com",
    '=HYPERLINK("http://evil")',
    "\u202egnp.exe",
    "ü€𝄞" * 300,
    "x" * 5000,
    "\x00\x1b[31m",
]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("field", ["email", "consent", "website", "source"])
def test_hostile_strings_in_every_field_never_break_the_signup(app, client, field, value):
    data = {"email": "reader@example.com", "consent": "y", "source": "an-article"} | {field: value}

    response = client.post("/newsletter/subscribe", data=data)

    assert response.status_code in (200, 303)
    page = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "onerror=alert(1)>" not in page
    with app.app_context():
        for row in db.session.scalars(select(Subscriber)):
            assert "\r" not in row.email and "\n" not in row.email
            assert row.source_article is None or (
                len(row.source_article) <= 200 and "\x00" not in row.source_article
            )
        for message in outbox():
            assert "\n" not in message.payload["to"] and "\n" not in message.payload["subject"]


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_tokens_are_404_pages(client, value):
    for path in ("/newsletter/confirm/", "/newsletter/unsubscribe/"):
        response = client.get(path + value.replace("/", "%2F"))
        assert response.status_code == 404
        assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


def test_the_partial_renders_on_a_static_page_posting_to_the_service():
    env = Environment(loader=FileSystemLoader(str(ROOT / "theme" / "templates")))
    article = type("Article", (), {"slug": "why-ai-pilots-stall"})()
    html = env.get_template("partials/newsletter_signup.html").render(
        SITE=load_site(), SITEURL="https://www.tessellate.example", article=article
    )
    assert 'action="https://www.tessellate.example/newsletter/subscribe"' in html
    assert 'name="source" value="why-ai-pilots-stall"' in html
    assert "csrf_token" not in html


def test_the_partial_draws_nothing_without_the_site_facts():
    env = Environment(loader=FileSystemLoader(str(ROOT / "theme" / "templates")))
    assert env.get_template("partials/newsletter_signup.html").render().strip() == ""


def test_erasure_removes_queued_emails_and_scrubs_one_being_sent(app):
    with app.app_context():
        row = add_subscriber("ann@example.com", PENDING, confirmed_at=None)
        queued = queue_for(
            row, signup_email(row, app.config)[1], kind="newsletter_confirm", due=utcnow()
        )
        sending = queue_for(
            row, signup_email(row, app.config)[1], kind="newsletter_confirm", due=utcnow()
        )
        sending.locked_until, sending.locked_by = utcnow() + timedelta(minutes=2), "w1"
        add_subscriber("bob@example.com")
        db.session.commit()
        queued_id, sending_id = queued.id, sending.id

        assert erase_subscriber(row, utcnow()) == 2
        db.session.commit()

        db.session.expire_all()
        assert db.session.get(OutboxMessage, queued_id) is None
        assert db.session.get(OutboxMessage, sending_id).payload == SCRUBBED_PAYLOAD
        assert db.session.scalars(select(Subscriber.email)).all() == ["bob@example.com"]
        assert db.session.scalars(select(SubscriberEmail)).all() == []
