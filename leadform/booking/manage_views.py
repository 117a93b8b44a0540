"""The prospect's manage page, reached from the link in every email: cancel, move, erase.

Moving uses the booking page's day-then-time picker. Cancelling and erasing are asked for
again on a page of their own (a GET that changes nothing) and done by its POST. Each POST is
read, checked and handed to `leadform.booking.changes`, then answered with a redirect to the
page (Post/Redirect/Get) carrying a one-time confirmation; otherwise the page comes back with
the reason. Operators are not bound by the cut-off and move limit enforced here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    current_app,
    flash,
    get_flashed_messages,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, ValidationError
from wtforms.validators import DataRequired

from leadform.booking import changes, pages
from leadform.booking.reservations import SLOT_TAKEN_MESSAGE, SlotTaken, booking_slot
from leadform.booking.slots import (
    SlotUnavailable,
    format_range,
    is_zone_choice,
    offered_months,
    parse_slot_value,
    resolve_timezone,
)
from leadform.booking.tokens import TokenError, TokenExpired, booking_for_token
from leadform.booking.views import calendar_links_for, invite_response
from leadform.models import Booking

bp = Blueprint("manage", __name__, url_prefix="/manage")


class CancelForm(FlaskForm):
    """Cancel the session (the button is the whole form)."""


class MoveForm(FlaskForm):
    """Choose a new time; `tz` keeps the zone the times were shown in."""

    slot = RadioField(
        "Choose a new time",
        choices=[],
        validate_choice=False,
        validators=[DataRequired("Choose one of the times shown.")],
    )
    tz = HiddenField()

    def validate_slot(self, field):
        """Accept only a well-formed slot value; whether it is free is decided on moving."""
        try:
            parse_slot_value(field.data or "")
        except ValueError:
            raise ValidationError("Choose one of the times shown.") from None


class DeleteForm(FlaskForm):
    """Erase the prospect's personal data, once they tick the box."""

    confirm = BooleanField(
        "I understand: my details are deleted and an upcoming session is cancelled.",
        validators=[DataRequired("Tick the box to confirm that you want your data deleted.")],
    )


@bp.after_request
def _no_store(response):
    """Keep personal details and CSRF tokens out of shared and browser caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.errorhandler(TokenError)
def token_error(error: TokenError):
    """Explain a broken link (404) or one whose session is over (410)."""
    code = 410 if isinstance(error, TokenExpired) else 404
    title = "This link has expired" if code == 410 else "This link does not work"
    page = render_template("booking/manage/link_problem.html", title=title, message=error.message)
    return page, code


@bp.get("/<token>")
def page(token: str):
    """Show the booking with the changes the prospect may make now."""
    booking = booking_for_token(token, _now())
    return _render(booking, token)


@bp.get("/<token>/invite.ics")
def invite(token: str):
    """Download the booking as an iCalendar file: the manage link opens it at any time."""
    return invite_response(booking_for_token(token, _now()))


@bp.get("/<token>/cancel")
def confirm_cancel(token: str):
    """Ask once more before cancelling: the second step, whose button POSTs."""
    now = _now()
    booking = booking_for_token(token, now)
    rules = _rules(booking, now)
    if booking.status == "cancelled" or not rules.can_cancel:
        return redirect(url_for("manage.page", token=token), code=303)
    return _confirm_page("cancel", booking, token, CancelForm())


@bp.get("/<token>/delete")
def confirm_delete(token: str):
    """Ask once more before erasing the prospect's data; the box and button POST."""
    booking = booking_for_token(token, _now())
    if booking.anonymised_at:
        return redirect(url_for("manage.page", token=token), code=303)
    return _confirm_page("delete", booking, token, DeleteForm())


def _confirm_page(action: str, booking: Booking, token: str, form: FlaskForm, status=200):
    """Render the second step of cancelling or erasing."""
    page = render_template(
        "booking/manage/confirm.html", action=action, booking=booking, token=token, form=form
    )
    return page, status


@bp.post("/<token>/cancel")
def cancel(token: str):
    """Cancel the session, unless the cut-off has passed."""
    now = _now()
    booking = booking_for_token(token, now)
    form = CancelForm()
    if not form.validate_on_submit():
        return _render(booking, token, cancel_form=form)
    rules = _rules(booking, now)
    if not rules.can_cancel:
        return _render(booking, token, notice=rules.cancel_refusal, status=409)
    try:
        cancelled = changes.cancel_booking(booking, now)
    except changes.ChangeRefused as exc:
        # Another change (a move from another tab or by the firm) won: say what happened.
        return _render(booking, token, notice=exc.reason, status=409)
    if cancelled:
        flash("Your session is cancelled. We have sent you a confirmation by email.")
    else:
        flash("This session was already cancelled.")
    return redirect(url_for("manage.page", token=token), code=303)


