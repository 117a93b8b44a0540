"""The email value object's optional list headers: validated, stored, written by each sender."""

from email import message_from_bytes, policy

import pytest

from leadform.messages.senders import (
    EmailMessage,
    FileSender,
    InvalidEmailError,
    SendGridSender,
)
from tests.leadform.mail_fixtures import make_email

URL = "<https://book.tessellate.example/newsletter/unsubscribe/" + "A" * 40 + "." + "b" * 43 + ">"
HEADERS = {"List-Unsubscribe": URL, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


def test_a_message_without_headers_stores_none():
    assert "headers" not in make_email().to_dict()


def test_headers_round_trip_through_the_stored_form():
    message = make_email(headers=HEADERS)
    assert message.to_dict()["headers"] == HEADERS
    assert EmailMessage.from_dict(message.to_dict()) == message


def test_header_names_take_their_canonical_spelling():
    message = make_email(headers={"list-unsubscribe-post": "List-Unsubscribe=One-Click"})
    assert message.headers == (("List-Unsubscribe-Post", "List-Unsubscribe=One-Click"),)


@pytest.mark.parametrize(
    "headers",
    [
        {"Bcc": "victim@example.com"},
        {"From": "boss@example.com"},
        {"X-Anything": "1"},
        {"List-Unsubscribe\r\nBcc": "x"},
        {"List-Unsubscribe": "<https://x>\r\nBcc: victim@example.com"},
        {"List-Unsubscribe": "<https://x>\nBcc: victim@example.com"},
        {"List-Unsubscribe": ""},
        {"List-Unsubscribe": "x" * 901},
        {"List-Unsubscribe": 42},
    ],
)
def test_unsafe_headers_are_refused(headers):
    with pytest.raises(InvalidEmailError):
        make_email(headers=headers)
    with pytest.raises(InvalidEmailError):
        EmailMessage.from_dict(make_email().to_dict() | {"headers": headers})


def test_the_file_sender_writes_the_headers_unfolded(tmp_path):
    FileSender(tmp_path).send(make_email(headers=HEADERS))

    (written,) = tmp_path.glob("*.eml")
    raw = written.read_bytes()
    assert f"List-Unsubscribe: {URL}".encode() in raw
    parsed = message_from_bytes(raw, policy=policy.default)
    assert parsed["List-Unsubscribe"] == URL
    assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_sendgrid_gets_the_headers_in_its_json():
    body = SendGridSender.build_mail(make_email(headers=HEADERS)).get()
    assert body["headers"] == HEADERS
