"""The operators' desk at /admin: sign-in, bookings, CSV export and the email outbox.

`init_app` registers the "admin" blueprint (leadform.admin.views.bp) and the `operators`
commands; `leadform.admin.auth.login_required` guards any other operator-only page.
"""

from flask import Flask

from leadform.admin import auth, cli, views

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
    app.register_blueprint(views.bp)
    # A global, not a context value, so other operator-only blueprints (the adoption
    # report) can extend admin/base.html and still show who is signed in.
    app.add_template_global(auth.current_operator, "admin_operator")
    app.cli.add_command(cli.operators_cli)
