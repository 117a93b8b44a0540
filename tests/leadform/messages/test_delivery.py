"""Delivery states and the suppression list as plain functions, and the worker's side of it:
the outbox id travels to SendGrid as a custom arg, and what the provider said is recorded.
"""

from datetime import datetime, timedelta

import pytest

from leadform.booking.emails import queue_email
from leadform.db import db
from leadform.messages import suppressions
from leadform.messages.delivery import (
    UnknownStateError,
    bounce_alert,
    history,
    moves_to,
    undeliverable_share,
)
from leadform.messages.outbox import deliver_due
from leadform.messages.senders import SendGridSender
from leadform.models import OutboxMessage, utcnow
from tests.leadform.mail_fixtures import (
    API_KEY,
    PROSPECT_EMAIL,
    mail_app,  # noqa: F401 - a fixture
    make_email,
)

T0 = datetime(2026, 12, 1, 12, 0)
EARLIER, LATER = T0 - timedelta(seconds=5), T0 + timedelta(seconds=5)


@pytest.mark.parametrize(
    ("current", "new", "at", "moves"),
    [
        (None, "processed", T0, True),
        ("processed", "deferred", LATER, True),
        ("deferred", "delivered", LATER, True),
        ("delivered", "deferred", LATER, False),  # a state on the way never undoes the end
        ("accepted", "delivered", EARLIER, True),  # the end wins over a slightly later "accepted"
        ("delivered", "bounced", LATER, True),  # an asynchronous bounce
        ("bounced", "delivered", EARLIER, False),
        ("delivered", "spam_report", LATER, True),
        ("deferred", "processed", EARLIER, False),
    ],
)
def test_states_move_forward_only(current, new, at, moves):
    assert moves_to(current, T0 if current else None, new, at) is moves


def test_an_unknown_state_is_a_bug():
    with pytest.raises(UnknownStateError):
        moves_to(None, None, "opened", T0)


def test_the_outbox_id_travels_as_a_custom_arg_and_acceptance_is_recorded(mail_app, httpserver):  # noqa: F811
    httpserver.expect_request("/v3/mail/send", method="POST").respond_with_data("", status=202)
    message = queue_email(make_email(), kind="prospect_confirmation")
    db.session.commit()
    sender = SendGridSender(API_KEY, host=httpserver.url_for("").rstrip("/"), timeout=5)

    deliver_due(sender, worker_id="w1")

    request, _response = httpserver.log[0]
    assert request.get_json()["custom_args"] == {"outbox_id": str(message.id)}
    db.session.expire_all()
    assert db.session.get(OutboxMessage, message.id).delivery_state == "accepted"
    assert [event.event for event in history(message.id)] == ["accepted"]


def test_a_bounce_outranks_a_complaint_and_lifting_clears_both(mail_app):  # noqa: F811
    suppressions.suppress(PROSPECT_EMAIL, suppressions.MARKETING, "spamreport")
    suppressions.suppress(PROSPECT_EMAIL.upper(), suppressions.ALL, "bounce")
    suppressions.suppress(PROSPECT_EMAIL, suppressions.MARKETING, "unsubscribe")
    db.session.commit()

    assert not suppressions.may_send(PROSPECT_EMAIL, transactional=True)
    assert suppressions.lift(f" {PROSPECT_EMAIL} ")
    assert suppressions.may_send(PROSPECT_EMAIL, transactional=False)
    assert not suppressions.lift(PROSPECT_EMAIL)


def test_the_list_keeps_no_readable_address(mail_app):  # noqa: F811
    row = suppressions.suppress(PROSPECT_EMAIL, suppressions.ALL, "bounce")

    assert PROSPECT_EMAIL not in row.address_hash
    assert len(row.address_hash) == 64


def sent_messages(states: list[str | None]) -> None:
    """Store sent confirmations with the given delivery states."""
    for state in states:
        message = queue_email(make_email(), kind="prospect_confirmation")
        message.status, message.delivery_state, message.delivery_state_at = "sent", state, T0
    db.session.commit()


def test_the_bounce_share_warns_above_the_threshold(mail_app):  # noqa: F811
    sent_messages(["delivered"] * 18 + ["bounced", "dropped"])  # 10 %
    week_ago = utcnow() - timedelta(days=7)

    assert undeliverable_share("prospect_confirmation", week_ago) == (2, 20)
    assert bounce_alert("prospect_confirmation", week_ago, 10) is None
    warning = bounce_alert("prospect_confirmation", week_ago, 5)
    assert warning.startswith("2 of 20 prospect confirmation emails")


def test_no_emails_no_warning(mail_app):  # noqa: F811
    assert bounce_alert("prospect_confirmation", utcnow() - timedelta(days=7), 5) is None
