"""The newsletter's pages pass the Nu Html Checker (vnu), like the rest of the service."""

from pathlib import Path

import pytest

from leadform.db import db
from leadform.desk.cli import create_operator
from leadform.newsletter.emails import unsubscribe_url
from leadform.newsletter.services import find_by_email
from tests.leadform.desk.helpers import DESK_SETTINGS, PASSWORD, USERNAME, sign_in
from tests.leadform.newsletter.helpers import (
    add_subscriber,
    confirm_path,
    csrf_from,
    outbox,
    path_of,
)
from tests.leadform.test_html_valid import vnu_jar  # noqa: F401 - a fixture
from tests.site.checkers import run_vnu

pytestmark = [pytest.mark.java]
SIGNUP = {"email": "reader@example.com", "consent": "y", "source": "an-article"}


def save(folder: Path, name: str, response) -> None:
    """Write a page to check, after making sure it is an HTML page."""
    assert response.mimetype == "text/html", (name, response.mimetype)
    (folder / f"{name}.html").write_text(response.get_data(as_text=True), "utf-8")


def reader_pages(app, folder: Path) -> None:
    """Every page a reader sees: the form (blank and with errors), sent, confirm, unsubscribe."""
    client = app.test_client()
    save(folder, "subscribe", client.get("/newsletter/subscribe?from=an-article"))
    save(folder, "subscribe-errors", client.post("/newsletter/subscribe", data={"email": "x"}))
    client.post("/newsletter/subscribe", data=SIGNUP)
    save(folder, "sent", client.get("/newsletter/subscribe/sent"))
    with app.app_context():
        path = confirm_path(outbox("newsletter_confirm")[0])
    page = client.get(path)
    save(folder, "confirm", page)
    client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    save(folder, "confirmed", client.get("/newsletter/confirmed"))
    save(folder, "link-problem", client.get("/newsletter/confirm/forged"))
    with app.app_context():
        unsubscribe = path_of(unsubscribe_url(find_by_email("reader@example.com"), app.config))
    save(folder, "unsubscribe", client.get(unsubscribe))
    save(folder, "unsubscribed", client.post(unsubscribe, data={"List-Unsubscribe": "One-Click"}))


def test_the_newsletter_pages_are_valid_html(java_path, vnu_jar, make_app, tmp_path):  # noqa: F811
    app = make_app(**DESK_SETTINGS)
    folder = tmp_path / "pages"
    folder.mkdir()
    reader_pages(app, folder)
    with app.app_context():
        create_operator(USERNAME, "Alice Example", PASSWORD)
        add_subscriber("ann@example.com")
        db.session.remove()
    desk = app.test_client()
    sign_in(desk, USERNAME, PASSWORD)
    save(folder, "desk-subscribers", desk.get("/admin/newsletter"))

    assert len(list(folder.glob("*.html"))) == 9
    errors = run_vnu(folder, java=java_path)
    assert [str(error) for error in errors] == []
