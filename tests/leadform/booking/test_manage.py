"""The prospect's manage page over HTTP: cancel, move, delete; cut-off, limits and CSRF."""

import re
import threading
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from werkzeug.serving import make_server

from leadform.booking.reservations import free_slots
from leadform.booking.slots import parse_slot_value, slot_value
from leadform.db import db
from leadform.models import Booking
from tests.leadform.after_booking import (
    SCRIPT,
    book,
    email,
    insert_booking,
    manage_client,  # noqa: F401 - a fixture
    manage_path,
    queued,
)
from tests.leadform.booking_pages import FormPage

FIRM_EMAIL = "hello@tessellate.example"


def new_booking(app, **overrides) -> tuple[int, str]:
    """Book the first free slot now; return (id, manage path)."""
    with app.app_context():
        booking = book(**overrides)
        return booking.id, manage_path(booking)


def stored(app, booking_id) -> Booking:
    with app.app_context():
        booking = db.session.get(Booking, booking_id)
        db.session.expunge(booking)
        return booking


def open_page(client, path) -> tuple[str, FormPage]:
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    html = response.get_data(as_text=True)
    return html, FormPage(html)


def post(client, path, action, page: FormPage, **data):
    return client.post(f"{path}/{action}", data={"csrf_token": page.hidden["csrf_token"], **data})


def soon_booking(app, hours: float, **overrides) -> tuple[int, str]:
    """Store a booking starting `hours` from now (inside any notice); return (id, path)."""
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        booking = insert_booking(now + timedelta(hours=hours), created_at=now, **overrides)
        return booking.id, manage_path(booking)


# --- the page ------------------------------------------------------------------------------


def test_page_shows_the_booking_the_move_form_and_the_two_second_steps(
    app,
    manage_client,  # noqa: F811
):
    _, path = new_booking(app)

    response = manage_client.get(path)

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Siobhán O&#39;Brien" in body
    assert f'action="{path}/move"' in body
    for action in ("cancel", "delete"):
        assert f'href="{path}/{action}"' in body
        assert f'action="{path}/{action}"' not in body


@pytest.mark.parametrize(
    ("action", "button"), [("cancel", "Yes, cancel my session"), ("delete", "Delete my data")]
)
def test_cancel_and_delete_ask_again_on_a_page_that_changes_nothing(
    app,
    manage_client,  # noqa: F811
    action,
    button,
):
    booking_id, path = new_booking(app)

    response = manage_client.get(f"{path}/{action}")

    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert f'<form method="post" action="{path}/{action}"' in body
    assert f">{button}</button>" in body
    assert FormPage(body).hidden["csrf_token"]
    booking = stored(app, booking_id)
    assert (booking.status, booking.anonymised_at) == ("confirmed", None)
    with app.app_context():
        assert {m.kind for m in queued()} == {"prospect_confirmation", "team_notification"}


def test_one_time_line_when_both_zones_are_ours(app, manage_client):  # noqa: F811
    _, london = new_booking(app, timezone="Europe/London")
    _, tokyo = new_booking(app, index=1, email="t@example.com", timezone="Asia/Tokyo")

    same = manage_client.get(london).get_data(as_text=True)
    other = manage_client.get(tokyo).get_data(as_text=True)

    assert "Our time" not in same and "<dt>When</dt>" in same
    assert "Your time (Asia/Tokyo)" in other and "Our time (Europe/London)" in other


def test_broken_link_gets_a_404_page_saying_what_to_do(app, manage_client):  # noqa: F811
    _, path = new_booking(app)

    response = manage_client.get(path[:-3] + "abc")

    assert response.status_code == 404
    body = response.get_data(as_text=True)
    assert "This link does not work" in body
    assert FIRM_EMAIL in body


def test_link_of_a_past_session_gets_a_410_page(app, manage_client):  # noqa: F811
    _, path = soon_booking(app, hours=-3)

    response = manage_client.get(path)

    assert response.status_code == 410
    assert "This link has expired" in response.get_data(as_text=True)


