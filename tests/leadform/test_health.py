"""The health endpoints: /healthz (alive) and /readyz (database, migrations, outbox)."""

from datetime import timedelta

import pytest
from sqlalchemy import text

from leadform import create_app
from leadform.config import ConfigError
from leadform.db import db
from leadform.models import OutboxMessage, utcnow
from tests.leadform.conftest import base_config


def queue_message(app, overdue_seconds: float) -> None:
    """Add a queued outbox message that was due `overdue_seconds` ago."""
    with app.app_context():
        db.session.add(
            OutboxMessage(
                kind="prospect_confirmation",
                payload={},
                next_attempt_at=utcnow() - timedelta(seconds=overdue_seconds),
            )
        )
        db.session.commit()


def test_healthz_says_ok(client):
    response = client.get("/healthz")
    assert (response.status_code, response.json) == (200, {"status": "ok"})


@pytest.mark.parametrize("path", ["/healthz", "/readyz"])
def test_health_answers_are_never_cached(client, path):
    assert client.get(path).headers["Cache-Control"] == "no-store"


def test_readyz_is_ok_on_a_migrated_database(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json["checks"] == {"database": "ok", "migrations": "ok", "outbox": "ok"}


def test_readyz_names_pending_migrations(tmp_path):
    app = create_app(base_config(tmp_path))  # never upgraded
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["migrations", "outbox"]
    assert "flask --app leadform db upgrade" in response.json["checks"]["migrations"]


def test_readyz_names_an_old_schema(app, client):
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'old0revision'"))
        db.session.commit()
    response = client.get("/readyz")
    assert (response.status_code, response.json["failed"]) == (503, ["migrations"])


def test_readyz_names_an_unreachable_database(tmp_path):
    missing = tmp_path / "no-such-folder" / "leadform.sqlite3"
    app = create_app(base_config(tmp_path, SQLALCHEMY_DATABASE_URI=f"sqlite:///{missing}"))
    response = app.test_client().get("/readyz")
    assert response.status_code == 503
    assert response.json["failed"] == ["database"]
    assert response.json["checks"]["database"].startswith("unreachable")


def test_readyz_reports_a_stuck_outbox(make_app):
    app = make_app(READY_MAX_OUTBOX_LAG_SECONDS=60)
    queue_message(app, overdue_seconds=120)
    response = app.test_client().get("/readyz")
    assert (response.status_code, response.json["failed"]) == (503, ["outbox"])
    assert "outbox worker" in response.json["checks"]["outbox"]


def test_readyz_tolerates_a_message_due_within_the_lag(make_app):
    app = make_app(READY_MAX_OUTBOX_LAG_SECONDS=60)
    queue_message(app, overdue_seconds=10)
    assert app.test_client().get("/readyz").status_code == 200


def test_readyz_works_on_postgresql(pg_app):
    assert pg_app().test_client().get("/readyz").status_code == 200


def test_the_lag_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADFORM_READY_MAX_OUTBOX_LAG_SECONDS", "42")
    app = create_app(base_config(tmp_path))
    assert app.config["READY_MAX_OUTBOX_LAG_SECONDS"] == 42.0


@pytest.mark.parametrize("raw", ["soon", "0", "-5"])
def test_a_bad_lag_is_refused_at_start_up(tmp_path, monkeypatch, raw):
    monkeypatch.setenv("LEADFORM_READY_MAX_OUTBOX_LAG_SECONDS", raw)
    with pytest.raises(ConfigError, match="LEADFORM_READY_MAX_OUTBOX_LAG_SECONDS"):
        create_app(base_config(tmp_path))


OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def break_schema(app) -> None:
    """Make the migrations check fail, as a database left at an old revision would."""
    with app.app_context():
        db.session.execute(text("UPDATE alembic_version SET version_num = 'old0revision'"))
        db.session.commit()


def test_readyz_tells_an_outside_address_only_ok(client):
    response = client.get("/readyz", environ_base=OUTSIDE)
    assert (response.status_code, response.json) == (200, {"status": "ok"})


def test_readyz_tells_an_outside_address_only_not_ready(app, client):
    break_schema(app)
    response = client.get("/readyz", environ_base=OUTSIDE)
    assert (response.status_code, response.json) == (503, {"status": "not ready"})
    assert "old0revision" not in response.get_data(as_text=True)


def test_readyz_trusts_the_forwarded_address_behind_a_proxy(make_app):
    app = make_app(TRUSTED_PROXIES=1)
    break_schema(app)
    response = app.test_client().get("/readyz", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.json == {"status": "not ready"}


@pytest.mark.parametrize("address", ["127.0.0.1", "127.3.4.5", "::1"])
def test_readyz_gives_loopback_the_detail(app, client, address):
    break_schema(app)
    response = client.get("/readyz", environ_base={"REMOTE_ADDR": address})
    assert response.json["failed"] == ["migrations"]


def test_readyz_gives_a_configured_network_the_detail(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADFORM_READYZ_ALLOW", "10.1.0.0/16, 2001:db8::/32")
    app = create_app(base_config(tmp_path))  # never upgraded, so not ready
    client = app.test_client()
    inside = client.get("/readyz", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert "migrations" in inside.json["failed"]
    assert "checks" in client.get("/readyz", environ_base={"REMOTE_ADDR": "2001:db8::5"}).json
    outside = client.get("/readyz", environ_base={"REMOTE_ADDR": "10.2.0.1"})
    assert outside.json == {"status": "not ready"}


@pytest.mark.parametrize("raw", ["10.1.0.0/33", "everyone", "10.1.0.0/16,,"])
def test_a_bad_readyz_network_is_refused_at_start_up(tmp_path, monkeypatch, raw):
    monkeypatch.setenv("LEADFORM_READYZ_ALLOW", raw)
    with pytest.raises(ConfigError, match="LEADFORM_READYZ_ALLOW"):
        create_app(base_config(tmp_path))
