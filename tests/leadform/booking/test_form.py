"""The booking form: each bad answer gets its own message next to its field; answers are kept."""

import html
import random
import sys
import unicodedata

import pytest
from sqlalchemy import func, select

from leadform.cleaning import CONTROL_CHARACTERS, clean_line, clean_text
from leadform.db import db
from leadform.models import Booking
from tests.leadform.booking_pages import GOALS, FormPage, answers, open_form

BAD_INPUTS = [
    ("name", "", "Enter your name."),
    ("name", "   ", "Enter your name."),
    ("name", "x" * 201, "Shorten your name to 200 characters or fewer."),
    ("email", "", "Enter your work email address."),
    ("email", "not-an-email", "Enter an email address like name@company.com."),
    ("email", "someone@", "Enter an email address like name@company.com."),
    ("email", "a" * 250 + "@example.com", "Enter an email address of 254 characters or fewer."),
    ("company", "", "Enter your company&#39;s name."),
    ("company", "c" * 201, "Shorten the company name to 200 characters or fewer."),
    ("role", "", "Enter your role, for example Head of Operations."),
    ("role", "r" * 201, "Shorten your role to 200 characters or fewer."),
    ("company_size", "", "Choose your company&#39;s size."),
    ("company_size", "12", "Choose your company&#39;s size from the list."),
    ("goals", "", "Tell us what you want from the session (at least 20 characters)."),
    ("goals", "Too short", "Write between 20 and 2000 characters about your goals."),
    ("goals", "g" * 2001, "Write between 20 and 2000 characters about your goals."),
    ("slot", None, "Choose one of the times shown."),
    ("slot", "next tuesday", "Choose one of the times shown."),
    ("timezone", "Mars/Olympus_Mons", "Choose your time zone from the list."),
    ("timezone", "", "Choose your time zone from the list."),
    ("consent", None, "Tick the box to agree to the privacy policy, or we cannot book."),
]


def booking_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Booking))


@pytest.mark.parametrize(("field", "value", "message"), BAD_INPUTS)
def test_bad_answer_is_explained_next_to_its_field(client, app, field, value, message):
    # The time and its zone (hidden inputs) are explained at the chosen time, id "when".
    page = open_form(client)
    response = client.post("/book", data=answers(page, **{field: value}))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<p class="form-error" id="{field}-error">{message}</p>' in body
    assert booking_count(app) == 0


@pytest.mark.parametrize("field", ["name", "email", "company", "role", "company_size", "goals"])
def test_invalid_field_is_marked_for_assistive_technology(client, field):
    page = open_form(client)
    body = client.post("/book", data=answers(page, **{field: "x" * 3000})).get_data(as_text=True)
    tag = next(part for part in body.split("<") if f'id="{field}"' in part and "name=" in part)
    assert 'aria-invalid="true"' in tag
    assert f"{field}-error" in tag


def test_error_summary_links_to_each_field(client):
    page = open_form(client)
    body = client.post("/book", data=answers(page, name="", goals="short")).get_data(as_text=True)
    summary = body.split('class="error-summary"')[1].split("</div>")[0]
    assert '<a href="#name">Enter your name.</a>' in summary
    assert '<a href="#goals">' in summary
    assert "autofocus" in body.split('class="error-summary"')[1].split(">")[0]


@pytest.mark.parametrize(("field", "value"), [("slot", "next tuesday"), ("timezone", "Mars/X")])
def test_time_and_zone_errors_link_to_the_chosen_time(client, field, value):
    page = open_form(client)
    body = client.post("/book", data=answers(page, **{field: value})).get_data(as_text=True)
    summary = body.split('class="error-summary"')[1].split("</div>")[0]
    assert '<a href="#when">' in summary
    assert 'id="when"' in body
    assert (
        f'id="{field}-error"'
        in body.split('id="when"')[1].split("</fieldset>")[0].split("</div>")[0]
    )


def test_a_taken_time_offers_others_with_the_answers_kept(app):
    first, second = app.test_client(), app.test_client()
    page = open_form(second)
    taken = page.checked_slot
    assert first.post("/book", data=answers(open_form(first))).status_code == 303

    body = second.post("/book", data=answers(page, company="Other Co")).get_data(as_text=True)

    offered = FormPage(body)
    assert offered.slots and taken not in offered.slots
    assert offered.checked_slot is None  # nothing chosen for them
    assert 'value="Other Co"' in body
    response = second.post("/book", data=answers(offered, slot=offered.slots[0]))
    assert response.status_code == 303


