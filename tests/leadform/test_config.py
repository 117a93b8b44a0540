"""Configuration: defaults, LEADFORM_* overrides, bad values and the production checks."""

import secrets
from pathlib import Path

import pytest
import redis
from flask import request

from leadform import create_app
from leadform.config import DEV_SECRET_KEY, ConfigError, load_config
from leadform.sitefacts import SiteFactsError, load_site
from tests.conftest import require_redis_url

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION_SECRET = "0123456789abcdef" * 4  # noqa: S105 - a test value
# The shape of a real SendGrid key (SG.<22>.<43>, URL-safe base64); not a real key.
SENDGRID_KEY = "SG.abcdefghij_KLMNOP-0123." + "Q" * 20 + "rstuvwxyz_-0123456789AB"


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
        ("LEADFORM_RATE_LIMIT_KEY_PREFIX", "two words", "must not contain spaces"),
        ("LEADFORM_PUBLIC_URL", "https://www.tessellate.example:https", "malformed port"),
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
    # No LEADFORM_SITE_FILE: the repository's own site.toml, whatever editors wrote in it.
    assert app.config["SITE"] == load_site(ROOT / "site.toml")


def test_test_config_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("LEADFORM_MIN_FILL_SECONDS", "9")
    assert create_app({"MIN_FILL_SECONDS": 0}).config["MIN_FILL_SECONDS"] == 0


def test_production_refuses_the_development_secret(monkeypatch):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    with pytest.raises(ConfigError, match="LEADFORM_SECRET_KEY"):
        create_app()


def test_production_needs_a_sendgrid_key_for_sendgrid(monkeypatch):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    monkeypatch.setenv("LEADFORM_SECRET_KEY", PRODUCTION_SECRET)
    monkeypatch.setenv("LEADFORM_MAIL_BACKEND", "sendgrid")
    with pytest.raises(ConfigError, match="LEADFORM_SENDGRID_API_KEY"):
        create_app()


def test_production_starts_when_configured(monkeypatch):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    monkeypatch.setenv("LEADFORM_SECRET_KEY", PRODUCTION_SECRET)
    monkeypatch.setenv("LEADFORM_MAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("LEADFORM_SENDGRID_API_KEY", SENDGRID_KEY)
    assert create_app().config["ENV_NAME"] == "production"


# --- near misses: the environment's name, short secrets, malformed SendGrid keys -------------


@pytest.mark.parametrize("name", ["development", "production"])
def test_the_documented_environments_are_accepted(tmp_path, name):
    assert load_config({"LEADFORM_ENV": name}, str(tmp_path))["ENV_NAME"] == name


@pytest.mark.parametrize("name", ["Production", "prod", "PRODUCTION", " production", "staging", ""])
def test_any_other_environment_is_refused_naming_the_accepted_values(tmp_path, name):
    # A near miss used to run as development: the public key and no Secure cookies.
    with pytest.raises(ConfigError) as info:
        load_config({"LEADFORM_ENV": name}, str(tmp_path))
    assert "LEADFORM_ENV must be development or production" in str(info.value)
    assert repr(name) in str(info.value)


def test_an_unknown_environment_from_test_config_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="ENV_NAME must be development or production"):
        create_app({"ENV_NAME": "prod"})


@pytest.mark.parametrize(
    "secret",
    [" ", "a", "x" * 31, "é" * 15, DEV_SECRET_KEY, DEV_SECRET_KEY + "0" * 32],
)
def test_production_refuses_a_short_or_development_secret(monkeypatch, secret):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    monkeypatch.setenv("LEADFORM_SECRET_KEY", secret)
    with pytest.raises(ConfigError, match="LEADFORM_SECRET_KEY") as info:
        create_app()
    assert "32 bytes" in str(info.value) or "development" in str(info.value)
    assert len(secret) < 8 or secret not in str(info.value)  # never echo a secret


def test_production_accepts_a_secret_of_32_bytes(monkeypatch):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    monkeypatch.setenv("LEADFORM_SECRET_KEY", "é" * 16)  # 16 characters, 32 bytes of UTF-8
    assert create_app().config["ENV_NAME"] == "production"


