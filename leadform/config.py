"""Read the service's settings from LEADFORM_* environment variables (see docs/configuration.md).

`load_config` is called inside `create_app`; nothing here runs at import time.
"""

from collections.abc import Callable, Mapping
from pathlib import Path

from limits import parse_many

REPO_ROOT = Path(__file__).resolve().parent.parent
DEV_SECRET_KEY = "dev-only-not-secret"  # noqa: S105 - the known value production refuses
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


# (environment variable suffix, config key, parser, default or a function of the instance path)
SETTINGS: list[tuple[str, str, Callable, object]] = [
    ("ENV", "ENV_NAME", _text, "development"),
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
    ("MIN_FILL_SECONDS", "MIN_FILL_SECONDS", _number, 3),
    ("MANAGE_CUTOFF_HOURS", "MANAGE_CUTOFF_HOURS", _whole_number, 12),
    ("MAX_MOVES", "MAX_MOVES", _whole_number, 2),
    ("RETENTION_DAYS", "RETENTION_DAYS", _whole_number, 730),
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
    ("VISIT_FLUSH_SECONDS", "VISIT_FLUSH_SECONDS", _number, 5.0),
]
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
    return config


def check_production(config: Mapping) -> None:
    """Refuse to start in production with development secrets or a half-configured mailer."""
    if config.get("ENV_NAME") != "production":
        return
    if not config.get("SECRET_KEY") or config["SECRET_KEY"] == DEV_SECRET_KEY:
        raise ConfigError(
            "LEADFORM_SECRET_KEY must be set to a long random value in production "
            "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
        )
    if config.get("MAIL_BACKEND") == "sendgrid" and not config.get("SENDGRID_API_KEY"):
        raise ConfigError(
            "LEADFORM_SENDGRID_API_KEY is required when LEADFORM_MAIL_BACKEND=sendgrid"
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


def validate_types(config: Mapping) -> None:
    """Check values that arrive through test_config the way the parsers check the environment."""
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