def test_answers_are_kept_when_the_form_comes_back(client):
    page = open_form(client, "/book?from=ai-readiness-assessment&utm_source=newsletter")
    chosen = page.slots[1]
    response = client.post(
        "/book", data=answers(page, email="nope", slot=chosen, timezone="Asia/Tokyo")
    )
    again = FormPage(response.get_data(as_text=True))
    assert again.values["name"] == "Siobhán O'Brien"
    assert again.values["company"] == "Acme Insurance"
    assert again.values["email"] == "nope"
    assert html.escape(GOALS, quote=False) in response.get_data(as_text=True)
    assert again.checked_slot == chosen
    assert again.hidden["timezone"] == "Asia/Tokyo"
    assert again.selected["company_size"] == "250-999"
    assert again.hidden["source_article"] == "ai-readiness-assessment"
    assert again.hidden["utm_source"] == "newsletter"


@pytest.mark.parametrize(
    "name", ["Siobhán O'Brien", "José Ñúñez-García", "李小龍", "Zoë d'Arcy-Smith", "محمد"]
)
def test_real_names_are_accepted(client, app, name):
    page = open_form(client)
    response = client.post("/book", data=answers(page, name=name))
    assert response.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(Booking.name)) == name


def test_control_characters_are_stripped(client, app):
    page = open_form(client)
    response = client.post(
        "/book",
        data=answers(page, name="Ann\x00 Lee\x07", company="Acme\r\nBcc: x@evil.example"),
    )
    assert response.status_code == 303
    with app.app_context():
        booking = db.session.scalars(select(Booking)).one()
    assert booking.name == "Ann Lee"
    assert "\n" not in booking.company and "\r" not in booking.company


def test_every_field_has_a_visible_label(client):
    picker = FormPage(client.get("/book").get_data(as_text=True))
    body = client.get(picker.time_links[0]).get_data(as_text=True)
    for field in ["name", "email", "company", "role", "company_size", "goals"]:
        assert f'<label for="{field}">' in body
    assert '<label for="consent">' in body
    assert 'href="/privacy/">privacy policy</a>' in body
    # No zone list on the form: the zone travels with the time, shown with a way back.
    assert "<select" in body and body.count("<select") == 1  # company size only
    assert 'class="chosen__change" href="/book?' in body


def test_name_email_and_goals_come_first(client):
    body = open_form_html(client)
    order = [body.index(f'<label for="{field}">') for field in ("name", "email", "goals")]
    later = [body.index(f'<label for="{field}">') for field in ("company", "role", "consent")]
    assert order == sorted(order) and max(order) < min(later)


def open_form_html(client) -> str:
    picker = FormPage(client.get("/book").get_data(as_text=True))
    return client.get(picker.time_links[0]).get_data(as_text=True)


# --- Cleaning, against a per-character definition -------------------------------------------


def reference_clean_line(value: str) -> str:
    """Format characters (Cf) dropped, controls (Cc) to spaces, then whitespace collapsed."""
    kept = "".join(ch for ch in value if unicodedata.category(ch) != "Cf")
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in kept)
    return " ".join(text.split())


def reference_clean_text(value: str) -> str:
    """Line breaks made LF, controls but tabs dropped, Cf but the joiners dropped, stripped."""
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(
        ch
        for ch in text
        if ch in "\n\t\u200c\u200d" or unicodedata.category(ch) not in ("Cc", "Cf")
    ).strip()


def test_the_control_characters_are_exactly_unicode_category_cc():
    everything = (chr(code) for code in range(sys.maxunicode + 1))

    assert {ch for ch in everything if unicodedata.category(ch) == "Cc"} == CONTROL_CHARACTERS


@pytest.mark.parametrize("seed", range(3))
def test_cleaning_matches_the_per_character_definition(seed):
    rng = random.Random(seed)
    pieces = [*"ab Z\t\n\r\x00\x07\x1b\x7f\x85\x9f\xa0", "\r\n", "\u2028", "é", "😀", "\u200b"]
    pieces += ["\u202e", "\u200d", "\ufeff", "\u00ad"]
    for _ in range(500):
        value = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 60)))

        assert clean_line(value) == reference_clean_line(value), repr(value)
        assert clean_text(value) == reference_clean_text(value), repr(value)
