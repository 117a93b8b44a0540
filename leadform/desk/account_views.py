"""The operator's own account at /admin/account: the second factor and the password.

Like every desk page these need a full session (an operator who must enrol a second factor
reaches only the enrolment page) and are never cached.
"""

import time

from flask import Blueprint, Flask, flash, redirect, render_template, request, url_for

from leadform.desk import auth, two_factor
from leadform.desk.forms import ChangePasswordForm, EnrolForm

bp = Blueprint("account", __name__, url_prefix="/admin/account")


@bp.before_request
def _require_operator():
    """Only a signed-in operator reaches their account pages."""
    return auth.guard_request()


bp.after_request(auth.keep_private)


def _render_account(password_form: ChangePasswordForm, status: int = 200):
    operator = auth.current_operator()
    page = render_template(
        "desk/account.html",
        operator=operator,
        password_form=password_form,
        two_factor_on=two_factor.is_enabled(operator),
        two_factor_required=two_factor.is_required(),
        codes_left=two_factor.recovery_codes_left(operator),
    )
    return page, status


@bp.get("")
def account():
    """Show the second factor's state and the password form."""
    return _render_account(ChangePasswordForm())


@bp.post("/password")
def change_password():
    """Set a new password; every session of the operator ends, this one included."""
    form = ChangePasswordForm()
    if not form.validate_on_submit():
        return _render_account(form, 400)
    try:
        auth.change_password(
            auth.current_operator(), form.current_password.data, form.new_password.data
        )
    except (auth.InvalidCredentials, auth.WeakPassword) as exc:
        form.current_password.errors = [*form.current_password.errors, str(exc)]
        return _render_account(form, 400)
    flash("Your password is changed and every session ended: sign in with the new one.", "info")
    return redirect(url_for("admin.login"), 303)


@bp.route("/two-factor", methods=["GET", "POST"], endpoint="two_factor")
def enrol_two_factor():
    """Enrol an authenticator app: show the secret, check a first code, give recovery codes."""
    operator = auth.current_operator()
    if two_factor.is_enabled(operator):
        return render_template("desk/two_factor.html", enabled=True, codes=None)
    form = EnrolForm()
    status = 200
    if form.validate_on_submit():
        try:
            codes = two_factor.confirm_enrolment(operator, form.code.data, time.time())
        except two_factor.TwoFactorError as exc:
            form.code.errors = [*form.code.errors, str(exc)]
        else:
            # Sessions opened with the password alone end: from now on both are needed.
            auth.end_other_sessions(operator)
            return render_template("desk/two_factor.html", enabled=True, codes=codes)
    if request.method == "POST":
        status = 400
    secret = two_factor.start_enrolment(operator)
    uri = two_factor.provisioning_uri(operator)
    return render_template(
        "desk/two_factor.html",
        enabled=False,
        form=form,
        secret_groups=[secret[i : i + 4] for i in range(0, len(secret), 4)],
        uri=uri,
        qr=two_factor.qr_data_uri(uri),
    ), status


def init_app(app: Flask) -> None:
    """Register the account pages on `app`."""
    app.register_blueprint(bp)