def test_times_are_shown_in_the_chosen_zone(app, manage_client):  # noqa: F811
    _, path = new_booking(app)

    html, page = open_page(manage_client, f"{path}?tz=America/New_York")

    assert page.selected["tz"] == "America/New_York"
    assert page.hidden["tz"] == "America/New_York"
    zone_then_note = r'<span class="time__zone">E[SD]T</span>(?: <span [^>]+>[^<]+</span>)?</label>'
    assert re.search(zone_then_note, html)


def test_hostile_answers_are_escaped_on_the_page(app, manage_client):  # noqa: F811
    _, path = new_booking(app, name=SCRIPT, company=SCRIPT)

    body = manage_client.get(path).get_data(as_text=True)

    assert SCRIPT not in body
    assert str(escape(SCRIPT)) in body


# --- cancel --------------------------------------------------------------------------------


def test_cancel_redirects_with_a_confirmation(app, manage_client):  # noqa: F811
    booking_id, path = new_booking(app)
    _, page = open_page(manage_client, path)

    response = post(manage_client, path, "cancel", page)

    assert response.status_code == 303
    assert response.headers["Location"] == path
    body = manage_client.get(path).get_data(as_text=True)
    assert "Your session is cancelled." in body
    assert f'href="{path}/cancel"' not in body
    assert stored(app, booking_id).status == "cancelled"


def test_cancelled_time_is_offered_again_on_the_booking_page(app, manage_client):  # noqa: F811
    booking_id, path = new_booking(app)
    start = stored(app, booking_id).slot_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert start not in FormPage(manage_client.get("/book").get_data(as_text=True)).slots
    _, page = open_page(manage_client, path)

    post(manage_client, path, "cancel", page)

    assert start in FormPage(manage_client.get("/book").get_data(as_text=True)).slots


# --- move ----------------------------------------------------------------------------------


def test_move_redirects_and_moves(app, manage_client):  # noqa: F811
    booking_id, path = new_booking(app)
    _, page = open_page(manage_client, path)
    target = page.slots[-1]

    response = post(manage_client, path, "move", page, slot=target, tz="Europe/London")

    assert response.status_code == 303
    booking = stored(app, booking_id)
    assert booking.slot_start == parse_slot_value(target).replace(tzinfo=None)
    assert booking.move_count == 1
    assert "Your session has moved." in manage_client.get(path).get_data(as_text=True)


def test_move_to_a_time_just_taken_keeps_the_booking_and_offers_others(
    app,
    manage_client,  # noqa: F811
):
    booking_id, path = new_booking(app)
    original = stored(app, booking_id).slot_start
    _, page = open_page(manage_client, path)
    target = page.slots[-1]
    with app.app_context():
        book(email="quicker@example.com", slot_start=parse_slot_value(target))

    response = post(manage_client, path, "move", page, slot=target, tz="Europe/London")

    body = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "That time was just taken — please choose another." in body
    offered = FormPage(body).slots
    assert offered and target not in offered
    assert (stored(app, booking_id).slot_start, stored(app, booking_id).move_count) == (
        original,
        0,
    )


def test_move_without_a_time_shows_the_error(app, manage_client):  # noqa: F811
    booking_id, path = new_booking(app)
    _, page = open_page(manage_client, path)

    response = post(manage_client, path, "move", page, slot="not-a-time")

    assert response.status_code == 200
    assert "Choose one of the times shown." in response.get_data(as_text=True)
    assert stored(app, booking_id).move_count == 0


def test_move_limit_hides_the_form_and_refuses_the_post(app, manage_client):  # noqa: F811
    booking_id, path = new_booking(app)
    _, page = open_page(manage_client, path)
    with app.app_context():
        db.session.get(Booking, booking_id).move_count = 2
        db.session.commit()

    body = manage_client.get(path).get_data(as_text=True)
    response = post(manage_client, path, "move", page, slot=page.slots[-1])

    assert f'action="{path}/move"' not in body
    assert "already been moved 2 times" in body
    assert response.status_code == 409
    assert stored(app, booking_id).move_count == 2


# --- the cut-off ---------------------------------------------------------------------------


def test_inside_the_cutoff_the_page_offers_no_changes(app, manage_client):  # noqa: F811
    _, path = soon_booking(app, hours=6)

    body = manage_client.get(path).get_data(as_text=True)

    assert f'href="{path}/cancel"' not in body
    assert f'action="{path}/move"' not in body
    assert f"Please write to {FIRM_EMAIL}" in body
    assert manage_client.get(f"{path}/cancel").status_code == 303


