"""The Alembic migrations build exactly the schema models.py describes."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from leadform.db import db

ROOT = Path(__file__).resolve().parents[2]


def schema_differences(app) -> list:
    """Return what autogenerate would still add or change after `flask db upgrade`."""
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        return compare_metadata(context, db.metadata)


def test_migrations_match_the_models_on_sqlite(app):
    assert schema_differences(app) == []


@pytest.mark.postgres
def test_migrations_match_the_models_on_postgresql(pg_app):
    assert schema_differences(pg_app()) == []


def test_flask_db_upgrade_builds_a_fresh_sqlite_file(tmp_path):
    database = tmp_path / "fresh.sqlite3"
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEADFORM_")}
    env["LEADFORM_DATABASE_URL"] = f"sqlite:///{database}"
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "leadform", "db", "upgrade"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
    assert {"bookings", "outbox_messages", "delivery_attempts", "alembic_version"} <= tables
    assert "uq_bookings_active_slot" in tables
