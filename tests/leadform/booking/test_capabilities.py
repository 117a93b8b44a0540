"""A booking's public id opens nothing: the confirmation and its .ics answer only the browser
that booked; later the signed manage link does (issue 11, finding 3)."""

from sqlalchemy import select

from leadform.booking.tokens import manage_token
from leadform.db import db
from leadform.models import Booking
from tests.leadform.booking_pages import answers, open_form


def book(client):
    response = client.post("/book", data=answers(open_form(client)))
    assert response.status_code == 303
    return response.headers["Location"]


def public_id_of(app) -> str:
    with app.app_context():
        return db.session.scalars(select(Booking)).one().public_id


def test_the_booking_browser_sees_its_confirmation_and_ics(client, app):
    confirmed = book(client)
    public_id = public_id_of(app)

    assert client.get(confirmed).status_code == 200
    assert client.get(f"/book/{public_id}/invite.ics").status_code == 200


def test_the_id_from_a_forwarded_invite_opens_nothing(client, app):
    confirmed = book(client)
    public_id = public_id_of(app)
    stranger = app.test_client()  # no cookies: someone holding the invite's UID

    assert stranger.get(confirmed).status_code == 404
    assert stranger.get(f"/book/{public_id}/invite.ics").status_code == 404
    page = stranger.get(confirmed).get_data(as_text=True)
    assert "/manage/" not in page and "siobhan" not in page.lower()


def test_the_manage_link_opens_the_booking_and_its_ics_later(client, app):
    book(client)
    with app.app_context():
        token = manage_token(db.session.scalars(select(Booking)).one())
    later = app.test_client()

    assert later.get(f"/manage/{token}").status_code == 200
    ics = later.get(f"/manage/{token}/invite.ics")
    assert ics.status_code == 200 and b"BEGIN:VEVENT" in ics.data
