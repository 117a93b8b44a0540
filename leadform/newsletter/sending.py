"""Mailing new articles: what `flask --app leadform newsletter send` does.

The command reads the built site's feed and, for every article not yet in
`newsletter_mailed_articles`, queues one email per confirmed subscriber (or one digest of all
new articles, with NEWSLETTER_DIGEST) in the outbox. The articles' rows and their emails are
written in one transaction, and `article_key` is unique: when two runs race, the second
one's insert fails, its whole transaction (emails included) is rolled back, and it finds
nothing new on its retry. So an article is mailed once, however often the command runs.

The very first run mails nothing: it records every article already in the feed as back
catalogue, so subscribers get what is published from then on, not the whole archive.

The send rate: emails are given `next_attempt_at` times a minute apart per
NEWSLETTER_PER_MINUTE emails, after any newsletter emails still waiting, so the outbox
worker never sends more than that many newsletter emails a minute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from leadform.db import db
from leadform.messages.models import SuppressedAddress
from leadform.messages.senders import EmailMessage
from leadform.messages.suppressions import address_hash
from leadform.models import OutboxMessage
from leadform.newsletter import emails
from leadform.newsletter.feed import Article
from leadform.newsletter.models import CONFIRMED, MailedArticle, Subscriber

# Recorded by the first run, with the back catalogue; its presence means "not the first run".
FIRST_RUN_KEY = "#first-run"


class SendConflict(Exception):
    """Another run kept claiming the same articles; running the command again sorts it out."""


@dataclass
class SendReport:
    """What one run did."""

    first_run: bool = False
    recorded: list[str] = field(default_factory=list)  # back catalogue (first run)
    mailed: list[str] = field(default_factory=list)  # titles of the articles mailed now
    emails: int = 0
    suppressed: int = 0  # confirmed subscribers skipped because of the suppression list


def send_new_articles(articles: Sequence[Article], *, now: datetime, config: Mapping) -> SendReport:
    """Queue emails for the articles never mailed before; commits. See the module docstring."""
    for _ in range(3):
        try:
            return _send_once(articles, now, config)
        except IntegrityError:
            # Another run committed some of these articles (or a subscriber vanished
            # meanwhile): start again from what is stored now.
            db.session.rollback()
    raise SendConflict("Another newsletter run is mailing the same articles; run again later.")


def _send_once(articles: Sequence[Article], now: datetime, config: Mapping) -> SendReport:
    """One attempt: the first run's back catalogue, or the new articles' emails."""
    mailed = set(db.session.scalars(select(MailedArticle.article_key)))
    if FIRST_RUN_KEY not in mailed:
        return _record_back_catalogue(articles, now)
    new = [article for article in articles if article.key not in mailed]
    report = SendReport()
    if not new:
        return report
    reached, report.suppressed = recipients()
    outgoing = _render(new, reached, config)
    due_times = _schedule(len(outgoing), now, config["NEWSLETTER_PER_MINUTE"])
    # Everything is rendered before the first write, so the write lock is held briefly.
    for article in new:
        row = MailedArticle(article_key=article.key, title=article.title[:500], mailed_at=now)
        row.recipients = len(reached)
        db.session.add(row)
    for (subscriber, kind, message), due in zip(outgoing, due_times, strict=True):
        emails.queue_for(subscriber, message, kind=kind, due=due)
    db.session.commit()
    report.mailed, report.emails = [article.title for article in new], len(outgoing)
    return report


def _record_back_catalogue(articles: Sequence[Article], now: datetime) -> SendReport:
    """First run: mark every article in the feed as dealt with, without mailing it."""
    db.session.add(MailedArticle(article_key=FIRST_RUN_KEY, title="(first run)", mailed_at=now))
    for article in articles:
        db.session.add(
            MailedArticle(
                article_key=article.key,
                title=article.title[:500],
                back_catalogue=True,
                mailed_at=now,
            )
        )
    db.session.commit()
    return SendReport(first_run=True, recorded=[article.title for article in articles])


def recipients() -> tuple[list[Subscriber], int]:
    """Confirmed subscribers the newsletter may reach, and how many the suppressions hold back."""
    confirmed = db.session.scalars(
        select(Subscriber).where(Subscriber.status == CONFIRMED).order_by(Subscriber.id)
    ).all()
    # Any suppression (a bounce, a spam report, an unsubscribe) stops a newsletter.
    suppressed = set(db.session.scalars(select(SuppressedAddress.address_hash)))
    allowed = [item for item in confirmed if address_hash(item.email) not in suppressed]
    return allowed, len(confirmed) - len(allowed)


def _render(
    articles: Sequence[Article], reached: Sequence[Subscriber], config: Mapping
) -> list[tuple[Subscriber, str, EmailMessage]]:
    """Render every email of this run as (subscriber, kind, message), oldest article first."""
    groups = [list(articles)] if config["NEWSLETTER_DIGEST"] else [[item] for item in articles]
    return [
        (subscriber, *emails.articles_email(subscriber, group, config))
        for group in groups
        for subscriber in reached
    ]


def _schedule(count: int, now: datetime, per_minute: int) -> list[datetime]:
    """Due times for `count` emails: `per_minute` per minute, after those still waiting."""
    if per_minute <= 0:
        return [now] * count
    start = now
    waiting = db.session.scalar(
        select(func.max(OutboxMessage.next_attempt_at)).where(
            OutboxMessage.status == "queued", OutboxMessage.kind.in_(emails.NEWSLETTER_KINDS)
        )
    )
    if waiting is not None and waiting >= now:
        start = waiting + timedelta(minutes=1)
    return [start + timedelta(minutes=index // per_minute) for index in range(count)]
