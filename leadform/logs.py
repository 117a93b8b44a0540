"""Structured logs for the web app and the outbox worker: one line per event on stderr.

LEADFORM_LOG_FORMAT picks `json` (one JSON object per line, for log collectors; the default
in production) or `text` (for people; the default elsewhere). Request lines carry a request
id, the method, the path, the status and the duration, and never personal data: no client
address, no query string (it holds utm_* and referrers), no form field. Routes whose URL is
a capability (e.g. /book/confirmed/<public_id>) are logged by their pattern, not the token.
Addresses inside any message or traceback are masked as a last guard.
"""

import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime

from flask import Flask, g, has_request_context, request
from flask.logging import default_handler

HANDLER_NAME = "leadform"
REQUEST_LOGGER = "leadform.request"
# Request attributes copied into a JSON line when a record carries them.
REQUEST_FIELDS = ("request_id", "method", "path", "status", "duration_ms")
# Endpoints whose real path is harmless and more useful than the route pattern.
LITERAL_PATH_ENDPOINTS = {"static", "static_site.page"}
REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
MAX_PATH_CHARS = 200
# Anything shaped like an email address, wherever it appears in a line.
ADDRESS_RE = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


def init_app(app: Flask) -> None:
    """Send every log line to stderr in the configured format and log each request once."""
    if app.config.get("LOG_FORMAT") is None:
        # Log collectors in production parse JSON; people reading a terminal prefer text.
        app.config["LOG_FORMAT"] = "json" if app.config["ENV_NAME"] == "production" else "text"
    configure_logging(app.config["LOG_FORMAT"])
    # Our handler on the root logger prints app.logger's lines; Flask's would print them twice.
    app.logger.removeHandler(default_handler)
    app.before_request(_start_request)
    app.after_request(_log_request)


class StderrHandler(logging.StreamHandler):
    """A stream handler that always writes to the current sys.stderr.

    Looking it up at each write keeps lines flowing when something (a test runner, a
    daemoniser) swaps sys.stderr after the app was created.
    """

    def __init__(self):
        super().__init__(sys.stderr)
        self.set_name(HANDLER_NAME)

    @property
    def stream(self):
        """The process's stderr at the time of writing."""
        return sys.stderr

    @stream.setter
    def stream(self, _value):
        pass


class RequestContextFilter(logging.Filter):
    """Add the current request's id to every record logged while a request is served."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Attach `request_id` ("-" outside a request); never drops a record."""
        if not hasattr(record, "request_id"):
            record.request_id = g.get("request_id", "-") if has_request_context() else "-"
        return True


class JsonFormatter(logging.Formatter):
    """Format a record as one JSON object: time, level, logger, message and request fields."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as a single line of JSON, addresses masked."""
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": _clean(record.getMessage(), limit=2000),
        }
        for field in REQUEST_FIELDS:
            value = getattr(record, field, None)
            if value is not None and value != "-":
                entry[field] = _clean(value, limit=500) if isinstance(value, str) else value
        if record.exc_info:
            entry["exception"] = _clean(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """The human-readable format, with the same masking as the JSON one."""

    def __init__(self):
        super().__init__(TEXT_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as text, addresses masked."""
        return _clean(super().format(record))


def _clean(text: str, limit: int = 8000) -> str:
    """Mask email addresses and cut overlong text (the last guard against personal data)."""
    return ADDRESS_RE.sub("<address>", text)[:limit]


def configure_logging(log_format: str) -> None:
    """Install (or replace) our one stderr handler on the root logger.

    Third-party loggers stay at WARNING; our own (`leadform.*`, and app.logger, which is
    named `leadform`) log from INFO. Calling this again, as every create_app does, swaps the
    handler instead of adding a second one.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if handler.get_name() == HANDLER_NAME:
            root.removeHandler(handler)
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    handler.addFilter(RequestContextFilter())
    root.addHandler(handler)
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
    logging.getLogger("leadform").setLevel(logging.INFO)


def _start_request() -> None:
    """Note when the request started and which id it carries."""
    g.request_started = time.perf_counter()
    incoming = request.headers.get("X-Request-ID", "")
    # A proxy's id ties our line to its access log; anything odd is replaced, not trusted.
    g.request_id = incoming if REQUEST_ID_RE.match(incoming) else secrets.token_hex(8)


def _log_request(response):
    """Log one line per request and echo the request id to the client."""
    started = g.get("request_started")
    duration = round((time.perf_counter() - started) * 1000, 1) if started else None
    path, status = loggable_path(), response.status_code
    # A server-side failure stands out in the log; a client's mistake does not.
    level = logging.WARNING if status >= 500 else logging.INFO
    logging.getLogger(REQUEST_LOGGER).log(
        level,
        "%s %s %s",
        request.method,
        path,
        status,
        extra={"method": request.method, "path": path, "status": status, "duration_ms": duration},
    )
    if "request_id" in g:
        response.headers["X-Request-ID"] = g.request_id
    return response


def loggable_path() -> str:
    """The request's path without its query string, with URL tokens replaced by their names."""
    rule = request.url_rule
    if rule is None or not rule.arguments or rule.endpoint in LITERAL_PATH_ENDPOINTS:
        return request.path[:MAX_PATH_CHARS]
    return rule.rule
