"""The adoption report page at /admin/reports and its CSV download (operators only).

The views only read the period from the query string and format `reports.adoption_report`;
every answer is `no-store`, like the rest of the desk.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from wtforms import Form
from wtforms.fields import DateField

from leadform.booking import visits
from leadform.desk import auth, reports
from leadform.desk.forms import ConfirmForm

bp = Blueprint("reports", __name__, url_prefix="/admin/reports")
TITLES_KEY = "reports.article_titles"


class ReportPeriodForm(Form):
    """The report's period: two dates read from the query string (a GET form, no CSRF)."""

    start = DateField("From")
    end = DateField("To (inclusive)")

    def validate_start(self, field):
        """Refuse a start date outside the years a report can cover."""
        _check(reports.check_date, field, field.data)

    def validate_end(self, field):
        """Refuse an end date out of range, before the start, or too far from it."""
        _check(reports.check_date, field, field.data)
        if not field.errors and self.start.data and not self.start.errors:
            _check(reports.check_period, field, self.start.data, field.data)


def _check(check, field, *values) -> None:
    """Run a reports check on parsed dates and put its message next to `field`."""
    if any(value is None for value in values):
        return  # the field's own parse error is already shown
    try:
        check(*values)
    except reports.ReportPeriodError as exc:
        field.errors.append(str(exc))


def _host_zone_name() -> str:
    return current_app.config["SITE"]["availability"]["timezone"]


def period_form() -> ReportPeriodForm:
    """Return the period form from the query string, the last 90 days by default."""
    start, end = reports.default_period(datetime.now(UTC), _host_zone_name())
    return ReportPeriodForm(request.args, data={"start": start, "end": end})


bp.after_request(auth.keep_private)


@bp.context_processor
def _desk_context():
    """Give desk/base.html the operator and the sign-out form it shows."""
    return {"operator": auth.current_operator(), "confirm_form": ConfirmForm()}


@bp.get("")
@auth.login_required
def adoption():
    """Show the funnel, from visits and checks to attended sessions, per article and campaign."""
    form = period_form()
    if not form.validate():
        return render_template("desk/reports/adoption.html", form=form, report=None), 400
    report = _adoption_report(form)
    return render_template(
        "desk/reports/adoption.html",
        form=form,
        report=report,
        chart=reports.bookings_chart_svg(report.weeks),
        titles=current_app.extensions.get(TITLES_KEY, {}),
        csv_url=url_for("reports.articles_csv", **_period_args(report)),
    )


@bp.get("/articles.csv")
@auth.login_required
def articles_csv():
    """Download the per-article table of the period as CSV."""
    form = period_form()
    if not form.validate():
        # The page shows the same form with its errors next to the fields. Only the form's
        # own fields go back: url_for reads names like _method or _external as options.
        return redirect(url_for("reports.adoption", **_form_args()), code=303)
    report = _adoption_report(form)
    filename = f"adoption-articles-{report.start.isoformat()}-{report.end.isoformat()}.csv"
    return Response(
        reports.articles_csv(report),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _adoption_report(form: ReportPeriodForm) -> reports.AdoptionReport:
    """Build the report of the form's period, with this process's waiting visits written first."""
    visits.visit_buffer(current_app).write()
    return reports.adoption_report(
        form.start.data, form.end.data, datetime.now(UTC), zone_name=_host_zone_name()
    )


def _form_args() -> dict:
    """The period form's values from the query string, nothing else."""
    names = ReportPeriodForm().data.keys()
    return {name: request.args[name] for name in names if name in request.args}


def _period_args(report: reports.AdoptionReport) -> dict:
    return {"start": report.start.isoformat(), "end": report.end.isoformat()}


def init_app(app: Flask) -> None:
    """Register the report pages and the `percent` template filter on `app`."""
    app.register_blueprint(bp)
    # Read once at start-up: the titles only change when the site is rebuilt and deployed.
    app.extensions[TITLES_KEY] = reports.read_titles(Path(app.config["CONTENT_DIR"]))
    app.add_template_filter(reports.percent, "percent")
    app.add_template_filter(reports.article_label, "article_label")
    app.add_template_filter(reports.value_label, "value_label")
