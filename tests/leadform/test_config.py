"""Configuration: defaults, LEADFORM_* overrides, bad values and the production checks."""

from pathlib import Path

import pytest
from flask import request

from leadform import create_app
from leadform.config import DEV_SECRET_KEY, ConfigError, load_config
from leadform.sitefacts import SiteFactsError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_follow_the_contract(tmp_path):
    config = load_config({}, str(tmp_path))
    assert config["ENV_NAME"] == "development"
    assert config["SECRET_KEY"] == DEV_SECRET_KEY
    assert config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'leadform.sqlite3'}"
    assert config["MAIL_BACKEND"] == "file"
    assert config["MAIL_DIR"] == tmp_path / "mail"
    assert config["SMTP_PORT"] == 25
    assert config["SMTP_STARTTLS"] is False
    assert config["RATE_LIMIT"] == "5/hour"
    assert config["RATELIMIT_STORAGE_URI"] == "memory://"
    assert config["MIN_FILL_SECONDS"] == 3
    assert config["TRUSTED_PROXIES"] == 0
    assert config["SITE_FILE"] == ROOT / "site.toml"
    assert config["THEME_DIR"] == ROOT / "theme"
    assert config["SITE_DIR"] is None


@pytest.mark.parametrize(
    ("variable", "raw", "key", "expected"),
    [
        (
            "LEADFORM_DATABASE_URL",
            "postgresql+psycopg://u@h/db",
            "SQLALCHEMY_DATABASE_URI",
            "postgresql+psycopg://u@h/db",
        ),
        ("LEADFORM_MAIL_BACKEND", "SMTP", "MAIL_BACKEND", "smtp"),
        ("LEADFORM_SMTP_PORT", "2525", "SMTP_PORT", 2525),
        ("LEADFORM_SMTP_STARTTLS", "yes", "SMTP_STARTTLS", True),
        ("LEADFORM_SENDGRID_TIMEOUT", "2.5", "SENDGRID_TIMEOUT", 2.5),
        ("LEADFORM_RATE_LIMIT", "10 per minute", "RATE_LIMIT", "10 per minute"),
        (
            "LEADFORM_RATE_LIMIT_STORAGE_URL",
            "redis://127.0.0.1:6379/0",
            "RATELIMIT_STORAGE_URI",
            "redis://127.0.0.1:6379/0",
        ),
        ("LEADFORM_TRUSTED_PROXIES", "1", "TRUSTED_PROXIES", 1),
        ("LEADFORM_SITE_DIR", "/srv/site", "SITE_DIR", Path("/srv/site")),
    ],
)
def test_environment_overrides_a_default(tmp_path, variable, raw, key, expected):
    assert load_config({variable: raw}, str(tmp_path))[key] == expected


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("LEADFORM_SMTP_PORT", "abc", "LEADFORM_SMTP_PORT must be a whole number, got 'abc'"),
        ("LEADFORM_TRUSTED_PROXIES", "-1", "LEADFORM_TRUSTED_PROXIES must not be negative"),
        ("LEADFORM_SMTP_STARTTLS", "maybe", "LEADFORM_SMTP_STARTTLS must be true or false"),
        ("LEADFORM_MAIL_BACKEND", "pigeon", "LEADFORM_MAIL_BACKEND must be one of"),
        ("LEADFORM_MIN_FILL_SECONDS", "soon", "LEADFORM_MIN_FILL_SECONDS must be a number"),
        ("LEADFORM_RATE_LIMIT", "lots", "LEADFORM_RATE_LIMIT must look like '5/hour'"),
    ],
)
def test_bad_value_names_the_variable(tmp_path, variable, raw, message):
    with pytest.raises(ConfigError, match=message):
        load_config({variable: raw}, str(tmp_path))


def test_create_app_reads_the_environment(monkeypatch, tmp_path):
    database = tmp_path / "from-env.sqlite3"
    monkeypatch.setenv("LEADFORM_DATABASE_URL", f"sqlite:///{database}")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{database}"
    assert app.config["SITE"]["firm"]["name"] == "Tessellate Advisory"


def test_test_config_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("LEADFORM_MIN_FILL_SECONDS", "9")
    assert create_app({"MIN_FILL_SECONDS": 0}).config["MIN_FILL_SECONDS"] == 0


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    with pytest.raises(ConfigError, match="LEADFORM_SECRET_KEY"):
        create_app()


def test_production_needs_a_sendgrid_key_for_sendgrid(monkeypatch):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    monkeypatch.setenv("LEADFORM_SECRET_KEY", "a-long-random-production-value")
    monkeypatch.setenv("LEADFORM_MAIL_BACKEND", "sendgrid")
    with pytest.raises(ConfigError, match="LEADFORM_SENDGRID_API_KEY"):
        create_app()


def test_production_starts_when_configured(monkeypatch):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    monkeypatch.setenv("LEADFORM_SECRET_KEY", "a-long-random-production-value")
    monkeypatch.setenv("LEADFORM_MAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("LEADFORM_SENDGRID_API_KEY", "SG.key")
    assert create_app().config["ENV_NAME"] == "production"


def test_missing_site_file_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("LEADFORM_SITE_FILE", str(tmp_path / "nowhere.toml"))
    with pytest.raises(SiteFactsError, match="nowhere.toml: file not found"):
        create_app()


def test_broken_site_file_is_a_clear_error(monkeypatch, tmp_path):
    broken = tmp_path / "site.toml"
    broken.write_text("[firm\nname = 1\n")
    monkeypatch.setenv("LEADFORM_SITE_FILE", str(broken))
    with pytest.raises(SiteFactsError, match="not valid TOML"):
        create_app()


@pytest.mark.parametrize(("proxies", "expected"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_forwarded_for_counts_only_behind_trusted_proxies(make_app, proxies, expected):
    # The client address keys the rate limit: without a real proxy, a spoofed header must
    # not change it.
    app = make_app(TRUSTED_PROXIES=proxies)
    seen = {}

    @app.get("/_whoami")
    def whoami():
        seen["addr"] = request.remote_addr
        return ""

    app.test_client().get("/_whoami", headers={"X-Forwarded-For": "203.0.113.9"})
    assert seen["addr"] == expected
