"""The booking service's pages pass the Nu Html Checker (vnu), as the site's pages do.

Every step a prospect sees (the picker, the form, the form with errors or with a time just
taken, the confirmation, the manage page and its two second steps) and the desk's pages.
"""

import re
from pathlib import Path

import pytest

from leadform.booking.reservations import find_booking
from leadform.booking.tokens import manage_token
from leadform.desk.cli import create_operator
from tests.conftest import missing
from tests.leadform.booking_pages import FormPage, answers, open_form
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
    """Save every step a prospect sees, from the picker to the manage page's second steps."""
    client = app.test_client()
    save(folder, "book-first", client.get("/book?from=ai-in-claims&utm_source=news"))
    save(folder, "book-zone", client.get("/book?from=other&tz=America/New_York&month=2099-01"))
    page = open_form(client)
    save(folder, "book-form", client.get(first_time_link(client)))
    save(folder, "book-errors", client.post("/book", data=answers(page, email="not-an-email")))
    booked = client.post("/book", data=answers(page))
    assert booked.status_code == 303
    save(folder, "book-taken", client.post("/book", data=answers(page, email="b@example.com")))
    save(folder, "confirmed", client.get(booked.location))
    with app.app_context():  # the booking's public id ends the confirmation URL
        booking = find_booking(booked.location.rsplit("/", 1)[1])
        token = manage_token(booking)
    save(folder, "manage", client.get(f"/manage/{token}?tz=Asia/Tokyo"))
    save(folder, "manage-cancel", client.get(f"/manage/{token}/cancel"))
    save(folder, "manage-delete", client.get(f"/manage/{token}/delete"))
    save(folder, "not-found", client.get("/book/confirmed/nothing-here"))


def first_time_link(client) -> str:
    """Return the link of the picker's first time."""
    return FormPage(client.get("/book").get_data(as_text=True)).time_links[0]


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

    assert len(list(folder.glob("*.html"))) == 15
    errors = run_vnu(folder, java=java_path)
    assert [str(error) for error in errors] == []
