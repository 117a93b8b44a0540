"""Freshness in operations: the periodic sync beside `flask serve`, the systemd units, /readyz."""

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update

from leadform import cli
from leadform.calendars.models import CalendarSourceState
from leadform.calendars.sync import sync_every
from leadform.db import db
from leadform.messages.outbox import StopFlag
from leadform.models import utcnow
from tests.conftest import ROOT, missing
from tests.leadform.calendars.conftest import SECRETS, free_port
from tests.leadform.calendars.test_failures import one_host

UNITS = ROOT / "deploy" / "systemd"


def _states(app) -> list[CalendarSourceState]:
    with app.app_context():
        return db.session.scalars(select(CalendarSourceState)).all()


def _wait_for(condition, what: str, seconds: float = 30) -> None:
    """Poll `condition` until it holds; fail naming `what` (a wait, not a timing check)."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.1)


# --- /readyz ------------------------------------------------------------------------------


def test_readyz_has_no_calendar_check_without_hosts(client):
    body = client.get("/readyz").get_json()
    assert "calendars" not in body["checks"]


def test_readyz_fails_once_a_calendar_has_failed_longer_than_the_setting(calendar_app, down_url):
    app = calendar_app(
        one_host(down_url), CALENDAR_SYNC_TIMEOUT=1.0, READY_MAX_CALENDAR_FAILING_MINUTES=30
    )
    client = app.test_client()
    app.test_cli_runner().invoke(args=["calendars", "sync"])  # fails: nothing listens

    just_failing = client.get("/readyz")
    with app.app_context():
        db.session.execute(
            update(CalendarSourceState).values(failing_since=utcnow() - timedelta(minutes=31))
        )
        db.session.commit()
    too_long = client.get("/readyz")

    assert just_failing.status_code == 200, just_failing.get_json()
    assert just_failing.get_json()["checks"]["calendars"] == "ok"
    assert too_long.status_code == 503
    body = too_long.get_json()
    assert body["failed"] == ["calendars"]
    assert "host ada" in body["checks"]["calendars"] and "30 min" in body["checks"]["calendars"]


def test_readyz_fails_when_the_sync_stopped_long_ago(radicale, calendar_app):
    name = radicale.new_calendar("ada").get_display_name()
    app = calendar_app(one_host(radicale.url, name), READY_MAX_CALENDAR_FAILING_MINUTES=30)
    assert app.test_cli_runner().invoke(args=["calendars", "sync"]).exit_code == 0
    client = app.test_client()
    assert client.get("/readyz").status_code == 200

    with app.app_context():
        db.session.execute(
            update(CalendarSourceState).values(last_good_at=utcnow() - timedelta(minutes=31))
        )
        db.session.commit()

    assert client.get("/readyz").status_code == 503


# --- the periodic sync --------------------------------------------------------------------


def test_make_run_gets_a_sync_loop_only_when_hosts_have_calendars(app, radicale, calendar_app):
    with_calendars = calendar_app(one_host(radicale.url), CALENDAR_SYNC_SECONDS=120.0)
    assert cli.COMPANIONS_KEY not in app.extensions
    assert with_calendars.extensions[cli.COMPANIONS_KEY] == [
        ["calendars", "sync", "--every", "120"]
    ]


def test_the_sync_loop_syncs_until_stopped(radicale, calendar_app):
    name = radicale.new_calendar("ada").get_display_name()
    app = calendar_app(one_host(radicale.url, name))
    stop = StopFlag()

    def loop():
        with app.app_context():
            sync_every(3600, stop)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    _wait_for(lambda: any(state.last_good_at for state in _states(app)), "a first good sync")
    stop.set()
    thread.join(30)
    assert not thread.is_alive()


def _children(pid: int) -> list[int]:
    """The process ids of `pid`'s children (Linux)."""
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()] if path.exists() else []


def _command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except FileNotFoundError:
        return ""


def test_flask_serve_runs_the_sync_beside_the_worker_and_stops_it(radicale, calendar_app, tmp_path):
    name = radicale.new_calendar("ada").get_display_name()
    app = calendar_app(one_host(radicale.url, name))
    env = {
        **os.environ,
        **SECRETS,
        "LEADFORM_DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
        "LEADFORM_SITE_FILE": str(app.config["SITE_FILE"]),
        "LEADFORM_CONTENT_DIR": str(app.config["CONTENT_DIR"]),
        "LEADFORM_MAIL_DIR": str(tmp_path / "mail"),
        "LEADFORM_CALENDAR_SYNC_SECONDS": "1",
    }
    serve = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "leadform", "serve", "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(lambda: any(state.last_good_at for state in _states(app)), "the first sync")
        syncs = [
            pid for pid in _children(serve.pid) if "calendars sync --every 1" in _command_line(pid)
        ]
        assert len(syncs) == 1
    finally:
        serve.send_signal(signal.SIGTERM)
        serve.wait(30)
    assert _command_line(syncs[0]) == ""  # stopped and reaped with the server


# --- the systemd units --------------------------------------------------------------------


def test_the_calendars_unit_is_hardened_like_the_others(tmp_path):
    analyze = "/usr/bin/systemd-analyze"
    if not Path(analyze).exists():
        missing("systemd-analyze")
    unit = tmp_path / "leadform-calendars.service"
    unit.write_text((UNITS / "leadform-calendars.service").read_text())
    result = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout + result.stderr)
    assert score, result.stdout + result.stderr
    assert float(score.group(1)) <= 2.0


def test_the_timer_starts_the_service_that_runs_the_sync_command(radicale, calendar_app):
    timer = (UNITS / "leadform-calendars.timer").read_text()
    service = (UNITS / "leadform-calendars.service").read_text()
    assert "OnCalendar=*:0/5" in timer and "Unit=" not in timer  # same name: the .service
    [command] = re.findall(r"^ExecStart=(.*)$", service, re.MULTILINE)
    args = command.split()
    assert args[0].endswith("/.venv/bin/flask") and args[1:3] == ["--app", "leadform"]
    name = radicale.new_calendar("ada").get_display_name()
    app = calendar_app(one_host(radicale.url, name))
    result = app.test_cli_runner().invoke(args=args[3:])
    assert result.exit_code == 0, result.output
    assert "Synced 1 of 1 calendar(s)." in result.output
