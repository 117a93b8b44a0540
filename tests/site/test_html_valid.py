"""Every page the build writes passes the Nu Html Checker (vnu) with no errors."""

import pytest

from tests.conftest import missing
from tests.site.checkers import VNU_JAR, run_vnu

pytestmark = [pytest.mark.java, pytest.mark.slow]

# Pagefind writes its own files into /pagefind/; they are not ours to fix.
PAGEFIND = ("pagefind/",)


@pytest.fixture(scope="module")
def vnu_jar():
    """Path to the Nu Html Checker jar from npm (`make node` installs it)."""
    if not VNU_JAR.is_file():
        missing(f"vnu.jar at {VNU_JAR} (run `make node`)")
    return VNU_JAR


def test_vnu_flags_invalid_html(java_path, vnu_jar, tmp_path):
    """Self-test: the checker reports a known error, with its file and line."""
    (tmp_path / "bad.html").write_text(
        "<!doctype html>\n<html lang=en><title>x</title>\n<p><div>nested</p></div>\n"
    )
    errors = run_vnu(tmp_path, java=java_path)
    assert errors, "vnu reported nothing for an invalid page"
    assert all(error.path == "bad.html" for error in errors), errors
    assert errors[0].line == 3, errors


def test_every_page_is_valid_html(java_path, vnu_jar, built_site):
    """The whole output folder, in one vnu run, has no HTML errors."""
    assert any(built_site.rglob("*.html")), "the build wrote no HTML pages"
    errors = run_vnu(built_site, java=java_path, exclude=PAGEFIND)
    assert [str(error) for error in errors] == []
