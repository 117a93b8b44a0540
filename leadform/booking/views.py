"""The booking pages: choose a day and a time, then the form; the confirmation; the invite.

`GET /book` is the picker (month, day and zone in the query string, so every step is a plain
link); `GET /book?slot=...` is the form for that time; `POST /book` books. Every link keeps the
attribution (`from`, `utm_*`, `referrer`) and the zone (`tz`), so a zone change or a day
picked is never counted as a new visit and the booking records where it came from.
"""

import re
from datetime import UTC, date, datetime
from urllib.parse import quote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from leadform.booking import emails, guard, pages, reservations, tokens, visits
from leadform.booking.forms import NEUTRAL_ERROR, BookingForm, SpamSuspected
from leadform.booking.free_times import free_times
from leadform.booking.slots import (
    Slot,
    SlotUnavailable,
    format_range,
    is_zone_choice,
    offered_months,
    parse_slot_value,
    resolve_timezone,
    slot_value,
)
from leadform.cleaning import ATTRIBUTION_LIMITS, clean_attribution
from leadform.extensions import limiter
from leadform.messages.addresses import suggest_address
from leadform.readiness import services as readiness

bp = Blueprint("book", __name__)
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
TIME_GONE = "That time is no longer free — please choose another."
# Offered instead of a time that was just taken, so the answers typed are not lost.
ALTERNATIVES = 6
SURGE_FULL = (
    "We are receiving unusually many bookings right now. Please try again in an hour, or "
    "write to us and we will find a time with you."
)
# The confirmation page and its .ics answer only the browser that booked (or the manage link).
BOOKED_KEY = "booked"
CHECK_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,32}")
BOOKED_KEPT = 5


@bp.after_request
def _no_store(response):
    """Keep personal answers and CSRF tokens out of shared and browser caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _setting(name: str):
    """Return a callable reading `name` from the app's settings (for Flask-Limiter)."""
    return lambda: current_app.config[name]


def _booked(response) -> bool:
    """Count against the email and domain limits only the POSTs that booked."""
    return response.status_code == 303


@bp.route("/book", methods=["GET", "POST"])
@limiter.limit(_setting("RATE_LIMIT"), methods=["POST"])
@limiter.limit(_setting("RATE_LIMIT_NETWORK"), key_func=guard.network_key, methods=["POST"])
@limiter.limit(
    _setting("RATE_LIMIT_EMAIL"), key_func=guard.email_key, methods=["POST"], deduct_when=_booked
)
@limiter.limit(
    _setting("RATE_LIMIT_EMAIL_DOMAIN"),
    key_func=guard.email_domain_key,
    methods=["POST"],
    deduct_when=_booked,
)
def book():
    """Show the picker, or the form for the chosen time; on a valid POST, book it."""
    visits.count_booking_page_visit(request.method, request.args, datetime.now(UTC))
    if request.method == "GET":
        return _form_step() if "slot" in request.args else _picker_step()
    form = BookingForm()
    if request.form.get("use_email"):
        # "Use name@gmail.com" on the typo suggestion: the same form with that address.
        form.email.data = request.form["use_email"].strip()[:254]
    notice = None
    if form.validate_on_submit() and not _typo_to_confirm(form):
        try:
            _spend_start(form)
            booking = _reserve(form)
        except SpamSuspected:
            notice = NEUTRAL_ERROR
        except guard.SurgeFull:
            notice = SURGE_FULL
        except (reservations.SlotTaken, SlotUnavailable):
            form.slot.errors = [reservations.SLOT_TAKEN_MESSAGE]
        else:
            _remember_booked(booking.public_id)
            return redirect(url_for("book.confirmed", public_id=booking.public_id), code=303)
    return _form_page(form, notice)


def _typo_to_confirm(form: BookingForm) -> bool:
    """Suggest a likely fix for a mistyped email domain once; the prospect may keep theirs.

    The form comes back with "Did you mean ...?" beside the field; sent again unchanged
    (the typed address is remembered in a hidden field), it books as typed.
    """
    typed = form.email.data or ""
    suggestion = suggest_address(typed)
    if suggestion is None or form.email_checked.data == typed:
        return False
    form.email_suggestion = suggestion
    form.email_checked.data = typed
    return True


def _spend_start(form: BookingForm) -> None:
    """Check the form's start value and spend it: one form, one booking (guard.py)."""
    now = datetime.now(UTC)
    nonce = form.check_not_spam(current_app.config, session, now.timestamp())
    try:
        guard.spend_form_start(nonce, session, now.replace(tzinfo=None))
    except guard.FormStartRefused as refused:
        raise SpamSuspected(refused.reason) from None


