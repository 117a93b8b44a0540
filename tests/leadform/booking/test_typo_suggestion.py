"""A mistyped email domain is caught at the form, and the prospect may keep what they typed."""

from sqlalchemy import select

from leadform.db import db
from leadform.models import Booking
from tests.leadform.booking_pages import FormPage, answers, open_form


def stored_emails(app) -> list[str]:
    with app.app_context():
        return [booking.email for booking in db.session.scalars(select(Booking))]


def test_the_form_suggests_a_fix_and_books_nothing_yet(client, app):
    response = client.post("/book", data=answers(open_form(client), email="ada@gmial.com"))

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "Did you mean <strong>ada@gmail.com</strong>?" in page
    assert 'value="ada@gmial.com"' in page  # what they typed is kept
    assert stored_emails(app) == []


def test_using_the_suggestion_books_with_it(client, app):
    first = client.post("/book", data=answers(open_form(client), email="ada@gmial.com"))
    again = FormPage(first.get_data(as_text=True))

    response = client.post(
        "/book", data=answers(again, email="ada@gmial.com", use_email="ada@gmail.com")
    )

    assert response.status_code == 303
    assert stored_emails(app) == ["ada@gmail.com"]


def test_sending_it_again_keeps_what_was_typed(client, app):
    first = client.post("/book", data=answers(open_form(client), email="ada@gmial.com"))
    again = FormPage(first.get_data(as_text=True))

    response = client.post("/book", data=answers(again, email="ada@gmial.com"))

    assert response.status_code == 303
    assert stored_emails(app) == ["ada@gmial.com"]


def test_a_correct_address_books_at_once(client, app):
    response = client.post("/book", data=answers(open_form(client), email="ada@example.co.uk"))

    assert response.status_code == 303
