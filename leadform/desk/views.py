"""The operators' desk: sign-in, the bookings list and detail, the CSV and the outbox.

Every page but the sign-in form needs a signed-in operator (checked before each request),
and every answer is marked `no-store`, since nearly all of them show personal data.
"""

import time
from datetime import UTC, datetime, timedelta

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from leadform.booking import changes
from leadform.booking.slots import Slot, format_range
from leadform.db import db
from leadform.desk import auth, export, queries, services, throttle, two_factor
from leadform.desk.forms import AttendanceForm, CodeForm, ConfirmForm, LoginForm, NoteForm
from leadform.extensions import limiter
from leadform.messages import delivery, outbox
from leadform.models import Booking, utcnow
from leadform.readiness import services as readiness

bp = Blueprint("admin", __name__, url_prefix="/admin")
LIST_LIMIT = 200
OUTBOX_LIMIT = 200
# The two sign-in steps; every other desk page needs a full session.
PUBLIC_ENDPOINTS = {"admin.login", "admin.login_code"}


@bp.before_request
def _require_operator():
    """Send anyone without a live operator session to the sign-in page (or to enrol)."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    return auth.guard_request()


bp.after_request(auth.keep_private)


@bp.context_processor
def _desk_context():
    """Give the desk's templates the host zone and the time formatters."""
    return {
        "host_zone": _host_zone().key,
        "slot_text": _slot_text,
        "time_text": _time_text,
    }


def _host_zone():
    return current_app.extensions["availability"].timezone


def _slot_text(booking: Booking) -> str:
    """The booking's session in the host's zone, e.g. "Tuesday 8 December 2026, 14:00–15:30 GMT"."""
    slot = Slot(booking.slot_start.replace(tzinfo=UTC), booking.slot_end.replace(tzinfo=UTC))
    return format_range(slot, _host_zone())


def _time_text(moment: datetime | None) -> str:
    """A stored naive-UTC time in the host's zone, e.g. "2026-11-23 14:05 GMT"."""
    if moment is None:
        return ""
    local = moment.replace(tzinfo=UTC).astimezone(_host_zone())
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def _login_rate_limit() -> str:
    return current_app.config["LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login():
    """Show the sign-in form; on valid credentials go on to the code step or the desk."""
    if request.method == "GET" and auth.current_operator() is not None:
        return redirect(url_for("admin.bookings"))
    form = LoginForm(next=request.args.get("next"))
    error = None
    if form.validate_on_submit():
        try:
            operator = auth.authenticate(form.username.data, form.password.data)
        except throttle.AccountLocked as exc:
            return render_template("desk/login.html", form=form, error=str(exc)), 429
        except auth.InvalidCredentials as exc:
            error = str(exc)
        else:
            return _after_password(operator, auth.safe_next(form.next.data))
    return render_template("desk/login.html", form=form, error=error)


def _after_password(operator, next_url: str | None):
    """Ask for the second factor if the operator has one; otherwise sign in and go on."""
    if two_factor.is_enabled(operator):
        auth.begin_second_factor(operator, next_url)
        return redirect(url_for("admin.login_code"), 303)
    auth.sign_in(operator)
    if auth.must_enrol(operator):
        return redirect(url_for("account.two_factor"), 303)
    return redirect(next_url or url_for("admin.bookings"), 303)


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_rate_limit, methods=["POST"])
def login_code():
    """The second sign-in step: a code from the authenticator app, or a recovery code."""
    operator = auth.pending_operator()
    if operator is None:
        return redirect(url_for("admin.login"))
    form = CodeForm()
    error = None
    if form.validate_on_submit():
        try:
            throttle.check_not_locked(operator.username, utcnow())
            two_factor.check_code(operator, form.code.data, time.time())
        except throttle.AccountLocked as exc:
            return render_template("desk/login_code.html", form=form, error=str(exc)), 429
        except two_factor.WrongCode as exc:
            throttle.record_failure(operator.username, utcnow())
            error = str(exc)
        else:
            next_url = auth.pop_next()
            auth.sign_in(operator)
            return redirect(next_url or url_for("admin.bookings"), 303)
    return render_template("desk/login_code.html", form=form, error=error)


@bp.post("/logout")
def logout():
    """End every session of the operator and return to the sign-in page."""
    if ConfirmForm().validate_on_submit():
        auth.sign_out()
        flash("You are signed out.", "info")
    return redirect(url_for("admin.login"), 303)


@bp.get("/")
def index():
    """The desk starts at the upcoming bookings."""
    return redirect(url_for("admin.bookings"))


@bp.get("/bookings")
def bookings():
    """List the bookings of one tab, optionally searched by name, email or company."""
    booking_filter = queries.BookingFilter.from_args(request.args)
    rows = queries.find_bookings(db.session, booking_filter, utcnow(), limit=LIST_LIMIT + 1)
    return render_template(
        "desk/bookings.html",
        booking_filter=booking_filter,
        bookings=rows[:LIST_LIMIT],
        truncated=len(rows) > LIST_LIMIT,
        tabs=queries.TABS,
    )


