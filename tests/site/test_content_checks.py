"""The content check (sitebuild.contentcheck) fails the standard build on editor mistakes.

Each case builds a small temporary site holding one good article and one bad file with the
real `pelican CONTENT -s pelicanconf.py` command, and expects a non-zero exit whose output
names the bad file and line. A good site must build, so the check cannot simply always fail.
"""

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT, build_site

GOOD_ARTICLE = """\
Title: A good article
Date: 2026-01-05 09:00
Modified: 2026-01-06
Category: Strategy
Tags: pilots, data
Summary: A perfectly ordinary article.

Read [about us](/about/), [another article]({filename}second.md)
or [the chart]({static}../images/chart.svg).
Links the booking service answers are fine: [book](/book), [a slot](/book/slots?day=1),
[manage](/manage/abc), [health](/healthz), [ready](/readyz), [search](/pagefind/pagefind.js).

![A bar chart of pilot outcomes](/images/chart.svg)

<img src="/images/chart.svg" alt="The same chart as raw HTML">

    <img src="not-checked-because-this-is-code.png">

```
<a href="/not/checked/either/">code</a>
```
"""

SECOND_ARTICLE = """\
Title: A second article
Date: 2026-01-01
Category: Delivery
Summary: Linked from the first.

Body.
"""

ABOUT_PAGE = """\
Title: About
Summary: Who we are.

About us.
"""

CHART = '<svg xmlns="http://www.w3.org/2000/svg" width="1" height="1"/>\n'


def article(header: str, body: str = "Body text.") -> str:
    """An article file: the given header lines, a blank line, the body."""
    return f"{header.strip()}\n\n{body}\n"


def make_site(folder: Path, extra_files: dict[str, str]) -> Path:
    """A content folder with the good files plus `extra_files` (relative path -> text)."""
    content = folder / "content"
    files = {
        "articles/good.md": GOOD_ARTICLE,
        "articles/second.md": SECOND_ARTICLE,
        "pages/about.md": ABOUT_PAGE,
        "images/chart.svg": CHART,
        **extra_files,
    }
    for relative, text in files.items():
        path = content / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    # robots.txt and the favicons are named in pelicanconf.py, so every content folder needs them.
    shutil.copytree(ROOT / "content" / "extra", content / "extra")
    return content


def build(tmp_path: Path, extra_files: dict[str, str]):
    """Build the temporary site with the standard command; return (process, all its output)."""
    result = build_site(tmp_path / "output", content=make_site(tmp_path, extra_files))
    return result, result.stdout + result.stderr


def test_good_site_builds_and_publishes_the_article(tmp_path):
    result, output = build(tmp_path, {})
    assert result.returncode == 0, output
    assert (tmp_path / "output" / "blog" / "a-good-article" / "index.html").is_file()


