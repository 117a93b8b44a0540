"""The messages wing: getting a message out of the service, reliably.

Lives here: the email value object and its senders (`senders`: SendGrid, SMTP, file,
console), the outbox and its worker (`outbox`), the iCalendar invite (`invites`) and signed
webhooks delivered through the same outbox (`webhooks`). What a booking says in its emails
lives with the booking (`leadform.booking.emails`).

May import: the core only (`leadform.db`, `models`, `config`). Never booking or desk.
"""

from flask import Flask

from leadform.messages import outbox


def init_app(app: Flask) -> None:
    """Register the outbox settings and the `flask outbox` commands on `app`."""
    outbox.init_app(app)
