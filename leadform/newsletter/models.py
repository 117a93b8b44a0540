"""Tables of the newsletter wing: subscribers, the articles already mailed, and their emails.

They live on the one shared metadata (`leadform.db.db`), so Alembic sees them as soon as the
factory imports the wing (before any migration runs).
"""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from leadform.db import db
from leadform.models import OutboxMessage, utcnow

PENDING = "pending"
CONFIRMED = "confirmed"


class Subscriber(db.Model):
    """One address that asked for the newsletter: pending until its owner confirms by email.

    Only confirmed subscribers receive articles. Unsubscribing or erasure deletes the row;
    unconfirmed rows are deleted once NEWSLETTER_CONFIRM_HOURS have passed.
    """

    __tablename__ = "newsletter_subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random, named by the signed confirm and unsubscribe links; a new signup gets a new one.
    public_id: Mapped[str] = mapped_column(String(32), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # trimmed, lower case
    status: Mapped[str] = mapped_column(String(16), default=PENDING)  # pending | confirmed
    # The privacy policy version (site.toml) the person agreed to, and when they did.
    consent_version: Mapped[str] = mapped_column(String(32))
    signed_up_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    # Last confirmation (or "already subscribed") email queued, so a flood of signups for one
    # address sends at most one email per RESEND_MINUTES whatever process takes them.
    last_emailed_at: Mapped[datetime | None]
    source_article: Mapped[str | None] = mapped_column(String(200))  # the page it came from


class MailedArticle(db.Model):
    """An article the newsletter has dealt with: mailed, or recorded as back catalogue.

    `article_key` (the article's path, e.g. "/blog/slug/") is unique and inserted in the same
    transaction as the article's emails, so two runs can never both mail one article.
    """

    __tablename__ = "newsletter_mailed_articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_key: Mapped[str] = mapped_column(String(500), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    # True for articles found on the first run: recorded, never mailed.
    back_catalogue: Mapped[bool] = mapped_column(default=False)
    recipients: Mapped[int] = mapped_column(default=0)
    mailed_at: Mapped[datetime] = mapped_column(default=utcnow)


class SubscriberEmail(db.Model):
    """Which outbox message went (or goes) to which subscriber, so erasure can find them all."""

    __tablename__ = "newsletter_emails"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("newsletter_subscribers.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("outbox_messages.id"), unique=True)

    subscriber: Mapped[Subscriber] = relationship()
    message: Mapped[OutboxMessage] = relationship()
