"""Read the service's settings from LEADFORM_* environment variables (see docs/configuration.md).

`load_config` is called inside `create_app`; nothing here runs at import time.
"""

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - the known value production refuses
# Exactly these: a near miss ("Production", "prod") must not quietly run as development.
ENV_NAMES = ("development", "production")
# 32 bytes is what `secrets.token_hex(16)` gives at the least; anything shorter can be guessed
# or was typed by hand, and signs every session, manage link and CSRF token.
MIN_SECRET_BYTES = 32
# SendGrid API keys are "SG." + a 22-character id + "." + a 43-character secret, both
# URL-safe base64. The lengths are allowed some slack so a change on SendGrid's side in the
# secret's length does not stop the service; a wrong prefix, part count or character does.
SENDGRID_KEY_PATTERN = re.compile(r"SG\.[A-Za-z0-9_-]{16,32}\.[A-Za-z0-9_-]{32,64}")
MAIL_BACKENDS = ("sendgrid", "smtp", "file", "console")
LOG_FORMATS = ("json", "text")
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable and the fix."""


def _text(variable: str, raw: str) -> str:
    return raw


def _whole_number(variable: str, raw: str) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{variable} must be a whole number, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{variable} must not be negative, got {raw!r}")
    return value


def _number(variable: str, raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{variable} must be a number of seconds, got {raw!r}") from None
    if value < 0:
        raise ConfigError(f"{variable} must not be negative, got {raw!r}")
    return value


def _flag(variable: str, raw: str) -> bool:
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{variable} must be true or false (1/0, yes/no), got {raw!r}")


def _env_name(variable: str, raw: str) -> str:
    if raw not in ENV_NAMES:
        raise ConfigError(f"{variable} must be {' or '.join(ENV_NAMES)}, got {raw!r}")
    return raw


def _mail_backend(variable: str, raw: str) -> str:
    value = raw.strip().lower()
    if value not in MAIL_BACKENDS:
        raise ConfigError(f"{variable} must be one of {', '.join(MAIL_BACKENDS)}; got {raw!r}")
    return value


def _rate_limit(variable: str, raw: str) -> str:
    try:
        parse_many(raw)
    except ValueError:
        raise ConfigError(
            f"{variable} must look like '5/hour' or '10 per minute', got {raw!r}"
        ) from None
    return raw


def _positive_seconds(variable: str, raw: str) -> float:
    value = _number(variable, raw)
    if value <= 0:
        raise ConfigError(f"{variable} must be more than 0, got {raw!r}")
    return value


def _log_format(variable: str, raw: str) -> str | None:
    value = raw.strip().lower()
    if not value:
        return None  # the environment's default, chosen by leadform.logs
    if value not in LOG_FORMATS:
        raise ConfigError(f"{variable} must be json or text, got {raw!r}")
    return value


def _path(variable: str, raw: str) -> Path:
    return Path(raw).expanduser()


def _key_prefix(variable: str, raw: str) -> str | None:
    value = raw.strip()
    if not value:
        return None  # derived from PUBLIC_URL by load_config
    if any(char.isspace() for char in value):
        raise ConfigError(f"{variable} must not contain spaces, got {raw!r}")
    return value


# (environment variable suffix, config key, parser, default or a function of the instance path)
SETTINGS: list[tuple[str, str, Callable, object]] = [
    ("ENV", "ENV_NAME", _env_name, "development"),
    ("SECRET_KEY", "SECRET_KEY", _text, DEV_SECRET_KEY),
    (
        "DATABASE_URL",
        "SQLALCHEMY_DATABASE_URI",
        _text,
        lambda inst: f"sqlite:///{Path(inst) / 'leadform.sqlite3'}",
    ),
    ("MAIL_BACKEND", "MAIL_BACKEND", _mail_backend, "file"),
    ("MAIL_DIR", "MAIL_DIR", _path, lambda inst: Path(inst) / "mail"),
    ("SENDGRID_API_KEY", "SENDGRID_API_KEY", _text, None),
    ("SENDGRID_HOST", "SENDGRID_HOST", _text, "https://api.sendgrid.com"),
    ("SENDGRID_TIMEOUT", "SENDGRID_TIMEOUT", _number, 10.0),
    # Delivery events (SendGrid's signed Event Webhook) and the sending domain's DNS records.
    ("SENDGRID_EVENT_PUBLIC_KEY", "SENDGRID_EVENT_PUBLIC_KEY", _text, None),
    ("SENDGRID_EVENT_MAX_AGE_SECONDS", "SENDGRID_EVENT_MAX_AGE_SECONDS", _positive_seconds, 300.0),
    ("EMAIL_EVENTS_RATE_LIMIT", "EMAIL_EVENTS_RATE_LIMIT", _rate_limit, "600/minute"),
    ("SENDGRID_DNS_SUBDOMAIN", "SENDGRID_DNS_SUBDOMAIN", _text, ""),
    ("SENDGRID_DNS_TARGET", "SENDGRID_DNS_TARGET", _text, ""),
    ("SENDGRID_LINK_SUBDOMAIN", "SENDGRID_LINK_SUBDOMAIN", _text, ""),
    ("BOUNCE_ALERT_PERCENT", "BOUNCE_ALERT_PERCENT", _whole_number, 5),
    ("SMTP_HOST", "SMTP_HOST", _text, "127.0.0.1"),
    ("SMTP_PORT", "SMTP_PORT", _whole_number, 25),
    ("SMTP_USERNAME", "SMTP_USERNAME", _text, None),
    ("SMTP_PASSWORD", "SMTP_PASSWORD", _text, None),
    ("SMTP_STARTTLS", "SMTP_STARTTLS", _flag, False),
    ("SMTP_TIMEOUT", "SMTP_TIMEOUT", _number, 10.0),
    ("MAIL_FROM", "MAIL_FROM", _text, "Tessellate Advisory <bookings@tessellate.example>"),
    ("TEAM_EMAIL", "TEAM_EMAIL", _text, "team@tessellate.example"),
    ("PUBLIC_URL", "PUBLIC_URL", _text, "http://127.0.0.1:8000"),
    ("OUTBOX_MAX_ATTEMPTS", "OUTBOX_MAX_ATTEMPTS", _whole_number, 8),
    ("OUTBOX_BACKOFF_SECONDS", "OUTBOX_BACKOFF_SECONDS", _number, 30),
    ("OUTBOX_BATCH_SIZE", "OUTBOX_BATCH_SIZE", _whole_number, 20),
    ("OUTBOX_POLL_SECONDS", "OUTBOX_POLL_SECONDS", _number, 2.0),
    ("OUTBOX_LEASE_SECONDS", "OUTBOX_LEASE_SECONDS", _number, 120),
    ("RATE_LIMIT", "RATE_LIMIT", _rate_limit, "5/hour"),
    ("RATE_LIMIT_STORAGE_URL", "RATELIMIT_STORAGE_URI", _text, "memory://"),
    ("RATE_LIMIT_KEY_PREFIX", "RATE_LIMIT_KEY_PREFIX", _key_prefix, None),
    ("MIN_FILL_SECONDS", "MIN_FILL_SECONDS", _number, 3),
    ("FORM_MAX_AGE_HOURS", "FORM_MAX_AGE_HOURS", _number, 12.0),
    ("RATE_LIMIT_NETWORK", "RATE_LIMIT_NETWORK", _rate_limit, "10/hour"),
    ("RATE_LIMIT_EMAIL", "RATE_LIMIT_EMAIL", _rate_limit, "3/day"),
    ("RATE_LIMIT_EMAIL_DOMAIN", "RATE_LIMIT_EMAIL_DOMAIN", _rate_limit, "20/hour"),
    ("SURGE_BOOKINGS_PER_HOUR", "SURGE_BOOKINGS_PER_HOUR", _whole_number, 6),
    ("SURGE_HOLD_MINUTES", "SURGE_HOLD_MINUTES", _number, 30.0),
    ("SURGE_MAX_HOLDS", "SURGE_MAX_HOLDS", _whole_number, 6),
    ("SURGE_NOTICE_HOURS", "SURGE_NOTICE_HOURS", _number, 6.0),
    # None: CONTENT_DIR/readiness.toml, and no check at all when that file does not exist.
    ("READINESS_FILE", "READINESS_FILE", _path, None),
    ("READINESS_RATE_LIMIT", "READINESS_RATE_LIMIT", _rate_limit, "30/hour"),
    ("READINESS_EMAIL_RATE_LIMIT", "READINESS_EMAIL_RATE_LIMIT", _rate_limit, "5/hour"),
    # None: take the firm's policy from site.toml's [session] (see apply_site_policies).
    ("MANAGE_CUTOFF_HOURS", "MANAGE_CUTOFF_HOURS", _whole_number, None),
    ("MAX_MOVES", "MAX_MOVES", _whole_number, None),
    ("RETENTION_DAYS", "RETENTION_DAYS", _whole_number, 730),
    # The newsletter (leadform/newsletter): signups, expiry, digest, send rate.
    ("NEWSLETTER_CONFIRM_HOURS", "NEWSLETTER_CONFIRM_HOURS", _positive_seconds, 72.0),
    ("NEWSLETTER_DIGEST", "NEWSLETTER_DIGEST", _flag, False),
    ("NEWSLETTER_PER_MINUTE", "NEWSLETTER_PER_MINUTE", _whole_number, 60),
    ("NEWSLETTER_RATE_LIMIT", "NEWSLETTER_RATE_LIMIT", _rate_limit, "10/hour"),
    ("NEWSLETTER_EMAIL_RATE_LIMIT", "NEWSLETTER_EMAIL_RATE_LIMIT", _rate_limit, "3/day"),
    ("ADMIN_SESSION_HOURS", "ADMIN_SESSION_HOURS", _number, 8.0),
    ("LOGIN_RATE_LIMIT", "LOGIN_RATE_LIMIT", _rate_limit, "5/minute;20/hour"),
    ("TRUSTED_PROXIES", "TRUSTED_PROXIES", _whole_number, 0),
    ("SITE_FILE", "SITE_FILE", _path, REPO_ROOT / "site.toml"),
    ("THEME_DIR", "THEME_DIR", _path, REPO_ROOT / "theme"),
    ("SITE_DIR", "SITE_DIR", _path, None),
    ("WEBHOOK_URL", "WEBHOOK_URL", _text, ""),
    ("WEBHOOK_SECRET", "WEBHOOK_SECRET", _text, None),
    ("WEBHOOK_TIMEOUT", "WEBHOOK_TIMEOUT", _number, 5.0),
    ("CONTENT_DIR", "CONTENT_DIR", _path, REPO_ROOT / "content"),
    ("LOG_FORMAT", "LOG_FORMAT", _log_format, None),
    ("READY_MAX_OUTBOX_LAG_SECONDS", "READY_MAX_OUTBOX_LAG_SECONDS", _positive_seconds, 900.0),
    ("READYZ_ALLOW", "READYZ_ALLOW", _text, ""),  # networks; parsed by leadform.health
    ("VISIT_FLUSH_SECONDS", "VISIT_FLUSH_SECONDS", _number, 5.0),
    ("CALENDAR_SYNC_TIMEOUT", "CALENDAR_SYNC_TIMEOUT", _positive_seconds, 15.0),
    ("CALENDAR_LIVE_TIMEOUT", "CALENDAR_LIVE_TIMEOUT", _positive_seconds, 3.0),
    ("CALENDAR_MAX_STALE_MINUTES", "CALENDAR_MAX_STALE_MINUTES", _whole_number, 60),
    ("CALENDAR_WHEN_STALE", "CALENDAR_WHEN_STALE", _text, "hide"),  # checked by leadform.calendars
    # How often `make run` syncs the calendars (the systemd timer has its own), and how long a
    # calendar may fail before /readyz says so.
    ("CALENDAR_SYNC_SECONDS", "CALENDAR_SYNC_SECONDS", _positive_seconds, 300.0),
    (
        "READY_MAX_CALENDAR_FAILING_MINUTES",
        "READY_MAX_CALENDAR_FAILING_MINUTES",
        _whole_number,
        120,
    ),
]
# Calendar passwords and secret feed addresses: site.toml names the variable, never the value.
CALENDAR_SECRET_PREFIX = "LEADFORM_CALENDAR_SECRET_"  # noqa: S105 - a name prefix, no secret
PREFIX = "LEADFORM_"


def load_config(environ: Mapping[str, str], instance_path: str) -> dict:
    """Return the app's settings from `environ`, defaults filled in; raise ConfigError."""
    config = {
        # Test a pooled connection before each use, so the service recovers by itself after
        # a database restart; keep query parameters (prospects' answers) out of errors/logs.
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    }
    for suffix, key, parse, default in SETTINGS:
        variable = PREFIX + suffix
        raw = environ.get(variable)
        if raw is not None:
            config[key] = parse(variable, raw)
        else:
            config[key] = default(instance_path) if callable(default) else default
    if config["RATE_LIMIT_KEY_PREFIX"] is None:
        config["RATE_LIMIT_KEY_PREFIX"] = deployment_key_prefix(config["PUBLIC_URL"])
    config["CALENDAR_SECRETS"] = {
        name: value for name, value in environ.items() if name.startswith(CALENDAR_SECRET_PREFIX)
    }
    return config


