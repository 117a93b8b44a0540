"""Health checks for load balancers and process supervisors: `/healthz` and `/readyz`.

`/healthz` answers as long as the process can serve a request (liveness). `/readyz` says
whether this instance should get traffic: the database answers, its schema is at the
migrations' head, and the outbox is not stuck. To loopback and the networks in
`READYZ_ALLOW` each failing check is named in the answer, so a probe's log says what to fix;
anyone else gets only "ok" or "not ready" (the details name migrations and the backlog).
Neither endpoint is rate limited or CSRF protected: probes come often, from one address, and
never post a form.
"""

from datetime import timedelta
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Blueprint, Flask, current_app, jsonify, request
from sqlalchemy import func, select, text
from sqlalchemy.exc import SQLAlchemyError

from leadform.config import ConfigError
from leadform.db import db
from leadform.extensions import csrf, limiter
from leadform.models import OutboxMessage, utcnow

bp = Blueprint("health", __name__)
SKIPPED = "not checked"  # a check that needs the database, when the database is away
LOOPBACK = (ip_network("127.0.0.0/8"), ip_network("::1/128"))
ALLOW_KEY = "health.readyz_allow"
EXTRA_CHECKS_KEY = "health.extra_checks"


class CheckFailed(Exception):
    """One readiness check failed; the message says why, without any personal data."""


def init_app(app: Flask) -> None:
    """Register the health endpoints, exempt from rate limits and CSRF."""
    limiter.exempt(bp)
    csrf.exempt(bp)
    app.extensions[ALLOW_KEY] = LOOPBACK + parse_networks(app.config.get("READYZ_ALLOW"))
    app.register_blueprint(bp)


def add_check(app: Flask, name: str, check) -> None:
    """Have /readyz run `check(connection)` as check `name`, after the core's own checks.

    For the wings (the core imports none): a check raises CheckFailed saying what is wrong.
    """
    app.extensions.setdefault(EXTRA_CHECKS_KEY, {})[name] = check


def _extra_checks() -> dict:
    """Return name -> check of the checks the wings added to the current app."""
    return current_app.extensions.get(EXTRA_CHECKS_KEY, {})


def parse_networks(raw) -> tuple[IPv4Network | IPv6Network, ...]:
    """Parse "10.0.0.0/8, 2001:db8::/32" (or a list of such) into networks; raise ConfigError."""
    items = raw.split(",") if isinstance(raw, str) else list(raw or ())
    if isinstance(raw, str) and not raw.strip():
        return ()
    networks = []
    for item in items:
        try:
            networks.append(ip_network(str(item).strip(), strict=False))
        except ValueError:
            raise ConfigError(
                "LEADFORM_READYZ_ALLOW must be addresses or networks separated by commas, "
                f"e.g. 10.0.0.0/8, 2001:db8::/32; got {raw!r}"
            ) from None
    return tuple(networks)


def may_see_details(remote_addr: str | None) -> bool:
    """Whether the client at `remote_addr` is on loopback or an allowed network."""
    try:
        address = ip_address(remote_addr or "")
    except ValueError:
        return False  # no address (a Unix socket without a proxy header): tell nothing
    if address.version == 6 and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in current_app.extensions[ALLOW_KEY])


@bp.get("/healthz")
def healthz():
    """Liveness: the process is up and serving requests."""
    response = jsonify(status="ok")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/readyz")
def readyz():
    """Readiness: database reachable, migrations at head, outbox moving; 503 naming failures."""
    try:
        with db.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            checks = {
                "database": "ok",
                "migrations": _outcome(check_migrations, connection),
                "outbox": _outcome(check_outbox, connection),
            }
            checks.update(
                {name: _outcome(check, connection) for name, check in _extra_checks().items()}
            )
    except SQLAlchemyError as exc:
        # Only the exception's type: its text may quote a connection string.
        checks = {
            "database": f"unreachable ({type(exc).__name__})",
            "migrations": SKIPPED,
            "outbox": SKIPPED,
        }
        checks.update(dict.fromkeys(_extra_checks(), SKIPPED))
    failed = sorted(name for name, result in checks.items() if result not in ("ok", SKIPPED))
    if may_see_details(request.remote_addr):
        body = {"status": "fail" if failed else "ok", "checks": checks, "failed": failed}
    else:
        body = {"status": "not ready" if failed else "ok"}
    response = jsonify(body)
    # A cached answer would hide a change of state from the probe.
    response.headers["Cache-Control"] = "no-store"
    return response, 503 if failed else 200


def _outcome(check, connection) -> str:
    """Run one check; return "ok" or the reason it failed."""
    try:
        check(connection)
    except CheckFailed as exc:
        return str(exc)
    except SQLAlchemyError as exc:
        # E.g. a missing table on a database that was never migrated.
        connection.rollback()
        return f"could not be checked ({type(exc).__name__})"
    return "ok"


def script_heads() -> set[str]:
    """Return the head revisions of the migrations shipped with this code (read once)."""
    cached = current_app.extensions.get("health.script_heads")
    if cached is None:
        script = ScriptDirectory(str(current_app.config["MIGRATIONS_DIR"]))
        cached = current_app.extensions["health.script_heads"] = set(script.get_heads())
    return cached


def check_migrations(connection) -> None:
    """Fail unless the database's revisions are exactly the migrations' heads."""
    current = set(MigrationContext.configure(connection).get_current_heads())
    expected = script_heads()
    if current != expected:
        found = ", ".join(sorted(current)) or "none"
        raise CheckFailed(
            f"database at {found}, code expects {', '.join(sorted(expected))}: "
            "run `flask --app leadform db upgrade`"
        )


def check_outbox(connection) -> None:
    """Fail when a queued message is overdue by more than READY_MAX_OUTBOX_LAG_SECONDS."""
    lag = timedelta(seconds=float(current_app.config["READY_MAX_OUTBOX_LAG_SECONDS"]))
    overdue = connection.scalar(
        select(func.count())
        .select_from(OutboxMessage)
        .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at < utcnow() - lag)
    )
    if overdue:
        raise CheckFailed(
            f"{overdue} queued message(s) overdue by more than {lag.total_seconds():g} s: "
            "is the outbox worker running?"
        )
