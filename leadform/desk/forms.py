"""Forms of the operators' desk; every POST carries Flask-WTF's CSRF token."""

from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Regexp

from leadform.cleaning import clean_line, clean_text
from leadform.desk.auth import MIN_PASSWORD_LENGTH

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


class CodeForm(FlaskForm):
    """The second sign-in step: the app's 6-digit code or one recovery code."""

    code = StringField(
        "Code from your authenticator app, or a recovery code",
        filters=[clean_line],
        validators=[DataRequired("Enter the code."), Length(max=64)],
    )


class EnrolForm(FlaskForm):
    """Confirms a new second factor with the first code the operator's app shows."""

    code = StringField(
        "The 6-digit code your app shows now",
        filters=[clean_line],
        validators=[
            DataRequired("Enter the code."),
            Regexp(r"^\d{3} ?\d{3}$", message="Enter the 6 digits your app shows."),
        ],
    )


class ChangePasswordForm(FlaskForm):
    """The current password and the new one, twice."""

    current_password = PasswordField(
        "Current password",
        validators=[DataRequired("Enter your current password."), Length(max=1000)],
    )
    new_password = PasswordField(
        "New password",
        validators=[
            DataRequired("Enter the new password."),
            Length(
                min=MIN_PASSWORD_LENGTH,
                max=1000,
                message=f"The new password needs at least {MIN_PASSWORD_LENGTH} characters.",
            ),
        ],
    )
    confirm_password = PasswordField(
        "New password again",
        validators=[
            DataRequired("Type the new password again."),
            EqualTo("new_password", message="The two new passwords differ."),
        ],
    )


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
