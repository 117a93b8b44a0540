"""docs/deploy.md followed as literally as a machine can: its marked blocks, run for real.

Each block marked `<!-- test: NAME -->` in docs/deploy.md runs in bash. The few changes a test
machine needs are substitutions that must each find their text in the block, so the page
cannot drift away from what is tested: /etc, /var and /srv move into a temporary root standing
for /, the checkout's production path (/srv/tessellate/app) means this checkout, `runuser -u
USER --` and ownership options are dropped (the test runs as one user), PostgreSQL commands
reach the test server through libpq's PG* variables, and `web:`/`ssh web` mean this machine.
"""

import email
import email.policy
import http.client
import os
import re
import secrets
import shutil
import ssl
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode, urlsplit

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
from tests.deploy.conftest import (
    APP_DIR,
    UNITS,
    Service,
    answers_http,
    create_database,
    drop_database,
    free_port,
    start,
    start_smtp,
    start_unit,
    stop,
    unit_command,
    wait_until,
)
from tests.leadform.booking_pages import FormPage, answers

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

DOC = ROOT / "docs" / "deploy.md"
PLACEHOLDER = "https://www.tessellate.example"
# The address "the operator" configures: .test is reserved for tests (RFC 6761), and is not a
# placeholder to publishconf.py.
CANONICAL = "www.tessellate-doc.test"
SECOND = "tessellate-doc.test"
PUBLIC_URL = f"https://{CANONICAL}"
PROSPECT = "doc.prospect@example.com"
# The placeholder host anywhere but in an email address (the firm's address in site.toml is
# content, changed in the repository).
PLACEHOLDER_HOST = re.compile(r"(?<!@)\btessellate\.example\b")
TEXT_SUFFIXES = {".html", ".xml", ".txt", ".json", ".js", ".css", ".svg", ".webmanifest"}


# --- reading and running the page's blocks -------------------------------------------------


def doc_block(name: str) -> str:
    """The shell block of docs/deploy.md marked `<!-- test: name -->`."""
    found = re.search(
        rf"<!-- test: {re.escape(name)} -->\n```sh\n(.*?)```", DOC.read_text(), re.DOTALL
    )
    assert found, f"docs/deploy.md has no ```sh block marked <!-- test: {name} -->"
    return found.group(1)


def substitute(text: str, replacements: dict[str, str]) -> str:
    """Apply `replacements` in order; each one's text must be in `text`."""
    for old, new in replacements.items():
        assert old in text, f"{old!r} is no longer in the block of docs/deploy.md:\n{text}"
        text = text.replace(old, new)
    return text


def as_one_user(text: str) -> str:
    """Drop what needs other OS users: `runuser -u USER --` and install's -o/-g options."""
    return re.sub(r"runuser -u \S+ -- |(?<= )-o \S+ -g \S+ ", "", text)


def rooted(text: str, root: Path) -> str:
    """The checkout's production path -> this checkout; /etc, /var, /srv, /run -> root/..."""
    text = text.replace(APP_DIR, str(ROOT))
    return re.sub(r"(?<![\w./~-])/(etc|var|srv|run)/", lambda m: f"{root}/{m.group(1)}/", text)


def bash(script: str, env: dict | None = None, cwd: Path = ROOT) -> str:
    """Run `script` with bash -euo pipefail; fail with its output if it fails; return stdout."""
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=cwd,
        env=env or clean_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, f"{script}\n--- stdout\n{result.stdout}\n--- {result.stderr}"
    return result.stdout


