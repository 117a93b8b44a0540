"""The newsletter pages under /newsletter: sign up, confirm, unsubscribe.

Two POSTs take no CSRF token, on purpose:

- `POST /newsletter/subscribe` is posted from static article pages, which cannot hold a token
  tied to a session. A token would not protect anything here anyway: signing up needs no
  session, so a forged post can do nothing a direct one could not. What does protect it: a
  rate limit per client address and per email address, a honeypot field, and double opt-in
  (a forged signup sends the address one confirmation email and no newsletter).
- `POST /newsletter/unsubscribe/<token>` is RFC 8058's one-click unsubscribe, posted by mail
  providers with the body `List-Unsubscribe=One-Click`; the signed link is the capability.

Confirming a signup changes state only on POST (mail scanners open links with GET), from a
page that carries a CSRF token.
"""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, render_template, request, url_for

from leadform.extensions import limiter
from leadform.models import utcnow
from leadform.newsletter import emails, services, tokens
from leadform.newsletter.forms import ConfirmForm, SignupForm, SpamSuspected, clean_source
from leadform.newsletter.models import CONFIRMED

bp = Blueprint("newsletter", __name__, url_prefix="/newsletter")


@bp.after_request
def _private(response):
    """Keep pages with signed links out of caches, and their links out of other sites' logs.

    "same-origin", not "no-referrer": over HTTPS Flask-WTF refuses a POST without a same-host
    Referer, and the Confirm button posts back to its own page.
    """
    response.headers["Cache-Control"] = "no-store"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


def _address_limit() -> str:
    return current_app.config["NEWSLETTER_RATE_LIMIT"]


def _email_limit() -> str:
    return current_app.config["NEWSLETTER_EMAIL_RATE_LIMIT"]


def email_key() -> str:
    """Rate-limit key: the posted email address, trimmed and case-folded."""
    return "newsletter-email:" + (request.form.get("email") or "").strip().lower()[:254]


@bp.get("/subscribe")
def subscribe_page():
    """Show the signup form (the page a failed signup from an article lands on)."""
    form = SignupForm(data={"source": clean_source(request.args.get("from"))})
    return render_template("newsletter/subscribe.html", form=form)


@bp.post("/subscribe")
@limiter.limit(_address_limit)
@limiter.limit(_email_limit, key_func=email_key)
def subscribe():
    """Take a signup: queue the confirmation email and show the same answer whatever happened."""
    form = SignupForm()
    if not form.validate():
        return render_template("newsletter/subscribe.html", form=form)
    try:
        form.check_not_spam()
    except SpamSuspected:
        # Answered like a real signup, so the bot learns nothing.
        return redirect(url_for("newsletter.sent"), code=303)
    services.subscribe(
        form.email.data,
        source_article=form.source.data,
        now=utcnow(),
        config=current_app.config,
    )
    return redirect(url_for("newsletter.sent"), code=303)


@bp.get("/subscribe/sent")
def sent():
    """Tell the visitor to look for the confirmation email."""
    return render_template("newsletter/sent.html")


@bp.route("/confirm/<token>", methods=["GET", "POST"])
def confirm(token: str):
    """GET: show the Confirm button. POST: confirm the signup, then show that it worked."""
    try:
        subscriber = services.subscriber_for_link(token, tokens.CONFIRM, current_app.config)
    except tokens.LinkInvalid:
        return _link_problem()
    form = ConfirmForm()
    if request.method == "GET" or not form.validate_on_submit():
        expired = subscriber is None or services.is_expired(
            subscriber, utcnow(), current_app.config["NEWSLETTER_CONFIRM_HOURS"]
        )
        already = subscriber is not None and subscriber.status == CONFIRMED
        return render_template(
            "newsletter/confirm.html", form=form, expired=expired, already=already
        )
    try:
        services.confirm(token, now=utcnow(), config=current_app.config)
    except services.SignupExpired:
        return render_template("newsletter/confirm.html", form=form, expired=True, already=False)
    return redirect(url_for("newsletter.confirmed"), code=303)


@bp.get("/confirmed")
def confirmed():
    """Say the address is subscribed."""
    return render_template("newsletter/confirmed.html")


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
def unsubscribe(token: str):
    """GET: show the Unsubscribe button. POST (one-click, RFC 8058): unsubscribe at once."""
    try:
        tokens.read_token(token, tokens.UNSUBSCRIBE, current_app.config)
    except tokens.LinkInvalid:
        return _link_problem()
    if request.method == "GET":
        return render_template("newsletter/unsubscribe.html", one_click=emails.ONE_CLICK)
    if request.form.get("List-Unsubscribe") != "One-Click":
        return render_template("newsletter/unsubscribe.html", one_click=emails.ONE_CLICK), 400
    services.unsubscribe(token, now=utcnow(), config=current_app.config)
    # The same answer when the address was already gone: unsubscribing is idempotent.
    return render_template("newsletter/unsubscribed.html")


def _link_problem():
    """The page for an altered or foreign link (404: it names nothing here)."""
    return render_template("newsletter/link_problem.html"), 404


def exempt_from_csrf(csrf) -> None:
    """Exempt the two capability/static POSTs (see the module docstring) from CSRF checks."""
    csrf.exempt(subscribe)
    csrf.exempt(unsubscribe)