@bp.post("/<token>/move")
def move(token: str):
    """Move the session to the chosen free time; if it was just taken, offer the others."""
    now = _now()
    booking = booking_for_token(token, now)
    form = MoveForm()
    if not form.validate_on_submit():
        return _render(booking, token, move_form=form)
    rules = _rules(booking, now)
    if not rules.can_move:
        return _render(booking, token, notice=rules.move_refusal, status=409)
    try:
        changes.move_booking(booking, parse_slot_value(form.slot.data), now, max_moves=_max_moves())
    except (SlotUnavailable, SlotTaken) as exc:
        form.slot.errors = [_slot_problem(exc)]
        return _render(booking, token, move_form=form, status=409, day=form.slot.data)
    except changes.ChangeRefused as exc:
        return _render(booking, token, notice=exc.reason, status=409)
    flash("Your session has moved. We have sent you an updated calendar invitation.")
    return redirect(url_for("manage.page", token=token, tz=form.tz.data or None), code=303)


@bp.post("/<token>/delete")
def delete(token: str):
    """Erase the prospect's personal data (cancelling an upcoming session first)."""
    now = _now()
    booking = booking_for_token(token, now)
    form = DeleteForm()
    if not form.validate_on_submit():
        return _confirm_page("delete", booking, token, form)
    changes.anonymise_booking(booking, now)
    flash("Your personal data has been deleted.")
    return redirect(url_for("manage.page", token=token), code=303)


def _now() -> datetime:
    return datetime.now(UTC)


def _max_moves() -> int:
    return current_app.config["MAX_MOVES"]


def _rules(booking: Booking, now: datetime) -> changes.ChangeRules:
    """Return what the prospect may change now, under the configured cut-off and limit."""
    cutoff = timedelta(hours=current_app.config["MANAGE_CUTOFF_HOURS"])
    return changes.change_rules(booking, now, cutoff, _max_moves())


def _slot_problem(error: SlotUnavailable | SlotTaken) -> str:
    """Return the sentence shown at the time picker when the chosen time cannot be had."""
    if isinstance(error, SlotTaken) or error.code in {"taken", "day_full"}:
        return SLOT_TAKEN_MESSAGE
    return f"That time cannot be booked ({error.reason}); please choose another."


def _render(booking: Booking, token: str, *, notice=None, status=200, day=None, **forms):
    """Render the manage page; `forms` carries a submitted form so its errors show."""
    now = _now()
    host_zone = ZoneInfo(current_app.config["SITE"]["availability"]["timezone"])
    own_zone = resolve_timezone(booking.timezone, host_zone)
    move_form = forms.get("move_form") or MoveForm(tz=request.args.get("tz"))
    zone = _listed_zone(move_form.tz.data, own_zone, host_zone)
    move_form.tz.data = zone.key
    rules = _rules(booking, now)
    slot = booking_slot(booking)
    context = {
        "booking": booking,
        "token": token,
        "rules": rules,
        "notice": notice,
        "confirmations": get_flashed_messages(),
        "prospect_time": format_range(slot, own_zone),
        "host_time": format_range(slot, host_zone) if own_zone.key != host_zone.key else None,
        "host_zone": host_zone.key,
        "zone_name": zone.key,
        "zone_options": pages.zone_options(zone.key, _likely(own_zone, host_zone), now),
        "pick": _pick(booking, zone, now, day) if rules.can_move else None,
        "move_form": move_form,
        "move_link": lambda **params: url_for("manage.page", token=token, tz=zone.key, **params),
        "calendar_links": calendar_links_for(booking),
        "ics_url": url_for("manage.invite", token=token),
    }
    return render_template("booking/manage/page.html", **context), status


def _listed_zone(name: str | None, own: ZoneInfo, host: ZoneInfo) -> ZoneInfo:
    """Return the listed zone `name`, else the prospect's own: an unlisted `tz` is ignored."""
    if name and is_zone_choice(name, extra=(own.key, host.key)):
        return ZoneInfo(name)
    return own


def _likely(own: ZoneInfo, host: ZoneInfo) -> tuple[str, ...]:
    """Return the zones listed first: the prospect's, Accept-Language's regions', ours."""
    header = request.headers.get("Accept-Language")
    return pages.likely_zones(header, extra=(own.key,)) + (host.key,)


def _pick(booking: Booking, zone: ZoneInfo, now: datetime, day: str | None) -> pages.DayPick:
    """Return the month, day and times the move picker shows (the query chooses)."""
    av = current_app.extensions["availability"]
    free = changes.move_choices(booking, av, now)
    if day:  # a time just taken: show its day again
        day = _local_day(day, zone)
    return pages.pick_day(
        free,
        zone,
        offered_months(av, now, zone),
        request.args.get("month"),
        day or request.args.get("day"),
    )


def _local_day(value: str, zone: ZoneInfo) -> str | None:
    """Return the ISO date in `zone` of slot value `value`, or None if it is not one."""
    try:
        return parse_slot_value(value).astimezone(zone).date().isoformat()
    except ValueError:
        return None
