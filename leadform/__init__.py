"""leadform: the booking service for the AI Readiness Assessment.

The configuration keys (LEADFORM_* environment variables -> app.config keys) are listed in
docs/configuration.md; every module reads app.config, never the environment.
"""

import os
from collections.abc import Mapping
from pathlib import Path

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from jinja2 import ChoiceLoader, FileSystemLoader
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from leadform import (
    booking,
    calendars,
    cli,
    config,
    desk,
    health,
    logs,
    messages,
    newsletter,
    readiness,
    sitefacts,
    static_site,
)
from leadform.db import db
from leadform.db import init_app as init_database
from leadform.extensions import csrf, limiter

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# What each error page tells the prospect; the status code picks the entry.
ERROR_PAGES = {
    400: ("This form has expired", "Please reload the page and submit the form again."),
    404: ("Page not found", "The page you asked for does not exist or has moved."),
    405: ("That did not work", "Please go back to the booking page and try again."),
    413: ("That was too long", "Please shorten your answers and send the form again."),
    429: (
        "Too many attempts",
        "We received too many attempts from your address. Please try again in an hour.",
    ),
    500: ("Something went wrong", "Please try again in a moment."),
    503: ("Something went wrong", "Please try again in a moment."),
}


def create_app(test_config: Mapping | None = None) -> Flask:
    """Build the booking service from the environment, overridden by `test_config`."""
    app = Flask(__name__, instance_relative_config=True, static_url_path="/book/static")
    os.makedirs(app.instance_path, exist_ok=True)
    _load_settings(app, test_config or {})
    app.config["SITE"] = sitefacts.load_site(app.config["SITE_FILE"])
    config.apply_site_policies(app.config, app.config["SITE"])

    logs.init_app(app)
    _trust_proxies(app)
    _set_up_templates(app)
    init_database(app)
    csrf.init_app(app)
    limiter.init_app(app)
    messages.init_app(app)
    readiness.init_app(app)
    calendars.init_app(app)
    booking.init_app(app)
    newsletter.init_app(app)
    desk.init_app(app)
    health.init_app(app)
    static_site.init_app(app)
    cli.init_app(app)
    _register_error_pages(app)
    return app


def _load_settings(app: Flask, test_config: Mapping) -> None:
    """Fill app.config from the environment, then `test_config`, then fixed settings; check."""
    app.config.update(config.load_config(os.environ, app.instance_path))
    app.config.update(test_config)
    fixed = {
        "MIGRATIONS_DIR": MIGRATIONS_DIR,
        # An hour-old token would send a slow prospect to the "form expired" page; the token
        # is still tied to the session cookie.
        "WTF_CSRF_TIME_LIMIT": None,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": app.config["ENV_NAME"] == "production",
        # The longest honest submission is a few kilobytes; refuse floods early.
        "MAX_CONTENT_LENGTH": 100_000,
    }
    app.config.update({key: value for key, value in fixed.items() if key not in test_config})
    config.validate_types(app.config)
    config.check_production(app.config)


def _trust_proxies(app: Flask) -> None:
    """Read the client address from X-Forwarded-For only behind a known number of proxies.

    Without a real proxy, trusting the header would let anyone dodge the rate limit.
    """
    hops = app.config["TRUSTED_PROXIES"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _set_up_templates(app: Flask) -> None:
    """Look in leadform/templates first, then the theme's, whose partials give the site's look."""
    theme_templates = Path(app.config["THEME_DIR"]) / "templates"
    app.jinja_loader = ChoiceLoader([app.jinja_loader, FileSystemLoader(str(theme_templates))])

    @app.context_processor
    def site_context():
        """Give every template the site facts the shared partials expect."""
        site = app.config["SITE"]
        return {
            "SITE": site,
            "SITEURL": "",
            "nav_current": site["assessment"]["page_path"],
        }


def _register_error_pages(app: Flask) -> None:
    """Answer errors with the site-styled page; never show a stack trace."""

    @app.errorhandler(HTTPException)
    def http_error(error):
        """Render the error page for an HTTP error (400, 404, 405, 429...).

        The error's own headers stay (a 405's Allow, a 401's WWW-Authenticate); only the
        body and its type change.
        """
        body, code = render_error(error.code or 500)
        headers = [
            (name, value) for name, value in error.get_headers() if name.lower() != "content-type"
        ]
        return body, code, headers

    @app.errorhandler(CSRFError)
    def csrf_error(error):
        """Tell the prospect the form expired and to reload it."""
        return render_error(400)

    @app.errorhandler(OperationalError)
    def database_error(error):
        """The database is busy or away: ask for a retry instead of failing loudly."""
        app.logger.exception("database error on %s", request.path)
        db.session.rollback()
        return render_error(503)

    @app.errorhandler(500)
    def server_error(error):
        """Render the generic error page for an unexpected failure."""
        return render_error(500)


def render_error(code: int):
    """Return the site-styled error page for status `code`."""
    title, message = ERROR_PAGES.get(code, ERROR_PAGES[500] if code >= 500 else ERROR_PAGES[404])
    return render_template("error.html", code=code, title=title, message=message), code
