"""Real calendar servers on loopback: Radicale (CalDAV) and small HTTP servers that misbehave.

Radicale comes from PyPI (the dev extra), so these tests never skip, on CI or elsewhere.
FIELD-NOTES: with `[auth] type = none` no principal exists and a client pointed at `/alice/`
gets 404; htpasswd with plain passwords makes real accounts.
"""

import http.server
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import caldav
import pytest

from tests.leadform.conftest import SITE_FILE

USERS = {"ada": "ada-password", "grace": "grace-password"}
SECRETS = {
    "LEADFORM_CALENDAR_SECRET_ADA": USERS["ada"],
    "LEADFORM_CALENDAR_SECRET_GRACE": USERS["grace"],
}


def free_port() -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Radicale:
    """One Radicale server process on 127.0.0.1, with the USERS accounts."""

    def __init__(self, folder: Path, port: int | None = None):
        self.folder = folder
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.process: subprocess.Popen | None = None

    def start(self) -> "Radicale":
        """Start the server and wait until it accepts connections."""
        users = self.folder / "users"
        users.write_text("".join(f"{name}:{password}\n" for name, password in USERS.items()))
        config = self.folder / "config"
        config.write_text(
            f"[server]\nhosts = 127.0.0.1:{self.port}\n"
            f"[auth]\ntype = htpasswd\nhtpasswd_filename = {users}\n"
            "htpasswd_encryption = plain\n"
            f"[storage]\nfilesystem_folder = {self.folder / 'collections'}\n"
            "[logging]\nlevel = warning\n"
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_for_port(self.port, self.process)
        return self

    def stop(self) -> None:
        """Stop the server (its stored calendars stay on disk for a restart)."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)

    def client(self, user: str) -> caldav.DAVClient:
        """Return a CalDAV client logged in as `user`."""
        return caldav.DAVClient(
            self.url,
            username=user,
            password=USERS[user],
            auth_type="basic",  # no 401 round trip first (Radicale delays each 401)
            timeout=10,
            enable_rfc6764=False,
        )

    def new_calendar(self, user: str, name: str | None = None):
        """Make a calendar with a unique name in `user`'s account; return it."""
        name = name or f"cal-{uuid.uuid4().hex[:8]}"
        return self.client(user).principal().make_calendar(name=name)


def _wait_for_port(port: int, process: subprocess.Popen) -> None:
    """Wait until something accepts connections on `port`; fail if the process died."""
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError(f"radicale exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"radicale did not listen on {port}")


@pytest.fixture(scope="session")
def radicale(tmp_path_factory):
    """A Radicale server for the whole session; tests make calendars with unique names."""
    server = Radicale(tmp_path_factory.mktemp("radicale")).start()
    yield server
    server.stop()


@pytest.fixture
def own_radicale(tmp_path):
    """A Radicale server of this test's own, which the test may stop and start again."""
    folder = tmp_path / "radicale"
    folder.mkdir()
    server = Radicale(folder).start()
    yield server
    server.stop()


class _Misbehaving(http.server.BaseHTTPRequestHandler):
    """Answers every method the same way; subclasses choose how."""

    def answer(self) -> None:
        raise NotImplementedError

    def do_GET(self):  # noqa: N802 - the http.server naming
        self.answer()

    do_PROPFIND = do_REPORT = do_OPTIONS = do_GET

    def log_message(self, *args):
        pass


class _Slow(_Misbehaving):
    """Accepts the request, then says nothing for longer than any test's timeout."""

    def answer(self) -> None:
        time.sleep(3)
        self.send_response(503)
        self.end_headers()


class _Garbage(_Misbehaving):
    """Answers 200 with a web page, as a captive portal or a wrong address does."""

    def answer(self) -> None:
        body = b"<!DOCTYPE html><html><body><h1>Welcome! Please sign in</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def _serve(handler) -> http.server.ThreadingHTTPServer:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def slow_server():
    """The URL of a local server that answers nothing for 3 seconds."""
    server = _serve(_Slow)
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def garbage_server():
    """The URL of a local server that answers every request with an HTML page."""
    server = _serve(_Garbage)
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    server.server_close()


@pytest.fixture
def down_url():
    """The URL of a local port nothing listens on."""
    return f"http://127.0.0.1:{free_port()}/"


@pytest.fixture
def hosts_site(tmp_path):
    """Return a function writing the fixture site.toml plus `extra` TOML; gives its path."""

    def _write(extra: str) -> Path:
        path = tmp_path / f"site-{uuid.uuid4().hex[:6]}.toml"
        path.write_text(SITE_FILE.read_text() + "\n" + extra)
        return path

    return _write


@pytest.fixture
def calendar_app(make_app, hosts_site):
    """Return a factory: calendar_app(toml, **settings) gives a migrated app with those hosts."""

    def _make(extra: str, **settings):
        settings.setdefault("CALENDAR_SECRETS", SECRETS)
        settings.setdefault("CALENDAR_SYNC_TIMEOUT", 5.0)
        settings.setdefault("CALENDAR_LIVE_TIMEOUT", 5.0)
        return make_app(SITE_FILE=hosts_site(extra), **settings)

    return _make
