"""The booking service's pages pass the Nu Html Checker (vnu), as the site's pages do.

The booking page is assembled from a cached rendering and per-visitor inputs
(leadform/bookpage.py), so both a cached blank form and a form sent back with errors are
checked, with the other pages a prospect or an operator sees.
"""

import re
from pathlib import Path

import pytest

from leadform.booking.reservations import find_booking
from leadform.booking.tokens import manage_token
from leadform.desk.cli import create_operator
from tests.conftest import missing
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.desk.helpers import DESK_SETTINGS, PASSWORD, USERNAME, sign_in
from tests.site.checkers import VNU_JAR, run_vnu

pytestmark = [pytest.mark.java]


@pytest.fixture
def vnu_jar():
    """Path to the Nu Html Checker jar from npm (`make node` installs it)."""
    if not VNU_JAR.is_file():
        missing(f"vnu.jar at {VNU_JAR} (run `make node`)")
    return VNU_JAR


def save(folder: Path, name: str, response) -> None:
    """Write a page to check, after making sure it is the page meant."""
    assert response.mimetype == "text/html", (name, response.mimetype)
    (folder / f"{name}.html").write_text(response.get_data(as_text=True), "utf-8")


def prospect_pages(app, folder: Path) -> None:
    """Save what a prospect sees: the form (fresh and cached), errors, confirmation, manage."""
    client = app.test_client()
    save(folder, "book-first", client.get("/book?from=ai-in-claims&utm_source=news"))
    save(folder, "book-cached", client.get("/book?from=other&tz=America/New_York"))
    page = open_form(client)
    save(folder, "book-errors", client.post("/book", data=answers(page, email="not-an-email")))
    booked = client.post("/book", data=answers(page))
    assert booked.status_code == 303
    save(folder, "confirmed", client.get(booked.location))
    with app.app_context():  # the booking's public id ends the confirmation URL
        booking = find_booking(booked.location.rsplit("/", 1)[1])
        token = manage_token(booking)
    save(folder, "manage", client.get(f"/manage/{token}"))
    save(folder, "not-found", client.get("/book/confirmed/nothing-here"))


def desk_pages(app, folder: Path) -> None:
    """Save the operators' pages: sign-in, bookings, one booking, outbox, report."""
    with app.app_context():
        create_operator(USERNAME, "Alice Example", PASSWORD)
    client = app.test_client()
    save(folder, "admin-login", client.get("/admin/login"))
    sign_in(client, USERNAME, PASSWORD)
    listing = client.get("/admin/bookings")
    save(folder, "admin-bookings", listing)
    detail = re.search(r'href="(/admin/bookings/[\w-]+)"', listing.get_data(as_text=True))
    assert detail, "the bookings list links to no booking"
    save(folder, "admin-booking", client.get(detail.group(1)))
    save(folder, "admin-outbox", client.get("/admin/outbox"))
    save(folder, "admin-report", client.get("/admin/reports"))


def test_the_service_pages_are_valid_html(java_path, vnu_jar, make_app, tmp_path):
    app = make_app(**DESK_SETTINGS)
    folder = tmp_path / "pages"
    folder.mkdir()
    prospect_pages(app, folder)
    desk_pages(app, folder)

    assert len(list(folder.glob("*.html"))) == 11
    errors = run_vnu(folder, java=java_path)
    assert [str(error) for error in errors] == []
