"""Signing up, confirming and expiring, through the real pages on a fresh SQLite file."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from leadform.db import db
from leadform.models import utcnow
from leadform.newsletter.emails import queue_for, signup_email
from leadform.newsletter.models import CONFIRMED, PENDING, Subscriber
from leadform.newsletter.services import purge_expired
from tests.leadform.newsletter.helpers import (
    add_subscriber,
    confirm_path,
    csrf_from,
    outbox,
    recipients_of,
)

ADDRESS = "reader@example.com"
SIGNUP = {"email": ADDRESS, "consent": "y", "source": "why-ai-pilots-stall"}


def subscriber(email: str = ADDRESS) -> Subscriber | None:
    """The stored subscriber with `email`, read fresh."""
    db.session.expire_all()
    return db.session.scalar(select(Subscriber).where(Subscriber.email == email))


def test_the_form_page_has_email_consent_and_the_honeypot(client):
    page = client.get("/newsletter/subscribe?from=some-article").get_data(as_text=True)
    assert 'name="email"' in page
    assert 'name="consent"' in page
    assert 'name="website"' in page
    assert 'value="some-article"' in page
    assert 'action="/newsletter/subscribe"' in page


def test_a_signup_without_csrf_token_is_stored_pending_with_its_consent(app, client):
    response = client.post("/newsletter/subscribe", data=SIGNUP)

    assert response.status_code == 303
    assert response.headers["Location"] == "/newsletter/subscribe/sent"
    with app.app_context():
        row = subscriber()
        assert row.status == PENDING
        assert row.consent_version == app.config["SITE"]["privacy"]["policy_version"]
        assert row.signed_up_at is not None and row.confirmed_at is None
        assert row.source_article == "why-ai-pilots-stall"
        assert recipients_of("newsletter_confirm") == [ADDRESS]
    assert "Check your inbox" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_address_is_stored_in_lower_case(app, client):
    client.post("/newsletter/subscribe", data=SIGNUP | {"email": "  Reader@Example.COM "})
    with app.app_context():
        assert subscriber().email == ADDRESS


def test_confirming_takes_a_post_from_the_page_the_link_opens(app, client):
    client.post("/newsletter/subscribe", data=SIGNUP)
    with app.app_context():
        path = confirm_path(outbox("newsletter_confirm")[0])

    page = client.get(path)
    assert page.status_code == 200
    assert "Confirm my subscription" in page.get_data(as_text=True)
    with app.app_context():
        assert subscriber().status == PENDING  # a GET (a mail scanner) changes nothing

    response = client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})

    assert response.status_code == 303
    assert response.headers["Location"] == "/newsletter/confirmed"
    with app.app_context():
        row = subscriber()
        assert row.status == CONFIRMED
        assert row.confirmed_at is not None


def test_confirming_over_https_works_with_the_referer_the_page_lets_through(app, client):
    client.post("/newsletter/subscribe", data=SIGNUP, base_url="https://localhost")
    with app.app_context():
        path = confirm_path(outbox("newsletter_confirm")[0])
    page = client.get(path, base_url="https://localhost")
    # Same-origin: the browser sends the page's own address when its button posts back.
    assert page.headers["Referrer-Policy"] == "same-origin"
    token = csrf_from(page.get_data(as_text=True))

    response = client.post(
        path,
        data={"csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": f"https://localhost{path}"},
    )

    assert response.status_code == 303
    with app.app_context():
        assert subscriber().status == CONFIRMED


def test_confirming_without_the_csrf_token_is_refused(app, client):
    client.post("/newsletter/subscribe", data=SIGNUP)
    with app.app_context():
        path = confirm_path(outbox("newsletter_confirm")[0])

    response = client.post(path, data={})

    assert response.status_code == 400
    with app.app_context():
        assert subscriber().status == PENDING


def test_an_altered_confirmation_link_is_404(app, client):
    client.post("/newsletter/subscribe", data=SIGNUP)
    with app.app_context():
        path = confirm_path(outbox("newsletter_confirm")[0])
    assert client.get(path[:-3] + "xyz").status_code == 404


def test_a_confirmed_address_signing_up_again_gets_a_note_and_the_same_page(app, client):
    with app.app_context():
        add_subscriber(ADDRESS)
    new = client.post("/newsletter/subscribe", data=SIGNUP | {"email": "new@example.com"})
    again = client.post("/newsletter/subscribe", data=SIGNUP)

    # The visitor sees the same answer for both: the page tells nobody who subscribes.
    assert again.status_code == new.status_code == 303
    assert again.headers["Location"] == new.headers["Location"]
    with app.app_context():
        assert recipients_of("newsletter_already") == [ADDRESS]
        assert recipients_of("newsletter_confirm") == ["new@example.com"]
        assert subscriber().status == CONFIRMED


def test_signing_up_again_at_once_sends_no_second_email(app, client):
    client.post("/newsletter/subscribe", data=SIGNUP)
    client.post("/newsletter/subscribe", data=SIGNUP)
    with app.app_context():
        assert recipients_of("newsletter_confirm") == [ADDRESS]


def test_the_honeypot_answers_like_a_signup_and_stores_nothing(app, client):
    response = client.post("/newsletter/subscribe", data=SIGNUP | {"website": "http://spam"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/newsletter/subscribe/sent"
    with app.app_context():
        assert subscriber() is None
        assert outbox() == []


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": ADDRESS}, "Tick the box"),
        ({"consent": "y"}, "Enter your email address"),
        ({"email": "not-an-address", "consent": "y"}, "like name@company.com"),
    ],
)
def test_an_incomplete_signup_is_shown_again_with_its_error(app, client, data, error):
    response = client.post("/newsletter/subscribe", data=data)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert error in page
    assert 'aria-invalid="true"' in page
    with app.app_context():
        assert outbox() == []


def test_signups_per_email_address_are_limited(make_app):
    app = make_app(NEWSLETTER_EMAIL_RATE_LIMIT="2/hour")
    client = app.test_client()
    codes = [
        client.post("/newsletter/subscribe", data=SIGNUP | {"email": email}).status_code
        for email in (ADDRESS, ADDRESS.upper(), ADDRESS, "other@example.com")
    ]
    assert codes == [303, 303, 429, 303]


def test_signups_per_client_address_are_limited(make_app):
    app = make_app(NEWSLETTER_RATE_LIMIT="3/hour")
    client = app.test_client()
    codes = [
        client.post(
            "/newsletter/subscribe", data=SIGNUP | {"email": f"r{n}@example.com"}
        ).status_code
        for n in range(4)
    ]
    assert codes == [303, 303, 303, 429]


def test_an_expired_link_says_so_and_does_not_confirm(app, client):
    client.post("/newsletter/subscribe", data=SIGNUP)
    with app.app_context():
        path = confirm_path(outbox("newsletter_confirm")[0])
        row = subscriber()
        row.signed_up_at = utcnow() - timedelta(hours=73)
        db.session.commit()

    page = client.get(path).get_data(as_text=True)

    assert "This link has expired" in page
    assert "csrf_token" not in page
    with app.app_context():
        assert subscriber().status == PENDING


def test_purge_deletes_expired_signups_and_their_emails_only(app):
    with app.app_context():
        long_ago = utcnow() - timedelta(hours=80)
        old = add_subscriber("old@example.com", PENDING, signed_up_at=long_ago)
        add_subscriber("fresh@example.com", PENDING)
        add_subscriber("reader@example.com", CONFIRMED, signed_up_at=utcnow() - timedelta(days=90))
        queue_for(old, signup_email(old, app.config)[1], kind="newsletter_confirm", due=utcnow())
        db.session.commit()

        assert purge_expired(utcnow(), app.config["NEWSLETTER_CONFIRM_HOURS"]) == 1

        left = db.session.scalars(select(Subscriber.email).order_by(Subscriber.email)).all()
        assert left == ["fresh@example.com", "reader@example.com"]
        assert outbox() == []


def test_the_purge_command_reports_what_it_deleted(app, runner):
    with app.app_context():
        add_subscriber("old@example.com", PENDING, signed_up_at=utcnow() - timedelta(hours=80))
    result = runner.invoke(args=["newsletter", "purge"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 unconfirmed signups." in result.output
