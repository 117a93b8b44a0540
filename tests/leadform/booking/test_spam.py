"""Spam and abuse: CSRF, the honeypot, the form's start value and the rate limits."""

import secrets

import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import func, select

from leadform.booking.forms import NEUTRAL_ERROR
from leadform.booking.guard import START_SALT
from leadform.db import db
from leadform.models import Booking, OutboxMessage
from tests.conftest import require_redis_url
from tests.leadform.booking_pages import answers, open_form


def stored_rows(app) -> tuple[int, int]:
    with app.app_context():
        bookings = db.session.scalar(select(func.count()).select_from(Booking))
        messages = db.session.scalar(select(func.count()).select_from(OutboxMessage))
    return bookings, messages


def test_post_without_csrf_token_is_refused(client, app):
    page = open_form(client)
    data = answers(page)
    del data["csrf_token"]
    response = client.post("/book", data=data)
    assert response.status_code == 400
    assert "reload the page" in response.get_data(as_text=True)
    assert stored_rows(app) == (0, 0)


def test_csrf_token_from_another_session_is_refused(app):
    page = open_form(app.test_client())
    response = app.test_client().post("/book", data=answers(page))
    assert response.status_code == 400
    assert stored_rows(app) == (0, 0)


def test_filled_honeypot_stores_nothing(client, app):
    page = open_form(client)
    response = client.post("/book", data=answers(page, website="http://spam.example"))
    assert response.status_code == 200
    assert NEUTRAL_ERROR in response.get_data(as_text=True).replace("&#39;", "'")
    assert stored_rows(app) == (0, 0)


def test_too_fast_submission_stores_nothing(make_app):
    app = make_app(MIN_FILL_SECONDS=3600)
    client = app.test_client()
    response = client.post("/book", data=answers(open_form(client)))
    assert response.status_code == 200
    assert NEUTRAL_ERROR in response.get_data(as_text=True)
    assert stored_rows(app) == (0, 0)


@pytest.mark.parametrize(
    "started",
    [
        None,
        "",
        "garbage",
        URLSafeSerializer("someone-elses-key", salt=START_SALT).dumps({"t": 0, "n": "x"}),
    ],
)
def test_missing_or_forged_start_time_stores_nothing(client, app, started):
    page = open_form(client)
    response = client.post("/book", data=answers(page, started=started))
    assert response.status_code == 200
    assert NEUTRAL_ERROR in response.get_data(as_text=True)
    assert stored_rows(app) == (0, 0)


def test_answers_survive_a_spam_rejection(client):
    page = open_form(client)
    response = client.post("/book", data=answers(page, started="garbage"))
    assert 'value="Acme Insurance"' in response.get_data(as_text=True)


def test_sixth_post_in_an_hour_is_refused(make_app):
    app = make_app(RATE_LIMIT="5/hour")
    client = app.test_client()
    page = open_form(client)
    statuses = [client.post("/book", data=answers(page, name="")).status_code for _ in range(6)]
    assert statuses == [200] * 5 + [429]
    refused = client.post("/book", data=answers(page))
    assert "try again in an hour" in refused.get_data(as_text=True)
    assert stored_rows(app) == (0, 0)


def test_page_views_are_not_limited(make_app):
    app = make_app(RATE_LIMIT="2/hour")
    client = app.test_client()
    assert {client.get("/book").status_code for _ in range(5)} == {200}


def test_rate_limit_is_per_client_address(make_app):
    app = make_app(RATE_LIMIT="1/hour")
    client = app.test_client()
    page = open_form(client)
    client.post("/book", data=answers(page, name=""))
    other = client.post(
        "/book", data=answers(page, name=""), environ_base={"REMOTE_ADDR": "192.0.2.7"}
    )
    assert other.status_code == 200


@pytest.mark.redis
def test_redis_storage_shares_the_limit_between_processes(make_app):
    url = require_redis_url()
    settings = dict(RATE_LIMIT="5/hour", RATELIMIT_STORAGE_URI=url)
    # A fresh client address per run keeps earlier runs' counts (kept an hour) out of it.
    address = {"REMOTE_ADDR": f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"}
    # Two apps stand for two gunicorn workers: the count must be shared, not per process.
    statuses = []
    for app in (make_app(**settings), make_app(**settings)):
        client = app.test_client()
        page = open_form(client)
        for _ in range(3):
            response = client.post("/book", data=answers(page, name=""), environ_base=address)
            statuses.append(response.status_code)
    assert statuses == [200] * 5 + [429]


def count_bookings(app) -> int:
    return stored_rows(app)[0]


def test_one_start_value_books_once(client, app):
    # Finding 1 of issue 11: 44 bookings reused one start value.
    page = open_form(client)
    first = client.post("/book", data=answers(page))
    other_slot = [slot for slot in page.slots if slot != page.checked_slot][0]
    again = client.post("/book", data=answers(page, slot=other_slot, email="b@example.com"))

    assert first.status_code == 303
    assert again.status_code == 200 and NEUTRAL_ERROR in again.get_data(as_text=True)
    assert count_bookings(app) == 1


def test_a_start_value_from_another_session_is_refused(make_app):
    app = make_app(WTF_CSRF_ENABLED=False)
    page = open_form(app.test_client())

    response = app.test_client().post("/book", data=answers(page))

    assert NEUTRAL_ERROR in response.get_data(as_text=True)
    assert count_bookings(app) == 0


def test_an_old_start_value_is_refused(make_app):
    app = make_app(FORM_MAX_AGE_HOURS=-1)
    client = app.test_client()

    response = client.post("/book", data=answers(open_form(client)))

    assert NEUTRAL_ERROR in response.get_data(as_text=True)
    assert count_bookings(app) == 0


def book_from(client, page, **overrides):
    return client.post("/book", data=answers(page, **overrides)).status_code


def test_many_addresses_of_one_network_share_a_limit(make_app):
    app = make_app(RATE_LIMIT_NETWORK="3/hour")
    statuses = []
    for host in range(1, 6):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"198.51.100.{host}"
        page = open_form(client)
        statuses.append(book_from(client, page, email=f"p{host}@example.com"))

    assert statuses == [303, 303, 303, 429, 429]
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = "203.0.113.9"  # another network
    assert book_from(client, open_form(client), email="q@example.com") == 303


@pytest.mark.parametrize(
    ("limit", "emails"),
    [
        ("RATE_LIMIT_EMAIL", ["same@victim.example"] * 3),
        ("RATE_LIMIT_EMAIL_DOMAIN", ["a@victim.example", "b@victim.example", "c@VICTIM.example"]),
    ],
)
def test_bookings_are_limited_per_email_address_and_domain(make_app, limit, emails):
    app = make_app(**{limit: "2/hour"})
    statuses = []
    for host, email in enumerate(emails, start=1):
        client = app.test_client()
        client.environ_base["REMOTE_ADDR"] = f"192.0.{host}.1"
        statuses.append(book_from(client, open_form(client), email=email))

    assert statuses == [303, 303, 429]


def test_refused_posts_do_not_count_against_the_email_limit(make_app):
    app = make_app(RATE_LIMIT_EMAIL="1/hour")
    client = app.test_client()
    page = open_form(client)
    assert book_from(client, page, email="ada@example.com", name="") == 200  # a mistake
    page = open_form(client)

    assert book_from(client, page, email="ada@example.com") == 303
