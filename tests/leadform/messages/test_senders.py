"""The senders against real stand-ins: a local HTTP server for SendGrid, aiosmtpd for SMTP."""

import email
import email.policy
import io
import threading

import pytest
from werkzeug.wrappers import Response

from leadform.messages.senders import (
    INVITE_MIMETYPE,
    Attachment,
    ConsoleSender,
    EmailMessage,
    FileSender,
    InvalidEmailError,
    MailConfigError,
    PermanentDeliveryError,
    SendGridSender,
    SMTPSender,
    TransientDeliveryError,
    make_sender,
)
from tests.leadform.mail_fixtures import (
    API_KEY,
    MAIL_FROM,
    PROSPECT_EMAIL,
    TEAM_EMAIL,
    free_port,
    make_email,
    smtp_server,  # noqa: F401 - a fixture
)

INVITE = b"BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nEND:VCALENDAR\r\n"
SEND_PATH = "/v3/mail/send"


def invite_email() -> EmailMessage:
    """The shape of a confirmation: both bodies, reply-to and the invite."""
    return make_email(attachments=(Attachment("invite.ics", INVITE, INVITE_MIMETYPE),))


def sendgrid(httpserver, timeout: float = 5.0) -> SendGridSender:
    """A SendGridSender aimed at the local HTTP server."""
    return SendGridSender(API_KEY, host=httpserver.url_for("").rstrip("/"), timeout=timeout)


def test_sendgrid_posts_the_exact_json(httpserver):
    httpserver.expect_oneshot_request(SEND_PATH, method="POST").respond_with_data("", status=202)

    sendgrid(httpserver).send(invite_email())

    request, _response = httpserver.log[0]
    assert request.get_json() == {
        "from": {"name": "Tessellate Advisory", "email": "bookings@tessellate.example"},
        "personalizations": [{"to": [{"email": PROSPECT_EMAIL}]}],
        "subject": "Hello",
        "content": [
            {"type": "text/plain", "value": "Plain body"},
            {"type": "text/html", "value": "<p>HTML body</p>"},
        ],
        "reply_to": {"email": TEAM_EMAIL},
        "attachments": [
            {
                "content": "QkVHSU46VkNBTEVOREFSDQpNRVRIT0Q6UkVRVUVTVA0KRU5EOlZDQUxFTkRBUg0K",
                "type": "text/calendar; method=REQUEST",
                "filename": "invite.ics",
                "disposition": "attachment",
            }
        ],
    }


def test_sendgrid_sends_the_api_key_as_bearer_token(httpserver):
    httpserver.expect_oneshot_request(SEND_PATH, method="POST").respond_with_data("", status=202)

    sendgrid(httpserver).send(make_email())

    request, _response = httpserver.log[0]
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"


@pytest.mark.parametrize("status", [500, 502, 503, 429])
def test_sendgrid_server_errors_and_throttling_are_transient(httpserver, status):
    httpserver.expect_request(SEND_PATH).respond_with_json({"errors": []}, status=status)

    with pytest.raises(TransientDeliveryError, match=str(status)):
        sendgrid(httpserver).send(make_email())


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_sendgrid_client_errors_are_permanent(httpserver, status):
    httpserver.expect_request(SEND_PATH).respond_with_json({"errors": []}, status=status)

    with pytest.raises(PermanentDeliveryError, match=str(status)):
        sendgrid(httpserver).send(make_email())


def test_sendgrid_error_text_hides_addresses_and_key(httpserver):
    body = {"errors": [{"message": f"bad address {PROSPECT_EMAIL} for key {API_KEY}"}]}
    httpserver.expect_request(SEND_PATH).respond_with_json(body, status=400)

    with pytest.raises(PermanentDeliveryError) as caught:
        sendgrid(httpserver).send(make_email())

    assert PROSPECT_EMAIL not in str(caught.value)
    assert API_KEY not in str(caught.value)


def test_sendgrid_slower_than_the_timeout_is_transient(httpserver):
    release = threading.Event()

    def stall(_request):
        release.wait(10)  # held until the client has given up
        return Response("", status=202)

    httpserver.expect_oneshot_request(SEND_PATH).respond_with_handler(stall)
    try:
        with pytest.raises(TransientDeliveryError, match="unreachable"):
            sendgrid(httpserver, timeout=0.5).send(make_email())
    finally:
        release.set()


def test_sendgrid_with_nothing_listening_is_transient():
    sender = SendGridSender(API_KEY, host=f"http://127.0.0.1:{free_port()}", timeout=2)

    with pytest.raises(TransientDeliveryError, match="unreachable"):
        sender.send(make_email())


