"""The readiness check's forms: one radio group per question, and the report-by-email form.

The check's form class is built from the question file when the app starts, so an editor's
new question needs no code; the answers come back as they were chosen when a page returns
with errors.
"""

from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, RadioField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, InputRequired, Length

from leadform.cleaning import ATTRIBUTION_LIMITS, clean_attribution
from leadform.readiness.questions import Questionnaire

UNANSWERED = "Choose the answer closest to your situation."


class _CheckBase(FlaskForm):
    """Fields every check form has: the attribution, carried in hidden inputs."""

    source_article = HiddenField()
    utm_source = HiddenField()
    utm_medium = HiddenField()
    utm_campaign = HiddenField()
    utm_term = HiddenField()
    utm_content = HiddenField()
    referrer = HiddenField()

    def answers(self, questionnaire: Questionnaire) -> dict[str, int]:
        """The chosen answers by question key (call after a successful validation)."""
        return {q.key: int(self[q.key].data) for q in questionnaire.questions}

    def attribution(self) -> dict:
        """The cleaned attribution values from the hidden fields."""
        return clean_attribution({name: self[name].data for name in ATTRIBUTION_LIMITS})

    def error_summary(self, questionnaire: Questionnaire) -> list[tuple[str, str]]:
        """(field id, message) for each unanswered question, in page order."""
        return [
            (self[q.key].id, f"{q.text} — {self[q.key].errors[0]}")
            for q in questionnaire.questions
            if self[q.key].errors
        ]


def check_form_class(questionnaire: Questionnaire) -> type[FlaskForm]:
    """Build the form class for `questionnaire`: one required radio group per question."""
    choices = [SelectChoice(str(value), label) for value, label in enumerate(questionnaire.scale)]
    fields = {
        question.key: RadioField(
            question.text, choices=choices, validators=[InputRequired(message=UNANSWERED)]
        )
        for question in questionnaire.questions
    }
    return type("ReadinessCheckForm", (_CheckBase,), fields)


class ReportEmailForm(FlaskForm):
    """Ask for the reader's address and consent before emailing their report."""

    email = StringField(
        "Your work email",
        filters=[lambda value: value.strip() if value else value],
        validators=[
            DataRequired(message="Enter the address to send the report to."),
            Length(max=254, message="That address is too long."),
            Email(message="Enter an address like name@company.com.", check_deliverability=False),
        ],
    )
    consent = BooleanField(
        "Email me this report. You may keep my address with the result, as the privacy "
        "notice describes.",
        validators=[DataRequired(message="Tick the box so we may email you the report.")],
    )