def _remember_booked(public_id: str) -> None:
    """Let this browser (and only it) see the confirmation page of what it just booked."""
    session[BOOKED_KEY] = [*session.get(BOOKED_KEY, [])[-(BOOKED_KEPT - 1) :], public_id]


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
        readiness_check_id=_readiness_check_id(form.check.data),
        session_format=form.session_format.data,
        **form.attribution,
    )
    return reservations.reserve_slot(
        request_data,
        availability=current_app.extensions["availability"],
        privacy_version=current_app.config["SITE"]["privacy"]["policy_version"],
        now=datetime.now(UTC),
        surge=guard.SurgePolicy.from_config(current_app.config),
    )


def _readiness_check_id(token: str | None) -> int | None:
    """The id of the readiness check whose result the prospect booked from, if any."""
    check = readiness.find_check(token) if "readiness" in current_app.extensions else None
    return check.id if check else None


# --- Step 1: the day, then the time ----------------------------------------------------------


def _picker_step(notice: str | None = None):
    """Render the month grid, the chosen day's times and the zone list."""
    zone = prospect_zone(request.args.get("tz"))
    now = datetime.now(UTC)
    av = current_app.extensions["availability"]
    free = free_times(now, reservations.active_bookings_outside_transaction(now))
    pick = pages.pick_day(
        free,
        zone,
        offered_months(av, now, zone),
        request.args.get("month"),
        request.args.get("day"),
    )
    carried = _carried(_attribution(), request.args.get("check"))
    return render_template(
        "booking/choose.html",
        pick=pick,
        notice=notice,
        zone_name=zone.key,
        zone_options=pages.zone_options(zone.key, _likely_zones(), now),
        carried=carried,
        link=lambda **params: booking_link(carried | {"tz": zone.key} | params),
        detect_zone="tz" not in request.args,
    )


def prospect_zone(name: str | None) -> ZoneInfo:
    """Return the listed zone called `name`, else the host's: an unlisted `tz` is ignored."""
    host = _host_zone_name()
    if isinstance(name, str) and is_zone_choice(name, extra=(host,)):
        return ZoneInfo(name)
    return ZoneInfo(host)


def booking_link(params: dict) -> str:
    """Return /book with `params` (empty values left out) as its query string."""
    query = urlencode({key: value for key, value in params.items() if value}, quote_via=quote)
    return f"{url_for('book.book')}?{query}"


def _likely_zones() -> tuple[str, ...]:
    """Return the zones to list first: from the Accept-Language regions, then the host's."""
    header = request.headers.get("Accept-Language")
    return pages.likely_zones(header) + (_host_zone_name(),)


def _attribution() -> dict:
    """Return the attribution of this visit, cleaned as the form's hidden fields are."""
    args = request.args
    data = {name: args.get(name) for name in UTM_PARAMS}
    data["source_article"] = args.get("from")
    data["referrer"] = args.get("referrer") or _outside_referrer()
    return clean_attribution(data)


def _outside_referrer() -> str | None:
    """Return the Referer unless it is the booking page itself (a step of the flow)."""
    referrer = request.referrer
    if referrer and urlsplit(referrer).path == url_for("book.book"):
        return None
    return referrer


def _carried(attribution: dict, check: str | None = None) -> dict:
    """Return what every link of the flow carries: the attribution and the readiness check."""
    carried = {name: attribution.get(name) for name in UTM_PARAMS}
    carried["from"] = attribution.get("source_article")
    carried["referrer"] = attribution.get("referrer")
    carried["check"] = _check_token(check)
    return {key: value for key, value in carried.items() if value}


def _check_token(value: str | None) -> str | None:
    """A readiness check's token as it may appear in a link, or None."""
    return value if isinstance(value, str) and CHECK_TOKEN.fullmatch(value) else None


def _host_zone_name() -> str:
    return current_app.config["SITE"]["availability"]["timezone"]


# --- Step 2: about you -----------------------------------------------------------------------


def _form_step():
    """Show the form for the time in `?slot=`, or the picker again if it is not free."""
    try:
        start = parse_slot_value(request.args.get("slot", ""))
    except ValueError:
        return _picker_step(notice=TIME_GONE)
    slot = next((slot for slot in _free_now() if slot.start == start), None)
    if slot is None:
        return _picker_step(notice=TIME_GONE)
    zone = prospect_zone(request.args.get("tz"))
    data = _attribution() | {
        "slot": slot_value(slot),
        "timezone": zone.key,
        "check": _check_token(request.args.get("check")),
    }
    return _form_page(BookingForm(data=data), None)


