"""Newsletter emails through the real outbox: SMTP headers, a provider outage, unsubscribing."""

from datetime import timedelta
from email import message_from_bytes, policy

import pytest
from werkzeug.wrappers import Response

from leadform.db import db
from leadform.messages.models import SuppressedAddress
from leadform.messages.outbox import deliver_due
from leadform.messages.senders import SendGridSender, SMTPSender
from leadform.messages.suppressions import MARKETING, address_hash
from leadform.models import utcnow
from leadform.newsletter.emails import confirm_url
from leadform.newsletter.feed import read_feed
from leadform.newsletter.models import Subscriber
from leadform.newsletter.sending import send_new_articles
from tests.leadform.mail_fixtures import API_KEY, smtp_server  # noqa: F401 - a fixture
from tests.leadform.newsletter.helpers import (
    add_subscriber,
    confirm_path,
    csrf_from,
    entry,
    outbox,
    path_of,
    recipients_of,
    unsubscribe_path,
    write_feed,
)

OLD = [entry("old-one", day=1)]
FIRST = entry("first-new", title="First new", day=2)
SECOND = entry("second-new", title="Second new", day=3)
ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def send(app, entries, tmp_path):
    """Write `entries` as the feed and queue what is new."""
    path = write_feed(tmp_path / "feed.xml", entries)
    return send_new_articles(read_feed(path), now=utcnow(), config=app.config)


@pytest.fixture
def mailed(app, tmp_path):
    """Ann and Bob subscribed; the first new article queued for both."""
    with app.app_context():
        add_subscriber("ann@example.com")
        add_subscriber("bob@example.com")
        send(app, OLD, tmp_path)
        send(app, [*OLD, FIRST], tmp_path)
    return app


def test_the_list_headers_arrive_over_smtp(mailed, smtp_server):  # noqa: F811 - fixture
    handler, port = smtp_server
    with mailed.app_context():
        expected = outbox("newsletter_article")[0].payload["headers"]["List-Unsubscribe"]
        report = deliver_due(SMTPSender("127.0.0.1", port, timeout=5), worker_id="w1")

    assert report.sent == 2
    received = [message_from_bytes(raw, policy=policy.default) for raw in handler.messages]
    ann = next(item for item in received if item["To"] == "ann@example.com")
    assert ann["List-Unsubscribe"] == expected
    assert ann["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/newsletter/unsubscribe/")
    assert ann["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert ann["List-Id"] == "<newsletter.127.0.0.1>"
    # Written unfolded, never as RFC 2047 encoded words, which a URL header must not hold.
    raw = next(raw for raw in handler.messages if b"ann@example.com" in raw)
    assert b"List-Unsubscribe: <http://127.0.0.1:8000/newsletter/unsubscribe/" in raw
    text = ann.get_body(("plain",)).get_content()
    assert expected.strip("<>") in text


class Provider:
    """A SendGrid stand-in on the local HTTP server: answers `status`, keeps what it accepted."""

    def __init__(self, httpserver, status: int):
        self.status = status
        self.accepted: list[dict] = []
        self.url = httpserver.url_for("").rstrip("/")
        httpserver.expect_request("/v3/mail/send", method="POST").respond_with_handler(self.handle)

    def handle(self, request):
        """Answer with the current status; keep the JSON only when accepted."""
        if self.status == 202:
            self.accepted.append(request.get_json())
        return Response("", status=self.status)


def test_a_provider_outage_loses_nothing_and_sends_each_email_once(mailed, httpserver):
    provider = Provider(httpserver, status=503)
    sender = SendGridSender(API_KEY, host=provider.url, timeout=5)
    with mailed.app_context():
        down = deliver_due(sender, worker_id="w1")
        assert (down.sent, down.retried) == (0, 2)

        provider.status = 202
        later = utcnow() + timedelta(hours=2)
        back = deliver_due(sender, worker_id="w1", now=later)
        again = deliver_due(sender, worker_id="w1", now=later)

    assert (back.sent, again.sent) == (2, 0)
    assert sorted(item["personalizations"][0]["to"][0]["email"] for item in provider.accepted) == [
        "ann@example.com",
        "bob@example.com",
    ]
    headers = provider.accepted[0]["headers"]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert headers["List-Unsubscribe"].startswith("<http://127.0.0.1:8000/newsletter/unsubscribe/")


def test_one_click_unsubscribe_stops_further_mail(mailed, client, tmp_path):
    with mailed.app_context():
        path = unsubscribe_path(outbox("newsletter_article")[0])
        leaving = outbox("newsletter_article")[0].payload["to"]

    response = client.post(path, data=ONE_CLICK)  # as Gmail or Yahoo post it: no session

    assert response.status_code == 200
    assert "You are unsubscribed" in response.get_data(as_text=True)
    with mailed.app_context():
        assert db.session.scalar(db.select(Subscriber).where(Subscriber.email == leaving)) is None
        # Their unsent copy of the first article is gone too.
        assert leaving not in recipients_of("newsletter_article")
        key = address_hash(leaving)
        row = db.session.scalar(
            db.select(SuppressedAddress).where(SuppressedAddress.address_hash == key)
        )
        assert row.scope == MARKETING

        send(mailed, [*OLD, FIRST, SECOND], tmp_path)
        second = [
            row.payload["to"]
            for row in outbox("newsletter_article")
            if row.payload["subject"] == "Second new"
        ]
        assert leaving not in second and len(second) == 1


def test_unsubscribing_twice_answers_the_same(mailed, client):
    with mailed.app_context():
        path = unsubscribe_path(outbox("newsletter_article")[0])
    first = client.post(path, data=ONE_CLICK)
    second = client.post(path, data=ONE_CLICK)
    assert first.status_code == second.status_code == 200
    assert first.get_data() == second.get_data()


def test_opening_the_unsubscribe_link_only_shows_a_button(mailed, client):
    with mailed.app_context():
        path = unsubscribe_path(outbox("newsletter_article")[0])

    page = client.get(path)

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="List-Unsubscribe" value="One-Click"' in html
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "same-origin"
    with mailed.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Subscriber)) == 2


