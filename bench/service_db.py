"""Throw-away databases for bench/service.py: a SQLite file or a fresh PostgreSQL database.

Each is migrated with the real `flask --app leadform db upgrade` and removed by `drop()`;
PostgreSQL databases get a random name, so a crashed run never reuses another's data.
"""

import secrets
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from bench.service_procs import BIN, ROOT, BenchError

POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"


class BenchDatabase:
    """One database for one measurement; `url` is what LEADFORM_DATABASE_URL gets."""

    def __init__(self, kind: str, tmp_dir: Path):
        self.kind = kind
        if kind == "sqlite":
            self.name = f"bench-{secrets.token_hex(4)}.sqlite3"
            self.url = f"sqlite:///{tmp_dir / self.name}"
        elif kind == "postgres":
            self.name = f"leadform_bench_{secrets.token_hex(6)}"
            self.url = f"{POSTGRES_SERVER}/{self.name}"
        else:
            raise BenchError(f"unknown database kind {kind!r} (sqlite or postgres)")
        self._engine: Engine | None = None
        self._created = False

    def create(self, env: dict) -> "BenchDatabase":
        """Create the database and bring its schema to the migrations' head."""
        if self.kind == "postgres":
            _postgres_admin(f'CREATE DATABASE "{self.name}"')
        self._created = True
        result = subprocess.run(
            [str(BIN / "flask"), "--app", "leadform", "db", "upgrade"],
            cwd=ROOT,
            env={**env, "LEADFORM_DATABASE_URL": self.url},
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise BenchError(f"migrating {self.kind} failed:\n{result.stderr[-2000:]}")
        return self

    @property
    def engine(self) -> Engine:
        """A small engine of the benchmark's own, for counting rows."""
        if self._engine is None:
            self._engine = create_engine(self.url, pool_size=1)
        return self._engine

    def scalar(self, sql: str):
        """Return the single value of a read-only query."""
        with self.engine.connect() as connection:
            return connection.execute(text(sql)).scalar()

    def execute(self, sql: str, **params) -> None:
        """Run one statement and commit it."""
        with self.engine.begin() as connection:
            connection.execute(text(sql), params)

    def drop(self) -> None:
        """Remove the database (the SQLite file goes with the temporary folder)."""
        if self._engine is not None:
            self._engine.dispose()
        if self.kind == "postgres" and self._created:
            _postgres_admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


def _postgres_admin(statement: str) -> None:
    """Run CREATE/DROP DATABASE, which cannot run inside a transaction."""
    engine = create_engine(f"{POSTGRES_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def postgres_available() -> bool:
    """Tell whether the local PostgreSQL server accepts connections."""
    try:
        _postgres_admin("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means "skip the PostgreSQL runs"
        return False
    return True
