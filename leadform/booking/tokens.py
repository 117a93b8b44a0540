"""Manage links: a signed token in each prospect email opens /manage/<token>.

The token is the booking's public id signed with SECRET_KEY (salt "manage-booking"); it
cannot be guessed (the signature) nor turned into another booking's link (the public id is
random). It stops working when the booking's current session has ended, so moving the
session keeps the link alive until the new end.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from flask import current_app
from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import select

from leadform.db import db
from leadform.models import Booking

SALT = "manage-booking"
# A real token is about 70 characters; anything far longer is junk not worth verifying.
MAX_TOKEN_LENGTH = 200


class TokenError(Exception):
    """The manage link cannot be used; `message` tells the prospect what to do."""

    def __init__(self, message: str):
        self.message = message
        super().__init__(message)


class TokenInvalid(TokenError):
    """The link was altered, cut short, signed by another key or names no booking."""


class TokenExpired(TokenError):
    """The link belongs to a session that has already ended."""


def _serializer(config: Mapping) -> URLSafeSerializer:
    return URLSafeSerializer(config["SECRET_KEY"], salt=SALT)


def manage_token(booking: Booking, config: Mapping | None = None) -> str:
    """Return the signed token naming `booking`."""
    return _serializer(config or current_app.config).dumps(booking.public_id)


def manage_url(booking: Booking, config: Mapping | None = None) -> str:
    """Return the absolute manage link of `booking`, on the site's PUBLIC_URL."""
    config = config or current_app.config
    return f"{config['PUBLIC_URL'].rstrip('/')}/manage/{manage_token(booking, config)}"


def booking_for_token(token: str, now: datetime) -> Booking:
    """Return the booking `token` names; raise TokenInvalid or TokenExpired.

    `now` may be naive (UTC) or aware. A cancelled booking still opens until its session
    would have ended, so the prospect can see what happened.
    """
    booking = _find(token)
    if _naive_utc(now) >= booking.slot_end:
        raise TokenExpired(
            "This link has expired because the session it belongs to is over. "
            "To book again or ask a question, write to us."
        )
    return booking


def _find(token: str) -> Booking:
    """Return the booking of a correctly signed token, or raise TokenInvalid."""
    invalid = TokenInvalid(
        "This link does not work. Please use the link in your latest email from us, "
        "or write to us and we will help."
    )
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise invalid
    try:
        public_id = _serializer(current_app.config).loads(token)
    except BadData:
        raise invalid from None
    booking = None
    if isinstance(public_id, str):
        # Not bookings.find_booking: emails imports this module, and bookings imports emails.
        query = select(Booking).where(Booking.public_id == public_id)
        booking = db.session.execute(query).scalar_one_or_none()
    if booking is None:
        raise invalid
    return booking


def _naive_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is None else moment.astimezone(UTC).replace(tzinfo=None)