def test_smtp_delivers_text_html_and_invite(smtp_server):  # noqa: F811
    handler, port = smtp_server

    SMTPSender(host="127.0.0.1", port=port, timeout=5).send(invite_email())

    parsed = email.message_from_bytes(handler.messages[0], policy=email.policy.default)
    assert parsed["Subject"] == "Hello"
    assert parsed["Reply-To"] == TEAM_EMAIL
    assert parsed.get_body(("plain",)).get_content().strip() == "Plain body"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>HTML body</p>"
    (invite,) = parsed.iter_attachments()
    assert (invite.get_content_type(), invite.get_param("method")) == ("text/calendar", "REQUEST")
    assert invite.get_payload(decode=True) == INVITE


@pytest.mark.parametrize(
    ("reply", "error"),
    [
        ("450 4.2.1 Mailbox busy", TransientDeliveryError),
        ("550 5.1.1 No such user", PermanentDeliveryError),
    ],
)
def test_smtp_recipient_refusals_are_classified_by_code(smtp_server, reply, error):  # noqa: F811
    handler, port = smtp_server
    handler.rcpt_reply = reply

    with pytest.raises(error, match=reply[:3]):
        SMTPSender(host="127.0.0.1", port=port, timeout=5).send(make_email())


def test_smtp_with_nothing_listening_is_transient():
    with pytest.raises(TransientDeliveryError):
        SMTPSender(host="127.0.0.1", port=free_port(), timeout=2).send(make_email())


def test_file_sender_writes_a_parseable_eml(tmp_path):
    FileSender(tmp_path / "mail").send(invite_email())

    (written,) = (tmp_path / "mail").iterdir()
    parsed = email.message_from_bytes(written.read_bytes(), policy=email.policy.default)
    assert written.suffix == ".eml"
    assert (parsed["To"], parsed["From"]) == (PROSPECT_EMAIL, MAIL_FROM)
    assert [part.get_filename() for part in parsed.iter_attachments()] == ["invite.ics"]


def test_console_sender_prints_the_message():
    stream = io.StringIO()

    ConsoleSender(stream).send(make_email(subject="Console check"))

    assert "Subject: Console check" in stream.getvalue()


@pytest.mark.parametrize(
    "field",
    ["subject", "to", "from_", "reply_to"],
)
@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n"])
def test_line_breaks_in_headers_are_refused(field, breaker):
    values = {
        "subject": f"Hi{breaker}Bcc: victim@example.com",
        "to": f"{PROSPECT_EMAIL}{breaker}Bcc: victim@example.com",
        "from_": f"{MAIL_FROM}{breaker}X: y",
        "reply_to": f"{TEAM_EMAIL}{breaker}X: y",
    }

    with pytest.raises(InvalidEmailError):
        make_email(**{field: values[field]})


def test_an_invalid_payload_never_reaches_the_provider(httpserver):
    data = make_email().to_dict() | {"subject": "Hi\r\nBcc: victim@example.com"}

    with pytest.raises(InvalidEmailError):
        sendgrid(httpserver).send(EmailMessage.from_dict(data))

    assert httpserver.log == []


def test_to_dict_round_trips():
    message = invite_email()

    assert EmailMessage.from_dict(message.to_dict()) == message


def test_make_sender_picks_the_backend(tmp_path):
    config = {"MAIL_BACKEND": "file", "MAIL_DIR": str(tmp_path)}

    assert isinstance(make_sender(config), FileSender)
    assert isinstance(make_sender({"MAIL_BACKEND": "smtp", "SMTP_PORT": 2525}), SMTPSender)
    assert isinstance(
        make_sender({"MAIL_BACKEND": "sendgrid", "SENDGRID_API_KEY": "k"}), SendGridSender
    )


@pytest.mark.parametrize(
    "config",
    [{"MAIL_BACKEND": "carrier-pigeon"}, {"MAIL_BACKEND": "sendgrid", "SENDGRID_API_KEY": ""}],
)
def test_make_sender_rejects_bad_config(config):
    with pytest.raises(MailConfigError):
        make_sender(config)


def test_sendgrid_refusing_to_build_is_permanent(httpserver):
    # The library refuses a body that starts like an API key; nothing must be sent.
    message = make_email(text="SG.abc123.def456 leaked")

    with pytest.raises(PermanentDeliveryError, match="refused"):
        sendgrid(httpserver).send(message)

    assert httpserver.log == []
