"""The `flask serve` command: the booking service, the built site and the outbox worker at once."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from werkzeug.serving import make_server

WORKER_COMMAND = [sys.executable, "-m", "flask", "--app", "leadform", "outbox", "run"]


class StopServing(Exception):
    """A stop signal (SIGTERM) arrived; unwinding lets the worker be stopped too."""


def _raise_stop(signum, _frame):
    raise StopServing(signum)


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
@click.option("--no-worker", is_flag=True, help="Do not start the outbox worker.")
@with_appcontext
def serve(host: str, port: int, site_dir: Path | None, no_worker: bool) -> None:
    """Serve the site and the booking pages, with the outbox worker running alongside."""
    app = current_app._get_current_object()
    if site_dir is not None:
        if not site_dir.is_dir():
            raise click.BadParameter(f"{site_dir} is not a folder (run `make html`)")
        app.config["SITE_DIR"] = site_dir.resolve()
    server = make_server(host, port, app, threaded=True)
    worker = None if no_worker else subprocess.Popen(WORKER_COMMAND, env=os.environ.copy())
    click.echo(f"Serving on http://{host}:{server.server_port}/ (Ctrl+C to stop)")
    # `kill` and service managers send SIGTERM; without this the worker would be orphaned.
    signal.signal(signal.SIGTERM, _raise_stop)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, StopServing):
        pass
    finally:
        server.server_close()
        _stop(worker)


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