def deployment_key_prefix(public_url: str) -> str:
    """Return the default Redis key prefix: "leadform:" and the public address's host[:port].

    Two deployments sharing one Redis (production and staging, or two sites) have different
    public addresses, so by default they never count each other's requests.
    """
    parts = urlsplit(public_url.strip())
    host = (parts.hostname or "localhost").lower()
    try:
        port = parts.port
    except ValueError:
        raise ConfigError(f"LEADFORM_PUBLIC_URL has a malformed port: {public_url!r}") from None
    return f"leadform:{host}:{port}" if port else f"leadform:{host}"


def check_production(config: Mapping) -> None:
    """Refuse to start in production with development secrets or a half-configured mailer."""
    if config.get("ENV_NAME") != "production":
        return
    check_secret_key(config.get("SECRET_KEY"))
    if config.get("MAIL_BACKEND") == "sendgrid" and not config.get("SENDGRID_API_KEY"):
        raise ConfigError(
            "LEADFORM_SENDGRID_API_KEY is required when LEADFORM_MAIL_BACKEND=sendgrid"
        )
    check_sendgrid_key(config.get("SENDGRID_API_KEY"))


def check_secret_key(secret: str | None) -> None:
    """Refuse a production secret key that is missing, short or derived from the public one."""
    # The messages never quote the value: it is a secret even when it is a bad one.
    advice = "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
    if not secret or DEV_SECRET_KEY in secret:
        raise ConfigError(
            f"LEADFORM_SECRET_KEY must be set to a long random value in production, not the "
            f"public development key {advice}"
        )
    if len(secret.encode("utf-8")) < MIN_SECRET_BYTES:
        raise ConfigError(
            f"LEADFORM_SECRET_KEY must be at least {MIN_SECRET_BYTES} bytes in production, "
            f"got {len(secret.encode('utf-8'))} {advice}"
        )


