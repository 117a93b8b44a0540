"""sitebuild.headings gives every heading the id and permalink markdown.extensions.toc gives it.

Toc itself is the reference: each case is converted with pelicanconf.py's MARKDOWN setting
twice, once as configured and once with toc (same options) in place of sitebuild.headings,
and the two HTML outputs must be identical.
"""

import random

import markdown
import pytest
from pelican.settings import read_settings

from bench.sitegen import generate
from tests.conftest import ROOT

HEADINGS = "sitebuild.headings"
TOC = "markdown.extensions.toc"


def converter(extension: str) -> markdown.Markdown:
    """A Markdown converter with our settings, `extension` making the heading ids."""
    settings = read_settings(str(ROOT / "pelicanconf.py"))["MARKDOWN"]
    configs = {
        (extension if name == HEADINGS else name): options
        for name, options in settings["extension_configs"].items()
    }
    assert extension in configs, "pelicanconf.py no longer uses sitebuild.headings"
    return markdown.Markdown(extensions=list(configs), extension_configs=configs, **_rest(settings))


def _rest(settings: dict) -> dict:
    """The MARKDOWN options other than the extensions."""
    return {k: v for k, v in settings.items() if k not in ("extensions", "extension_configs")}


def both(source: str) -> tuple[str, str]:
    """HTML of `source` with sitebuild.headings and with toc."""
    return converter(HEADINGS).convert(source), converter(TOC).convert(source)


TRICKY_HEADINGS = {
    "duplicates": "## Intro\n\n## Intro\n\n## Intro_1\n\n## Intro\n\n### intro",
    "punctuation": "## What's new? (2026) -- a/b, c: d! [e] {f} ~g~ 50% $5 #hash",
    "quotes close together": "## He said \"'yes'\" and 'no' -- \"done\"...",
    "unicode": "## Café naïve Ünïcödé — ελληνικά 中文 ﬁ ½ ①",
    "inline code": "## Using `pelican --help` and `<b>`",
    "emphasis and link": "## *Bold* and **strong** with [a link](/x) and ![img](/i.png)",
    "entities": "## AT&T &copy; &amp; &#169; &lt;tag&gt; & more",
    "raw html": '## A <span class="x">raw</span> <!-- comment --> tag',
    "backslash escapes": "## Escaped \\*stars\\* and \\_under\\_ and \\#hash",
    "attr_list id": "## Given id {#custom}\n\n## custom\n\n## Custom",
    "data-toc-label": "## A long heading {data-toc-label='Short'}\n\n## Short",
    "attr_list class": "## Classy {.wide}",
    "footnote reference": "## Note[^1]\n\nText.\n\n[^1]: The note.",
    "only punctuation": "## !!!\n\n## ???\n\n## ---x---",
    "whitespace": "##    spaced    out \t heading   \n\n## spaced out heading",
    "setext and levels": "Title\n=====\n\nSub\n---\n\n#### Four\n\n###### Six",
    "in a blockquote": "> ## Quoted\n>\n> Text.\n\n## Quoted",
    "in md_in_html": '<div markdown="1">\n\n## Inside\n\n</div>\n\n## Inside',
    "ids elsewhere": '<p id="taken">x</p>\n\n## Taken\n\nTerm\n: def\n\n## taken',
    "numbers and underscores": "## 1. Numbers 2026\n\n## _private_ under_score\n\n## 2026",
    "toc marker": "[TOC]\n\n## One\n\n### Two\n\n## One",
    "toc marker in a list": "- [TOC]\n\n## One",
    "marker text in a heading": "## About [TOC] markers\n\n## About",
    "empty heading": "##\n\n## #\n\ntext",
}


@pytest.mark.parametrize("source", TRICKY_HEADINGS.values(), ids=TRICKY_HEADINGS.keys())
def test_headings_match_toc_on_tricky_headings(source):
    ours, toc = both(source)
    assert ours == toc


@pytest.mark.parametrize(
    "source", sorted((ROOT / "content").glob("**/*.md")), ids=lambda path: path.name
)
def test_headings_match_toc_on_the_real_content(source):
    ours, toc = both(source.read_text(encoding="utf-8"))
    assert ours == toc


def test_headings_match_toc_on_generated_articles(tmp_path):
    content = generate(tmp_path / "content", 25)
    for path in sorted((content / "articles").glob("*.md")):
        ours, toc = both(path.read_text(encoding="utf-8"))
        assert ours == toc, path.name


def test_headings_match_toc_on_random_headings():
    rng = random.Random(2026)
    alphabet = list("aZ9 _-'\"`*&;#!.,()[]{}<>/\\é—’\u00a0\t") + ["&amp;", "&copy;", "**", "  "]
    texts = ["".join(rng.choices(alphabet, k=rng.randint(1, 12))) for _ in range(400)]
    source = "\n\n".join(f"## {text}\n\nParagraph {number}." for number, text in enumerate(texts))
    ours, toc = both(source)
    assert ours == toc


def test_headings_write_ids_and_permalinks():
    # The comparison above holds only if toc's ids are really there.
    html = converter(HEADINGS).convert("## Intro\n\n## Intro")
    assert html == (
        '<h2 id="intro">Intro<a class="headerlink" href="#intro" '
        'title="Link to this section">#</a></h2>\n'
        '<h2 id="intro_1">Intro<a class="headerlink" href="#intro_1" '
        'title="Link to this section">#</a></h2>'
    )