def clean_env(**extra) -> dict:
    """This process's environment without LEADFORM_*/GUNICORN_* settings, plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEADFORM_", "GUNICORN_"))}
    return env | extra


def libpq_env(server_url: str) -> dict:
    """PG* variables that send createdb, pg_dump, psql... to the test server."""
    url = make_url(server_url)
    env = {"PGHOST": url.host or "127.0.0.1", "PGPORT": str(url.port or 5432)}
    env["PGUSER"] = url.username or "postgres"
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def mode(path: Path) -> int:
    """The permission bits of `path`."""
    return path.stat().st_mode & 0o777


# --- 1. the site build ---------------------------------------------------------------------


def run_build(output: Path, public_url: str | None) -> subprocess.CompletedProcess:
    """Run the page's build block; `make -o` keeps a test from reinstalling the venv."""
    script = substitute(
        doc_block("build"),
        {
            f"LEADFORM_PUBLIC_URL={PLACEHOLDER}": f"LEADFORM_PUBLIC_URL={public_url or ''}",
            "make build": f"make -o .venv/.installed build OUTPUT={output}",
        },
    )
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=ROOT,
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=900,
    )


@pytest.fixture(scope="module")
def published_build(tmp_path_factory) -> Path:
    """The site as section 7 builds it, for the configured public address."""
    output = tmp_path_factory.mktemp("build") / "output"
    result = run_build(output, PUBLIC_URL)
    assert result.returncode == 0, result.stdout + result.stderr
    return output


def test_build_uses_the_configured_address_and_no_placeholder(published_build):
    leaks = []
    for path in published_build.rglob("*"):
        if path.suffix in TEXT_SUFFIXES and path.is_file():
            text = path.read_text(errors="replace")
            leaks += [
                f"{path.relative_to(published_build)}: {m.group(0)}"
                for m in PLACEHOLDER_HOST.finditer(text)
            ]
    assert leaks == []
    index = (published_build / "index.html").read_text()
    assert f'href="{PUBLIC_URL}/book?from=' in index
    assert f"Sitemap: {PUBLIC_URL}/sitemap.xml" in (published_build / "robots.txt").read_text()
    assert (published_build / "index.html.gz").exists()


@pytest.mark.parametrize("public_url", [None, PLACEHOLDER], ids=["unset", "placeholder"])
def test_build_refuses_a_missing_or_placeholder_address(tmp_path, public_url):
    result = run_build(tmp_path / "output", public_url)
    assert result.returncode != 0
    assert "LEADFORM_PUBLIC_URL=https://www.your-domain.com make build" in result.stderr
    assert not (tmp_path / "output").exists(), "nothing is built for the placeholder"


# --- 2. the web server's files -------------------------------------------------------------


