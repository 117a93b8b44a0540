"""Structured logs: one JSON object per line, request fields, and no personal data."""

import json
import logging

import pytest

from leadform import create_app
from leadform.config import ConfigError
from tests.leadform.booking_pages import answers, open_form
from tests.leadform.conftest import base_config

PROSPECT_EMAIL = "log.prospect@example.com"


@pytest.fixture
def json_app(make_app, tmp_path):
    """An app logging JSON, on a database migrated beforehand.

    Migrating reconfigures logging (Alembic's logging.ini), so the app under test is created
    after the migration, as gunicorn creates it after `flask db upgrade` in production.
    """
    make_app()
    return create_app(base_config(tmp_path, LOG_FORMAT="json"))


def json_lines(stderr: str) -> list[dict]:
    """Our lines of stderr, parsed as JSON.

    Lines not starting with "{" come from the handler Alembic's logging.ini left on the
    root logger when an earlier test migrated a database inside this process.
    """
    return [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]


def request_lines(stderr: str) -> list[dict]:
    """The request lines among the logged JSON objects."""
    return [line for line in json_lines(stderr) if line["logger"] == "leadform.request"]


def test_a_request_is_one_json_line_with_its_fields(json_app, capsys):
    capsys.readouterr()
    json_app.test_client().get("/healthz")
    (line,) = request_lines(capsys.readouterr().err)
    assert line["method"] == "GET"
    assert (line["path"], line["status"], line["level"]) == ("/healthz", 200, "INFO")
    assert isinstance(line["duration_ms"], float)
    assert {"time", "message", "request_id"} <= line.keys()


def test_the_request_id_is_echoed_to_the_client(json_app, capsys):
    response = json_app.test_client().get("/healthz", headers={"X-Request-ID": "abc123"})
    assert response.headers["X-Request-ID"] == "abc123"
    assert request_lines(capsys.readouterr().err)[-1]["request_id"] == "abc123"


def test_an_odd_request_id_is_replaced(json_app):
    response = json_app.test_client().get("/healthz", headers={"X-Request-ID": "a b\tc"})
    assert response.headers["X-Request-ID"] != "a b\tc"


def test_query_strings_are_never_logged(json_app, capsys):
    json_app.test_client().get("/book?utm_source=newsletter-private&from=some-article")
    err = capsys.readouterr().err
    assert "newsletter-private" not in err
    assert request_lines(err)[-1]["path"] == "/book"


def test_addresses_in_unknown_paths_are_masked(json_app, capsys):
    json_app.test_client().get(f"/unsubscribe/{PROSPECT_EMAIL}")
    err = capsys.readouterr().err
    assert PROSPECT_EMAIL not in err
    assert "<address>" in request_lines(err)[-1]["path"]


def test_capability_urls_are_logged_by_their_pattern(json_app, capsys):
    json_app.test_client().get("/book/confirmed/SeCrEtToKeN123")
    err = capsys.readouterr().err
    assert "SeCrEtToKeN123" not in err
    assert request_lines(err)[-1]["path"] == "/book/confirmed/<public_id>"


def test_a_booking_logs_no_personal_data(json_app, capsys):
    client = json_app.test_client()
    page = open_form(client, "/book", environ_base={"REMOTE_ADDR": "198.51.100.23"})
    data = answers(page, email=PROSPECT_EMAIL, name="Loggable Name")
    response = client.post("/book", data=data, environ_base={"REMOTE_ADDR": "198.51.100.23"})
    assert response.status_code == 303
    err = capsys.readouterr().err
    found = [s for s in (PROSPECT_EMAIL, "Loggable Name", "198.51.100.23") if s in err]
    assert found == []


def test_a_refused_rate_limit_logs_no_address(make_app, tmp_path, capsys):
    make_app()
    app = create_app(base_config(tmp_path, LOG_FORMAT="json", RATE_LIMIT="1/hour"))
    client = app.test_client()
    for _ in range(2):
        page = open_form(client, environ_base={"REMOTE_ADDR": "198.51.100.24"})
        data = answers(page, consent=None)
        status = client.post("/book", data=data, environ_base={"REMOTE_ADDR": "198.51.100.24"})
    assert status.status_code == 429
    assert "198.51.100.24" not in capsys.readouterr().err


def test_addresses_in_messages_are_masked(json_app, capsys):
    with json_app.app_context():
        logging.getLogger("leadform.messages.outbox").warning("could not reach %s", PROSPECT_EMAIL)
    (line,) = json_lines(capsys.readouterr().err)[-1:]
    assert line["message"] == "could not reach <address>"


def test_exceptions_are_kept_on_one_line(json_app, capsys):
    try:
        raise ValueError(f"bad value for {PROSPECT_EMAIL}")
    except ValueError:
        logging.getLogger("leadform").exception("it failed")
    (line,) = json_lines(capsys.readouterr().err)[-1:]
    assert "ValueError: bad value for <address>" in line["exception"]


def test_one_handler_however_many_apps(make_app, tmp_path, capsys):
    make_app()
    for _ in range(3):
        create_app(base_config(tmp_path, LOG_FORMAT="json"))
    capsys.readouterr()
    logging.getLogger("leadform").warning("once")
    assert len(json_lines(capsys.readouterr().err)) == 1


def test_text_is_the_development_default(tmp_path):
    assert create_app(base_config(tmp_path)).config["LOG_FORMAT"] == "text"


def test_json_is_the_production_default(tmp_path):
    app = create_app(base_config(tmp_path, ENV_NAME="production", SECRET_KEY="p" * 64))
    assert app.config["LOG_FORMAT"] == "json"


def test_the_format_comes_from_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADFORM_LOG_FORMAT", "JSON")
    assert create_app(base_config(tmp_path)).config["LOG_FORMAT"] == "json"


def test_an_unknown_format_is_refused_at_start_up(tmp_path, monkeypatch):
    monkeypatch.setenv("LEADFORM_LOG_FORMAT", "xml")
    with pytest.raises(ConfigError, match="LEADFORM_LOG_FORMAT must be json or text"):
        create_app(base_config(tmp_path))
