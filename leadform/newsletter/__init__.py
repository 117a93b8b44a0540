"""The newsletter wing: readers who are not ready to book get new articles by email.

Lives here: the subscribers, the articles already mailed and the link from each email to its
subscriber (`models`), the signup and confirm forms (`forms`), the /newsletter pages: sign
up, confirm, one-click unsubscribe (`views`), signed links (`tokens`), signing up,
confirming, expiring and erasing subscribers (`services`), reading the built site's Atom
feed (`feed`), queueing new articles under a send rate (`sending`), the four newsletter
emails (`emails`) and `flask newsletter send|purge|erase` (`cli`). The desk's subscriber
pages live with the desk (`leadform.desk.newsletter_views`), which may import this wing.

May import: the core (`leadform.db`, `models`, `extensions`) and the messages wing (the
email value object, the outbox's table, the suppression list). Never booking or desk.
"""

from flask import Flask

from leadform.extensions import csrf
from leadform.newsletter import cli, models, views  # noqa: F401 - models: the tables for Alembic

DEFAULTS = {
    "NEWSLETTER_CONFIRM_HOURS": 72.0,
    "NEWSLETTER_DIGEST": False,
    "NEWSLETTER_PER_MINUTE": 60,
    "NEWSLETTER_RATE_LIMIT": "10/hour",
    "NEWSLETTER_EMAIL_RATE_LIMIT": "3/day",
}


def init_app(app: Flask) -> None:
    """Register the /newsletter pages (two of them CSRF-exempt) and `flask newsletter`."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    views.exempt_from_csrf(csrf)
    app.register_blueprint(views.bp)
    app.cli.add_command(cli.newsletter_cli)