def fresh_debian_nginx(root: Path) -> Path:
    """Copy this machine's Debian /etc/nginx into root/etc/nginx, default site enabled.

    The copy's own paths (pid, logs, includes) move into root too; workers run as root when
    the test does (www-data cannot read pytest's 0700 folders), and temp files go to root.
    """
    conf = Path("/etc/nginx/nginx.conf")
    if not conf.exists() or "sites-enabled" not in conf.read_text():
        missing("Debian's nginx configuration (/etc/nginx with sites-enabled)")
    target = root / "etc" / "nginx"
    shutil.copytree("/etc/nginx", target, symlinks=True)
    default = target / "sites-enabled" / "default"
    default.unlink(missing_ok=True)
    default.symlink_to(target / "sites-available" / "default")
    text = rooted((target / "nginx.conf").read_text(), root)
    user = "user root;" if os.geteuid() == 0 else ""
    text = re.sub(r"^user .*;$", user, text, flags=re.MULTILINE)
    temp = "\n".join(
        f"    {kind}_temp_path {root / 'var/lib/nginx' / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    text = text.replace("http {", "http {\n" + temp, 1)
    (target / "nginx.conf").write_text(text)
    for folder in (
        "var/log/nginx",
        "run",
        "var/www/html",
        *(f"var/lib/nginx/{k}" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")),
    ):
        (root / folder).mkdir(parents=True, exist_ok=True)
    return target / "nginx.conf"


def certbot_stand_in(root: Path) -> ssl.SSLContext:
    """Write what certbot would (a certificate for both names), self-signed; trust it."""
    live = root / "etc" / "letsencrypt" / "live" / CANONICAL
    live.mkdir(parents=True)
    openssl = require_executable("openssl")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2"]
        + ["-keyout", str(live / "privkey.pem"), "-out", str(live / "fullchain.pem")]
        + ["-subj", f"/CN={CANONICAL}"]
        # The test connects to 127.0.0.1 (no SNI) and names the host in the Host header.
        + ["-addext", f"subjectAltName=DNS:{CANONICAL},DNS:{SECOND},IP:127.0.0.1"],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return ssl.create_default_context(cafile=str(live / "fullchain.pem"))


def edit_env_file(path: Path, values: dict[str, str]) -> None:
    """The operator's edit of the env file: set each variable, uncommenting it if needed."""
    text = path.read_text()
    for name, value in values.items():
        text, count = re.subn(rf"^(# )?{name}=.*$", f"{name}={value}", text, flags=re.MULTILINE)
        assert count == 1, f"{name} is not in deploy/env.example"
    path.write_text(text)


def read_env_file(path: Path) -> dict:
    """The environment the units get from the file (read the way docs/deploy.md's shell does)."""
    out = bash(f"set -a; . {path}; set +a; env -0", env={"PATH": os.environ["PATH"]})
    return dict(item.split("=", 1) for item in out.split("\0") if "=" in item)


class Deployment:
    """The temporary root, the services started in it and the addresses to reach them."""

    def __init__(self, root: Path):
        self.root = root
        self.http_port, self.https_port = free_port(), free_port()
        self.app_ports = (free_port(), free_port())
        self.services: dict[str, Service] = {}
        self.tls: ssl.SSLContext | None = None
        self.smtp = None
        self.database_url = ""
        self.env: dict = {}

    @property
    def access_log(self) -> Path:
        """nginx's access log, where the shipped site writes it (inside the root)."""
        return self.root / "var/log/nginx/tessellate.access.log"

    @property
    def error_logs(self) -> list[Path]:
        """Every error log nginx writes in the root (the site's and the main context's)."""
        return list((self.root / "var/log/nginx").glob("*error.log"))

    def request(self, method, path, host=CANONICAL, body=None, headers=None, source="127.0.0.1"):
        """One HTTPS request through nginx naming `host`; return (status, headers, text)."""
        connection = http.client.HTTPSConnection(
            "127.0.0.1", self.https_port, context=self.tls, timeout=60, source_address=(source, 0)
        )
        try:
            connection.request(method, path, body=body, headers={"Host": host} | (headers or {}))
            response = connection.getresponse()
            return response.status, response.headers, response.read().decode("utf-8", "replace")
        finally:
            connection.close()


def install_web_server(root: Path, published_build: Path) -> Deployment:
    """Sections 4, 7 and 8 of the page, run in `root`: env file, published site, nginx site."""
    deployment = Deployment(root)
    bash(rooted(as_one_user(doc_block("env-file")), root))
    publish = substitute(
        doc_block("publish"),
        {"output/": f"{published_build}/", '"web:': '"', "ssh web ": "bash -c "},
    )
    (root / "srv/tessellate/releases").mkdir(parents=True)
    bash(rooted(publish, root))
    fresh_debian_nginx(root)
    deployment.tls = certbot_stand_in(root)
    return deployment


def install_nginx_site(deployment: Deployment) -> Path:
    """Section 8's names and nginx-site blocks; return the installed site file."""
    root = deployment.root
    script = doc_block("names") + substitute(
        doc_block("nginx-site"), {"nginx -t && systemctl reload nginx": "true"}
    )
    bash(rooted(script, root))
    site = root / "etc/nginx/sites-available/tessellate.conf"
    # The installed file names /etc/letsencrypt, /var/log/nginx, /srv/tessellate/site: here,
    # inside the root.
    site.write_text(rooted(site.read_text(), root))
    return site


def nginx_test(root: Path) -> subprocess.CompletedProcess:
    """`nginx -t` on the fresh prefix's nginx.conf."""
    nginx = require_executable("nginx")
    conf = root / "etc/nginx/nginx.conf"
    return subprocess.run(
        [nginx, "-c", str(conf), "-t"], capture_output=True, text=True, timeout=30
    )


def bind_to_test_ports(deployment: Deployment, site: Path) -> None:
    """Move the installed site's listen ports and upstream to free loopback ports."""
    plain, tls = deployment.http_port, deployment.https_port
    text = re.sub(r"^\s*listen \[::\]:.*\n", "", site.read_text(), flags=re.MULTILINE)
    site.write_text(
        substitute(
            text,
            {
                "listen 80 default_server;": f"listen 127.0.0.1:{plain} default_server;",
                "listen 443 ssl http2": f"listen 127.0.0.1:{tls} ssl http2",
                "server 127.0.0.1:8001 ": f"server 127.0.0.1:{deployment.app_ports[0]} ",
                "server 127.0.0.1:8002 ": f"server 127.0.0.1:{deployment.app_ports[1]} ",
            },
        )
    )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory, published_build):
    """The whole page run in a temporary root: files installed, services started from units."""
    server_url = require_postgres_url()
    redis_url = require_redis_url().rsplit("/", 1)[0] + "/13"
    root = tmp_path_factory.mktemp("root")
    logs = root / "test-logs"
    logs.mkdir()
    database_url, db_name = create_database(server_url)
    deployment, controller = None, None
    try:
        deployment = install_web_server(root, published_build)
        deployment.database_url = database_url
        controller, smtp_port = start_smtp(deployment)
        configure(deployment, redis_url, smtp_port)
        site = install_nginx_site(deployment)
        bash(rooted(as_one_user(doc_block("migrate")), root))
        start_units(deployment, logs)
        bind_to_test_ports(deployment, site)
        check = nginx_test(root)
        assert check.returncode == 0, check.stderr
        conf = root / "etc/nginx/nginx.conf"
        nginx = [require_executable("nginx"), "-c", str(conf), "-g", "daemon off;"]
        deployment.services["nginx"] = start("nginx", nginx, os.environ.copy(), logs)
        wait_until(lambda: ready_through_nginx(deployment), "the service through nginx")
        yield deployment
    finally:
        for service in reversed(list(deployment.services.values()) if deployment else []):
            stop(service)
        if controller is not None:
            controller.stop()
        store = redis.Redis.from_url(redis_url)
        for key in store.scan_iter(match=f"leadform:{CANONICAL}:*"):
            store.delete(key)
        drop_database(server_url, db_name)


def configure(deployment: Deployment, redis_url: str, smtp_port: int) -> None:
    """The operator's edit of the env file (section 4), with this machine's servers."""
    env_file = deployment.root / "etc/tessellate/leadform.env"
    edit_env_file(
        env_file,
        {
            "LEADFORM_PUBLIC_URL": PUBLIC_URL,
            "LEADFORM_DATABASE_URL": deployment.database_url,
            "LEADFORM_RATE_LIMIT_STORAGE_URL": redis_url,
            "LEADFORM_MAIL_BACKEND": "smtp",
            "LEADFORM_SMTP_HOST": "127.0.0.1",
            "LEADFORM_SMTP_PORT": str(smtp_port),
            # The test fills the form faster than the bot check allows a person to.
            "LEADFORM_MIN_FILL_SECONDS": "0",
            "LEADFORM_OUTBOX_POLL_SECONDS": "0.3",
        },
    )
    deployment.env = clean_env() | read_env_file(env_file)


def start_units(deployment: Deployment, logs: Path) -> None:
    """Two web instances and two outbox workers, each from its shipped unit's ExecStart."""
    for letter, port in zip("ab", deployment.app_ports, strict=True):
        unit = UNITS / "leadform@.service"
        deployment.services[f"gunicorn-{letter}"] = start_unit(
            f"gunicorn-{letter}", unit, str(port), deployment.env, logs
        )
    for instance in ("1", "2"):
        unit = UNITS / "leadform-outbox@.service"
        deployment.services[f"outbox-{instance}"] = start_unit(
            f"outbox-{instance}", unit, instance, deployment.env, logs
        )
    # Both instances up before nginx starts: a refused connection would mark one failed.
    for port in deployment.app_ports:
        url = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda url=url: answers_http(url), f"gunicorn on port {url}")


def ready_through_nginx(deployment: Deployment) -> bool:
    """Whether /readyz answers 200 through nginx (connection errors count as no)."""
    try:
        return deployment.request("GET", "/readyz")[0] == 200
    except OSError:
        return False


def test_env_file_is_installed_private_with_a_generated_secret(deployment):
    folder = deployment.root / "etc/tessellate"
    env_file = folder / "leadform.env"
    assert (mode(folder), mode(env_file)) == (0o750, 0o640)
    assert re.search(r"^LEADFORM_SECRET_KEY=[0-9a-f]{64}$", env_file.read_text(), re.MULTILINE)


def test_publish_switches_the_site_link_to_the_new_release(deployment, published_build):
    site = deployment.root / "srv/tessellate/site"
    assert site.is_symlink()
    assert Path(os.readlink(site)).parent == deployment.root / "srv/tessellate/releases"
    assert (site / "index.html").read_bytes() == (published_build / "index.html").read_bytes()


def test_nginx_site_replaces_debians_default_and_passes_nginx_t(deployment):
    enabled = deployment.root / "etc/nginx/sites-enabled"
    assert sorted(path.name for path in enabled.iterdir()) == ["tessellate.conf"]
    site = (enabled / "tessellate.conf").read_text()
    assert f"server_name {CANONICAL};" in site and f"server_name {SECOND};" in site
    assert "tessellate.example" not in site
    result = nginx_test(deployment.root)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    ("host", "port_kind"),
    [(SECOND, "https"), (SECOND, "http"), (CANONICAL, "http"), ("evil.example.net", "http")],
)
def test_every_other_name_and_plain_http_move_to_the_canonical_address(deployment, host, port_kind):
    if port_kind == "https":
        status, headers, _ = deployment.request("GET", "/book?from=x", host=host)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", deployment.http_port, timeout=10)
        connection.request("GET", "/book?from=x", headers={"Host": host})
        response = connection.getresponse()
        connection.close()
        status, headers = response.status, response.headers
    assert (status, headers["Location"]) == (301, f"{PUBLIC_URL}/book?from=x")


# --- 3. a booking through nginx: the logs keep routes, not keys ----------------------------


def book_and_manage(deployment: Deployment, source: str) -> dict:
    """Book through nginx, open the confirmation and manage pages; return what was seen."""
    cookies: dict[str, str] = {}

    def visit(method, path, data=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())}
        body = None
        if data is not None:
            body = urlencode(data)
            headers |= {"Content-Type": "application/x-www-form-urlencoded"}
            headers |= {"Referer": f"{PUBLIC_URL}/book"}
        status, answer, text = deployment.request(
            method, path, body=body, headers=headers, source=source
        )
        for value in answer.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            cookies[name.strip()] = rest.split(";", 1)[0]
        return status, answer, text

    status, _, body = visit("GET", "/book?utm_source=doc-private-utm&from=about")
    assert status == 200, body[:300]
    picker = FormPage(body)
    assert picker.time_links, "the booking page offers no time"
    status, _, body = visit("GET", picker.time_links[0])
    assert status == 200, body[:300]
    status, answer, body = visit("POST", "/book", answers(FormPage(body), email=PROSPECT))
    assert status == 303, body[:500]
    confirmed = urlsplit(answer["Location"]).path
    status, _, body = visit("GET", confirmed)
    assert status == 200
    manage = re.search(r'href="(?:https://[^/"]+)?(/manage/[^"]+)"', body).group(1)
    status, _, _ = visit("GET", manage)
    assert status == 200
    return {"public_id": confirmed.rsplit("/", 1)[-1], "token": manage.split("/")[2]}


