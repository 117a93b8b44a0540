"""Manage links: signed, unguessable, valid until the booking's current session ends."""

from datetime import UTC, datetime, timedelta

import pytest
from itsdangerous import URLSafeSerializer

from leadform.booking.changes import cancel_booking, move_booking, move_choices
from leadform.booking.tokens import (
    SALT,
    TokenExpired,
    TokenInvalid,
    booking_for_token,
    manage_token,
    manage_url,
)
from tests.leadform.after_booking import book, ctx  # noqa: F401 - a fixture


def test_token_opens_its_booking(ctx):  # noqa: F811
    booking = book()

    assert booking_for_token(manage_token(booking), datetime.now(UTC)).id == booking.id


def test_manage_url_is_absolute_on_the_public_url(ctx):  # noqa: F811
    ctx.config["PUBLIC_URL"] = "https://book.tessellate.example/"
    booking = book()

    assert manage_url(booking) == (
        f"https://book.tessellate.example/manage/{manage_token(booking)}"
    )


def test_token_does_not_show_the_secret_or_a_guessable_value(ctx):  # noqa: F811
    first, second = book(index=0), book(index=1)

    assert manage_token(first) != manage_token(second)
    assert ctx.config["SECRET_KEY"] not in manage_token(first)


@pytest.mark.parametrize(
    "spoil",
    [
        # tampered signature: not its last character, whose low bits base64 ignores
        lambda token: token[:-5] + ("A" if token[-5] != "A" else "B") + token[-4:],
        lambda token: ("A" if token[0] != "A" else "B") + token[1:],  # tampered payload
        lambda token: token[: len(token) // 2],  # truncated
        lambda token: "",  # empty
        lambda token: "x" * 5000,  # junk, far too long
        lambda token: "not.a.token",  # garbage
    ],
)
def test_spoilt_token_is_invalid(ctx, spoil):  # noqa: F811
    booking = book()

    with pytest.raises(TokenInvalid):
        booking_for_token(spoil(manage_token(booking)), datetime.now(UTC))


def test_token_signed_with_another_secret_is_invalid(ctx):  # noqa: F811
    booking = book()
    forged = URLSafeSerializer("another-secret", salt=SALT).dumps(booking.public_id)

    with pytest.raises(TokenInvalid):
        booking_for_token(forged, datetime.now(UTC))


def test_token_for_an_unknown_booking_is_invalid(ctx):  # noqa: F811
    forged = URLSafeSerializer(ctx.config["SECRET_KEY"], salt=SALT).dumps("no-such-booking")

    with pytest.raises(TokenInvalid):
        booking_for_token(forged, datetime.now(UTC))


def test_token_expires_when_the_session_ends(ctx):  # noqa: F811
    booking = book()
    token, end = manage_token(booking), booking.slot_end

    booking_for_token(token, end - timedelta(seconds=1))
    with pytest.raises(TokenExpired):
        booking_for_token(token, end)


def test_token_stays_valid_until_the_moved_session_ends(ctx):  # noqa: F811
    now = datetime.now(UTC)
    booking = book(now)
    token, old_end = manage_token(booking), booking.slot_end
    later = move_choices(booking, ctx.extensions["availability"], now)[-1]
    move_booking(booking, later.start, now)

    assert booking_for_token(token, old_end + timedelta(hours=1)).id == booking.id


def test_cancelled_booking_opens_until_its_original_end(ctx):  # noqa: F811
    now = datetime.now(UTC)
    booking = book(now)
    cancel_booking(booking, now)
    token = manage_token(booking)

    assert booking_for_token(token, booking.slot_end - timedelta(minutes=1)).status == "cancelled"
    with pytest.raises(TokenExpired):
        booking_for_token(token, booking.slot_end)
