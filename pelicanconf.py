"""Pelican settings for local builds. publishconf.py extends them for production.

Firm facts (name, blurb, the assessment, navigation) come from site.toml, the one source the
booking service reads too; do not restate them here.
"""

import tomllib
from pathlib import Path

_HERE = Path(__file__).resolve().parent
with (_HERE / "site.toml").open("rb") as _f:
    SITE = tomllib.load(_f)

AUTHOR = SITE["firm"]["name"]
SITENAME = SITE["firm"]["name"]
SITESUBTITLE = SITE["firm"]["tagline"]
SITEURL = ""
RELATIVE_URLS = False

PATH = "content"
# The booking service serves /readiness-check when the content has its question file
# (docs/readiness-check.md); articles then offer it beside the booking button.
READINESS_CHECK = (_HERE / PATH / "readiness.toml").is_file()
ARTICLE_PATHS = ["articles"]
PAGE_PATHS = ["pages"]
STATIC_PATHS = ["images", "extra/favicon.svg", "extra/favicon.ico"]
# robots.txt is a template so its Sitemap line carries the absolute base URL.
TEMPLATE_PAGES = {"extra/robots.txt": "robots.txt"}
EXTRA_PATH_METADATA = {
    "extra/favicon.svg": {"path": "favicon.svg"},
    "extra/favicon.ico": {"path": "favicon.ico"},
}

TIMEZONE = SITE["availability"]["timezone"]
DEFAULT_LANG = "en"
DEFAULT_DATE_FORMAT = "%B %Y"

THEME = "theme"
THEME_STATIC_DIR = "theme"
# Autoescape as in Flask, so the partials shared with leadform behave the same in both;
# templates mark rendered Markdown with |safe.
# auto_reload off: Pelican makes a new environment for every build, so the stat of a template
# file on each of the ~28,000 includes of a 1,000-article build is never needed (~0.03 s).
JINJA_ENVIRONMENT = {
    "trim_blocks": True,
    "lstrip_blocks": True,
    "autoescape": True,
    "auto_reload": False,
}

# URLs: articles under /blog/, pages at the root, everything as directory URLs.
ARTICLE_URL = "blog/{slug}/"
ARTICLE_SAVE_AS = "blog/{slug}/index.html"
PAGE_URL = "{slug}/"
PAGE_SAVE_AS = "{slug}/index.html"
CATEGORY_URL = "category/{slug}/"
CATEGORY_SAVE_AS = "category/{slug}/index.html"
CATEGORIES_URL = "category/"
CATEGORIES_SAVE_AS = "category/index.html"
TAG_URL = "tag/{slug}/"
TAG_SAVE_AS = "tag/{slug}/index.html"
TAGS_URL = "tag/"
TAGS_SAVE_AS = "tag/index.html"
ARCHIVES_URL = "archives/"
ARCHIVES_SAVE_AS = "archives/index.html"
AUTHOR_SAVE_AS = ""
AUTHORS_SAVE_AS = ""
# /blog/ (the folder of every article) sends readers to the article list, the home page:
# theme/templates/blog.html, a redirect page that works on every server.
BLOG_URL = "blog/"
BLOG_SAVE_AS = "blog/index.html"
DIRECT_TEMPLATES = ["index", "categories", "tags", "archives", "blog"]
DEFAULT_PAGINATION = 10
PAGINATION_PATTERNS = (
    (1, "{url}", "{save_as}"),
    (2, "{base_name}/page/{number}/", "{base_name}/page/{number}/index.html"),
)

# Drafts and future-dated articles never reach the published site (make preview shows them).
WITH_FUTURE_DATES = False
DRAFT_SAVE_AS = ""
DRAFT_PAGE_SAVE_AS = ""
DRAFT_URL = ""
DRAFT_PAGE_URL = ""

# Feeds are on locally too, so tests and the link check see them. FEED_DOMAIN is also the
# absolute base of canonical and JSON-LD URLs in local builds (sitebuild.seo): make run's
# address. `make html` and `make preview` pass the address they serve on (pelican -e).
FEED_DOMAIN = "http://127.0.0.1:8000"
FEED_ALL_ATOM = "feeds/all.atom.xml"
CATEGORY_FEED_ATOM = "feeds/{slug}.atom.xml"
FEED_ALL_RSS = None
CATEGORY_FEED_RSS = None
TRANSLATION_FEED_ATOM = None
AUTHOR_FEED_ATOM = None
AUTHOR_FEED_RSS = None
TAG_FEED_ATOM = None

MARKDOWN = {
    "extension_configs": {
        "markdown.extensions.extra": {},
        # Heading ids and "#" permalinks exactly as markdown.extensions.toc makes them, without
        # the table of contents nobody prints (half toc's cost); see docs/performance.md.
        "sitebuild.headings": {"permalink": "#", "permalink_title": "Link to this section"},
        "markdown.extensions.meta": {},
        # Smarty's typographic quotes, dashes and ellipses, same output at a fifth of the
        # cost (smarty alone took half a stock build); see docs/performance.md.
        "sitebuild.typography": {},
    },
    "output_format": "html5",
}

# Our plugins live in the sitebuild package (installed in the virtual environment).
# Pelican only logs a plugin that fails to load, so tests check that each one ran.
PLUGIN_PATHS = []
PLUGINS = [
    # {fact:...} placeholders in Markdown, from site.toml (docs/editing.md).
    "sitebuild.facts",
    "sitebuild.articles",
    # SVG diagrams scroll on their own on phones instead of shrinking their labels.
    "sitebuild.diagrams",
    # Bylines and the assessment's consultants from site.toml's [people]; before seo.
    "sitebuild.people",
    "sitebuild.seo",
    "sitebuild.feeds",
    "sitebuild.sitemap",
    # A 1200x630 share card per article and page (og:image), cached by content hash.
    "sitebuild.cards",
    "sitebuild.contentcheck",
    # Last, so a failed content check stops the build before anything is compressed.
    "sitebuild.precompress",
]
# .gz/.br copies for nginx's gzip_static/brotli_static: production builds only (publishconf.py).
PRECOMPRESS = False

CACHE_CONTENT = False
LOAD_CONTENT_CACHE = False