@pytest.fixture(scope="module")
def booked(deployment):
    """One booking made through nginx by a client at a fresh loopback address."""
    # A fresh address per run: the rate limit's counts of earlier runs live an hour in Redis.
    source = "127." + ".".join(str(secrets.randbelow(200) + 20) for _ in range(3))
    seen = book_and_manage(deployment, source) | {"source": source}
    wait_until(
        lambda: prospect_emails(deployment), "the confirmation email from the outbox workers"
    )
    return seen


def prospect_emails(deployment: Deployment) -> list[str]:
    """The text of every email the SMTP server received for the prospect."""
    found = []
    for raw in list(deployment.smtp.messages):
        message = email.message_from_bytes(raw, policy=email.policy.default)
        if PROSPECT in (message["To"] or ""):
            found += [
                part.get_content()
                for part in message.walk()
                if part.get_content_type() == "text/plain"
            ]
    return found


def test_nginx_logs_keep_routes_not_tokens_ids_addresses_or_queries(deployment, booked):
    time.sleep(0.5)  # nginx writes the access log line after the response
    access = deployment.access_log.read_text()
    errors = "".join(path.read_text() for path in deployment.error_logs)
    assert "/manage/<token> 200" in access.replace('"', "").replace("GET ", "")
    assert "/book/confirmed/<id>" in access
    for secret in (booked["token"], booked["public_id"], "doc-private-utm", booked["source"]):
        assert secret not in access + errors, secret


