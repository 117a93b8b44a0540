"""`flask serve` (what `make run` starts): site, booking pages and outbox worker together."""

import email
import email.policy
import http.cookiejar
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from leadform.cli import served_url
from tests.leadform.booking_pages import FormPage, answers
from tests.leadform.conftest import SITE_FILE

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, what: str, limit: float = 60.0):
    """Poll `check` until it returns something truthy; fail naming `what` after `limit` s."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.1)
    pytest.fail(f"gave up waiting for {what}")


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(part) for part in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except FileNotFoundError:
        return False
    return state != "Z"


@pytest.fixture
def served(tmp_path):
    """Start `flask serve` on a fresh database and a tiny site; stop it afterwards."""
    site = tmp_path / "output"
    site.mkdir()
    (site / "index.html").write_text("<h1>Home page</h1>")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFORM_")}
    env.update(
        LEADFORM_DATABASE_URL=f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        # The tests' own availability: the real site.toml may have no free time this week.
        LEADFORM_SITE_FILE=str(SITE_FILE),
        LEADFORM_MAIL_BACKEND="file",
        LEADFORM_MAIL_DIR=str(tmp_path / "mail"),
        LEADFORM_MIN_FILL_SECONDS="0",
        LEADFORM_OUTBOX_POLL_SECONDS="0.2",
    )
    flask = [sys.executable, "-m", "flask", "--app", "leadform"]
    subprocess.run(flask + ["db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    port = free_port()
    command = flask + ["serve", "--port", str(port), "--site-dir", str(site)]
    log = (tmp_path / "serve.log").open("w")
    process = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=log, text=True
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _answers(base + "/"), "the server to answer")
        yield base, process, tmp_path / "mail"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=30)
        process.stdout.close()
        log.close()


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except (urllib.error.URLError, ConnectionError):
        return False


def test_serve_prints_its_address_and_serves_the_site(served):
    base, process, _ = served
    assert process.stdout.readline().strip().startswith(f"Serving on {base}/")
    with urllib.request.urlopen(base + "/", timeout=5) as response:
        assert b"Home page" in response.read()


def test_serve_books_and_its_worker_sends_the_emails(served):
    base, process, mail_dir = served
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(base + "/book", timeout=10) as response:
        picker = FormPage(response.read().decode())
    with opener.open(base + picker.time_links[0], timeout=10) as response:
        page = FormPage(response.read().decode())
    body = urllib.parse.urlencode(answers(page)).encode()
    with opener.open(base + "/book", data=body, timeout=10) as response:
        assert "/book/confirmed/" in response.url
    wait_for(lambda: len(list(mail_dir.glob("*"))) >= 2, "the worker to write two emails")
    # No LEADFORM_PUBLIC_URL in the environment: the manage link names this server's port.
    bodies = [
        email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        .get_body(preferencelist=("plain",))
        .get_content()
        for path in mail_dir.glob("*.eml")
    ]
    assert any(f"{base}/manage/" in body for body in bodies), bodies


def test_serve_logs_no_client_address_or_query_string(served):
    base, process, mail_dir = served
    with urllib.request.urlopen(base + "/book?utm_source=leaky-campaign&from=x", timeout=5):
        pass
    process.send_signal(signal.SIGINT)
    process.wait(timeout=30)

    log = (mail_dir.parent / "serve.log").read_text()
    assert "GET /book 200" in log  # the app's own request line: method, route, status
    assert "leaky-campaign" not in log
    assert "127.0.0.1" not in log


@pytest.mark.parametrize(
    ("host", "port", "url"),
    [
        ("127.0.0.1", 8201, "http://127.0.0.1:8201"),
        ("0.0.0.0", 8000, "http://127.0.0.1:8000"),  # listens everywhere, browsed on loopback
        ("", 8000, "http://127.0.0.1:8000"),
        ("localhost", 9, "http://localhost:9"),
        ("::1", 8000, "http://[::1]:8000"),
        ("::", 8000, "http://[::1]:8000"),
    ],
)
def test_served_url_is_an_address_a_browser_can_open(host, port, url):
    assert served_url(host, port) == url


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_stopping_serve_stops_the_worker(served, stop):
    _, process, _ = served
    workers = wait_for(lambda: children(process.pid), "the worker process")
    process.send_signal(stop)
    assert process.wait(timeout=30) == 0
    assert not any(alive(pid) for pid in workers)