def test_a_post_without_the_one_click_body_unsubscribes_nobody(mailed, client):
    with mailed.app_context():
        path = unsubscribe_path(outbox("newsletter_article")[0])
    assert client.post(path, data={"List-Unsubscribe": "Maybe"}).status_code == 400
    with mailed.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Subscriber)) == 2


@pytest.mark.parametrize("token", ["a", "x" * 300, "not-a-token", "WyJhYmMiXQ.forged-signature"])
def test_a_forged_unsubscribe_link_is_404_and_changes_nothing(mailed, client, token):
    response = client.post(f"/newsletter/unsubscribe/{token}", data=ONE_CLICK)
    assert response.status_code == 404
    with mailed.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Subscriber)) == 2


def test_a_confirm_link_cannot_unsubscribe(mailed, client):
    with mailed.app_context():
        ann = db.session.scalar(db.select(Subscriber).where(Subscriber.email == "ann@example.com"))
        token = path_of(confirm_url(ann, mailed.config)).rsplit("/", 1)[1]
    assert client.post(f"/newsletter/unsubscribe/{token}", data=ONE_CLICK).status_code == 404


def test_signing_up_again_after_unsubscribing_works_once_confirmed(mailed, client, tmp_path):
    with mailed.app_context():
        rows = outbox("newsletter_article")
        path = unsubscribe_path(next(row for row in rows if row.payload["to"] == "ann@example.com"))
    client.post(path, data=ONE_CLICK)
    client.post("/newsletter/subscribe", data={"email": "ann@example.com", "consent": "y"})
    with mailed.app_context():
        confirm = confirm_path(outbox("newsletter_confirm")[0])
    page = client.get(confirm).get_data(as_text=True)
    client.post(confirm, data={"csrf_token": csrf_from(page)})

    with mailed.app_context():
        send(mailed, [*OLD, FIRST, SECOND], tmp_path)
        second = [
            row.payload["to"]
            for row in outbox("newsletter_article")
            if row.payload["subject"] == "Second new"
        ]
        assert sorted(second) == ["ann@example.com", "bob@example.com"]
        assert db.session.scalar(db.select(db.func.count()).select_from(SuppressedAddress)) == 0