@pytest.mark.parametrize(
    ("path", "logged"),
    [
        ("/manage/KEYmanage1", "/manage/<token>"),
        ("/manage/KEYmanage2/cancel?x=KEYquery", "/manage/<token>/cancel"),
        ("/%6Danage/KEYmanage3", "/manage/<token>"),
        ("/manage//KEYmanage4", "/manage/<token>"),
        ("/book/confirmed/KEYbooking1", "/book/confirmed/<id>"),
        ("/book/KEYbooking2/invite.ics", "/book/<id>/invite.ics"),
        ("/admin/bookings/KEYbooking3", "/admin/bookings/<id>"),
        ("/admin/bookings/KEYbooking4/erase", "/admin/bookings/<id>/erase"),
        ("/manage/KEYmanage5/invite.ics", "/manage/<token>"),
        ("/book/hold/KEYhold1", "/book/hold/<token>"),
        ("/readiness-check/result/KEYresult1", "/readiness-check/result/<token>"),
        ("/readiness-check/result/KEYresult2/email", "/readiness-check/result/<token>/email"),
        ("/newsletter/confirm/KEYnews1", "/newsletter/confirm/<token>"),
        ("/newsletter/unsubscribe/KEYnews2", "/newsletter/unsubscribe/<token>"),
        ("/blog/?utm_source=KEYutm", "/blog/"),
    ],
)
def test_access_log_keeps_the_route_of_any_spelling_of_a_key(deployment, path, logged):
    before = len(deployment.access_log.read_text().splitlines())
    deployment.request("GET", path)
    lines = wait_until(
        lambda: deployment.access_log.read_text().splitlines()[before:], "the access log line"
    )
    line = lines[0]
    assert f'"GET {logged}"' in line
    assert "KEY" not in line


