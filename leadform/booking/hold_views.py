"""The page that confirms a booking held during a surge (the link in its email).

GET only shows the booking and a button: mail scanners open links, and must not confirm.
The POST confirms, under the reservation lock, and sends what a new booking sends.
"""

from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, render_template
from flask_wtf import FlaskForm

from leadform.booking import guard, reservations
from leadform.booking.views import session_times

bp = Blueprint("hold", __name__)


class ConfirmHoldForm(FlaskForm):
    """Only the CSRF token: the button is the whole form."""


@bp.after_request
def _no_store(response):
    """The page shows personal data: keep it out of caches and search engines."""
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Robots-Tag"] = "noindex"
    return response


def _held_or_404(token: str):
    booking = guard.held_booking(token, current_app.config["SECRET_KEY"])
    if booking is None:
        abort(404)
    return booking


@bp.route("/book/hold/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """Show the held booking with a confirm button; on POST, confirm it."""
    booking = _held_or_404(token)
    form = ConfirmHoldForm()
    now = datetime.now(UTC)
    problem = None
    if form.validate_on_submit():
        try:
            reservations.confirm_hold(booking, now)
        except reservations.HoldEnded as exc:
            problem = str(exc)
    waiting = booking.status == reservations.HELD and booking.hold_until > _naive(now)
    page = render_template(
        "booking/hold.html",
        booking=booking,
        form=form,
        waiting=waiting,
        problem=problem,
        **session_times(booking),
    )
    return page, 409 if problem else 200


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)
