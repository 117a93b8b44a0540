"""Key pages are accessible: axe-core finds nothing at 1280 and 375 px, light and dark.

Pages are served over HTTP by a local server (as a browser would meet them) to the real
Debian Chromium. Beyond axe: the skip link comes first and reaches <main>, pages reflow at
320 px, and no page requests anything from another host.
"""

import tomllib
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from tests.conftest import ROOT, missing
from tests.site.checkers import AXE_JS, describe_violations, run_axe, serve_folder

WIDTHS = {"desktop": 1280, "phone": 375}
REFLOW_WIDTH = 320  # WCAG 1.4.10: content reflows at 320 CSS px
SCHEMES = ["light", "dark"]
ASSESSMENT = tomllib.loads((ROOT / "site.toml").read_text(encoding="utf-8"))["assessment"]
PAGES = ["/", "article", ASSESSMENT["page_path"], "/about/", "/404.html"]
# The search page runs Pagefind's scripts, so it is the likeliest to reach out at run time.
NETWORK_PAGES = [*PAGES, "/search/"]

BAD_PAGE = """<!doctype html><html lang="en"><head><title>Bad</title></head>
<body><main><h1>Bad</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>
"""


@pytest.fixture(scope="module")
def site_url(built_site):
    """Base URL of the built site served over HTTP for this module's tests."""
    with serve_folder(built_site) as url:
        yield url


@pytest.fixture(scope="module")
def axe_js():
    """axe-core's browser bundle from npm (`make node` installs it)."""
    if not AXE_JS.is_file():
        missing(f"axe-core at {AXE_JS} (run `make node`)")
    return AXE_JS


def first_article_path(site) -> str:
    """The site path of the first article in /blog/ (sorted by slug, so stable)."""
    articles = sorted((site / "blog").glob("*/index.html"))
    assert articles, "the build wrote no articles under /blog/"
    return f"/blog/{articles[0].parent.name}/"


def resolve(page: str, site) -> str:
    """Turn a PAGES entry into a site path ("article" means the first article)."""
    return first_article_path(site) if page == "article" else page


def guarded_context(browser, base_url: str, foreign: list, width=1280, scheme="light"):
    """A browser context that aborts, and appends to `foreign`, requests to other hosts.

    Aborting at once keeps tests fast (there is no internet to time out against).
    """
    context = browser.new_context(viewport={"width": width, "height": 800}, color_scheme=scheme)
    context.route(lambda url: not _same_origin(url, base_url), _refuse(foreign))
    return context


@pytest.fixture
def open_page(browser, site_url, built_site):
    """Open a site path in a fresh context; record requests to any host but the site's."""
    contexts, foreign = [], []

    def _open(path: str, width: int = 1280, scheme: str = "light"):
        contexts.append(guarded_context(browser, site_url, foreign, width, scheme))
        page = contexts[-1].new_page()
        page.goto(site_url + resolve(path, built_site), wait_until="load")
        return page

    _open.foreign_requests = foreign
    yield _open
    for context in contexts:
        context.close()


def _same_origin(url: str, site_url: str) -> bool:
    """True for requests the page may make: its own origin and inline data/blob URLs."""
    parts = urlsplit(url)
    return parts.scheme in ("data", "blob", "about") or url.startswith(site_url + "/")


def _refuse(foreign: list):
    """A route handler that records the request's URL and aborts it."""

    def handler(route):
        foreign.append(route.request.url)
        route.abort()

    return handler


@pytest.mark.browser
def test_axe_flags_missing_alt(browser, axe_js, tmp_path):
    """Self-test: axe reports an image without alt text on a served page."""
    (tmp_path / "index.html").write_text(BAD_PAGE)
    with serve_folder(tmp_path) as url:
        page = browser.new_page()
        try:
            page.goto(url + "/")
            rules = {violation["id"] for violation in run_axe(page)}
        finally:
            page.close()
    assert "image-alt" in rules


