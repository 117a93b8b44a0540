"""The readiness check's pages through HTTP: questions, errors, result, report by email."""

import re
from html.parser import HTMLParser

import pytest
from sqlalchemy import select

from leadform.db import db
from leadform.messages.senders import EmailMessage
from leadform.models import OutboxMessage
from leadform.readiness.models import ReadinessCheck
from leadform.readiness.services import ARTICLE_PATH
from tests.conftest import ROOT

HOSTILE = '"><script>alert(1)</script>\u202e'


class Inputs(HTMLParser):
    """The hidden inputs and the radio groups of a page."""

    def __init__(self, html: str):
        super().__init__()
        self.hidden, self.radios, self.checked = {}, {}, {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attr = dict(attrs)
        if tag != "input":
            return
        if attr.get("type") == "hidden":
            self.hidden[attr["name"]] = attr.get("value", "")
        elif attr.get("type") == "radio":
            self.radios.setdefault(attr["name"], []).append(attr["value"])
            if "checked" in attr:
                self.checked[attr["name"]] = attr["value"]


def open_check(client, url="/readiness-check") -> Inputs:
    response = client.get(url)
    assert response.status_code == 200
    return Inputs(response.get_data(as_text=True))


def all_answers(page: Inputs, value: str = "2", **overrides) -> dict:
    data = dict(page.hidden)
    data.update({name: value for name in page.radios})
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def take_check(client, url="/readiness-check", **overrides) -> str:
    """Answer every question; return the result page's path."""
    page = open_check(client, url)
    response = client.post("/readiness-check", data=all_answers(page, **overrides))
    assert response.status_code == 303, response.get_data(as_text=True)
    return response.headers["Location"]


def test_every_question_is_asked_on_the_scale(readiness_app):
    page = open_check(readiness_app.test_client())

    questionnaire = readiness_app.extensions["readiness"]
    assert set(page.radios) == {question.key for question in questionnaire.questions}
    assert all(values == ["0", "1", "2", "3", "4"] for values in page.radios.values())


def test_question_text_is_escaped(readiness_app):
    html = readiness_app.test_client().get("/readiness-check").get_data(as_text=True)

    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;" in html


def test_an_incomplete_check_comes_back_with_answers_kept(readiness_app):
    client = readiness_app.test_client()
    page = open_check(client)

    response = client.post("/readiness-check", data=all_answers(page, "3", b2=None, c1=None))

    assert response.status_code == 400
    again = Inputs(response.get_data(as_text=True))
    assert again.checked["a1"] == "3" and "b2" not in again.checked
    html = response.get_data(as_text=True)
    assert "2 statements need an answer" in html
    assert 'href="#b2-0"' in html and 'href="#c1-0"' in html
    assert db_checks(readiness_app) == []


def db_checks(app):
    with app.app_context():
        return db.session.scalars(select(ReadinessCheck)).all()


def test_a_complete_check_is_stored_with_its_attribution(readiness_app):
    client = readiness_app.test_client()
    url = "/readiness-check?from=first-article&utm_source=news&utm_campaign=" + HOSTILE

    location = take_check(client, url)

    (stored,) = db_checks(readiness_app)
    assert location == f"/readiness-check/result/{stored.token}"
    assert (stored.source_article, stored.utm_source) == ("first-article", "news")
    assert "\u202e" not in stored.utm_campaign and "<script>" in stored.utm_campaign
    assert stored.scores == {"alpha": 50, "beta": 50, "gamma": 50, "delta": 50}
    assert (stored.overall, stored.band) == (50, "Middle")
    assert stored.email is None


def test_the_result_shows_band_chart_numbers_risks_and_the_booking_offer(readiness_app):
    client = readiness_app.test_client()
    location = take_check(client, "/readiness-check?from=first-article", a1="0", a2="0")

    response = client.get(location)

    html = response.get_data(as_text=True)
    token = location.rsplit("/", 1)[1]
    assert response.status_code == 200
    assert "Your result: Low" in html and "38%" in html
    assert '<svg class="readiness-chart" role="img"' in html
    assert re.search(r"<th scope=\"row\">Alpha</th><td>25%</td>", html)
    first_risk = html.index("Alpha (25%)")
    assert first_risk < html.index("Beta (50%)")
    article = ARTICLE_PATH.format(slug="first-article") + "#second-heading"
    assert f'href="http://127.0.0.1:8000{article}"' in html
    assert f"/book?check={token}&amp;from=first-article" in html
    assert response.headers["Cache-Control"] == "no-store"


def test_an_unknown_result_is_a_404(readiness_app):
    client = readiness_app.test_client()

    assert client.get("/readiness-check/result/nope").status_code == 404
    assert client.get("/readiness-check/result/" + "x" * 500).status_code == 404


def csrf_of(client, path) -> str:
    html = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)


def test_the_report_is_emailed_through_the_outbox(readiness_app):
    client = readiness_app.test_client()
    location = take_check(client)

    response = client.post(
        location + "/email",
        data={
            "csrf_token": csrf_of(client, location),
            "email": " ada@example.com ",
            "consent": "y",
        },
    )

    assert response.status_code == 303 and response.headers["Location"] == location
    with readiness_app.app_context():
        (row,) = db.session.scalars(select(OutboxMessage)).all()
        message = EmailMessage.from_dict(row.payload)
        (stored,) = db.session.scalars(select(ReadinessCheck)).all()
        assert row.kind == "readiness_report" and message.to == "ada@example.com"
        assert stored.email == "ada@example.com" and stored.consent_at is not None
    assert "50%" in message.subject and "Middle" in message.subject
    assert "Alpha: 50%" in message.text
    assert location in message.text
    assert 'width="50%"' in message.html
    assert "ada@example.com" in client.get(location).get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"email": "ada@example.com"}, "Tick the box"),
        ({"email": "not an address", "consent": "y"}, "Enter an address like"),
        ({"email": "", "consent": "y"}, "Enter the address"),
    ],
)
def test_the_report_needs_an_address_and_consent(readiness_app, data, error):
    client = readiness_app.test_client()
    location = take_check(client)

    response = client.post(
        location + "/email", data=data | {"csrf_token": csrf_of(client, location)}
    )

    assert response.status_code == 400
    assert error in response.get_data(as_text=True)
    with readiness_app.app_context():
        assert db.session.scalars(select(OutboxMessage)).all() == []


def test_posts_without_the_csrf_token_are_refused(make_app, content_dir):
    app = make_app(
        CONTENT_DIR=content_dir,
        READINESS_FILE=content_dir / "readiness.toml",
        WTF_CSRF_ENABLED=True,
    )
    client = app.test_client()
    page = open_check(client)
    data = all_answers(page)
    data.pop("csrf_token")

    assert client.post("/readiness-check", data=data).status_code == 400
    assert db_checks(app) == []


def test_checks_are_rate_limited(make_app, content_dir):
    app = make_app(
        CONTENT_DIR=content_dir,
        READINESS_FILE=content_dir / "readiness.toml",
        READINESS_RATE_LIMIT="2/hour",
    )
    client = app.test_client()
    page = open_check(client)

    codes = [client.post("/readiness-check", data=all_answers(page)).status_code for _ in range(3)]

    assert codes == [303, 303, 429]


def test_the_article_path_is_the_sites():
    settings = (ROOT / "pelicanconf.py").read_text()
    article_url = re.search(r'^ARTICLE_URL = "([^"]+)"', settings, re.M).group(1)

    assert "/" + article_url == ARTICLE_PATH
