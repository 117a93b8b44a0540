"""The desk's subscriber pages: operators only, search, CSV export, erase with CSRF."""

import csv
import io

import pytest

from leadform.db import db
from leadform.models import utcnow
from leadform.newsletter.emails import queue_for, signup_email
from leadform.newsletter.models import PENDING, Subscriber
from tests.leadform.desk import helpers as admin_helpers
from tests.leadform.desk.helpers import DESK_SETTINGS, csrf_token
from tests.leadform.newsletter.helpers import add_subscriber, outbox

operator, desk = admin_helpers.operator, admin_helpers.desk
LIST = "/admin/newsletter"


@pytest.fixture
def app(make_app):
    """The app with the desk's cheap password hashing."""
    return make_app(**DESK_SETTINGS)


def test_the_pages_need_a_signed_in_operator(app, client):
    for path in (LIST, f"{LIST}/subscribers.csv"):
        response = client.get(path)
        assert response.status_code == 302
        assert "/admin/login" in response.headers["Location"]
    assert client.post(f"{LIST}/1/delete").status_code in (302, 400)


def test_search_matches_part_of_the_address_and_wildcards_literally(app, desk):
    with app.app_context():
        add_subscriber("ann@example.com")
        add_subscriber("bob_100%@example.org", PENDING, confirmed_at=None)

    page = desk.get(f"{LIST}?q=EXAMPLE.ORG").get_data(as_text=True)
    assert "bob_100%@example.org" in page and "ann@example.com" not in page
    assert "ann@example.com" not in desk.get(f"{LIST}?q=_1").get_data(as_text=True)
    assert "bob_100%@example.org" in desk.get(f"{LIST}?q=_100%25").get_data(as_text=True)
    assert desk.get(LIST).headers["Cache-Control"] == "no-store"


def test_the_csv_quotes_every_cell_and_neutralises_formulas(app, desk):
    with app.app_context():
        add_subscriber("=cmd@example.com", source_article='=HYPERLINK("http://evil")')
        add_subscriber("semi@example.com", source_article="Semi Colon;=1+1;")

    response = desk.get(f"{LIST}/subscribers.csv")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
    text = response.get_data(as_text=True).lstrip("\ufeff")
    assert all(line.startswith('"') and line.endswith('"') for line in text.splitlines())
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "email"
    cells = [cell for row in rows[1:] for cell in row]
    assert "'=cmd@example.com" in cells
    assert '\'=HYPERLINK("http://evil")' in cells
    assert "Semi Colon;'=1+1;" in cells
    assert not any(cell.startswith(("=", "+", "-", "@")) for cell in cells)


def test_delete_erases_the_subscriber_and_their_emails(app, desk):
    with app.app_context():
        row = add_subscriber("ann@example.com", PENDING, confirmed_at=None)
        queue_for(row, signup_email(row, app.config)[1], kind="newsletter_confirm", due=utcnow())
        db.session.commit()
        subscriber_id = row.id

    token = csrf_token(desk, LIST)
    response = desk.post(f"{LIST}/{subscriber_id}/delete", data={"csrf_token": token})

    assert response.status_code == 303
    assert "are deleted" in desk.get(LIST).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id) is None
        assert outbox() == []


def test_delete_without_csrf_token_is_refused(app, desk):
    with app.app_context():
        subscriber_id = add_subscriber("ann@example.com").id
    assert desk.post(f"{LIST}/{subscriber_id}/delete", data={}).status_code == 400
    with app.app_context():
        assert db.session.get(Subscriber, subscriber_id) is not None


def test_hostile_addresses_are_escaped_on_the_page(app, desk):
    with app.app_context():
        add_subscriber('"<script>alert(1)</script>"@example.com', source_article="<b>x</b>")
    page = desk.get(LIST).get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page
    assert "<b>x</b>" not in page