def _free_now() -> list[Slot]:
    now = datetime.now(UTC)
    return free_times(now, reservations.active_bookings_outside_transaction(now))


def _form_page(form: BookingForm, notice: str | None):
    """Render the form: the chosen time on top (or other times if it went), answers kept."""
    form.started.data = guard.issue_form_start(
        session, current_app.config["SECRET_KEY"], datetime.now(UTC).timestamp()
    )
    zone = prospect_zone(form.timezone.data)
    # A zone that is not listed was shown as ours; send that one back, not the bad one.
    form.timezone.data = zone.key
    start = _slot_start(form.slot.data)
    slot = Slot(start, start + current_app.extensions["availability"].session) if start else None
    day = slot.start.astimezone(zone).date() if slot else None
    return render_template(
        "booking/details.html",
        form=form,
        notice=notice,
        chosen=format_range(slot, zone) if slot else None,
        zone_name=zone.key,
        alternatives=_alternatives(form, zone, day),
        attribution_fields=list(ATTRIBUTION_LIMITS),
        change_link=_change_link(form, zone, day),
    )


def _slot_start(value: str | None) -> datetime | None:
    try:
        return parse_slot_value(value or "")
    except ValueError:
        return None


def _alternatives(form: BookingForm, zone: ZoneInfo, day: date | None) -> list:
    """Return free times from the chosen day on, when the chosen one cannot be booked."""
    if not form.slot.errors:
        return []
    # The refused time may still be in the cached list: a calendar event the live check
    # found is in no sync yet.
    refused = _slot_start(form.slot.data)
    free = [
        slot
        for slot in _free_now()
        if slot.start != refused and (day is None or slot.start.astimezone(zone).date() >= day)
    ]
    return [pages.time_choice(slot, zone) for slot in free[:ALTERNATIVES]]


def _change_link(form: BookingForm, zone: ZoneInfo, day: date | None) -> str:
    """Return the picker's link back to the chosen day, the attribution kept."""
    params = _carried(form.attribution, form.check.data) | {"tz": zone.key}
    if day:
        params["day"] = day.isoformat()
    return booking_link(params)


# --- After booking ---------------------------------------------------------------------------


def _booked_here(public_id: str):
    """The booking this browser just made, or 404: a public id alone opens nothing.

    The id is in the invitation's UID and the team's email; the manage link (a signed
    token) is what reopens a booking later.
    """
    if public_id not in session.get(BOOKED_KEY, []):
        abort(404)
    return reservations.find_booking(public_id) or abort(404)


@bp.get("/book/confirmed/<public_id>")
def confirmed(public_id: str):
    """Show the booked session in the prospect's zone (and the host's, if different)."""
    booking = _booked_here(public_id)
    return render_template(
        "booking/confirmed.html",
        booking=booking,
        **session_times(booking),
        calendar_links=calendar_links_for(booking),
        ics_url=url_for("book.invite", public_id=booking.public_id),
        manage_path=url_for("manage.page", token=tokens.manage_token(booking)),
    )


def session_times(booking) -> dict:
    """The session's time for `_session.html`: the prospect's zone, and ours if it differs."""
    slot = reservations.booking_slot(booking)
    host_zone = ZoneInfo(_host_zone_name())
    own_zone = resolve_timezone(booking.timezone, host_zone)
    return {
        "prospect_time": format_range(slot, own_zone),
        "host_time": format_range(slot, host_zone) if own_zone.key != host_zone.key else None,
        "host_zone": host_zone.key,
    }


def calendar_links_for(booking) -> dict:
    """Return the "Add to Google Calendar" and "Add to Outlook" links for the session."""
    slot = reservations.booking_slot(booking)
    site = current_app.config["SITE"]
    title = f"{site['assessment']['name']} with {site['firm']['name']}"
    manage = tokens.manage_url(booking)
    return pages.calendar_links(title, slot, f"Change or cancel: {manage}")


@bp.get("/book/<public_id>/invite.ics")
def invite(public_id: str):
    """Download the booking as an iCalendar file (same UID as the emailed invite)."""
    return invite_response(_booked_here(public_id))


def invite_response(booking) -> Response:
    """The booking's .ics as a download (the confirmation page and the manage page)."""
    body = emails.build_booking_invite(booking, current_app.config)
    return Response(
        body,
        mimetype="text/calendar",
        headers={"Content-Disposition": 'attachment; filename="ai-readiness-assessment.ics"'},
    )
