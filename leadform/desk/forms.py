"""Forms of the operators' desk; every POST carries Flask-WTF's CSRF token."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from leadform.booking.forms import clean_line, clean_text

NOTE_MAX = 5000
ATTENDANCE_CHOICES = [SelectChoice("attended", "Attended"), SelectChoice("no_show", "No-show")]


class LoginForm(FlaskForm):
    """Username and password; `next` is the admin page to return to."""

    username = StringField(
        "Username",
        filters=[clean_line],
        validators=[DataRequired("Enter your username."), Length(max=64)],
    )
    password = PasswordField(
        "Password", validators=[DataRequired("Enter your password."), Length(max=1000)]
    )
    next = HiddenField()


class NoteForm(FlaskForm):
    """A private note on a booking."""

    body = TextAreaField(
        "Private note",
        filters=[clean_text],
        validators=[
            DataRequired("Write the note before saving it."),
            Length(max=NOTE_MAX, message=f"Keep the note under {NOTE_MAX} characters."),
        ],
    )


class AttendanceForm(FlaskForm):
    """Whether the prospect came to the session."""

    attendance = RadioField(
        "Attendance",
        choices=ATTENDANCE_CHOICES,
        validators=[DataRequired("Choose attended or no-show.")],
    )


class ConfirmForm(FlaskForm):
    """A button with nothing to fill in (sign out, cancel, retry): only the CSRF token."""