@bp.get("/bookings/export.csv")
def export_bookings():
    """Download the bookings of the current tab and search as CSV."""
    booking_filter = queries.BookingFilter.from_args(request.args)
    rows = queries.find_bookings(db.session, booking_filter, utcnow())
    body = export.bookings_csv(rows, _host_zone())
    filename = export.export_filename(booking_filter.tab, datetime.now(_host_zone()).date())
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


def _booking_or_404(public_id: str) -> Booking:
    booking = db.session.scalar(db.select(Booking).where(Booking.public_id == public_id))
    if booking is None:
        abort(404)
    return booking


@bp.get("/bookings/<public_id>")
def booking_detail(public_id: str):
    """Show one booking: answers, attribution, history, emails and notes."""
    booking = _booking_or_404(public_id)
    return _render_detail(booking, NoteForm(), AttendanceForm(attendance=booking.attendance))


def _render_detail(booking: Booking, note_form: NoteForm, attendance_form: AttendanceForm):
    """Render the detail page with the given (possibly invalid) forms."""
    return render_template(
        "desk/booking.html",
        booking=booking,
        note_form=note_form,
        attendance_form=attendance_form,
        recipients=queries.recipients,
        delivery_history=delivery.history,
        readiness=readiness.summary_for(booking.readiness_check_id),
    )


@bp.post("/bookings/<public_id>/attendance")
def mark_attendance(public_id: str):
    """Record whether the prospect attended or did not show up."""
    booking = _booking_or_404(public_id)
    form = AttendanceForm()
    if not form.validate_on_submit():
        return _render_detail(booking, NoteForm(), form), 400
    try:
        services.mark_attendance(booking, form.attendance.data, auth.current_operator(), utcnow())
    except services.DeskActionError as exc:
        flash(str(exc), "error")
    else:
        flash("Attendance saved.", "info")
    return redirect(url_for("admin.booking_detail", public_id=public_id), 303)


@bp.post("/bookings/<public_id>/notes")
def add_note(public_id: str):
    """Attach a private note to the booking."""
    booking = _booking_or_404(public_id)
    form = NoteForm()
    if not form.validate_on_submit():
        return _render_detail(booking, form, AttendanceForm(attendance=booking.attendance)), 400
    services.add_note(booking, form.body.data, auth.current_operator(), utcnow())
    flash("Note saved.", "info")
    return redirect(url_for("admin.booking_detail", public_id=public_id), 303)


def _apply_change(public_id: str, name: str, done: str, already: str):
    """Run changes.`name`(booking, now, actor=operator) and tell the operator how it went."""
    booking = _booking_or_404(public_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    change = getattr(changes, name)
    actor = services.operator_actor(auth.current_operator())
    try:
        applied = change(booking, datetime.now(UTC), actor=actor)
    except changes.ChangeRefused as exc:
        # Another change (the prospect moving it a moment ago) won; nothing was done here.
        flash(exc.reason, "error")
    else:
        flash(done if applied else already, "info" if applied else "error")
    return redirect(url_for("admin.booking_detail", public_id=public_id), 303)


@bp.post("/bookings/<public_id>/cancel")
def cancel_booking(public_id: str):
    """Cancel the booking on the prospect's behalf (emails go out as for their own cancel)."""
    return _apply_change(
        public_id,
        "cancel_booking",
        done="The booking is cancelled; the prospect and the team are being told by email.",
        already="This booking was already cancelled.",
    )


@bp.post("/bookings/<public_id>/erase")
def erase_booking(public_id: str):
    """Erase the prospect's personal data (a deletion request); upcoming sessions are cancelled."""
    return _apply_change(
        public_id,
        "anonymise_booking",
        done="The prospect's personal data is erased; the slot history is kept.",
        already="This booking's personal data was already erased.",
    )


@bp.get("/outbox")
def outbox_page():
    """List queued, sent and failed emails (never their bodies), newest first."""
    status = request.args.get("status")
    status = status if status in queries.OUTBOX_STATUSES else None
    week_ago = utcnow() - timedelta(days=7)
    return render_template(
        "desk/outbox.html",
        bounce_alert=delivery.bounce_alert(
            "prospect_confirmation", week_ago, current_app.config["BOUNCE_ALERT_PERCENT"]
        ),
        messages=queries.outbox_messages(db.session, status, OUTBOX_LIMIT),
        counts=outbox.status_counts(),
        status=status,
        statuses=queries.OUTBOX_STATUSES,
        recipients=queries.recipients,
    )


@bp.post("/outbox/<int:message_id>/retry")
def retry_message(message_id: int):
    """Queue a failed email again for immediate delivery."""
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        outbox.retry_message(message_id)
    except outbox.MessageNotFoundError:
        abort(404)
    except outbox.MessageNotFailedError as exc:
        flash(str(exc), "error")
    else:
        flash(f"Email {message_id} is queued again; the worker will send it shortly.", "info")
    return redirect(url_for("admin.outbox_page", status=request.args.get("status")), 303)