@pytest.mark.parametrize("action", ["cancel", "move"])
def test_inside_the_cutoff_changes_are_refused(app, manage_client, action):  # noqa: F811
    booking_id, path = soon_booking(app, hours=6)
    _, page = open_page(manage_client, f"{path}/delete")  # the one form left: its token
    with app.app_context():
        free = free_slots(app.extensions["availability"], datetime.now(UTC))[-1]

    response = post(manage_client, path, action, page, slot=slot_value(free))

    assert response.status_code == 409
    assert FIRM_EMAIL in response.get_data(as_text=True)
    booking = stored(app, booking_id)
    assert (booking.status, booking.move_count) == ("confirmed", 0)


def test_cutoff_comes_from_the_settings(make_app):
    app = make_app(MANAGE_CUTOFF_HOURS=2)
    _, path = soon_booking(app, hours=6)

    body = app.test_client().get(path).get_data(as_text=True)

    assert f'href="{path}/cancel"' in body


# --- delete my data ------------------------------------------------------------------------


def test_delete_needs_the_box_ticked(app, manage_client):  # noqa: F811
    booking_id, path = new_booking(app)
    _, page = open_page(manage_client, f"{path}/delete")

    response = post(manage_client, path, "delete", page)

    assert response.status_code == 200
    assert "Tick the box to confirm" in response.get_data(as_text=True)
    assert stored(app, booking_id).anonymised_at is None


def test_delete_erases_and_confirms(app, manage_client):  # noqa: F811
    booking_id, path = new_booking(app)
    _, page = open_page(manage_client, path)

    response = post(manage_client, path, "delete", page, confirm="y")

    assert response.status_code == 303
    body = manage_client.get(path).get_data(as_text=True)
    assert "Your personal data has been deleted." in body
    assert "Siobh" not in body
    booking = stored(app, booking_id)
    assert (booking.status, booking.email) == ("cancelled", f"deleted-{booking_id}@invalid")


# --- CSRF ----------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["cancel", "move", "delete"])
def test_posts_without_the_csrf_token_change_nothing(app, manage_client, action):  # noqa: F811
    booking_id, path = new_booking(app)
    _, page = open_page(manage_client, path)

    response = manage_client.post(f"{path}/{action}", data={"slot": page.slots[-1], "confirm": "y"})

    assert response.status_code == 400
    booking = stored(app, booking_id)
    assert (booking.status, booking.move_count, booking.anonymised_at) == ("confirmed", 0, None)
    with app.app_context():
        assert {m.kind for m in queued()} == {"prospect_confirmation", "team_notification"}


# --- the link in the confirmation ----------------------------------------------------------


def test_confirmation_email_carries_a_working_manage_link(app, manage_client):  # noqa: F811
    _, path = new_booking(app)
    with app.app_context():
        message = email(queued("prospect_confirmation")[0])
    link = app.config["PUBLIC_URL"].rstrip("/") + path

    assert link in message.text
    assert f'href="{link}"' in message.html
    assert manage_client.get(path).status_code == 200


# --- a real browser with JavaScript off ----------------------------------------------------


@pytest.fixture
def live_manage(app):
    """Serve the app on a real threaded server; yield its base URL."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()
    thread.join()


@pytest.mark.browser
def test_move_then_cancel_in_chromium_without_javascript(app, browser, live_manage):
    booking_id, path = new_booking(app)
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(live_manage + path)

    last = page.locator('input[name="slot"]').last
    chosen = last.get_attribute("value")
    page.locator(f'label[for="{last.get_attribute("id")}"]').click()
    page.get_by_role("button", name="Move my session").click()
    page.get_by_text("Your session has moved.").wait_for()
    page.get_by_role("link", name="Cancel my session").click()
    page.get_by_role("button", name="Yes, cancel my session").click()
    page.get_by_text("Your session is cancelled.").wait_for()
    context.close()

    booking = stored(app, booking_id)
    assert booking.slot_start == parse_slot_value(chosen).replace(tzinfo=None)
    assert booking.status == "cancelled"
