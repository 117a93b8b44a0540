"""The readiness wing: a five-minute check for readers not yet ready to book.

Lives here: the question file's loader and checks (`questions`), scoring (`scoring`), the
stored checks (`models`, `services`), the checks started per day and source (`starts`), the
forms and pages at /readiness-check (`forms`, `views`) and the SVG chart of a result
(`chart`). The questions, dimensions, weights and advice are editors' content:
content/readiness.toml by default (LEADFORM_READINESS_FILE).

May import: the core and the messages wing. The booking wing may import this one (a booking
carries the check it came from); the desk may too. Never booking or desk from here.
"""

from pathlib import Path

from flask import Flask

from leadform.readiness import chart, starts, views
from leadform.readiness.forms import check_form_class
from leadform.readiness.questions import article_files, load_questionnaire


def init_app(app: Flask) -> None:
    """Load and check the question file (a mistake stops start-up) and add the pages.

    Without LEADFORM_READINESS_FILE, the check is CONTENT_DIR/readiness.toml, and a site
    without that file simply has no readiness check.
    """
    content_dir = Path(app.config["CONTENT_DIR"])
    path = app.config["READINESS_FILE"]
    if path is None:
        path = content_dir / "readiness.toml"
        if not path.exists():
            app.logger.info("no %s: the readiness check is off", path)
            return
    questionnaire = load_questionnaire(path, article_files(content_dir))
    app.extensions["readiness"] = questionnaire
    app.extensions["readiness_form"] = check_form_class(questionnaire)
    starts.init_app(app)
    app.add_template_global(chart.result_chart_svg, "readiness_chart")
    app.register_blueprint(views.bp)
