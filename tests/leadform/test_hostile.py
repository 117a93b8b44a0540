"""Hostile input in every field: a form error or a booking, never a crash; stored text escaped."""

import pytest
from sqlalchemy import select, update

from leadform import create_app
from leadform.cleaning import clean_line, clean_text
from leadform.db import db
from leadform.models import Booking, OutboxMessage
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.conftest import base_config, migrated_app

HOSTILE = {
    "script": "<script>alert(1)</script>",
    "attribute": '"><img src=x onerror=alert(1)>',
    "sql": "'; DROP TABLE bookings; --",
    "header": "a\r\nBcc: x@evil.example",
    "long": "A" * 10_000,
    "rtl": "\u202eevil\u202c \u200f\u05e9\u05dc\u05d5\u05dd\u200f",
    "zero-width": "Ann\u200b\u200d\ufeffLee and a few more words",
    "emoji": "👩🏽‍💼 Strategy lead 🚀🚀🚀🚀🚀🚀🚀",
    "nul": "Ann\x00Lee\x00 with a NUL byte inside it",
}
FIELDS = [
    "name",
    "email",
    "company",
    "role",
    "company_size",
    "goals",
    "slot",
    "timezone",
    "consent",
    "website",
    "started",
    "csrf_token",
    "source_article",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_term",
    "utm_content",
    "referrer",
]


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """One app for the whole table: building one per case would make the suite slow."""
    return migrated_app(base_config(tmp_path_factory.mktemp("hostile")))


@pytest.fixture
def hostile_client(hostile_app):
    yield hostile_app.test_client()
    # Free the slots again, so the table never runs out of bookable times.
    with hostile_app.app_context():
        db.session.execute(update(Booking).values(status="cancelled"))
        db.session.commit()


def stored_views(app, client, location: str) -> list[str]:
    """Return the confirmation page and the queued email bodies of the new booking."""
    public_id = location.rsplit("/", 1)[1]
    pages = [client.get(location).get_data(as_text=True)]
    with app.app_context():
        booking = db.session.scalars(select(Booking).where(Booking.public_id == public_id)).one()
        messages = db.session.scalars(
            select(OutboxMessage).where(OutboxMessage.booking_id == booking.id)
        ).all()
        assert len(messages) == 2
        pages += [message.payload["html"] for message in messages]
    return pages


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_value_is_refused_or_stored_safely(hostile_app, hostile_client, field, kind):
    value = HOSTILE[kind]
    page = open_form(hostile_client, headers={"Referer": HOSTILE["attribute"]})
    response = hostile_client.post("/book", data=answers(page, **{field: value}))
    assert response.status_code in (200, 303, 400), response.status_code
    body = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "<img src=x" not in body
    if response.status_code == 303:
        for view in stored_views(hostile_app, hostile_client, response.headers["Location"]):
            assert "<script>alert(1)</script>" not in view
            assert "<img src=x" not in view


@pytest.mark.parametrize("kind", ["script", "attribute"])
def test_stored_markup_is_shown_escaped(hostile_app, hostile_client, kind):
    page = open_form(hostile_client)
    response = hostile_client.post("/book", data=answers(page, name=HOSTILE[kind]))
    assert response.status_code == 303
    views = stored_views(hostile_app, hostile_client, response.headers["Location"])
    escaped = HOSTILE[kind].replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for view in views:
        assert escaped.replace('"', "&#34;") in view or escaped.replace('"', "&quot;") in view


@pytest.mark.parametrize("param", ["tz", "from", "utm_source", "referrer"])
@pytest.mark.parametrize("kind", list(HOSTILE))
def test_hostile_query_string_is_harmless(hostile_client, param, kind):
    response = hostile_client.get("/book", query_string={param: HOSTILE[kind]})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body
    assert "<img src=x" not in body


@pytest.mark.parametrize(
    "path",
    [
        "/book/confirmed/<script>alert(1)</script>",
        "/book/confirmed/" + "A" * 10_000,
        "/book/%00/invite.ics",
        "/book/confirmed/'; DROP TABLE bookings; --",
    ],
)
def test_hostile_booking_urls_are_not_found(hostile_client, path):
    response = hostile_client.get(path)
    assert response.status_code == 404
    assert "<script>alert(1)</script>" not in response.get_data(as_text=True)


def test_wrong_method_gets_the_site_error_page(hostile_client):
    response = hostile_client.put("/book")
    assert response.status_code == 405
    assert 'class="site-header"' in response.get_data(as_text=True)


def test_unexpected_error_shows_no_stack_trace(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/_boom")
    def boom():
        raise RuntimeError("secret internals")

    response = app.test_client().get("/_boom")
    body = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Please try again in a moment." in body
    assert "secret internals" not in body and "Traceback" not in body


def test_unreachable_database_asks_for_a_retry(tmp_path):
    config = base_config(tmp_path, PROPAGATE_EXCEPTIONS=False)
    config["SQLALCHEMY_DATABASE_URI"] = f"sqlite:///{tmp_path / 'missing-dir' / 'db.sqlite3'}"
    response = create_app(config).test_client().get("/book")
    assert response.status_code == 503
    assert "Please try again in a moment." in response.get_data(as_text=True)


def test_oversized_post_is_refused_politely(hostile_app, hostile_client):
    page = open_form(hostile_client)
    response = hostile_client.post("/book", data=answers(page, goals="x" * 200_000))
    assert response.status_code == 413
    assert "Please shorten your answers" in response.get_data(as_text=True)


@pytest.mark.postgres
def test_nul_bytes_never_reach_postgresql(pg_app):
    # PostgreSQL refuses NUL in text columns; the form must strip it before storing.
    app = pg_app()
    client = app.test_client()
    statuses = set()
    for field in FIELDS:
        page = open_form(client)
        response = client.post("/book", data=answers(page, **{field: HOSTILE["nul"]}))
        statuses.add(response.status_code)
        with app.app_context():
            db.session.execute(update(Booking).values(status="cancelled"))
            db.session.commit()
    assert statuses <= {200, 303, 400}
    assert 303 in statuses


# --- invisible and direction-override characters (Unicode category Cf) ---------------------


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [
        ("Ann \u202egnp.exe\u202c Lee", "Ann gnp.exe Lee"),  # shown as "Ann exe.png Lee"
        ("\u2066Acme\u2069 Ltd", "Acme Ltd"),
        ("Ann\u200bLee\u2060", "AnnLee"),
        ("\ufeffAnn\u00adLee", "AnnLee"),
        ("Ann\u200d\u200cLee", "AnnLee"),
        ("a\U000e0041b", "ab"),  # a tag character, outside the Basic Multilingual Plane
        ("Siobhán O'Brien", "Siobhán O'Brien"),
        ("שלום עליכם", "שלום עליכם"),
        ("王小明", "王小明"),
        ("José\u00a0Núñez", "José Núñez"),
    ],
)
def test_single_line_answers_lose_invisible_and_direction_characters(raw, cleaned):
    assert clean_line(raw) == cleaned


def test_free_text_loses_direction_overrides_but_keeps_joiners():
    # Emoji sequences and scripts such as Persian need the zero-width (non-)joiner.
    goals = "👩🏽\u200d💼 lead\nمی\u200cخواهم\n\u202eevil\u202c and\u200b more"

    assert clean_text(goals) == "👩🏽\u200d💼 lead\nمی\u200cخواهم\nevil and more"
