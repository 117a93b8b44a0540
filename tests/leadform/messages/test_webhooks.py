"""Booking events as signed webhooks: queued in the outbox, received by a real local server."""

import hashlib
import hmac
import json
import socket
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from leadform import create_app
from leadform.config import ConfigError
from leadform.db import db
from leadform.messages.outbox import deliver_due
from leadform.messages.senders import make_sender
from leadform.messages.webhooks import queue_booking_event
from leadform.models import Booking, OutboxMessage, utcnow
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.conftest import base_config

SECRET = "whsec-test-0123456789"  # noqa: S105 - a test value
PATH = "/hooks/crm"
OCCURRED = datetime(2026, 3, 1, 9, 30, 0)
EXPECTED_PAYLOAD = {
    "event": "booking.created",
    "occurred_at": "2026-03-01T09:30:00Z",
    "booking": {
        "public_id": "pub-0001",
        "status": "confirmed",
        "slot_start": "2026-03-02T14:00:00Z",
        "slot_end": "2026-03-02T15:30:00Z",
        "timezone": "Europe/Berlin",
        "name": "Siobhán O'Brien",
        "email": "siobhan@example.com",
        "company": "Acme Insurance",
        "role": "COO",
        "company_size": "250-999",
        "source_article": "ai-in-claims",
        "utm_source": "newsletter",
        "utm_medium": "email",
        "utm_campaign": "spring",
        "utm_term": None,
        "utm_content": None,
    },
}


@pytest.fixture
def hook_app(make_app, httpserver):
    """An app whose webhooks go to the local test server."""
    return make_app(WEBHOOK_URL=httpserver.url_for(PATH), WEBHOOK_SECRET=SECRET)


def add_booking() -> Booking:
    """Store a booking with fixed values (no emails: only the webhook is under test)."""
    booking = Booking(
        public_id="pub-0001",
        status="confirmed",
        slot_start=datetime(2026, 3, 2, 14, 0),
        slot_end=datetime(2026, 3, 2, 15, 30),
        timezone="Europe/Berlin",
        name="Siobhán O'Brien",
        email="siobhan@example.com",
        company="Acme Insurance",
        role="COO",
        company_size="250-999",
        goals="A ranked list of use cases.",
        consent_at=OCCURRED,
        privacy_version="2026-11-01",
        source_article="ai-in-claims",
        utm_source="newsletter",
        utm_medium="email",
        utm_campaign="spring",
    )
    db.session.add(booking)
    db.session.flush()
    return booking


def queue_created_event(app) -> int:
    """Queue booking.created for a new fixed booking; return the outbox message id."""
    with app.app_context():
        message = queue_booking_event(add_booking(), "booking.created", now=OCCURRED)
        db.session.commit()
        return message.id


def deliver(app, now=None):
    """Run one pass of the outbox worker."""
    with app.app_context():
        return deliver_due(make_sender(app.config), worker_id="w1", now=now or utcnow())


def webhook_row(app, message_id: int) -> tuple[str, int, list[str]]:
    """Return (status, attempts, outcomes of the tries) of an outbox message."""
    with app.app_context():
        row = db.session.get(OutboxMessage, message_id)
        return row.status, row.attempts, [a.outcome for a in row.delivery_attempts]