@pytest.mark.browser
def test_foreign_requests_are_recorded(browser, tmp_path):
    """Self-test: a page pulling an image from another host is caught."""
    (tmp_path / "index.html").write_text('<img src="https://cdn.example.com/x.png" alt="x">')
    foreign = []
    with serve_folder(tmp_path) as url:
        context = guarded_context(browser, url, foreign)
        try:
            context.new_page().goto(url + "/", wait_until="load")
        finally:
            context.close()
    assert foreign == ["https://cdn.example.com/x.png"]


@pytest.mark.browser
@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
@pytest.mark.parametrize("path", PAGES)
def test_page_has_no_axe_violations(open_page, axe_js, path, width, scheme):
    """axe-core (WCAG 2.2 AA and best practice) finds nothing on the page."""
    violations = run_axe(open_page(path, width, scheme))
    assert describe_violations(violations) == []


@pytest.mark.browser
@pytest.mark.parametrize("path", NETWORK_PAGES)
def test_page_loads_nothing_from_other_hosts(open_page, path):
    """The page and all its assets come from the site itself."""
    page = open_page(path)
    page.wait_for_load_state("networkidle")
    assert open_page.foreign_requests == []


SKIP_LINK_TARGET = """() => {
  const link = document.activeElement;
  const id = decodeURIComponent((link.getAttribute('href') || '').replace(/^#/, ''));
  const target = id && document.getElementById(id);
  return {
    tag: link.tagName.toLowerCase(),
    href: link.getAttribute('href'),
    targetIsMain: !!target && (target.tagName === 'MAIN' || target.getAttribute('role') === 'main'),
  };
}"""

FOCUSED_BOX = """() => {
  const box = document.activeElement.getBoundingClientRect();
  return {width: box.width, height: box.height, top: box.top, left: box.left};
}"""


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES)
def test_skip_link_is_first_and_targets_main(open_page, path):
    """The first Tab lands on a link to the main landmark."""
    page = open_page(path)
    page.keyboard.press("Tab")
    focused = page.evaluate(SKIP_LINK_TARGET)
    assert focused["tag"] == "a" and (focused["href"] or "").startswith("#"), focused
    assert focused["targetIsMain"], focused


@pytest.mark.browser
@pytest.mark.parametrize("width", WIDTHS.values(), ids=WIDTHS.keys())
def test_skip_link_is_visible_when_focused(open_page, width):
    """A sighted keyboard user can see the skip link once it has focus (WCAG 2.4.7)."""
    page = open_page("/", width)
    page.keyboard.press("Tab")
    box = page.evaluate(FOCUSED_BOX)
    assert box["width"] > 1 and box["height"] > 1, box
    assert box["top"] >= 0 and box["left"] >= 0 and box["left"] + box["width"] <= width, box


def test_serve_folder_answers_misses_with_the_404_page(tmp_path):
    """Self-test: the local server serves directory URLs and /404.html with status 404."""
    (tmp_path / "404.html").write_text("not here")
    (tmp_path / "about").mkdir()
    (tmp_path / "about" / "index.html").write_text("about us")
    with serve_folder(tmp_path) as url:
        with urllib.request.urlopen(url + "/about/") as response:
            assert response.read() == b"about us"
        with pytest.raises(urllib.error.HTTPError) as miss:
            urllib.request.urlopen(url + "/nowhere/")
        with miss.value as error:
            assert (error.code, error.read()) == (404, b"not here")


PAGE_WIDTH = "() => document.documentElement.scrollWidth"


@pytest.mark.browser
@pytest.mark.parametrize("path", PAGES)
def test_page_reflows_at_320_px(open_page, path):
    """At 320 CSS px nothing forces sideways scrolling (WCAG 1.4.10 Reflow; axe cannot tell)."""
    page = open_page(path, REFLOW_WIDTH)
    assert page.evaluate(PAGE_WIDTH) <= REFLOW_WIDTH


@pytest.mark.browser
def test_blog_folder_lands_on_the_article_list(open_page, site_url):
    """/blog/ (the folder of every article's address) takes the reader to the list at /."""
    page = open_page("/blog/")
    page.wait_for_url(site_url + "/")
    assert page.locator("li.post-card").count() > 0
