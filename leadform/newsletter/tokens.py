"""Signed newsletter links: confirm a signup, unsubscribe.

A token is the subscriber's random public id signed with SECRET_KEY, with one salt per job,
so a confirm link cannot unsubscribe and an unsubscribe link cannot confirm. The links are
capabilities: whoever holds one may do that one thing, without signing in.
"""

from __future__ import annotations

from collections.abc import Mapping

from itsdangerous import BadData, URLSafeSerializer

CONFIRM = "leadform.newsletter.confirm"
UNSUBSCRIBE = "leadform.newsletter.unsubscribe"
# A real token is about 50 characters; anything far longer is junk not worth verifying.
MAX_TOKEN_LENGTH = 200


class LinkInvalid(Exception):
    """The link was altered, cut short or signed with another key."""


def make_token(public_id: str, purpose: str, config: Mapping) -> str:
    """Return the signed token that lets its holder do `purpose` for subscriber `public_id`."""
    return URLSafeSerializer(config["SECRET_KEY"], salt=purpose).dumps(public_id)


def read_token(token: str, purpose: str, config: Mapping) -> str:
    """Return the public id a `purpose` token names, or raise LinkInvalid."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise LinkInvalid("malformed token")
    try:
        public_id = URLSafeSerializer(config["SECRET_KEY"], salt=purpose).loads(token)
    except BadData:
        raise LinkInvalid("bad signature") from None
    if not isinstance(public_id, str):
        raise LinkInvalid("malformed token")
    return public_id


def link(path: str, public_id: str, purpose: str, config: Mapping) -> str:
    """Return the absolute link `PUBLIC_URL/newsletter/<path>/<token>` for an email."""
    token = make_token(public_id, purpose, config)
    return f"{config['PUBLIC_URL'].rstrip('/')}/newsletter/{path}/{token}"
