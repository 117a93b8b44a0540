"""Email as a value object, and the senders that deliver it.

`EmailMessage` is what the outbox stores (as `to_dict()`) and what every sender takes.
A sender has one method, `send(message)`, and reports failure with one of two errors:
`TransientDeliveryError` (try again later) or `PermanentDeliveryError` (retrying will not
help). A sender that hears what the receiving side said returns a `Receipt` (SMTP, SendGrid);
errors that say what became of the recipient carry a `delivery_state` ("bounced", "deferred"),
which the outbox records as a delivery event. `make_sender(config)` picks the sender named by
`MAIL_BACKEND`.

Error texts never carry the API key or an address: they end up in `last_error` and logs.
"""

from __future__ import annotations

import base64
import email.policy
import http.client
import logging
import os
import re
import smtplib
import sys
import tempfile
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage as MimeMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol, TextIO

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import (
    Attachment as SendGridAttachment,
)
from sendgrid.helpers.mail import (
    Content,
    CustomArg,
    Disposition,
    FileContent,
    FileName,
    FileType,
    Header,
    Mail,
    ReplyTo,
)
from sendgrid.helpers.mail.exceptions import SendGridException

MAIL_BACKENDS = ("sendgrid", "smtp", "file", "console")
# The custom argument SendGrid echoes in every event about a message: how events find it.
OUTBOX_ID_ARG = "outbox_id"
INVITE_MIMETYPE = "text/calendar; method=REQUEST"
# Anything that looks like an address is replaced before an error is stored or logged.
_ADDRESS_RE = re.compile(r"[^\s<>\"'(),;:]+@[^\s<>\"'(),;:]+")
_LINE_BREAKS = ("\r", "\n")
_MAX_ERROR_CHARS = 500
# The only extra headers a message may carry (RFC 2369/8058 list headers, spelt as sent): a
# caller can never set From, Bcc or a routing header this way.
ALLOWED_HEADERS = ("List-Id", "List-Unsubscribe", "List-Unsubscribe-Post")
_MAX_HEADER_CHARS = 900  # with the name in front, under SMTP's 998-character line limit
# Extra headers are written unfolded (set_raw): the default policy would fold a long URL into
# RFC 2047 encoded words, which a structured header such as List-Unsubscribe must not hold.
_MIME_POLICY = email.policy.default.clone(refold_source="none")


class MailError(Exception):
    """Base class of every error this module raises."""


class InvalidEmailError(MailError, ValueError):
    """The message cannot be sent as built (e.g. a line break in a header value)."""


class MailConfigError(MailError):
    """The mail configuration names an unknown backend or lacks a required key."""


class DeliveryError(MailError):
    """A sender could not deliver a message; the text is safe to store and log."""

    # What the error says about the recipient, when it says something ("bounced", ...).
    delivery_state: str | None = None


class TransientDeliveryError(DeliveryError):
    """Delivery failed for a reason that may pass (timeout, 429, 5xx, SMTP 4xx)."""


class PermanentDeliveryError(DeliveryError):
    """Delivery failed for a reason retrying cannot fix (other 4xx, SMTP 5xx)."""


class RecipientRefusedError(PermanentDeliveryError):
    """The SMTP server refused the recipient for good (5xx): the address bounced."""

    delivery_state = "bounced"


class RecipientDeferredError(TransientDeliveryError):
    """The SMTP server refused the recipient for now (4xx): delivery is deferred."""

    delivery_state = "deferred"


@dataclass(frozen=True)
class Receipt:
    """What the receiving side said when it took a message: a state and a safe detail."""

    state: str  # "accepted": the provider or relay took it; its fate comes later
    detail: str  # e.g. "SMTP 250: recipient accepted"; never an address


