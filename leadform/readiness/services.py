"""Storing a completed check, emailing its report, and reading it back for a booking."""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, select, update

from leadform.db import db
from leadform.messages.rendering import render_email
from leadform.messages.senders import EmailMessage
from leadform.models import Booking, OutboxMessage
from leadform.readiness.models import ReadinessCheck
from leadform.readiness.questions import Questionnaire
from leadform.readiness.scoring import (
    DimensionScore,
    Result,
    band_for,
    biggest_risks,
    score,
)

REPORT_KIND = "readiness_report"
MAX_TOKEN_LENGTH = 32
# Where the site publishes an article: pelicanconf.py's ARTICLE_URL, with a leading slash
# (tests/leadform/readiness/test_readiness.py holds the two equal).
ARTICLE_PATH = "/blog/{slug}/"


def questionnaire() -> Questionnaire:
    """The questionnaire the app loaded at start-up."""
    return current_app.extensions["readiness"]


def save_check(answers: dict[str, int], attribution: dict, now: datetime) -> ReadinessCheck:
    """Score `answers`, store the check with its attribution and return it (committed)."""
    result = score(questionnaire(), answers)
    check = ReadinessCheck(
        token=secrets.token_urlsafe(16),
        answers=answers,
        scores=result.scores_by_key(),
        overall=result.overall,
        band=result.band.name,
        created_at=now,
        **attribution,
    )
    db.session.add(check)
    db.session.commit()
    return check


def find_check(token: str | None) -> ReadinessCheck | None:
    """Return the check with `token`, or None for a missing or malformed token."""
    if not token or len(token) > MAX_TOKEN_LENGTH:
        return None
    return db.session.scalar(select(ReadinessCheck).where(ReadinessCheck.token == token))


def result_of(check: ReadinessCheck) -> Result:
    """The check's result as stored when it was taken, against today's dimension texts.

    Scores are not recomputed: an editor's later change of weights or bands does not
    change a result a reader, the team or a booking has already seen. A dimension removed
    from the file since is left out.
    """
    current = questionnaire()
    scores = tuple(
        DimensionScore(dimension, int(check.scores[dimension.key]))
        for dimension in current.dimensions
        if dimension.key in check.scores
    )
    band = next((b for b in current.bands if b.name == check.band), None)
    return Result(
        check.overall,
        band or band_for(current, check.overall),
        scores,
        biggest_risks(scores),
    )


def queue_report(check: ReadinessCheck, email: str, now: datetime, result_url: str) -> None:
    """Record the reader's address and consent and queue their report (committed)."""
    config = current_app.config
    site = config["SITE"]
    check.email = email
    check.consent_at = now
    check.privacy_version = site["privacy"]["policy_version"]
    check.report_emailed_at = now
    context = {
        "firm": site["firm"],
        "assessment": site["assessment"],
        "public_url": config["PUBLIC_URL"],
        "result": result_of(check),
        "result_url": result_url,
        "book_url": book_url(check),
        "article_url": article_url,
    }
    subject, text, html = render_email(REPORT_KIND, context)
    message = EmailMessage(
        to=email,
        subject=subject,
        text=text,
        html=html,
        from_=config["MAIL_FROM"],
        reply_to=site["firm"]["email"],
    )
    db.session.add(OutboxMessage(channel="email", kind=REPORT_KIND, payload=message.to_dict()))
    db.session.commit()


def book_url(check: ReadinessCheck) -> str:
    """The booking page's address carrying this check (and where the reader came from)."""
    base = (
        current_app.config["PUBLIC_URL"].rstrip("/")
        + current_app.config["SITE"]["assessment"]["booking_path"]
    )
    query = f"?check={check.token}"
    if check.source_article:
        query += f"&from={check.source_article}"
    return base + query


def article_url(article: str) -> str:
    """The absolute address of an article given as "slug" or "slug#heading"."""
    slug, _, heading = article.partition("#")
    url = current_app.config["PUBLIC_URL"].rstrip("/") + ARTICLE_PATH.format(slug=slug)
    return f"{url}#{heading}" if heading else url


def summary_for(check_id: int | None) -> dict | None:
    """What the team and the desk see of a booking's readiness check, or None.

    The band and scores as stored, and each answer as the reader chose it: the statement
    and the scale's label, grouped by dimension in the questionnaire's order.
    """
    if not check_id or "readiness" not in current_app.extensions:
        return None
    check = db.session.get(ReadinessCheck, check_id)
    if check is None:
        return None
    current = questionnaire()
    texts = {question.key: question for question in current.questions}
    scale = current.scale
    answers = [
        (texts[key].text, scale[value] if 0 <= value < len(scale) else str(value))
        for key, value in check.answers.items()
        if key in texts
    ]
    return {"check": check, "result": result_of(check), "answers": answers}


def forget_expired(before: datetime) -> int:
    """Erase readiness checks taken before `before` (naive UTC); return how many.

    A check no booking points at is deleted. One a booking came from keeps its scores
    (they describe the booking) but loses the reader's address and consent, like the
    anonymised booking itself.
    """
    booked = select(Booking.readiness_check_id).where(Booking.readiness_check_id.is_not(None))
    old = ReadinessCheck.created_at < before
    deleted = db.session.execute(
        delete(ReadinessCheck).where(old, ReadinessCheck.id.not_in(booked))
    ).rowcount
    db.session.execute(
        update(ReadinessCheck)
        .where(old, ReadinessCheck.email.is_not(None))
        .values(email=None, consent_at=None)
    )
    db.session.commit()
    return deleted
