"""Fixtures for the readiness check: a question file and articles of the tests' own."""

import shutil
from pathlib import Path

import pytest

FIXTURE = Path(__file__).with_name("fixture_questions.toml")
ARTICLES = {
    "first-article": "Title: First\nSlug: first-article\n\n## First heading\n\n## Second heading\n",
    "second-article": "Title: Second\nSlug: second-article\n\nText.\n",
}


@pytest.fixture
def content_dir(tmp_path) -> Path:
    """A content folder with two articles and the fixture question file."""
    content = tmp_path / "content"
    (content / "articles").mkdir(parents=True)
    for slug, text in ARTICLES.items():
        (content / "articles" / f"{slug}.md").write_text(text)
    shutil.copy(FIXTURE, content / "readiness.toml")
    return content


@pytest.fixture
def readiness_app(make_app, content_dir):
    """The app with the fixture question file."""
    return make_app(CONTENT_DIR=content_dir, READINESS_FILE=content_dir / "readiness.toml")
