"""The booking pages and emails state the firm's facts from site.toml, whatever they are.

Issue 14: the confirmation said 12 hours and "one or two colleagues" while the FAQ said one
working day and three to six people. Here every fact comes from a copy of site.toml whose
values the test picks, so a page that still says a fixed value fails.
"""

import re

import pytest
from icalendar import Calendar
from sqlalchemy import select

from leadform.db import db
from leadform.messages.senders import EmailMessage
from leadform.models import Booking, OutboxMessage
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.conftest import SITE_FILE

FACTS = """
[contact]
reply_within = "{reply}"

[session]
change_cutoff_hours = {cutoff}
max_moves = 1
attendees_min = {least}
attendees_max = {most}

[session.formats.video]
label = "Video call"
detail = "on our standing link"
location = "Video call: https://meet.example/x"
[session.formats.in_person]
label = "In person"
detail = "at our office in {city}"
location = "Our office, 1 Test Street, {city}"
"""


@pytest.fixture(params=[(7, 2, 4, "two hours", "Leeds"), (30, 5, 9, "a day", "York")])
def facts(request, tmp_path, make_app):
    cutoff, least, most, reply, city = request.param
    site = tmp_path / "site.toml"
    text = FACTS.format(cutoff=cutoff, least=least, most=most, reply=reply, city=city)
    site.write_text(SITE_FILE.read_text() + text)
    app = make_app(SITE_FILE=site)
    return app, dict(cutoff=cutoff, least=least, most=most, reply=reply, city=city)


def book(app, **overrides):
    client = app.test_client()
    page = open_form(client)
    response = client.post("/book", data=answers(page, **overrides))
    assert response.status_code == 303, response.get_data(as_text=True)
    return client, client.get(response.headers["Location"]).get_data(as_text=True)


def stored(app):
    with app.app_context():
        booking = db.session.scalars(select(Booking)).one()
        rows = db.session.scalars(select(OutboxMessage)).all()
        emails = {row.kind: EmailMessage.from_dict(row.payload) for row in rows}
        return booking, emails


def test_the_confirmation_page_states_the_sites_facts(facts):
    app, values = facts
    _, page = book(app, session_format="in_person")

    assert f"up to {values['cutoff']} hours before" in page
    assert f"Bring {values['least']} to {values['most']} people" in page
    assert f"reply within {values['reply']}" in page
    assert f"at our office in {values['city']}" in page
    assert "12 hours" not in page and "one or two colleagues" not in page


def test_the_confirmation_email_and_invite_state_the_format(facts):
    app, values = facts
    book(app, session_format="in_person")
    booking, emails = stored(app)
    email = emails["prospect_confirmation"]
    (event,) = Calendar.from_ical(email.attachments[0].content).walk("VEVENT")

    assert booking.session_format == "in_person"
    assert f"Bring {values['least']} to {values['most']} people" in email.text
    assert f"at our office in {values['city']}" in email.text
    assert str(event["LOCATION"]) == f"Our office, 1 Test Street, {values['city']}"
    assert "Format: In person" in emails["team_notification"].text


def test_the_manage_page_states_the_cutoff(facts):
    app, values = facts
    book(app)
    booking, emails = stored(app)
    link = re.search(r"/manage/\S+", emails["prospect_confirmation"].text).group(0)

    page = app.test_client().get(link).get_data(as_text=True)

    assert f"{values['cutoff']} hours" in page
    assert "Video call" in page  # the first format is the one already chosen


def test_an_unknown_format_is_refused_with_the_answers_kept(facts):
    app, _ = facts
    client = app.test_client()
    page = open_form(client)

    response = client.post("/book", data=answers(page, session_format="on-the-moon"))

    assert response.status_code == 200
    assert "Choose how you would like to meet." in response.get_data(as_text=True)
    assert 'value="Acme Insurance"' in response.get_data(as_text=True)


def test_the_booking_page_names_the_consultants_and_the_price(tmp_path, make_app):
    text = SITE_FILE.read_text().replace(
        "[assessment]\n", '[assessment]\nconsultants = ["ada-l"]\nprice = "£2,345"\n', 1
    )
    people = (
        '\n[people.ada-l]\nname = "Ada Lamb"\nrole = "Lead consultant"\n'
        'bio = "Ran forty pilots."\nphoto = "/images/people/ada-l.svg"\n'
        '[people.bo-k]\nname = "Bo Kent"\nrole = "Writer"\nbio = "Not in sessions."\n'
        'photo = "/images/people/bo-k.svg"\n'
    )
    site = tmp_path / "site.toml"
    site.write_text(text + people)

    page = make_app(SITE_FILE=site).test_client().get("/book").get_data(as_text=True)

    assert "Ada Lamb" in page and "Ran forty pilots." in page and 'href="/about/#ada-l"' in page
    assert "Bo Kent" not in page  # only the assessment's consultants
    assert "£2,345" in page