def scrub(text: str, *secrets: str | None) -> str:
    """Return `text` with addresses and the given secrets masked, cut to a safe length."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    text = _ADDRESS_RE.sub("<address>", text)
    return text[:_MAX_ERROR_CHARS]


def _check_header(name: str, value: str | None) -> None:
    """Reject a header value that could smuggle in a second header."""
    if value is not None and any(ch in value for ch in _LINE_BREAKS):
        raise InvalidEmailError(f"The {name} must be a single line (it contains CR or LF).")


def _checked_headers(headers) -> tuple[tuple[str, str], ...]:
    """Return `headers` (a mapping or pairs) as (canonical name, value) pairs, or raise."""
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    allowed = {name.lower(): name for name in ALLOWED_HEADERS}
    checked = []
    for name, value in pairs:
        canonical = allowed.get(str(name).lower())
        if canonical is None:
            raise InvalidEmailError(f"The header {str(name)[:40]!r} is not one a message may set.")
        if not isinstance(value, str) or not value or len(value) > _MAX_HEADER_CHARS:
            raise InvalidEmailError(f"The {canonical} header needs a value of 1 to 900 characters.")
        _check_header(f"{canonical} header", value)
        checked.append((canonical, value))
    return tuple(checked)


@dataclass(frozen=True)
class Attachment:
    """A file attached to an email, e.g. the calendar invite."""

    filename: str
    content: bytes
    mimetype: str

    def __post_init__(self):
        _check_header("attachment filename", self.filename)
        _check_header("attachment type", self.mimetype)

    def to_dict(self) -> dict:
        """Return the attachment as JSON-safe data (the content base64-encoded)."""
        content = base64.b64encode(self.content).decode("ascii")
        return {"filename": self.filename, "mimetype": self.mimetype, "content": content}

    @classmethod
    def from_dict(cls, data: Mapping) -> Attachment:
        """Rebuild an attachment from `to_dict()` output."""
        content = base64.b64decode(data["content"])
        return cls(filename=data["filename"], content=content, mimetype=data["mimetype"])


@dataclass(frozen=True)
class EmailMessage:
    """One email to one recipient; validated when built, so a bad one never gets queued."""

    to: str
    subject: str
    text: str
    html: str
    from_: str
    reply_to: str | None = None
    attachments: tuple[Attachment, ...] = field(default_factory=tuple)
    # The outbox row this is sent for (set by the worker, not stored in the payload), so the
    # provider's later events can name it.
    outbox_id: int | None = None
    # Extra headers (names from ALLOWED_HEADERS), e.g. a newsletter's one-click unsubscribe;
    # given as a mapping or pairs, kept as pairs.
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)

    def __post_init__(self):
        for name in ("to", "from_", "reply_to", "subject"):
            _check_header(name.rstrip("_"), getattr(self, name))
        object.__setattr__(self, "headers", _checked_headers(self.headers))
        for name in ("to", "from_"):
            if "@" not in parseaddr(getattr(self, name))[1]:
                raise InvalidEmailError(f"The {name.rstrip('_')} address is not an address.")

    def to_dict(self) -> dict:
        """Return the message as JSON-safe data, the form the outbox stores."""
        return {
            "to": self.to,
            "from": self.from_,
            "reply_to": self.reply_to,
            "subject": self.subject,
            "text": self.text,
            "html": self.html,
            "attachments": [attachment.to_dict() for attachment in self.attachments],
        } | ({"headers": dict(self.headers)} if self.headers else {})

    @classmethod
    def from_dict(cls, data: Mapping) -> EmailMessage:
        """Rebuild (and so re-validate) a message from `to_dict()` output."""
        attachments = tuple(Attachment.from_dict(item) for item in data.get("attachments", ()))
        return cls(
            to=data["to"],
            from_=data["from"],
            reply_to=data.get("reply_to"),
            subject=data["subject"],
            text=data["text"],
            html=data["html"],
            attachments=attachments,
            headers=data.get("headers") or (),
        )


class Sender(Protocol):
    """Anything that can deliver an `EmailMessage`."""

    def send(self, message: EmailMessage) -> Receipt | None:
        """Deliver `message` (returning what the other side said, if known) or raise."""


def _split_mimetype(mimetype: str) -> tuple[str, str, dict[str, str]]:
    """Split "text/calendar; method=REQUEST" into ("text", "calendar", {"method": ...})."""
    kind, *params = (part.strip() for part in mimetype.split(";"))
    maintype, _, subtype = kind.partition("/")
    pairs = (param.partition("=") for param in params if param)
    return maintype, subtype, {key.strip(): value.strip('"') for key, _, value in pairs}


def to_mime(message: EmailMessage) -> MimeMessage:
    """Build the MIME form: text and HTML alternatives plus any attachments."""
    mime = MimeMessage(policy=_MIME_POLICY)
    mime["From"] = message.from_
    mime["To"] = message.to
    if message.reply_to:
        mime["Reply-To"] = message.reply_to
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    mime["Message-ID"] = make_msgid(domain=parseaddr(message.from_)[1].rpartition("@")[2])
    for name, value in message.headers:
        mime.set_raw(name, value)
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    for attachment in message.attachments:
        maintype, subtype, params = _split_mimetype(attachment.mimetype)
        mime.add_attachment(
            attachment.content,
            maintype=maintype,
            subtype=subtype,
            params=params,
            filename=attachment.filename,
        )
    return mime


class _BelowWarningFilter(logging.Filter):
    """Drop records below WARNING."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING


