"""The messages wing: getting a message out of the service, reliably, and hearing what happened.

Lives here: the email value object and its senders (`senders`: SendGrid, SMTP, file,
console), the outbox and its worker (`outbox`), the iCalendar invite (`invites`), signed
webhooks delivered through the same outbox (`webhooks`), delivery states and events
(`delivery`, `models`), SendGrid's signed Event Webhook (`events`, `views`: POST
/email/events), the suppression list (`suppressions`), typo suggestions for addresses
(`addresses`), the sending domain's DNS records (`authentication`) and `flask email ...`
(`cli`). What a booking says in its emails, and what it does when one bounces, lives with the
booking (`leadform.booking.emails`, `leadform.booking.bounces`).

May import: the core only (`leadform.db`, `models`, `config`, `extensions`). Never booking or
desk: they register handlers here (`delivery.on_undeliverable`) instead.
"""

from flask import Flask

from leadform.extensions import csrf
from leadform.messages import cli, events, outbox, views


def init_app(app: Flask) -> None:
    """Register the outbox, the Event Webhook endpoint and the `flask outbox`/`email` commands."""
    outbox.init_app(app)
    events.init_app(app)
    csrf.exempt(views.bp)
    app.register_blueprint(views.bp)
    cli.init_app(app)
