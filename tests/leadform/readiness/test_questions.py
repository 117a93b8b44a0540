"""The question file: the real one loads, and every mistake names the file and line."""

import pytest

from leadform.config import REPO_ROOT
from leadform.readiness.questions import (
    MAX_QUESTIONS,
    MIN_QUESTIONS,
    QuestionFileError,
    article_files,
    load_questionnaire,
)


def test_the_real_question_file_is_valid():
    content = REPO_ROOT / "content"
    questionnaire = load_questionnaire(content / "readiness.toml", article_files(content))

    assert MIN_QUESTIONS <= len(questionnaire.questions) <= MAX_QUESTIONS
    asked = {question.dimension for question in questionnaire.questions}
    assert asked == {dimension.key for dimension in questionnaire.dimensions}


def test_the_fixture_loads(content_dir):
    questionnaire = load_questionnaire(content_dir / "readiness.toml", article_files(content_dir))

    assert [d.key for d in questionnaire.dimensions] == ["alpha", "beta", "gamma", "delta"]
    assert questionnaire.top_answer == 4
    assert questionnaire.dimension("alpha").article_slug == "first-article"


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """The 1-based line of the `occurrence`-th line containing `needle`."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return hits[occurrence - 1]


# (what to replace, with what, the line to blame (text on it, occurrence), message part)
BROKEN = [
    ("weight = 3", "weight = -1", ("weight = -1", 1), "`weight` must be a number above 0"),
    ("weight = 3", 'weight = "heavy"', ('weight = "heavy"', 1), "`weight` must be a number"),
    ('dimension = "beta"', 'dimension = "betta"', ('dimension = "betta"', 1), "'betta'"),
    ('article = "second-article"', 'article = "no-such"', ('article = "no-such"', 1), "no-such"),
    ("first-article#second-heading", "first-article#nope", ("#nope", 1), "no heading"),
    ('key = "a2"', 'key = "a1"', ("[[questions]]", 2), "appears twice"),
    ('key = "a2"', 'key = "A 2"', ('key = "A 2"', 1), "lower-case"),
    ('text = "Beta one."', 'text = ""', ('text = ""', 1), "needs a `text`"),
    ("from = 50", "from = 120", ("from = 120", 1), "`from` must be 0 to 99"),
    ("from = 50", "from = 90", ("[[bands]]", 1), "go up"),
    (
        'scale = ["No", "A little", "Half", "Mostly", "Yes"]',
        'scale = ["No"]',
        ("scale = [", 1),
        "3 to 7",
    ),
    ('title = "Beta"\n', 'title = "Beta"\n[oops\n', ("[oops", 1), "not valid TOML"),
]


@pytest.mark.parametrize(("old", "new", "blame", "message"), BROKEN)
def test_a_mistake_names_the_file_and_line(content_dir, old, new, blame, message):
    path = content_dir / "readiness.toml"
    text = path.read_text().replace(old, new, 1)
    path.write_text(text)

    with pytest.raises(QuestionFileError) as caught:
        load_questionnaire(path, article_files(content_dir))

    assert message in str(caught.value)
    assert caught.value.line == line_of(text, *blame)
    assert str(caught.value).startswith(f"{path}:{caught.value.line}: ")


def test_too_few_questions_are_refused(content_dir):
    path = content_dir / "readiness.toml"
    text = path.read_text()
    start = text.index('[[questions]]\nkey = "d2"')
    path.write_text(text[:start] + text[text.index("[[bands]]") :])
    text = path.read_text()
    start = text.index('[[questions]]\nkey = "d1"')
    path.write_text(text[:start] + text[text.index("[[bands]]") :])

    with pytest.raises(QuestionFileError, match="keep it to 12-15"):
        load_questionnaire(path, article_files(content_dir))


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(QuestionFileError, match="cannot read the file"):
        load_questionnaire(tmp_path / "nope.toml", {})


def test_a_broken_file_stops_the_service_from_starting(make_app, content_dir):
    path = content_dir / "readiness.toml"
    path.write_text(path.read_text().replace("weight = 3", "weight = 0"))

    with pytest.raises(QuestionFileError, match=r"readiness.toml:\d+: "):
        make_app(CONTENT_DIR=content_dir, READINESS_FILE=path)


def test_a_site_without_a_question_file_has_no_check(client):
    # The tests' own content folder has no readiness.toml and LEADFORM_READINESS_FILE is unset.
    assert client.get("/readiness-check").status_code == 404


def test_the_default_question_file_is_read_from_the_content_folder(make_app, content_dir):
    app = make_app(CONTENT_DIR=content_dir)

    assert app.test_client().get("/readiness-check").status_code == 200
