"""Serve the built Pelican site (LEADFORM_SITE_DIR) next to the booking pages.

Used by `flask serve` (`make run`) and the browser tests; in production a web server usually
serves the static files and forwards /book to this app.
"""

from pathlib import Path

from flask import Blueprint, abort, current_app, redirect, request, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.security import safe_join

bp = Blueprint("static_site", __name__)


def init_app(app) -> None:
    """Register the catch-all routes; they answer 404 unless SITE_DIR is set."""
    app.register_blueprint(bp)


@bp.get("/", defaults={"path": ""})
@bp.get("/<path:path>")
def page(path: str):
    """Return a file of the built site; a directory URL gets its index.html."""
    site_dir = current_app.config.get("SITE_DIR")
    if not site_dir:
        abort(404)
    target = safe_join(str(site_dir), path) if path else str(site_dir)
    if target is None:  # "..", absolute paths and the like
        return not_found(site_dir)
    if Path(target).is_dir():
        if path and not path.endswith("/"):
            return redirect(request.path + "/", code=301)
        path = f"{path}index.html"
    try:
        return send_from_directory(site_dir, path)
    except NotFound:
        return not_found(site_dir)


def not_found(site_dir) -> tuple:
    """Return the site's own 404.html with status 404 (or the app's error page without it)."""
    if (Path(site_dir) / "404.html").is_file():
        response = send_from_directory(site_dir, "404.html")
        response.status_code = 404
        return response
    abort(404)
