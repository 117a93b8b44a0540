"""The readiness check's pages: the questions, the result, and the report by email."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from leadform.cleaning import clean_attribution
from leadform.extensions import limiter
from leadform.readiness import services, starts
from leadform.readiness.forms import ReportEmailForm
from leadform.readiness.services import article_url, book_url, find_check, result_of

bp = Blueprint("readiness", __name__)
UTM_PARAMS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


@bp.after_request
def _no_store(response):
    """Keep results and CSRF tokens out of shared caches."""
    response.headers["Cache-Control"] = "no-store"
    return response


def _check_limit() -> str:
    return current_app.config["READINESS_RATE_LIMIT"]


def _email_limit() -> str:
    return current_app.config["READINESS_EMAIL_RATE_LIMIT"]


@bp.route("/readiness-check", methods=["GET", "POST"])
@limiter.limit(_check_limit, methods=["POST"])
def check():
    """Show the questions (a GET counts a start); on a complete POST, store the check."""
    starts.count_check_start(request.method, request.args, datetime.now(UTC))
    form = current_app.extensions["readiness_form"]()
    questionnaire = services.questionnaire()
    if request.method == "GET":
        _prefill(form)
    elif form.validate_on_submit():
        stored = services.save_check(form.answers(questionnaire), form.attribution(), _naive_now())
        return redirect(url_for("readiness.result", token=stored.token), code=303)
    status = 400 if form.errors else 200
    page = render_template(
        "readiness/check.html",
        form=form,
        questionnaire=questionnaire,
        errors=form.error_summary(questionnaire),
    )
    return page, status


def _prefill(form) -> None:
    """Carry the article, utm_* and an outside Referer into the hidden fields."""
    args = request.args
    values = {name: args.get(name) for name in UTM_PARAMS}
    values["source_article"] = args.get("from")
    values["referrer"] = _outside_referrer()
    for name, value in clean_attribution(values).items():
        form[name].data = value


def _outside_referrer() -> str | None:
    """The Referer unless it is one of this site's own pages."""
    referrer = request.referrer
    if referrer and urlsplit(referrer).netloc == request.host:
        return None
    return referrer


@bp.get("/readiness-check/result/<token>")
def result(token: str):
    """Show a check's band, scores, biggest risks and the way on to a booking."""
    stored = find_check(token) or abort(404)
    return _render_result(stored, ReportEmailForm())


@bp.post("/readiness-check/result/<token>/email")
@limiter.limit(_email_limit)
def email_report(token: str):
    """Email the report to the reader's address (with consent), through the outbox."""
    stored = find_check(token) or abort(404)
    form = ReportEmailForm()
    if not form.validate_on_submit():
        return _render_result(stored, form), 400
    result_url = url_for("readiness.result", token=token, _external=False)
    public_result_url = current_app.config["PUBLIC_URL"].rstrip("/") + result_url
    services.queue_report(stored, form.email.data, _naive_now(), public_result_url)
    flash(f"Your report is on its way to {form.email.data}.", "info")
    return redirect(result_url, code=303)


def _render_result(stored, form):
    return render_template(
        "readiness/result.html",
        check=stored,
        result=result_of(stored),
        form=form,
        book_url=book_url(stored),
        article_url=article_url,
    )


def _naive_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
