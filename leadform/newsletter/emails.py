"""The newsletter's emails: rendered from templates/email/newsletter_*/ and queued in the outbox.

Four kinds: the signup confirmation (`newsletter_confirm`), the note to an address that is
already subscribed (`newsletter_already`), one new article (`newsletter_article`) and several
new articles at once (`newsletter_digest`). The two newsletter kinds carry RFC 8058 one-click
unsubscribe headers and the same link in the body. Nothing here commits.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from urllib.parse import urlsplit

from leadform.db import db
from leadform.messages.rendering import render_email
from leadform.messages.senders import EmailMessage
from leadform.models import OutboxMessage
from leadform.newsletter import tokens
from leadform.newsletter.feed import Article
from leadform.newsletter.models import Subscriber, SubscriberEmail

CONFIRM = "newsletter_confirm"
ALREADY = "newsletter_already"
ARTICLE = "newsletter_article"
DIGEST = "newsletter_digest"
NEWSLETTER_KINDS = (ARTICLE, DIGEST)
ONE_CLICK = "List-Unsubscribe=One-Click"  # RFC 8058: the exact POST body and header value


def _context(subscriber: Subscriber, config: Mapping) -> dict:
    """What every newsletter template may use: firm facts and the subscriber's own links."""
    return {
        "firm": config["SITE"]["firm"],
        "public_url": config["PUBLIC_URL"],
        "confirm_hours": config["NEWSLETTER_CONFIRM_HOURS"],
        "unsubscribe_url": unsubscribe_url(subscriber, config),
    }


def unsubscribe_url(subscriber: Subscriber, config: Mapping) -> str:
    """The subscriber's one-click unsubscribe link (also the List-Unsubscribe target)."""
    return tokens.link("unsubscribe", subscriber.public_id, tokens.UNSUBSCRIBE, config)


def confirm_url(subscriber: Subscriber, config: Mapping) -> str:
    """The signup's confirmation link; opening it shows a page with a Confirm button."""
    return tokens.link("confirm", subscriber.public_id, tokens.CONFIRM, config)


def list_headers(subscriber: Subscriber, config: Mapping) -> dict[str, str]:
    """RFC 2919 List-Id and RFC 2369/8058 one-click unsubscribe headers for a newsletter."""
    host = urlsplit(config["PUBLIC_URL"]).hostname or "localhost"
    return {
        "List-Id": f"<newsletter.{host}>",
        "List-Unsubscribe": f"<{unsubscribe_url(subscriber, config)}>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }


def _message(subscriber: Subscriber, config: Mapping, kind: str, context: Mapping, **extra):
    """Render `kind` for `subscriber`, replies going to the firm's address."""
    subject, text, html = render_email(kind, context)
    return EmailMessage(
        to=subscriber.email,
        from_=config["MAIL_FROM"],
        reply_to=config["SITE"]["firm"]["email"],
        subject=subject,
        text=text,
        html=html,
        **extra,
    )


def signup_email(subscriber: Subscriber, config: Mapping) -> tuple[str, EmailMessage]:
    """The confirmation for a pending signup, or the "already subscribed" note: (kind, email)."""
    kind = ALREADY if subscriber.status == "confirmed" else CONFIRM
    context = _context(subscriber, config) | {"confirm_url": confirm_url(subscriber, config)}
    return kind, _message(subscriber, config, kind, context)


def articles_email(
    subscriber: Subscriber, articles: Sequence[Article], config: Mapping
) -> tuple[str, EmailMessage]:
    """One article's email, or a digest of several: (kind, email), with the list headers."""
    kind = ARTICLE if len(articles) == 1 else DIGEST
    context = _context(subscriber, config) | {"articles": list(articles), "article": articles[0]}
    headers = list_headers(subscriber, config)
    return kind, _message(subscriber, config, kind, context, headers=headers)


def queue_for(
    subscriber: Subscriber, message: EmailMessage, *, kind: str, due: datetime
) -> OutboxMessage:
    """Add `message` to the outbox, linked to `subscriber` for erasure (the caller commits)."""
    outbox = OutboxMessage(
        channel="email",
        kind=kind,
        payload=message.to_dict(),
        status="queued",
        attempts=0,
        next_attempt_at=due,
    )
    db.session.add(outbox)
    db.session.add(SubscriberEmail(subscriber=subscriber, message=outbox))
    return outbox