def test_emails_link_to_the_configured_address(deployment, booked):
    texts = prospect_emails(deployment)
    assert any(f"{PUBLIC_URL}/manage/" in text for text in texts), texts


def test_two_outbox_workers_run_from_the_template_unit(deployment, booked):
    workers = [deployment.services[f"outbox-{n}"] for n in ("1", "2")]
    assert [worker.process.poll() for worker in workers] == [None, None]
    command = unit_command(UNITS / "leadform-outbox@.service", "1")
    assert command.argv[1:] == ["--app", "leadform", "outbox", "run"]


# --- 4. backups and the restore drill ------------------------------------------------------


def cron_command(path: Path) -> tuple[str, str]:
    """The (user, command) of the one job in a cron.d file, with cron's `\\%` undone."""
    lines = [line for line in path.read_text().splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1, lines
    fields = lines[0].split(None, 6)
    return fields[5], fields[6].replace("\\%", "%")


@dataclass
class Backup:
    """A dump the cron job wrote, and how many bookings the database held when it ran."""

    dump: Path
    bookings: int


@pytest.fixture(scope="module")
def backup(deployment):
    """Section 9's backup block run, then its cron job run once."""
    root = deployment.root
    (root / "etc/cron.d").mkdir(parents=True, exist_ok=True)
    bash(rooted(as_one_user(doc_block("backup")), root))
    user, command = cron_command(root / "etc/cron.d/leadform-backup")
    assert user == "postgres"
    database = make_url(deployment.database_url).database
    command = substitute(command, {" leadform && ": f" {database} && "})
    env = clean_env(**libpq_env(require_postgres_url()))
    with psycopg.connect(deployment.database_url.replace("+psycopg", "")) as connection:
        bookings = connection.execute("SELECT count(*) FROM bookings").fetchone()[0]
        bash(rooted(command, root), env=env, cwd=Path("/"))
    dumps = list((root / "var/backups/leadform").glob("leadform-*.dump"))
    assert len(dumps) == 1, dumps
    return Backup(dumps[0], bookings)


def test_backups_are_readable_only_by_their_owner(backup):
    assert (mode(backup.dump.parent), mode(backup.dump)) == (0o700, 0o600)


def test_restore_drill_restores_the_newest_dump(deployment, backup):
    server_url = require_postgres_url()
    scratch = f"leadform_restore_{secrets.token_hex(4)}"
    server = make_url(server_url).set(database=scratch).render_as_string(hide_password=False)
    script = substitute(
        as_one_user(doc_block("restore-drill")),
        {"--owner tessellate": "", "--role=tessellate": "", "leadform_restore": scratch},
    )
    script = substitute(
        script, {f"postgresql+psycopg:///{scratch}?host=/var/run/postgresql": server}
    )
    env = clean_env(**libpq_env(server_url))
    try:
        out = bash(rooted(script, deployment.root), env=env, cwd=Path("/"))
    finally:
        drop_database(server_url, scratch)
    assert "(head)" in out
    assert re.search(rf"^\s*{backup.bookings} \|", out, re.MULTILINE), out


# --- 5. the units and the code they run ----------------------------------------------------


SERVICE_UNITS = ["leadform@.service", "leadform-outbox@.service", "leadform-reminders.service"]


@pytest.mark.parametrize("name", SERVICE_UNITS)
def test_units_are_hardened(tmp_path, name):
    analyze = require_executable("systemd-analyze")
    unit = tmp_path / name.replace("@.", "@1.")
    unit.write_text((UNITS / name).read_text())
    result = subprocess.run(
        [analyze, "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    score = re.search(r"Overall exposure level for \S+: ([\d.]+)", result.stdout + result.stderr)
    assert score, result.stdout + result.stderr
    assert float(score.group(1)) <= 2.0


def test_units_run_the_checkout_installed_in_editable_mode():
    # docs/deploy.md builds the venv with the system Python and installs the checkout with -e.
    page = DOC.read_text()
    assert f"/usr/bin/python3 -m venv {APP_DIR}/.venv\n" in page
    assert f"{APP_DIR}/.venv/bin/pip install -e {APP_DIR}\n" in page
    for name in SERVICE_UNITS:
        command = unit_command(UNITS / name, "8001")
        assert command.working_directory == ROOT
        assert command.argv[0].startswith(f"{ROOT}/.venv/bin/")
    # The same arrangement here (make venv installs with -e): from any folder, the venv's
    # leadform is the checkout's, so the working directory cannot select another copy.
    found = subprocess.run(
        [str(ROOT / ".venv/bin/python"), "-c", "import leadform; print(leadform.__file__)"],
        cwd="/",
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert found == str(ROOT / "leadform" / "__init__.py")
    ignored = subprocess.run(["git", "check-ignore", "-q", "build/"], cwd=ROOT, check=False)
    assert ignored.returncode == 0, "pip install may write build/: .gitignore must ignore it"
