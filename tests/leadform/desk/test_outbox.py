"""The desk's email outbox page: statuses, masked recipients, no bodies, retry."""

from leadform.db import db
from leadform.models import OutboxMessage
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import add_booking, add_message, csrf_token

app, operator, desk = admin_helpers.app, admin_helpers.operator, admin_helpers.desk


def _status(app, message_id: int) -> tuple[str, int]:
    with app.app_context():
        message = db.session.get(OutboxMessage, message_id)
        return message.status, message.attempts


def test_outbox_lists_messages_without_bodies_and_with_masked_recipients(app, desk):
    public_id = add_booking(app, name="Jane Prospect")
    add_message(app, public_id, status="failed", attempts=8, last_error="HTTP 403 Forbidden")
    add_message(app, None, kind="team_notification", status="sent", attempts=1)
    html = desk.get("/admin/outbox").get_data(as_text=True)
    assert "HTTP 403 Forbidden" in html
    assert f'href="/admin/bookings/{public_id}"' in html and "Jane Prospect" in html
    assert "s***@example.com" in html
    assert "siobhan@example.com" not in html
    assert "SECRET BODY" not in html
    assert "1 failed · 0 queued · 1 sent" in html


def test_outbox_filters_by_status(app, desk):
    add_message(app, None, kind="prospect_confirmation", status="failed")
    add_message(app, None, kind="team_notification", status="sent")
    html = desk.get("/admin/outbox?status=failed").get_data(as_text=True)
    assert "prospect confirmation" in html
    assert "team notification" not in html


def test_retry_requeues_a_failed_message(app, desk):
    message_id = add_message(app, None, status="failed", attempts=8)
    token = csrf_token(desk, "/admin/outbox")
    response = desk.post(f"/admin/outbox/{message_id}/retry", data={"csrf_token": token})
    assert response.status_code == 303
    assert _status(app, message_id) == ("queued", 0)
    assert "queued again" in desk.get(response.location).get_data(as_text=True)


def test_only_failed_messages_show_a_retry_button(app, desk):
    add_message(app, None, status="sent")
    assert "Retry" not in desk.get("/admin/outbox").get_data(as_text=True)


def test_retrying_a_sent_message_changes_nothing(app, desk):
    message_id = add_message(app, None, status="sent", attempts=1)
    token = csrf_token(desk, "/admin/outbox")
    response = desk.post(f"/admin/outbox/{message_id}/retry", data={"csrf_token": token})
    assert _status(app, message_id) == ("sent", 1)
    assert "only failed ones can be retried" in desk.get(response.location).get_data(as_text=True)


def test_retrying_an_unknown_message_is_404(desk):
    token = csrf_token(desk, "/admin/outbox")
    assert desk.post("/admin/outbox/999/retry", data={"csrf_token": token}).status_code == 404


def test_retry_needs_the_csrf_token(app, desk):
    message_id = add_message(app, None, status="failed", attempts=8)
    assert desk.post(f"/admin/outbox/{message_id}/retry").status_code == 400
    assert _status(app, message_id) == ("failed", 8)
