"""The newsletter's forms: the signup (no CSRF token, see views.py) and the confirm button."""

import unicodedata

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import DataRequired, Email, Length

SOURCE_MAX = 200


class SpamSuspected(Exception):
    """The honeypot field was filled: a bot, answered as if it had worked."""


def clean_line(value):
    """One line of text: control and invisible (Cf) characters dropped, space collapsed."""
    if value is None:
        return None
    text = "".join(
        char for char in str(value) if unicodedata.category(char) not in ("Cc", "Cf", "Zl", "Zp")
    )
    return " ".join(text.split())


def clean_source(value):
    """The page the signup came from: one clean line of at most SOURCE_MAX characters, or None."""
    text = clean_line(value)
    return text[:SOURCE_MAX] or None if text else None


class SignupForm(FlaskForm):
    """Email and consent, the honeypot and where the form was shown.

    Article pages are static (Pelican) and cannot carry a CSRF token tied to a session, so
    this form has none; rate limits, the honeypot and double opt-in protect it instead.
    """

    class Meta:
        """No CSRF token: see the class docstring."""

        csrf = False

    email = StringField(
        "Email address",
        filters=[clean_line],
        validators=[
            DataRequired(message="Enter your email address."),
            Length(max=254, message="Enter an email address of 254 characters or fewer."),
            Email(
                message="Enter an email address like name@company.com.", check_deliverability=False
            ),
        ],
    )
    consent = BooleanField(
        "Email me new articles. I can unsubscribe from any email with one click.",
        validators=[DataRequired(message="Tick the box to agree to receive the articles.")],
    )
    # Named like a field people fill in; hidden from people, who leave it empty.
    website = StringField("Leave this empty", filters=[clean_line])
    source = HiddenField(filters=[clean_source])

    def check_not_spam(self) -> None:
        """Raise SpamSuspected when the honeypot holds anything."""
        if self.website.data:
            raise SpamSuspected("honeypot filled")


class ConfirmForm(FlaskForm):
    """The Confirm button on the page a confirmation link opens (CSRF-protected)."""
