"""The booking form: fields, limits, cleaning and the anti-spam checks.

Every message says how to fix the problem; the view shows it next to its field.
"""

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    HiddenField,
    RadioField,
    SelectField,
    StringField,
    TextAreaField,
    ValidationError,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length

from leadform.booking import guard
from leadform.booking.slots import is_zone_choice, parse_slot_value
from leadform.cleaning import ATTRIBUTION_LIMITS, clean_line, clean_text, truncate

COMPANY_SIZES = ["1-49", "50-249", "250-999", "1000-4999", "5000+"]
GOALS_MIN, GOALS_MAX = 20, 2000
# The id of the chosen time's block on the form page, where time and zone errors are shown.
WHEN_ANCHOR = "when"
NEUTRAL_ERROR = "We could not accept the form. Please check your answers and send it again."


class SpamSuspected(Exception):
    """The honeypot was filled or the form came back faster than a person can type."""


def session_formats() -> dict:
    """The ways a session can be held, from site.toml's [session.formats], in their order."""
    return current_app.config["SITE"].get("session", {}).get("formats", {})


def _required(message: str):
    return DataRequired(message=message)


class BookingForm(FlaskForm):
    """The AI Readiness Assessment booking form."""

    name = StringField(
        "Your name",
        filters=[clean_line],
        validators=[
            _required("Enter your name."),
            Length(max=200, message="Shorten your name to 200 characters or fewer."),
        ],
    )
    email = StringField(
        "Work email",
        filters=[clean_line],
        validators=[
            _required("Enter your work email address."),
            Length(max=254, message="Enter an email address of 254 characters or fewer."),
            Email(
                message="Enter an email address like name@company.com.",
                check_deliverability=False,
            ),
        ],
    )
    company = StringField(
        "Company",
        filters=[clean_line],
        validators=[
            _required("Enter your company's name."),
            Length(max=200, message="Shorten the company name to 200 characters or fewer."),
        ],
    )
    role = StringField(
        "Your role",
        filters=[clean_line],
        validators=[
            _required("Enter your role, for example Head of Operations."),
            Length(max=200, message="Shorten your role to 200 characters or fewer."),
        ],
    )
    company_size = SelectField(
        "Company size (employees)",
        choices=[SelectChoice("", "Choose one")] + [SelectChoice(size) for size in COMPANY_SIZES],
        validate_choice=False,
        validators=[_required("Choose your company's size.")],
    )
    goals = TextAreaField(
        "What do you want from the session?",
        filters=[clean_text],
        validators=[
            _required(f"Tell us what you want from the session (at least {GOALS_MIN} characters)."),
            Length(
                min=GOALS_MIN,
                max=GOALS_MAX,
                message=f"Write between {GOALS_MIN} and {GOALS_MAX} characters about your goals.",
            ),
        ],
    )
    # How to meet (site.toml [session.formats]); asked only when the site lists formats.
    session_format = RadioField("How would you like to meet?", validate_choice=False)
    # The chosen time and the zone it was shown in travel together from the picker: the
    # form has no zone list of its own. A taken time is offered again as radio buttons.
    slot = HiddenField(
        "Your time",
        validators=[_required("Choose one of the times shown.")],
    )
    timezone = HiddenField(
        "Your time zone",
        validators=[_required("Choose your time zone from the list.")],
    )
    consent = BooleanField(
        # The page writes its own label with the firm's name from site.toml (details.html).
        "I agree that you store these answers to arrange the session.",
        validators=[_required("Tick the box to agree to the privacy policy, or we cannot book.")],
    )
    website = StringField("Leave this field empty")  # honeypot
    started = HiddenField()
    # The readiness check the prospect came from (its result page's token), when they did.
    check = HiddenField(filters=[truncate(32)])
    # The address a typo suggestion was shown for: sent again unchanged, it is kept.
    email_checked = HiddenField(filters=[truncate(254)])
    # Set by the view when the domain looks mistyped ("Did you mean ...?").
    email_suggestion: str | None = None
    source_article = HiddenField(filters=[truncate(ATTRIBUTION_LIMITS["source_article"])])
    utm_source = HiddenField(filters=[truncate(ATTRIBUTION_LIMITS["utm_source"])])
    utm_medium = HiddenField(filters=[truncate(ATTRIBUTION_LIMITS["utm_medium"])])
    utm_campaign = HiddenField(filters=[truncate(ATTRIBUTION_LIMITS["utm_campaign"])])
    utm_term = HiddenField(filters=[truncate(ATTRIBUTION_LIMITS["utm_term"])])
    utm_content = HiddenField(filters=[truncate(ATTRIBUTION_LIMITS["utm_content"])])
    referrer = HiddenField(filters=[truncate(ATTRIBUTION_LIMITS["referrer"])])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        formats = session_formats()
        self.session_format.choices = [
            SelectChoice(key, option["label"]) for key, option in formats.items()
        ]
        if formats and not self.session_format.data:
            # The first listed format is the usual one: one tap fewer for most prospects.
            self.session_format.data = next(iter(formats))

    def validate_session_format(self, field):
        """When the site lists formats, the answer must be one of them."""
        formats = session_formats()
        if formats and field.data not in formats:
            raise ValidationError("Choose how you would like to meet.")
        if not formats:
            field.data = None

    def validate_company_size(self, field):
        """Accept only the listed sizes."""
        if field.data not in COMPANY_SIZES:
            raise ValidationError("Choose your company's size from the list.")

    def validate_slot(self, field):
        """Accept only a well-formed slot value; whether it is free is decided at booking."""
        try:
            parse_slot_value(field.data or "")
        except ValueError:
            raise ValidationError("Choose one of the times shown.") from None

    def validate_timezone(self, field):
        """Accept only zones from the list."""
        host_zone = current_app.config["SITE"]["availability"]["timezone"]
        if not is_zone_choice(field.data, extra=(host_zone,)):
            raise ValidationError("Choose your time zone from the list.")

    def check_not_spam(self, config, session, now: float) -> str:
        """Raise SpamSuspected for a filled honeypot or a start value that is refused.

        The start value must be this session's, unspent, and between MIN_FILL_SECONDS and
        FORM_MAX_AGE_HOURS old (leadform.booking.guard); returns its nonce, for the view to
        spend once it books.
        """
        if self.website.data:
            raise SpamSuspected("honeypot filled")
        try:
            return guard.read_form_start(
                self.started.data,
                session,
                config["SECRET_KEY"],
                now,
                min_seconds=config["MIN_FILL_SECONDS"],
                max_age_seconds=config["FORM_MAX_AGE_HOURS"] * 3600,
            )
        except guard.FormStartRefused as refused:
            raise SpamSuspected(refused.reason) from None

    def error_summary(self) -> list[tuple[str, str]]:
        """Return (anchor, first message) of each field with an error a person can fix.

        The time and its zone are shown together at the top of the page (id "when").
        """
        hidden = {"csrf_token", "started", "website"}
        return [
            (WHEN_ANCHOR if field.name in {"slot", "timezone"} else field.id, field.errors[0])
            for field in self
            if field.errors and field.name not in hidden
        ]

    @property
    def attribution(self) -> dict:
        """Return the attribution fields as a dict of column name -> value."""
        return {name: self[name].data or None for name in ATTRIBUTION_LIMITS}
