"""The desk wing: the operators' desk at /admin.

Lives here: sign-in and server-side desk sessions (`auth`), the per-username sign-in lock
(`throttle`), the TOTP second factor and recovery codes (`two_factor`), the operator's own
account pages (`account_views`), operator accounts from the command line (`cli`), the
bookings list and detail with attendance and notes (`views`, `queries`, `services`, `forms`),
CSV export (`export`), the outbox view, and the adoption report (`reports` computes it,
`report_views` shows it).

May import: the core, the booking wing and the messages wing (it is the top wing).
`init_app` registers the "admin" blueprint and the `operators` commands;
`leadform.desk.auth.login_required` guards any other operator-only page.
"""

from flask import Flask

from leadform.desk import (
    account_views,
    auth,
    calendar_views,
    cli,
    newsletter_views,
    report_views,
    views,
)

DEFAULTS = {
    "ADMIN_SESSION_HOURS": 8.0,
    "LOGIN_RATE_LIMIT": "5/minute;20/hour",
    # werkzeug's default; tests pass a cheap "pbkdf2:sha256:1000" to stay fast.
    "ADMIN_PASSWORD_METHOD": "scrypt",
}


def init_app(app: Flask) -> None:
    """Register the admin blueprint and the `flask operators` commands on `app`."""
    for name, value in DEFAULTS.items():
        app.config.setdefault(name, value)
    # Not an environment setting: production always asks for the second factor.
    app.config.setdefault("ADMIN_TOTP_REQUIRED", app.config["ENV_NAME"] == "production")
    app.register_blueprint(views.bp)
    # A global, not a context value, so other operator-only blueprints (the adoption
    # report) can extend desk/base.html and still show who is signed in.
    app.add_template_global(auth.current_operator, "admin_operator")
    app.cli.add_command(cli.operators_cli)
    account_views.init_app(app)
    report_views.init_app(app)
    newsletter_views.init_app(app)
    calendar_views.init_app(app)
