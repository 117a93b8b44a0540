"""The desk's newsletter subscribers at /admin/newsletter: search, CSV export, delete.

Operators only (every request passes `auth.guard_request`), never cached, like the rest of
the desk. The work is done by `leadform.newsletter.services`; deleting erases the subscriber
everywhere (row and emails), as a data-deletion request needs.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Flask, Response, flash, redirect, render_template, request, url_for

from leadform.desk import auth
from leadform.desk.export import BOM, spreadsheet_csv
from leadform.desk.forms import ConfirmForm
from leadform.models import utcnow
from leadform.newsletter import services

bp = Blueprint("desk_newsletter", __name__, url_prefix="/admin/newsletter")
LIST_LIMIT = 200
MAX_SEARCH_CHARS = 200

bp.before_request(auth.guard_request)
bp.after_request(auth.keep_private)


@bp.context_processor
def _desk_context():
    """Give desk/base.html the operator and the sign-out form it shows."""
    return {"operator": auth.current_operator(), "confirm_form": ConfirmForm()}


def _search() -> str:
    return (request.args.get("q") or "").strip()[:MAX_SEARCH_CHARS]


@bp.get("")
def subscribers():
    """List subscribers (newest first), optionally searched by address or source page."""
    search = _search()
    rows = services.search_subscribers(search, limit=LIST_LIMIT + 1)
    return render_template(
        "newsletter/desk_subscribers.html",
        subscribers=rows[:LIST_LIMIT],
        truncated=len(rows) > LIST_LIMIT,
        search=search,
    )


@bp.get("/subscribers.csv")
def export_subscribers():
    """Download the subscribers of the current search as CSV (every cell quoted, neutralised)."""
    rows = (services.export_row(item) for item in services.search_subscribers(_search()))
    body = BOM + spreadsheet_csv(services.EXPORT_HEADERS, rows)
    filename = f"newsletter-subscribers-{date.today().isoformat()}.csv"
    return Response(
        body.encode("utf-8"),
        mimetype="text/csv",
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="{filename}"',
        },
    )


@bp.post("/<int:subscriber_id>/delete")
def delete_subscriber(subscriber_id: int):
    """Erase one subscriber everywhere, then go back to the list."""
    if ConfirmForm().validate_on_submit():
        try:
            services.erase_by_id(subscriber_id, utcnow())
        except services.SubscriberNotFound as exc:
            flash(exc.message, "error")
        else:
            flash("The subscriber and their emails are deleted.", "info")
    return redirect(url_for("desk_newsletter.subscribers"), 303)


def init_app(app: Flask) -> None:
    """Register the subscribers' desk pages."""
    app.register_blueprint(bp)