def quiet_http_client_logger() -> None:
    """Keep python_http_client below DEBUG: at DEBUG it logs the API key and recipients."""
    for name in ("python_http_client", "python_http_client.client"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.WARNING)
        if not any(isinstance(f, _BelowWarningFilter) for f in logger.filters):
            # The filter holds even if someone later lowers the level again.
            logger.addFilter(_BelowWarningFilter())


class SendGridSender:
    """Send through the SendGrid v3 API with the official client."""

    def __init__(self, api_key: str, host: str = "https://api.sendgrid.com", timeout=10.0):
        if not api_key:
            raise MailConfigError("SENDGRID_API_KEY is required for the sendgrid backend.")
        quiet_http_client_logger()
        self._api_key = api_key
        self._client = SendGridAPIClient(api_key, host=host)
        # The library has no default timeout; without one a stalled API hangs the worker.
        self._client.client.timeout = timeout

    def send(self, message: EmailMessage) -> Receipt:
        """Post `message` to /v3/mail/send, mapping failures to delivery errors."""
        try:
            mail = self.build_mail(message)
        except SendGridException as exc:
            # The library refuses e.g. a body that starts like an API key; retrying won't help.
            raise PermanentDeliveryError(
                f"SendGrid refused the message: {type(exc).__name__}"
            ) from None
        try:
            self._client.send(mail)
        except HTTPError as exc:
            raise self._http_error(exc) from None
        except (OSError, http.client.HTTPException) as exc:
            # Timeouts (TimeoutError), refused connections (URLError), dropped sockets.
            raise TransientDeliveryError(f"SendGrid unreachable: {type(exc).__name__}") from None
        return Receipt("accepted", "SendGrid accepted the message")

    @staticmethod
    def build_mail(message: EmailMessage) -> Mail:
        """Translate our value object into the library's `Mail`."""
        mail = Mail(from_email=message.from_, to_emails=message.to, subject=message.subject)
        mail.add_content(Content("text/plain", message.text))
        mail.add_content(Content("text/html", message.html))
        if message.reply_to:
            mail.reply_to = ReplyTo(message.reply_to)
        if message.outbox_id is not None:
            # SendGrid repeats custom args in each event about the message (values: strings).
            mail.custom_arg = CustomArg(OUTBOX_ID_ARG, str(message.outbox_id))
        for name, value in message.headers:
            mail.header = Header(name, value)  # the setter adds; v3 JSON's "headers"
        for attachment in message.attachments:
            mail.add_attachment(
                SendGridAttachment(
                    FileContent(base64.b64encode(attachment.content).decode("ascii")),
                    FileName(attachment.filename),
                    FileType(attachment.mimetype),
                    Disposition("attachment"),
                )
            )
        return mail

    def _http_error(self, exc: HTTPError) -> DeliveryError:
        """Classify an HTTP error answer: 429 and 5xx pass, other 4xx do not."""
        body = exc.body.decode("utf-8", "replace") if isinstance(exc.body, bytes) else ""
        text = scrub(f"SendGrid HTTP {exc.status_code}: {body}", self._api_key)
        if exc.status_code == 429 or exc.status_code >= 500:
            return TransientDeliveryError(text)
        return PermanentDeliveryError(text)


