"""Fixtures and helpers shared by the whole suite."""

import logging
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_finish(session):
    """Undo Pelican's process-wide logger class once every test module is imported.

    Importing pelican (tests/site imports it) calls logging.setLoggerClass(FatalLogger), whose
    LimitFilter drops repeated messages; loggers the booking service creates later (one line
    per request) would then lose lines in this process. The service never imports Pelican.
    """
    logging.setLoggerClass(logging.Logger)


def missing(what: str) -> None:
    """Skip a test whose external part is absent, except on CI where that is a failure.

    On CI (`CI=true`) a missing install step must turn the run red, never hide as a skip.
    """
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is required on CI but is not available")
    pytest.skip(f"{what} is not available on this machine")


def require_executable(name: str) -> str:
    """Return the path of executable `name`, or skip/fail via `missing`."""
    path = shutil.which(name)
    if path is None and os.path.isabs(name) and os.access(name, os.X_OK):
        path = name
    if not path:
        missing(name)
    return path


def require_postgres_url() -> str:
    """Return the server URL of the PostgreSQL on 127.0.0.1:5432, or skip/fail."""
    url = os.environ.get(
        "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    try:
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3):
            pass
    except Exception:  # noqa: BLE001 - any failure means "not reachable here"
        missing("PostgreSQL on 127.0.0.1:5432")
    return url


def require_redis_url() -> str:
    """Return the URL of the Redis on 127.0.0.1:6379, or skip/fail."""
    url = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception:  # noqa: BLE001
        missing("Redis on 127.0.0.1:6379")
    return url


@pytest.fixture(scope="session")
def chromium_path() -> str:
    """Path to Debian's Chromium (never a Playwright-downloaded browser)."""
    if not os.access(CHROMIUM, os.X_OK):
        missing(f"Chromium at {CHROMIUM}")
    return CHROMIUM


@pytest.fixture(scope="session")
def browser(chromium_path):
    """A real headless Chromium driven by Playwright, shared by the session's browser tests."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="session")
def java_path() -> str:
    """Path to java, needed by the Nu Html Checker."""
    path = require_executable("java")
    subprocess.run([path, "-version"], capture_output=True, check=True)
    return path


def build_site(output: Path, settings: str = "pelicanconf.py", content: Path | None = None):
    """Run the standard Pelican command into `output`; return the CompletedProcess.

    A subprocess keeps Pelican's global blinker signals out of the test process.
    """
    import sys

    cmd = [sys.executable, "-m", "pelican", str(content or ROOT / "content"), "-s", settings]
    cmd += ["-o", str(output)]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The site built once per test session with pelicanconf.py plus its Pagefind index."""
    import sys

    output = tmp_path_factory.mktemp("site") / "output"
    result = build_site(output)
    assert result.returncode == 0, result.stdout + result.stderr
    subprocess.run(
        [sys.executable, "-m", "pagefind", "--site", str(output), "--silent"],
        check=True,
        timeout=300,
    )
    return output