@pytest.mark.parametrize(
    "key",
    [
        "SG.key",
        "sg." + SENDGRID_KEY[3:],
        SENDGRID_KEY[3:],
        SENDGRID_KEY.replace(".", "", 2),
        SENDGRID_KEY + ".extra",
        SENDGRID_KEY.replace("_", "+"),
        SENDGRID_KEY[:-20],
        SENDGRID_KEY + " ",
        "Bearer " + SENDGRID_KEY,
    ],
)
def test_production_refuses_a_sendgrid_key_in_another_format(monkeypatch, key):
    monkeypatch.setenv("LEADFORM_ENV", "production")
    monkeypatch.setenv("LEADFORM_SECRET_KEY", PRODUCTION_SECRET)
    monkeypatch.setenv("LEADFORM_MAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("LEADFORM_SENDGRID_API_KEY", key)
    with pytest.raises(ConfigError, match="LEADFORM_SENDGRID_API_KEY") as info:
        create_app()
    assert "SG." in str(info.value)
    assert key not in str(info.value)  # never echo a secret


def test_development_takes_any_sendgrid_key(monkeypatch):
    # Tests point the SendGrid backend at a local server with a made-up key.
    monkeypatch.setenv("LEADFORM_MAIL_BACKEND", "sendgrid")
    monkeypatch.setenv("LEADFORM_SENDGRID_API_KEY", "test-key")
    assert create_app().config["SENDGRID_API_KEY"] == "test-key"


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


# --- the rate limit's Redis keys: one prefix per deployment ---------------------------------


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({}, "leadform:127.0.0.1:8000"),
        (
            {"LEADFORM_PUBLIC_URL": "https://www.tessellate.example"},
            "leadform:www.tessellate.example",
        ),
        (
            {"LEADFORM_PUBLIC_URL": "https://Staging.Tessellate.example/"},
            "leadform:staging.tessellate.example",
        ),
        (
            {"LEADFORM_PUBLIC_URL": "https://a.example", "LEADFORM_RATE_LIMIT_KEY_PREFIX": "siteB"},
            "siteB",
        ),
        (
            {"LEADFORM_PUBLIC_URL": "https://a.example", "LEADFORM_RATE_LIMIT_KEY_PREFIX": " "},
            "leadform:a.example",
        ),
    ],
)
def test_rate_limit_key_prefix_defaults_to_the_public_address(tmp_path, environ, expected):
    assert load_config(environ, str(tmp_path))["RATE_LIMIT_KEY_PREFIX"] == expected


@pytest.mark.redis
def test_deployments_sharing_one_redis_count_apart(make_app):
    url = require_redis_url()
    run = secrets.token_hex(4)
    # A fresh client address per run keeps earlier runs' counts (kept an hour) out of it.
    address = {"REMOTE_ADDR": f"2001:db8:{secrets.token_hex(2)}:{secrets.token_hex(2)}::1"}
    prefixes = (f"leadform:production-{run}", f"leadform:staging-{run}")
    statuses = []
    for prefix in prefixes:
        app = make_app(
            RATE_LIMIT="1/hour",
            RATELIMIT_STORAGE_URI=url,
            RATE_LIMIT_KEY_PREFIX=prefix,
            WTF_CSRF_ENABLED=False,
        )
        client = app.test_client()
        statuses.append(
            [client.post("/book", environ_base=address).status_code == 429 for _ in "ab"]
        )
    store = redis.Redis.from_url(url)
    keys = {prefix: list(store.scan_iter(match=f"{prefix}:*")) for prefix in prefixes}
    for found in keys.values():
        if found:
            store.delete(*found)
    # Each deployment's second POST is over its own limit; the first is never over the other's.
    assert statuses == [[False, True], [False, True]]
    assert all(keys.values()), keys


def site_with_session(tmp_path, session: str) -> Path:
    """A copy of the tests' site.toml with a [session] table."""
    fixture = Path(__file__).parent / "fixtures" / "site.toml"
    site = tmp_path / "site.toml"
    site.write_text(fixture.read_text() + "\n[session]\n" + session)
    return site


def test_booking_policies_come_from_site_toml(tmp_path):
    site = site_with_session(tmp_path, "change_cutoff_hours = 5\nmax_moves = 7\n")

    app = create_app({"SECRET_KEY": "x" * 40, "SITE_FILE": site})

    assert (app.config["MANAGE_CUTOFF_HOURS"], app.config["MAX_MOVES"]) == (5, 7)


def test_the_environment_overrides_a_site_policy(tmp_path, monkeypatch):
    site = site_with_session(tmp_path, "change_cutoff_hours = 5\nmax_moves = 7\n")
    monkeypatch.setenv("LEADFORM_MANAGE_CUTOFF_HOURS", "48")

    app = create_app({"SECRET_KEY": "x" * 40, "SITE_FILE": site})

    assert (app.config["MANAGE_CUTOFF_HOURS"], app.config["MAX_MOVES"]) == (48, 7)


def test_a_site_without_session_policies_keeps_the_defaults(tmp_path):
    site = site_with_session(tmp_path, "")

    app = create_app({"SECRET_KEY": "x" * 40, "SITE_FILE": site})

    assert (app.config["MANAGE_CUTOFF_HOURS"], app.config["MAX_MOVES"]) == (12, 2)


def test_a_bad_site_policy_stops_start_up(tmp_path):
    site = site_with_session(tmp_path, 'change_cutoff_hours = "soon"\n')

    with pytest.raises(ConfigError, match="change_cutoff_hours"):
        create_app({"SECRET_KEY": "x" * 40, "SITE_FILE": site})