def check_sendgrid_key(key: str | None) -> None:
    """Refuse a SendGrid API key that is set but not shaped like one (SG.<id>.<secret>)."""
    if key and not SENDGRID_KEY_PATTERN.fullmatch(key):
        raise ConfigError(
            "LEADFORM_SENDGRID_API_KEY does not look like a SendGrid API key: expected "
            "SG.<22 characters>.<43 characters> of letters, digits, '-' and '_', nothing "
            "around it (copy it again from SendGrid's API Keys page)"
        )


def check_webhook(config: Mapping) -> None:
    """Refuse a webhook URL without a signing secret, or one that is not http(s)."""
    url = config.get("WEBHOOK_URL")
    if not url:
        return
    if not url.lower().startswith(("http://", "https://")):
        raise ConfigError(f"LEADFORM_WEBHOOK_URL must start with http:// or https://, got {url!r}")
    if not config.get("WEBHOOK_SECRET"):
        raise ConfigError(
            "LEADFORM_WEBHOOK_SECRET is required when LEADFORM_WEBHOOK_URL is set "
            "(the receiver checks each call's signature with it; "
            "e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )


# Booking policies that prose on the site states too: site.toml is their one source, and an
# environment variable (LEADFORM_<KEY>) may override one deployment. Key -> ([session] key,
# value when site.toml has none).
SITE_POLICIES = {
    "MANAGE_CUTOFF_HOURS": ("change_cutoff_hours", 12),
    "MAX_MOVES": ("max_moves", 2),
}


def apply_site_policies(config: dict, site: Mapping) -> None:
    """Fill the booking policies not set in the environment from site.toml's [session]."""
    session = site.get("session", {})
    for key, (name, fallback) in SITE_POLICIES.items():
        if config.get(key) is None:
            value = session.get(name, fallback)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(
                    f"site.toml [session] {name} must be a whole number, got {value!r}"
                )
            config[key] = value


def validate_types(config: Mapping) -> None:
    """Check values that arrive through test_config the way the parsers check the environment."""
    if config.get("ENV_NAME") not in ENV_NAMES:
        raise ConfigError(
            f"ENV_NAME must be {' or '.join(ENV_NAMES)}, got {config.get('ENV_NAME')!r}"
        )
    if config.get("MAIL_BACKEND") not in MAIL_BACKENDS:
        raise ConfigError(
            f"MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}; "
            f"got {config.get('MAIL_BACKEND')!r}"
        )
    for key in ("TRUSTED_PROXIES", "SMTP_PORT", "OUTBOX_MAX_ATTEMPTS", "OUTBOX_BATCH_SIZE"):
        value = config.get(key)
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{key} must be a whole number, got {value!r}")
    check_webhook(config)