class SMTPSender:
    """Send through an SMTP server (a relay, or a local one in development)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 25,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 10.0,
    ):
        self.host, self.port, self.timeout = host, port, timeout
        self.username, self.password, self.starttls = username, password, starttls

    def send(self, message: EmailMessage) -> Receipt:
        """Hand `message` to the SMTP server; return its answer or raise a delivery error."""
        mime = to_mime(message)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self.password or "")
                refused = smtp.send_message(mime)
        except smtplib.SMTPRecipientsRefused as exc:
            raise _refusal(exc.recipients) from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_error(exc.smtp_code, type(exc).__name__) from None
        except (OSError, smtplib.SMTPException) as exc:
            raise TransientDeliveryError(f"SMTP unreachable: {type(exc).__name__}") from None
        if refused:
            # Some recipients were taken and some not: the refusal is what we must act on.
            raise _refusal(refused)
        return Receipt("accepted", "SMTP 250: recipient accepted")


def _refusal(recipients: Mapping) -> DeliveryError:
    """The error for refused recipients: a bounce for 5xx, a deferral for 4xx."""
    code = max(code for code, _ in recipients.values())
    text = f"SMTP {code}: recipient refused"
    if 400 <= code < 500:
        return RecipientDeferredError(text)
    return RecipientRefusedError(text)


def _smtp_error(code: int, what: str) -> DeliveryError:
    """SMTP 4xx replies are temporary by definition; 5xx are final."""
    text = f"SMTP {code}: {what}"
    if 400 <= code < 500:
        return TransientDeliveryError(text)
    return PermanentDeliveryError(text)


class FileSender:
    """Write each message as an .eml file into a folder (development and tests)."""

    def __init__(self, directory: str | os.PathLike):
        self.directory = Path(directory)

    def send(self, message: EmailMessage) -> None:
        """Write `message` atomically, so a reader never sees half a file."""
        self.directory.mkdir(parents=True, exist_ok=True)
        data = to_mime(message).as_bytes()
        name = f"{uuid.uuid4().hex}.eml"
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, self.directory / name)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise TransientDeliveryError(f"Cannot write mail file: {exc.strerror}") from None


class ConsoleSender:
    """Print each message to a stream (development only: it shows addresses)."""

    def __init__(self, stream: TextIO | None = None):
        self.stream = stream

    def send(self, message: EmailMessage) -> None:
        """Write the MIME text of `message` followed by a separator line."""
        stream = self.stream or sys.stdout
        stream.write(to_mime(message).as_string())
        stream.write("\n" + "-" * 72 + "\n")
        stream.flush()


def make_sender(config: Mapping) -> Sender:
    """Return the sender named by config["MAIL_BACKEND"], configured from `config`."""
    backend = config.get("MAIL_BACKEND", "file")
    if backend == "sendgrid":
        return SendGridSender(
            config.get("SENDGRID_API_KEY") or "",
            host=config.get("SENDGRID_HOST", "https://api.sendgrid.com"),
            timeout=float(config.get("SENDGRID_TIMEOUT", 10.0)),
        )
    if backend == "smtp":
        return SMTPSender(
            host=config.get("SMTP_HOST", "127.0.0.1"),
            port=int(config.get("SMTP_PORT", 25)),
            username=config.get("SMTP_USERNAME"),
            password=config.get("SMTP_PASSWORD"),
            starttls=bool(config.get("SMTP_STARTTLS", False)),
            timeout=float(config.get("SMTP_TIMEOUT", 10.0)),
        )
    if backend == "file":
        if not config.get("MAIL_DIR"):
            raise MailConfigError("MAIL_DIR is required for the file backend.")
        return FileSender(config["MAIL_DIR"])
    if backend == "console":
        return ConsoleSender()
    raise MailConfigError(
        f"MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}, got {backend!r}"
    )