FULL = "2026-01-05"
BAD_CASES = {
    "missing title": (
        {"articles/bad.md": article(f"Date: {FULL}\nSummary: s")},
        "bad.md:1: missing Title",
    ),
    "missing date": (
        {"articles/bad.md": article("Title: No date\nSummary: s")},
        "bad.md:1: missing Date",
    ),
    "missing summary": (
        {"articles/bad.md": article(f"Title: No summary\nDate: {FULL}")},
        "bad.md:1: missing Summary",
    ),
    "empty summary": (
        {"articles/bad.md": article(f"Title: Empty summary\nDate: {FULL}\nSummary:")},
        "bad.md:1: missing Summary",
    ),
    "page missing title": (
        {"pages/bad.md": article("Summary: s")},
        "bad.md:1: missing Title",
    ),
    "page missing summary": (
        {"pages/bad.md": article("Title: A page")},
        "bad.md:1: missing Summary",
    ),
    "unparseable date": (
        {"articles/bad.md": article("Title: Bad date\nDate: 2026-13-45\nSummary: s")},
        "bad.md:2: Date '2026-13-45' is not a date (use YYYY-MM-DD or YYYY-MM-DD HH:MM)",
    ),
    "unparseable modified": (
        {"articles/bad.md": article(f"Title: T\nDate: {FULL}\nModified: last Tuesday\nSummary: s")},
        "bad.md:3: Modified 'last Tuesday' is not a date",
    ),
    "bad date in a draft": (
        {"articles/bad.md": article("Title: T\nDate: 31/02/2026\nSummary: s\nStatus: draft")},
        "bad.md:2: Date '31/02/2026' is not a date",
    ),
    "broken filename link": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", "\n[x]({filename}nope.md)"
            )
        },
        "bad.md:6: link '{filename}nope.md' points to articles/nope.md, which does not exist",
    ),
    "broken static link": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", "![A](  {static}/images/no.png)"
            )
        },
        "bad.md:5: link '{static}/images/no.png' points to images/no.png, which does not exist",
    ),
    "broken article link": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", "See [this](/blog/nope/)."
            )
        },
        "bad.md:5: link '/blog/nope/' matches nothing on the site",
    ),
    "broken image path": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", "![A chart](/images/x.svg)"
            )
        },
        "bad.md:5: file '/images/x.svg' matches nothing on the site",
    ),
    "broken page link": (
        {"articles/bad.md": article(f"Title: T\nDate: {FULL}\nSummary: s", "[Team](/team/)")},
        "bad.md:5: link '/team/' matches nothing on the site",
    ),
    "broken link spelled with an entity": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s",
                '## A heading\n\n<a title="Team" href="&#47;team&#47;">Team</a>',
            )
        },
        "bad.md: link '/team/' matches nothing on the site",
    ),
    "markdown image without alt": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", "![](/images/chart.svg)"
            )
        },
        "bad.md:5: image '/images/chart.svg' has no alt text",
    ),
    "raw img without alt": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", '<img src="/images/chart.svg">'
            )
        },
        "bad.md:5: image '/images/chart.svg' has no alt text",
    ),
    "raw img with blank alt": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", '<img alt=" " src="/images/chart.svg">'
            )
        },
        "bad.md:5: image '/images/chart.svg' has no alt text",
    ),
    "placeholder summary when published": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: TODO: write me\nStatus: published"
            )
        },
        "bad.md:3: Summary 'TODO: write me' is still a placeholder",
    ),
    "link to an unpublished draft": (
        {
            "articles/bad.md": article(
                f"Title: T\nDate: {FULL}\nSummary: s", "[soon]({filename}wip.md)"
            ),
            "articles/wip.md": article(f"Title: WIP\nDate: {FULL}\nSummary: s\nStatus: draft"),
        },
        "bad.md:5: link '{filename}wip.md' points to a draft or a future article",
    ),
}


@pytest.mark.parametrize("files, expected", BAD_CASES.values(), ids=BAD_CASES.keys())
def test_bad_file_fails_the_build_naming_file_and_line(tmp_path, files, expected):
    result, output = build(tmp_path, files)
    assert result.returncode != 0, output
    assert expected in output, output


@pytest.mark.parametrize("folder", ["articles", "pages"])
def test_duplicate_slug_names_both_files(tmp_path, folder):
    twin = article(f"Title: Twin\nDate: {FULL}\nSummary: s\nSlug: same")
    result, output = build(tmp_path, {f"{folder}/a.md": twin, f"{folder}/b.md": twin})
    assert result.returncode != 0, output
    assert f"b.md:4: slug 'same' is also used by {tmp_path}/content/{folder}/a.md" in output


def test_all_problems_are_reported_in_one_build(tmp_path):
    files = {
        "articles/bad-date.md": article("Title: T\nDate: 2026-02-30\nSummary: s"),
        "articles/bad-link.md": article(f"Title: U\nDate: {FULL}\nSummary: s", "[x](/nope/)"),
        "pages/no-summary.md": article("Title: P"),
    }
    result, output = build(tmp_path, files)
    assert result.returncode != 0, output
    assert "3 problem(s)" in output, output
    for name in ("bad-date.md:2:", "bad-link.md:5:", "no-summary.md:1:"):
        assert name in output, output


READINESS_FIXTURE = ROOT / "tests" / "leadform" / "readiness" / "fixture_questions.toml"


def readiness_file(**replace: str) -> str:
    """The readiness tests' question file, pointed at this site's two articles."""
    text = READINESS_FIXTURE.read_text()
    text = text.replace("first-article#second-heading", "a-good-article")
    text = text.replace("first-article", "a-good-article").replace(
        "second-article", "a-second-article"
    )
    for old, new in replace.items():
        text = text.replace(old, new, 1)
    return text


def test_a_valid_readiness_file_builds(tmp_path):
    result, output = build(tmp_path, {"readiness.toml": readiness_file()})
    assert result.returncode == 0, output


def test_a_broken_readiness_file_fails_the_build_naming_the_line(tmp_path):
    broken = readiness_file(**{"weight = 3": "weight = -3"})
    line = next(n for n, text in enumerate(broken.splitlines(), 1) if "weight = -3" in text)

    result, output = build(tmp_path, {"readiness.toml": broken})

    assert result.returncode == 1
    assert f"readiness.toml:{line}: dimension 'alpha': `weight` must be a number above 0" in output
