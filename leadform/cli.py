"""The `flask serve` command: the booking service, the built site and the outbox worker at once."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import WSGIRequestHandler, _log, make_server

WORKER_COMMAND = [sys.executable, "-m", "flask", "--app", "leadform", "outbox", "run"]
PUBLIC_URL_VARIABLE = "LEADFORM_PUBLIC_URL"
FLASK_COMMAND = [sys.executable, "-m", "flask", "--app", "leadform"]
COMPANIONS_KEY = "cli.serve_companions"


class PrivateRequestHandler(WSGIRequestHandler):
    """Werkzeug's handler without its access log: no client address, no query string.

    The app logs every request itself (leadform/logs.py: method, route, status, no personal
    data); werkzeug's own line would add the address and the full URL with utm_* values.
    """

    def log_request(self, code="-", size="-") -> None:
        """Leave request lines to the app's own log."""

    def log(self, type: str, message: str, *args) -> None:  # noqa: A002 - werkzeug's name
        """Log server errors without the client's address."""
        _log(type, message.rstrip() + "\n", *args)


class StopServing(Exception):
    """A stop signal (SIGTERM) arrived; unwinding lets the worker be stopped too."""


def _raise_stop(signum, _frame):
    raise StopServing(signum)


def add_companion(app, *args: str) -> None:
    """Have `flask serve` run `flask --app leadform ARGS...` beside it, as it runs the worker.

    For the wings (the core imports none), e.g. the calendars' periodic sync; `--no-worker`
    starts none of them.
    """
    app.extensions.setdefault(COMPANIONS_KEY, []).append(list(args))


def init_app(app) -> None:
    """Register the app's own commands."""
    app.cli.add_command(serve)


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--site-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Built Pelican output to serve next to /book (e.g. output).",
)
@click.option(
    "--no-worker", is_flag=True, help="Do not start the outbox worker (nor the calendar sync)."
)
@with_appcontext
def serve(host: str, port: int, site_dir: Path | None, no_worker: bool) -> None:
    """Serve the site and the booking pages, with the outbox worker running alongside."""
    app = current_app._get_current_object()
    if site_dir is not None:
        if not site_dir.is_dir():
            raise click.BadParameter(f"{site_dir} is not a folder (run `make html`)")
        app.config["SITE_DIR"] = site_dir.resolve()
    server = make_server(host, port, app, threaded=True, request_handler=PrivateRequestHandler)
    served = served_url(host, server.server_port)
    # Emails' manage links must reach this server unless the public address was chosen
    # explicitly (a proxy or a tunnel in front): `flask serve --port 8201` links to 8201.
    if PUBLIC_URL_VARIABLE not in os.environ:
        app.config["PUBLIC_URL"] = served
    worker_env = {**os.environ, PUBLIC_URL_VARIABLE: app.config["PUBLIC_URL"]}
    worker = None if no_worker else subprocess.Popen(WORKER_COMMAND, env=worker_env)
    companions = [
        subprocess.Popen([*FLASK_COMMAND, *args], env=worker_env)
        for args in ([] if no_worker else app.extensions.get(COMPANIONS_KEY, []))
    ]
    click.echo(f"Serving on {served}/ (Ctrl+C to stop)")
    if app.config["PUBLIC_URL"].rstrip("/") != served:
        click.echo(f"Links in emails point at {app.config['PUBLIC_URL']} ({PUBLIC_URL_VARIABLE})")
    # `kill` and service managers send SIGTERM; without this the worker would be orphaned.
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, StopServing):
        pass
    finally:
        server.server_close()
        _stop(worker)
        for companion in companions:
            _stop(companion)


def served_url(host: str, port: int) -> str:
    """The http:// address a browser on this machine uses to reach `host`:`port`."""
    # A wildcard address listens everywhere but cannot be browsed to; loopback can.
    host = {"": "127.0.0.1", "0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)  # noqa: S104
    if ":" in host:  # an IPv6 literal needs brackets in a URL
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _stop(worker: subprocess.Popen | None) -> None:
    """Stop the worker politely, then firmly."""
    if worker is None or worker.poll() is not None:
        return
    worker.terminate()
    try:
        worker.wait(timeout=10)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