def free_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_exact_json_arrives_with_a_verifiable_signature(hook_app, httpserver):
    httpserver.expect_oneshot_request(PATH, method="POST").respond_with_data("ok")
    message_id = queue_created_event(hook_app)

    assert deliver(hook_app).sent == 1

    request, _ = httpserver.log[0]
    body = request.get_data()
    timestamp = request.headers["X-Leadform-Timestamp"]
    expected = hmac.new(SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    assert json.loads(body) == EXPECTED_PAYLOAD
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["X-Leadform-Event"] == "booking.created"
    assert request.headers["X-Leadform-Delivery"] == str(message_id)
    assert request.headers["X-Leadform-Signature"] == f"sha256={expected.hexdigest()}"


def test_server_error_then_ok_is_retried_and_delivered_once(hook_app, httpserver):
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_data("down", status=500)
    httpserver.expect_ordered_request(PATH, method="POST").respond_with_data("ok", status=200)
    message_id = queue_created_event(hook_app)
    now = utcnow()

    assert deliver(hook_app, now).retried == 1
    assert deliver(hook_app, now + timedelta(hours=1)).sent == 1
    assert deliver(hook_app, now + timedelta(hours=2)).handled == 0

    assert len(httpserver.log) == 2
    assert webhook_row(hook_app, message_id) == ("sent", 2, ["retry", "sent"])


@pytest.mark.parametrize("status", [400, 404, 410])
def test_client_error_fails_the_message_at_once(hook_app, httpserver, status):
    httpserver.expect_request(PATH, method="POST").respond_with_data("no", status=status)
    message_id = queue_created_event(hook_app)

    assert deliver(hook_app).failed == 1

    assert webhook_row(hook_app, message_id) == ("failed", 1, ["failed"])


@pytest.mark.parametrize("status", [408, 429, 503])
def test_passing_errors_are_retried(hook_app, httpserver, status):
    httpserver.expect_request(PATH, method="POST").respond_with_data("later", status=status)
    message_id = queue_created_event(hook_app)

    assert deliver(hook_app).retried == 1

    assert webhook_row(hook_app, message_id) == ("queued", 1, ["retry"])


def test_a_redirect_is_not_followed(hook_app, httpserver):
    # urllib would repeat a redirected POST as a GET without the body.
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        "", status=302, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    message_id = queue_created_event(hook_app)

    assert deliver(hook_app).failed == 1

    assert webhook_row(hook_app, message_id)[0] == "failed"
    assert len(httpserver.log) == 1


def test_refused_connection_is_retried(make_app):
    app = make_app(WEBHOOK_URL=f"http://127.0.0.1:{free_port()}/hook", WEBHOOK_SECRET=SECRET)
    message_id = queue_created_event(app)

    assert deliver(app).retried == 1

    with app.app_context():
        row = db.session.get(OutboxMessage, message_id)
        assert row.last_error == "Webhook unreachable: URLError"


def test_a_receiver_that_never_answers_is_retried(make_app):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # accepts connections (in the backlog) but never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/hook"
        app = make_app(WEBHOOK_URL=url, WEBHOOK_SECRET=SECRET, WEBHOOK_TIMEOUT=0.2)
        message_id = queue_created_event(app)

        assert deliver(app).retried == 1

    assert webhook_row(app, message_id) == ("queued", 1, ["retry"])


def test_stored_errors_hold_no_personal_data(hook_app, httpserver):
    httpserver.expect_request(PATH, method="POST").respond_with_data(
        "siobhan@example.com is invalid", status=422
    )
    message_id = queue_created_event(hook_app)

    deliver(hook_app)

    with hook_app.app_context():
        row = db.session.get(OutboxMessage, message_id)
        assert row.last_error == "Webhook answered HTTP 422"


def test_a_booking_through_the_form_queues_booking_created(hook_app):
    client = hook_app.test_client()
    page = open_form(client, "/book?from=ai-in-claims&utm_campaign=spring")
    assert client.post("/book", data=answers(page)).status_code == 303

    with hook_app.app_context():
        booking = db.session.scalars(select(Booking)).one()
        hooks = db.session.scalars(select(OutboxMessage).where(OutboxMessage.channel == "webhook"))
        (message,) = hooks.all()
        assert message.kind == "booking.created"
        assert message.booking_id == booking.id
        assert message.payload["booking"]["public_id"] == booking.public_id
        assert message.payload["booking"]["utm_campaign"] == "spring"


def test_without_a_url_nothing_is_queued(app, client):
    page = open_form(client, "/book")
    assert client.post("/book", data=answers(page)).status_code == 303

    with app.app_context():
        assert queue_booking_event(db.session.scalars(select(Booking)).one(), "x") is None
        assert db.session.scalars(select(OutboxMessage.channel)).all() == ["email", "email"]


def test_a_url_without_a_secret_refuses_to_start(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADFORM_WEBHOOK_URL", "https://crm.example/hooks/leadform")

    with pytest.raises(ConfigError, match="LEADFORM_WEBHOOK_SECRET"):
        create_app(base_config(tmp_path))


def test_a_url_that_is_not_http_refuses_to_start(tmp_path):
    config = base_config(tmp_path, WEBHOOK_URL="file:///etc/passwd", WEBHOOK_SECRET=SECRET)

    with pytest.raises(ConfigError, match="LEADFORM_WEBHOOK_URL"):
        create_app(config)
