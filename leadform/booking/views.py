"""The booking pages: the form with its free slots, the confirmation and the calendar file."""

from datetime import UTC, datetime
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup

from leadform.booking import emails, pages, reservations, tokens, visits
from leadform.booking.forms import (
    NEUTRAL_ERROR,
    BookingForm,
    SpamSuspected,
    clean_attribution,
    sign_started,
)
from leadform.booking.slots import (
    Slot,
    SlotUnavailable,
    available_slots,
    choices_by_day,
    format_range,
    parse_slot_value,
    resolve_timezone,
    timezone_choices,
)
from leadform.extensions import limiter

bp = Blueprint("book", __name__)
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@bp.after_request
def _no_store(response):
    """Keep personal answers and CSRF tokens out of shared and browser caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _rate_limit() -> str:
    return current_app.config["RATE_LIMIT"]


@bp.route("/book", methods=["GET", "POST"])
@limiter.limit(_rate_limit, methods=["POST"])
def book():
    """Show the booking form with the free slots; on a valid POST, reserve the slot."""
    visits.count_booking_page_visit(request.method, request.args, datetime.now(UTC))
    if request.method == "GET":
        return _blank_form()
    form = BookingForm()
    notice = None
    if form.validate_on_submit():
        try:
            form.check_not_spam(current_app.config["MIN_FILL_SECONDS"])
            booking = _reserve(form)
        except SpamSuspected:
            notice = NEUTRAL_ERROR
        except (reservations.SlotTaken, SlotUnavailable):
            form.slot.errors = [reservations.SLOT_TAKEN_MESSAGE]
        else:
            return redirect(url_for("book.confirmed", public_id=booking.public_id), code=303)
    return _form_with_errors(form, notice)


def _reserve(form: BookingForm):
    """Turn the validated form into a booking."""
    request_data = reservations.BookingRequest(
        name=form.name.data,
        email=form.email.data,
        company=form.company.data,
        role=form.role.data,
        company_size=form.company_size.data,
        goals=form.goals.data,
        timezone=form.timezone.data,
        slot_start=parse_slot_value(form.slot.data),
        **form.attribution,
    )
    return reservations.reserve_slot(
        request_data,
        availability=current_app.extensions["availability"],
        privacy_version=current_app.config["SITE"]["privacy"]["policy_version"],
        now=datetime.now(UTC),
    )


def _prefill() -> dict:
    """Read the attribution and the zone from the query string and the Referer header."""
    args = request.args
    data = {name: args.get(name) for name in UTM_PARAMS}
    data["source_article"] = args.get("from")
    data["referrer"] = args.get("referrer") or _outside_referrer()
    # The form's filters clean and cut these values as they would posted ones.
    data["timezone"] = _display_zone_name(args.get("tz"))
    return data


def _outside_referrer() -> str | None:
    """Return the Referer unless it is the booking page itself (a time zone reload)."""
    referrer = request.referrer
    if referrer and urlsplit(referrer).path == url_for("book.book"):
        return None
    return referrer


def _host_zone_name() -> str:
    return current_app.config["SITE"]["availability"]["timezone"]


def _display_zone_name(requested: str | None) -> str:
    """Return the valid zone name to show times in (the host's when `requested` is not)."""
    host = _host_zone_name()
    return resolve_timezone(requested, ZoneInfo(host)).key


def _blank_form():
    """Show the empty form: rendered once per state and reused (see leadform/pages.py).

    Only the hidden inputs are this visitor's own, so the form object is built only when
    the page has to be rendered.
    """
    prefill = _prefill()
    zone_name = prefill["timezone"]
    attribution = clean_attribution(prefill)
    detect_zone = "tz" not in request.args
    availability = current_app.extensions["availability"]
    now = datetime.now(UTC)
    busy = reservations.active_bookings_outside_transaction(now)

    def render(free: list[Slot], picker: Markup, inputs: Markup) -> str:
        form = BookingForm(data=prefill)
        return _render_page(form, None, zone_name, free, detect_zone, picker, inputs)

    page = pages.cached_page(
        (zone_name, detect_zone, tuple(busy)),
        now,
        lambda: available_slots(availability, now, busy),
        render,
    )
    return page.fill(
        pages.picker_inputs(_carry_over_query(attribution)),
        pages.form_inputs(sign_started(), attribution),
    )


def _form_with_errors(form: BookingForm, notice: str | None) -> str:
    """Render the sent form again, answers kept, errors next to their fields."""
    zone_name = _display_zone_name(form.timezone.data)
    form.timezone.data = form.timezone.data or zone_name
    attribution = form.attribution
    now = datetime.now(UTC)
    return _render_page(
        form,
        notice,
        zone_name,
        reservations.free_slots(current_app.extensions["availability"], now),
        False,
        pages.picker_inputs(_carry_over_query(attribution)),
        pages.form_inputs(sign_started(), attribution),
    )


def _render_page(form, notice, zone_name, free, detect_zone, picker_inputs, form_inputs) -> str:
    """Render book.html for `form` with the free times `free` shown in `zone_name`."""
    zones = timezone_choices(extra=(_host_zone_name(),))
    form.timezone.choices = zones
    return render_template(
        "booking/book.html",
        form=form,
        notice=notice,
        zone_name=zone_name,
        zone_options=pages.zone_options(tuple(zones), zone_name),
        days=choices_by_day(free, ZoneInfo(zone_name)),
        detect_zone=detect_zone,
        picker_inputs=picker_inputs,
        form_inputs=form_inputs,
    )


def _carry_over_query(attribution: dict) -> dict:
    """Return the attribution the time zone picker must keep across its reload."""
    carried = {name: attribution.get(name) for name in UTM_PARAMS}
    carried["from"] = attribution.get("source_article")
    carried["referrer"] = attribution.get("referrer")
    return {key: value for key, value in carried.items() if value}


@bp.get("/book/confirmed/<public_id>")
def confirmed(public_id: str):
    """Show the booked session in the prospect's and the host's time zones."""
    booking = reservations.find_booking(public_id) or abort(404)
    slot = reservations.booking_slot(booking)
    host_zone = _host_zone_name()
    return render_template(
        "booking/confirmed.html",
        booking=booking,
        prospect_time=format_range(slot, resolve_timezone(booking.timezone, ZoneInfo(host_zone))),
        host_time=format_range(slot, ZoneInfo(host_zone)),
        host_zone=host_zone,
        manage_path=url_for("manage.page", token=tokens.manage_token(booking)),
    )


@bp.get("/book/<public_id>/invite.ics")
def invite(public_id: str):
    """Download the booking as an iCalendar file (same UID as the emailed invite)."""
    booking = reservations.find_booking(public_id) or abort(404)
    body = emails.build_booking_invite(booking, current_app.config)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="ai-readiness-assessment.ics"'},
    )
