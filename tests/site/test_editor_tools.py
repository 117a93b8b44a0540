"""Editor tools: `make new-post` (sitebuild.newpost) and `make preview` (sitebuild.preview).

Builds use small temporary content folders and the real settings; the preview server is
started on a free loopback port.
"""

import json
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import pytest

from sitebuild.preview import BuildState, PreviewConfig, build, make_server, rebuild, snapshot
from tests.conftest import ROOT, build_site
from tests.site.test_content_checks import article, make_site

TITLE = "How we scope a pilot"
SLUG = "how-we-scope-a-pilot"


def new_post(content: Path, *args: str) -> subprocess.CompletedProcess:
    """Run the new-post command (as `make new-post` does) against a temporary content folder."""
    command = [sys.executable, "-m", "sitebuild.newpost", *args, "--content", str(content)]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=60)


def preview_build(content: Path, output: Path) -> subprocess.CompletedProcess:
    """The build `make preview` runs, into `output`."""
    return build(PreviewConfig(settings=ROOT / "pelicanconf.py", content=content, output=output))


@pytest.fixture
def content(tmp_path) -> Path:
    """A small valid content folder."""
    return make_site(tmp_path, {})


def test_new_post_writes_a_draft_with_a_complete_header(content):
    result = new_post(content, TITLE)
    assert result.returncode == 0, result.stderr
    text = (content / "articles" / f"{SLUG}.md").read_text()
    for field in ("Title: How we scope a pilot", "Date: ", "Modified: ", "Category: ", "Tags:"):
        assert field in text
    for field in (f"Slug: {SLUG}", "Author: ", "Summary: TODO", "Status: draft", "\n## "):
        assert field in text
    assert f"articles/{SLUG}.md" in result.stdout


def test_new_post_is_hidden_from_the_published_build(content, tmp_path):
    assert new_post(content, TITLE).returncode == 0
    result = build_site(tmp_path / "output", content=content)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "output" / "blog" / SLUG).exists()


def test_new_post_shows_in_the_preview_build_with_a_draft_banner(content, tmp_path):
    assert new_post(content, TITLE).returncode == 0
    result = preview_build(content, tmp_path / "preview")
    assert result.returncode == 0, result.stdout + result.stderr
    page = (tmp_path / "preview" / "blog" / SLUG / "index.html").read_text()
    assert "Draft: not on the published site" in page


def test_new_post_cannot_be_published_with_its_placeholder_summary(content, tmp_path):
    assert new_post(content, TITLE).returncode == 0
    path = content / "articles" / f"{SLUG}.md"
    path.write_text(path.read_text().replace("Status: draft", "Status: published"))
    result = build_site(tmp_path / "output", content=content)
    assert result.returncode != 0
    assert f"{SLUG}.md:8: Summary 'TODO" in result.stdout + result.stderr


def test_new_post_refuses_to_overwrite_and_suggests_a_free_slug(content):
    assert new_post(content, TITLE).returncode == 0
    path = content / "articles" / f"{SLUG}.md"
    path.write_text(path.read_text() + "\nThe editor's words.\n")
    result = new_post(content, TITLE)
    assert result.returncode == 1
    assert f"SLUG={SLUG}-2" in result.stderr
    assert path.read_text().endswith("The editor's words.\n")


def test_new_post_refuses_a_slug_another_article_uses(content):
    result = new_post(content, "Anything", "--slug", "a-good-article")
    assert result.returncode == 1
    assert not (content / "articles" / "a-good-article.md").exists()


def test_new_post_slugifies_unicode_titles_to_ascii(content):
    result = new_post(content, "Ça coûte: l’IA à Zürich")
    assert result.returncode == 0, result.stderr
    assert (content / "articles" / "ca-coute-lia-a-zurich.md").is_file()


@pytest.mark.parametrize("title", ["", "   "])
def test_new_post_without_a_title_prints_usage(content, title):
    result = new_post(content, title)
    assert result.returncode == 2
    assert 'make new-post TITLE="' in result.stderr


def test_new_post_transliterates_non_latin_titles(content):
    result = new_post(content, "人工智能")
    assert result.returncode == 0, result.stderr
    assert (content / "articles" / "ren-gong-zhi-neng.md").is_file()


def test_new_post_title_without_letters_asks_for_a_slug(content):
    result = new_post(content, "???")
    assert result.returncode == 2
    assert "SLUG=" in result.stderr


@pytest.fixture
def draft_and_future(tmp_path) -> Path:
    """A content folder with a draft and an article dated far in the future."""
    return make_site(
        tmp_path,
        {
            "articles/draft.md": article(
                "Title: Draft\nDate: 2026-01-02\nSummary: s\nStatus: draft"
            ),
            "articles/future.md": article("Title: Future\nDate: 2099-01-01\nSummary: s"),
        },
    )


def test_normal_build_leaves_out_drafts_and_future_articles(draft_and_future, tmp_path):
    result = build_site(tmp_path / "output", content=draft_and_future)
    assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "output" / "blog" / "draft").exists()
    assert not (tmp_path / "output" / "blog" / "future").exists()


def test_preview_build_includes_drafts_and_future_articles(draft_and_future, tmp_path):
    result = preview_build(draft_and_future, tmp_path / "preview")
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "preview" / "blog" / "draft" / "index.html").is_file()
    future = (tmp_path / "preview" / "blog" / "future" / "index.html").read_text()
    assert "Scheduled: goes live" in future


def test_preview_build_reports_content_problems(content, tmp_path):
    (content / "articles" / "bad.md").write_text(article("Title: T\nDate: 2026-13-45\nSummary: s"))
    result = preview_build(content, tmp_path / "preview")
    assert result.returncode != 0
    assert "bad.md:2: Date '2026-13-45' is not a date" in result.stdout + result.stderr


@pytest.fixture
def preview_server(content, tmp_path):
    """The preview server over a preview build of `content`; yields (base URL, output folder)."""
    output = tmp_path / "preview"
    assert preview_build(content, output).returncode == 0
    state = BuildState()
    state.record("")
    server = make_server("127.0.0.1", 0, output, state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", output
    server.shutdown()
    server.server_close()


def fetch(url: str) -> str:
    """GET a URL from the local preview server."""
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read().decode()


def test_preview_server_adds_the_reload_script_to_pages_only_when_served(preview_server):
    base, output = preview_server
    assert "/__preview__/status" in fetch(f"{base}/blog/a-good-article/")
    on_disk = (output / "blog" / "a-good-article" / "index.html").read_text()
    assert "/__preview__/status" not in on_disk


def test_preview_server_reports_the_build_number(preview_server):
    base, _output = preview_server
    assert json.loads(fetch(f"{base}/__preview__/status")) == {"build": 1, "error": ""}


def test_published_build_has_no_preview_script(content, tmp_path):
    assert build_site(tmp_path / "output", content=content).returncode == 0
    page = (tmp_path / "output" / "blog" / "a-good-article" / "index.html").read_text()
    assert "__preview__" not in page


def test_failed_preview_build_is_recorded_for_the_browser(content, tmp_path):
    (content / "articles" / "bad.md").write_text(article("Title: T\nSummary: s"))
    config = PreviewConfig(settings=ROOT / "pelicanconf.py", content=content, output=tmp_path / "p")
    state = BuildState()
    rebuild(config, state)
    status = json.loads(state.as_json())
    assert status["build"] == 1
    assert "bad.md:1: missing Date" in status["error"]


def test_watcher_snapshot_sees_an_edit(content):
    before = snapshot([content])
    path = content / "articles" / "good.md"
    path.write_text(path.read_text() + "\nOne more line.\n")
    assert snapshot([content]) != before
