"""The production layout, started for real in a temporary folder.

nginx (the shipped deploy/nginx/tessellate.conf, paths and ports substituted) in front of two
gunicorn instances (deploy/gunicorn.conf.py), two outbox workers, a fresh PostgreSQL database,
a Redis database for the rate limit and an aiosmtpd SMTP server. Everything listens on
loopback only and is stopped at teardown, even when a test fails.
"""

import asyncio
import contextlib
import http.client
import json
import os
import shlex
import shutil
import signal
import socket
import ssl
import subprocess
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import psycopg
import pytest
import redis
from sqlalchemy.engine import make_url

from tests.conftest import (
    ROOT,
    missing,
    require_executable,
    require_postgres_url,
    require_redis_url,
)

VENV_BIN = ROOT / ".venv" / "bin"
NGINX_CONF = ROOT / "deploy" / "nginx" / "tessellate.conf"
UNITS = ROOT / "deploy" / "systemd"
# Where the units (and docs/deploy.md) expect the checkout; the tests run this one instead.
APP_DIR = "/srv/tessellate/app"
TEST_SECRET = "deploy-test-secret-0123456789abcdef"  # noqa: S105 - a test value
START_TIMEOUT = 30.0


def free_port() -> int:
    """A loopback port with nothing listening on it (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, what: str, timeout: float = START_TIMEOUT, interval: float = 0.1):
    """Poll `predicate` until it returns something truthy; fail naming `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what} after {timeout:g} s")
        time.sleep(interval)


# --- processes ---------------------------------------------------------------------------


@dataclass
class Service:
    """A started process with its log file."""

    name: str
    process: subprocess.Popen
    log: Path

    def log_text(self) -> str:
        """Everything the process wrote to stdout/stderr so far."""
        return self.log.read_text(errors="replace")


def start(name: str, cmd: list[str], env: dict, logs: Path) -> Service:
    """Start `cmd` in its own process group, output to logs/<name>.log."""
    log = logs / f"{name}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            cmd, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True
        )
    return Service(name, process, log)


def stop(service: Service) -> None:
    """Stop a service politely (SIGTERM to its group), then firmly; never raises."""
    process = service.process
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


# --- the shipped systemd units ----------------------------------------------------------


@dataclass
class UnitCommand:
    """What systemd would run for one instance of a unit: command, environment, folder."""

    argv: list[str]
    environment: dict[str, str]
    working_directory: Path


def unit_command(unit: Path, instance: str = "", app_dir: Path = ROOT) -> UnitCommand:
    """Read a unit's ExecStart, Environment and WorkingDirectory as systemd would.

    `%i` becomes `instance`, and the checkout's production path (/srv/tessellate/app) this
    checkout, so the test runs the very command the unit runs. Fails if a line is missing.
    """
    service = {}
    environment = {}
    for line in unit.read_text().splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.startswith(("#", ";")):
            continue
        value = value.replace("%i", instance).replace(APP_DIR, str(app_dir))
        if key == "Environment":
            name, _, setting = value.partition("=")
            environment[name] = setting
        else:
            service[key] = value
    for key in ("ExecStart", "WorkingDirectory", "EnvironmentFile"):
        assert key in service, f"{unit.name} has no {key}="
    assert service["EnvironmentFile"] == "/etc/tessellate/leadform.env", unit.name
    return UnitCommand(
        shlex.split(service["ExecStart"]), environment, Path(service["WorkingDirectory"])
    )


def start_unit(name: str, unit: Path, instance: str, env: dict, logs: Path) -> Service:
    """Start one instance of a shipped unit with `env` standing for its EnvironmentFile."""
    command = unit_command(unit, instance)
    log = logs / f"{name}.log"
    with open(log, "wb") as handle:
        process = subprocess.Popen(
            command.argv,
            env=env | command.environment,
            cwd=command.working_directory,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Service(name, process, log)


def answers_http(url: str, context: ssl.SSLContext | None = None) -> bool:
    """Whether GET `url` answers 200 (connection errors count as no)."""
    scheme, rest = url.split("://", 1)
    hostport, _, path = rest.partition("/")
    host, port = hostport.split(":")
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    kwargs = {"context": context} if context else {}
    connection = cls(host, int(port), timeout=5, **kwargs)
    try:
        connection.request("GET", "/" + path)
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


# --- SMTP ----------------------------------------------------------------------------------


class SlowRecordingHandler:
    """aiosmtpd handler that keeps every message; `delay` makes each DATA take that long.

    A message is recorded before the reply, as a real server would have queued it: a client
    killed while waiting for the reply has still delivered it (at-least-once).
    """

    def __init__(self):
        self.messages: list[bytes] = []
        self.delay = 0.0

    async def handle_DATA(self, server, session, envelope):
        """Keep the message bytes, then answer after `delay` seconds."""
        self.messages.append(envelope.original_content or envelope.content)
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 Message accepted"


# --- nginx ---------------------------------------------------------------------------------


# What the shipped config says -> what the test runs. Each must appear in the file. The
# canonical name becomes 127.0.0.1 (what the tests connect to), the second name localhost.
def nginx_substitutions(stack: "Stack", site_dir: Path, cert: Path, key: Path) -> dict:
    """The production placeholders and their test values, in the order they are applied."""
    logs = stack.tmp / "logs"
    return {
        "    listen [::]:80 default_server;\n": "",
        "    listen [::]:443 ssl http2;\n": "",
        "    listen [::]:443 ssl http2 default_server;\n": "",
        "listen 80 default_server;": f"listen 127.0.0.1:{stack.http_port} default_server;",
        "listen 443 ssl http2": f"listen 127.0.0.1:{stack.https_port} ssl http2",
        "server 127.0.0.1:8001 ": f"server 127.0.0.1:{stack.app_ports[0]} ",
        "server 127.0.0.1:8002 ": f"server 127.0.0.1:{stack.app_ports[1]} ",
        "root /srv/tessellate/site;": f"root {site_dir};",
        "/var/log/nginx/tessellate.access.log": str(logs / "nginx-access.log"),
        "/var/log/nginx/tessellate.error.log": str(logs / "nginx-site-error.log"),
        "root /var/www/html;": f"root {stack.tmp / 'certbot'};",
        "/etc/letsencrypt/live/www.tessellate.example/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/www.tessellate.example/privkey.pem": str(key),
        "www.tessellate.example": "127.0.0.1",
        "tessellate.example": "localhost",
    }


def render_nginx_conf(stack: "Stack", site_dir: Path, cert: Path, key: Path) -> str:
    """The whole nginx.conf: a minimal main context around the shipped site file."""
    site = NGINX_CONF.read_text()
    for placeholder, value in nginx_substitutions(stack, site_dir, cert, key).items():
        assert placeholder in site, f"{placeholder!r} no longer in {NGINX_CONF.name}"
        site = site.replace(placeholder, value)
    tmp = stack.tmp
    temp_paths = "\n".join(
        f"    {kind}_temp_path {tmp / 'nginx-temp' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    # As root, nginx's workers would switch to `nobody`, who cannot read pytest's 0700 temp
    # folders; as anyone else the directive must be absent.
    user = "user root;" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
pid {tmp / "nginx.pid"};
error_log {tmp / "logs" / "nginx-error.log"} warn;
events {{ worker_connections 512; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
{temp_paths}
{site}
}}
"""


def make_certificate(tmp: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the TLS server block needs one)."""
    openssl = require_executable("openssl")
    cert, key = tmp / "cert.pem", tmp / "key.pem"
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


# --- the stack -----------------------------------------------------------------------------


@dataclass
class Stack:
    """Addresses and handles of the running production layout."""

    tmp: Path
    http_port: int = field(default_factory=free_port)
    https_port: int = field(default_factory=free_port)
    app_ports: tuple[int, int] = field(default_factory=lambda: (free_port(), free_port()))
    server_url: str = ""
    database_url: str = ""
    redis_url: str = ""
    smtp: SlowRecordingHandler | None = None
    env: dict = field(default_factory=dict)
    tls: ssl.SSLContext | None = None
    services: dict[str, Service] = field(default_factory=dict)

    @property
    def base(self) -> str:
        """The public address (through nginx, HTTPS)."""
        return f"https://127.0.0.1:{self.https_port}"

    def start_worker(self, name: str) -> Service:
        """Start one more outbox worker: leadform-outbox@.service's command, this environment."""
        unit = UNITS / "leadform-outbox@.service"
        instance = name.rsplit("-", 1)[-1]
        self.services[name] = start_unit(name, unit, instance, self.env, self.tmp / "logs")
        return self.services[name]

    def sql(self, statement: str, params: tuple = ()) -> list[tuple]:
        """Run one statement on the test database; return its rows (none for writes)."""
        dsn = self.database_url.replace("+psycopg", "")
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as connection:
            cursor = connection.execute(statement, params)
            return cursor.fetchall() if cursor.description else []


def app_environment(stack: Stack, smtp_port: int) -> dict:
    """The environment of every gunicorn instance and worker (like deploy/env.example)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADFORM_", "GUNICORN_"))}
    env.update(
        LEADFORM_ENV="production",
        LEADFORM_SECRET_KEY=TEST_SECRET,
        LEADFORM_DATABASE_URL=stack.database_url,
        LEADFORM_RATE_LIMIT_STORAGE_URL=stack.redis_url,
        LEADFORM_RATE_LIMIT="5/hour",
        # The racers and visitors here come from one loopback network and one email domain;
        # the network, domain and surge guards are tested in tests/leadform/booking.
        LEADFORM_RATE_LIMIT_NETWORK="10000/hour",
        LEADFORM_RATE_LIMIT_EMAIL_DOMAIN="10000/hour",
        LEADFORM_SURGE_BOOKINGS_PER_HOUR="0",
        LEADFORM_TRUSTED_PROXIES="1",
        LEADFORM_MAIL_BACKEND="smtp",
        LEADFORM_SMTP_HOST="127.0.0.1",
        LEADFORM_SMTP_PORT=str(smtp_port),
        LEADFORM_PUBLIC_URL=stack.base,
        # The browser fills the form faster than a person; the spam check would refuse it.
        LEADFORM_MIN_FILL_SECONDS="0",
        # Short lease and small batches so a killed worker's messages come back quickly.
        LEADFORM_OUTBOX_LEASE_SECONDS="4",
        LEADFORM_OUTBOX_BATCH_SIZE="4",
        LEADFORM_OUTBOX_POLL_SECONDS="0.3",
        LEADFORM_OUTBOX_BACKOFF_SECONDS="1",
        GUNICORN_WORKERS="2",
    )
    return env


def create_database(server_url: str) -> tuple[str, str]:
    """Create a randomly named database; return (its URL, the admin DSN)."""
    server = make_url(server_url)
    name = f"leadform_deploy_{uuid.uuid4().hex[:10]}"
    admin = server.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    return server.set(database=name).render_as_string(hide_password=False), name


def postgres_reachable(server_url: str) -> bool:
    """Whether the PostgreSQL server accepts a connection now."""
    dsn = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(dsn, connect_timeout=3):
            return True
    except psycopg.OperationalError:
        return False


def pg_ctlcluster(action: str) -> subprocess.CompletedProcess:
    """Run `pg_ctlcluster VERSION main ACTION` (Debian's cluster tool) on the local server."""
    tool = shutil.which("pg_ctlcluster")
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not tool or not versions:
        missing("a PostgreSQL cluster managed by pg_ctlcluster")
    cmd = [tool, "--skip-systemctl-redirect", versions[-1], "main", action]
    if action == "stop":
        cmd += ["-m", "fast"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def ensure_postgres_running(server_url: str) -> None:
    """Start the local cluster if it is down, and wait until it accepts connections."""
    if postgres_reachable(server_url):
        return
    pg_ctlcluster("start")
    wait_until(lambda: postgres_reachable(server_url), "PostgreSQL to accept connections", 60)


def drop_database(server_url: str, name: str) -> None:
    """Drop the test database, whoever is still connected."""
    admin = make_url(server_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True, connect_timeout=10) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def migrate(stack: Stack) -> None:
    """Run the documented upgrade command against the new database."""
    result = subprocess.run(
        [str(VENV_BIN / "flask"), "--app", "leadform", "db", "upgrade"],
        env=stack.env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def start_apps(stack: Stack) -> None:
    """Start both gunicorn instances (leadform@PORT) and wait until each answers /healthz."""
    for letter, port in zip("ab", stack.app_ports, strict=True):
        stack.services[f"gunicorn-{letter}"] = start_unit(
            f"gunicorn-{letter}",
            UNITS / "leadform@.service",
            str(port),
            stack.env,
            stack.tmp / "logs",
        )
    for letter, port in zip("ab", stack.app_ports, strict=True):
        service = stack.services[f"gunicorn-{letter}"]
        wait_until(
            lambda port=port, service=service: (
                service.process.poll() is not None
                or answers_http(f"http://127.0.0.1:{port}/healthz")
            ),
            f"gunicorn-{letter}",
        )
        assert service.process.poll() is None, service.log_text()


def start_nginx(stack: Stack, site_dir: Path) -> None:
    """Write nginx.conf from the shipped file and start nginx in the foreground."""
    nginx = require_executable("nginx")
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (stack.tmp / "nginx-temp" / kind).mkdir(parents=True, exist_ok=True)
    (stack.tmp / "certbot").mkdir(exist_ok=True)
    cert, key = make_certificate(stack.tmp)
    conf = stack.tmp / "nginx.conf"
    conf.write_text(render_nginx_conf(stack, site_dir, cert, key))
    cmd = [nginx, "-p", str(stack.tmp), "-c", str(conf), "-g", "daemon off;"]
    check = subprocess.run(cmd[:-2] + ["-t"], capture_output=True, text=True, timeout=30)
    assert check.returncode == 0, check.stderr
    stack.services["nginx"] = start("nginx", cmd, os.environ.copy(), stack.tmp / "logs")
    stack.tls = ssl.create_default_context(cafile=str(cert))
    wait_until(lambda: answers_http(f"{stack.base}/healthz", stack.tls), "nginx")


def start_smtp(stack: Stack):
    """Start the SMTP server on a random loopback port; return (controller, port)."""
    from aiosmtpd.controller import Controller

    stack.smtp = SlowRecordingHandler()
    port = free_port()
    controller = Controller(stack.smtp, hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


@pytest.fixture(scope="module")
def production(tmp_path_factory, built_site):
    """Start the whole production layout once for the module; stop all of it at the end."""
    require_executable("nginx")
    server_url = require_postgres_url()
    redis_base = require_redis_url().rsplit("/", 1)[0]
    stack = Stack(tmp=tmp_path_factory.mktemp("production"), server_url=server_url)
    (stack.tmp / "logs").mkdir()
    stack.redis_url = f"{redis_base}/{13}"
    redis.Redis.from_url(stack.redis_url).flushdb()
    stack.database_url, db_name = create_database(server_url)
    controller = None
    try:
        controller, smtp_port = start_smtp(stack)
        stack.env = app_environment(stack, smtp_port)
        migrate(stack)
        start_apps(stack)
        stack.start_worker("worker-1")
        stack.start_worker("worker-2")
        start_nginx(stack, built_site)
        yield stack
    finally:
        for service in reversed(list(stack.services.values())):
            stop(service)
        if controller is not None:
            controller.stop()
            asyncio.set_event_loop(None)
        redis.Redis.from_url(stack.redis_url).flushdb()
        # A failed restart test must not leave the shared server down for everyone else.
        ensure_postgres_running(server_url)
        drop_database(server_url, db_name)


# --- a visitor without a browser -----------------------------------------------------------


class Visitor:
    """One client with its own cookies, source address and route (nginx, or one instance).

    `route` is "nginx" (HTTPS through nginx), "a" or "b" (plain HTTP straight to a gunicorn
    instance, as only nginx should). `source` is the loopback address it connects from, so
    each visitor is a different client to the rate limiter.
    """

    def __init__(self, stack: Stack, source: str, route: str = "nginx"):
        self.stack, self.source, self.route = stack, source, route
        self.cookies: dict[str, str] = {}

    def _connection(self, route: str):
        if route == "nginx":
            return http.client.HTTPSConnection(
                "127.0.0.1",
                self.stack.https_port,
                context=self.stack.tls,
                timeout=60,
                source_address=(self.source, 0),
            )
        port = self.stack.app_ports["ab".index(route)]
        return http.client.HTTPConnection(
            "127.0.0.1", port, timeout=60, source_address=(self.source, 0)
        )

    def request(self, method: str, path: str, data=None, headers=None, route=None):
        """Send one request; return (status, headers, body text). Cookies are kept."""
        route = route or self.route
        headers = dict(headers or {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if data is not None:
            body = urlencode(data)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
            # Flask-WTF checks the Referer on HTTPS; a browser sends the form's own page.
            headers.setdefault("Referer", f"{self.stack.base}/book")
        connection = self._connection(route)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode("utf-8", errors="replace")
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return response.status, response.headers, text


def request_log_lines(service: Service) -> list[dict]:
    """The JSON request lines a gunicorn instance logged (leadform.logs)."""
    lines = []
    for line in service.log_text().splitlines():
        if line.startswith("{"):
            entry = json.loads(line)
            if entry.get("logger") == "leadform.request":
                lines.append(entry)
    return lines
