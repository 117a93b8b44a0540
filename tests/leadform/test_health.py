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
