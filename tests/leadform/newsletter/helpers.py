"""Helpers for the newsletter's tests: subscribers, a feed file, reading the outbox back."""

import re
import secrets
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from sqlalchemy import select

from leadform.db import db
from leadform.models import OutboxMessage, utcnow
from leadform.newsletter.models import CONFIRMED, Subscriber

SITE_URL = "http://127.0.0.1:8000"
CONFIRM_LINK = re.compile(r"https?://[^\s\"<>]+/newsletter/confirm/[A-Za-z0-9_.\-]+")
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def add_subscriber(email: str, status: str = CONFIRMED, **fields) -> Subscriber:
    """Store a subscriber directly (inside an app context); return it."""
    now = utcnow()
    values = {
        "public_id": secrets.token_hex(16),
        "email": email,
        "status": status,
        "consent_version": "2026-01",
        "signed_up_at": now,
        "confirmed_at": now if status == CONFIRMED else None,
    }
    subscriber = Subscriber(**(values | fields))
    db.session.add(subscriber)
    db.session.commit()
    return subscriber


def entry(slug: str, title: str | None = None, day: int = 1, summary: str = "") -> dict:
    """One feed entry, published on day `day` of November 2026."""
    return {
        "url": f"{SITE_URL}/blog/{slug}/",
        "title": title or f"Article {slug}",
        "published": datetime(2026, 11, day, 9, 0).isoformat() + "+00:00",
        "summary": summary or f"<p>What {slug} is about &amp; why.</p>",
    }


def write_feed(path: Path, entries: list[dict]) -> Path:
    """Write an Atom feed shaped like Pelican's (newest first); return its path."""
    items = "".join(
        f"<entry><title>{escape(item['title'])}</title>"
        f'<link href="{escape(item["url"])}" rel="alternate"/>'
        f"<published>{item['published']}</published>"
        f"<id>tag:127.0.0.1,2026-11-01:{escape(urlsplit(item['url']).path)}</id>"
        f'<summary type="html">{escape(item["summary"])}</summary></entry>'
        for item in reversed(entries)
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
        f"<title>Site</title><id>{SITE_URL}/feeds/all.atom.xml</id>{items}</feed>",
        encoding="utf-8",
    )
    return path


def outbox(kind: str | None = None) -> list[OutboxMessage]:
    """Every outbox row (of `kind`), oldest first, read fresh."""
    db.session.expire_all()
    stmt = select(OutboxMessage).order_by(OutboxMessage.id)
    if kind:
        stmt = stmt.where(OutboxMessage.kind == kind)
    return list(db.session.scalars(stmt))


def recipients_of(kind: str) -> list[str]:
    """The `to` address of every queued email of `kind`, oldest first."""
    return [row.payload["to"] for row in outbox(kind)]


def path_of(url: str) -> str:
    """The path of an absolute link, as the test client requests it."""
    return urlsplit(url).path


def confirm_path(message: OutboxMessage) -> str:
    """The confirmation link's path in a queued confirmation email."""
    match = CONFIRM_LINK.search(message.payload["text"])
    assert match, message.payload["text"]
    return path_of(match.group(0))


def unsubscribe_path(message: OutboxMessage) -> str:
    """The path of the List-Unsubscribe link of a queued newsletter email."""
    return path_of(message.payload["headers"]["List-Unsubscribe"].strip("<>"))


def csrf_from(html: str) -> str:
    """The CSRF token in a page's form."""
    match = CSRF_INPUT.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)
