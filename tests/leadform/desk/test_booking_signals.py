"""What the desk shows beside a booking: bounces, holds, delivery history, the readiness check."""

from datetime import timedelta

from leadform.db import db
from leadform.messages.models import DeliveryEvent
from leadform.models import Booking, BookingEvent, utcnow
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import add_booking, add_message

app, operator, desk = admin_helpers.app, admin_helpers.operator, admin_helpers.desk


def page(desk, public_id: str) -> str:
    response = desk.get(f"/admin/bookings/{public_id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_a_bounced_booking_is_flagged(app, desk):
    public_id = add_booking(app, email_undeliverable_at=utcnow())

    assert "Email did not arrive — contact by other means." in page(desk, public_id)
    other = add_booking(app, start=utcnow().replace(microsecond=0) + timedelta(days=2))
    assert "Email did not arrive" not in page(desk, other)


def test_a_held_booking_says_it_waits_for_confirmation(app, desk):
    public_id = add_booking(app, status="held", hold_until=utcnow() + timedelta(minutes=20))

    assert "waiting for the prospect to confirm it" in page(desk, public_id)


def test_each_email_shows_its_delivery_history(app, desk):
    public_id = add_booking(app)
    message_id = add_message(app, public_id, status="sent", delivery_state="delivered")
    with app.app_context():
        for state in ("deferred", "delivered"):
            db.session.add(
                DeliveryEvent(
                    message_id=message_id,
                    source="sendgrid",
                    event=state,
                    state=state,
                    occurred_at=utcnow(),
                )
            )
        db.session.commit()

    html = page(desk, public_id)

    assert html.index(" deferred") < html.index(" delivered")


def test_the_history_says_where_a_booking_came_from(app, desk):
    public_id = add_booking(app)
    with app.app_context():
        booking = db.session.scalar(db.select(Booking).where(Booking.public_id == public_id))
        db.session.add(
            BookingEvent(
                booking=booking,
                kind="created",
                actor="prospect",
                source="booking form",
                slot_start=booking.slot_start,
            )
        )
        db.session.commit()

    assert "prospect (booking form)" in page(desk, public_id)


def test_the_outbox_warns_when_confirmations_bounce(app, desk):
    for state in ("bounced", "bounced", "delivered"):
        add_message(app, None, status="sent", delivery_state=state)

    html = desk.get("/admin/outbox").get_data(as_text=True)

    assert "Confirmations are not arriving" in html and "2 of 3" in html


def test_the_desk_links_every_page(app, desk):
    html = desk.get("/admin/bookings").get_data(as_text=True)

    for path in ("/admin/outbox", "/admin/reports", "/admin/calendars", "/admin/newsletter"):
        assert f'href="{path}' in html


def test_the_outbox_shows_each_emails_delivery_state(app, desk):
    add_message(app, None, status="sent", delivery_state="spam_report", delivery_state_at=utcnow())

    html = desk.get("/admin/outbox").get_data(as_text=True)

    assert "spam report (" in html
