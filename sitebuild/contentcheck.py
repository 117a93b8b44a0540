"""Pelican plugin: fail the build on content problems that stock Pelican only warns about.

Stock Pelican logs a warning and drops an article with no title or a bad date, leaves broken
``{filename}`` links in place and publishes images without alt text; the build still
"succeeds" and an editor's work silently disappears. This plugin checks every Markdown file
under ARTICLE_PATHS and PAGE_PATHS (drafts and future-dated articles included) and, when
anything is wrong, makes the standard ``pelican`` command exit with status 1 after printing
every problem, one line each::

    content/articles/x.md:3: Date '2026-13-45' is not a date (use YYYY-MM-DD or YYYY-MM-DD HH:MM)

It runs at two moments:

- ``all_generators_finalized`` (everything read, nothing written yet): each source file's
  header, ``{fact:...}`` placeholders (sitebuild.facts), duplicate slugs, ``{filename}``/
  ``{static}`` targets and alt text. Duplicate slugs
  stop the build right there, because Pelican would otherwise crash writing the second file
  and the report would be lost.
- ``finalized`` (everything written): root-relative links such as ``/about/`` are looked up in
  the output folder, then all problems are reported together.
"""

import html
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from urllib.parse import unquote, urlsplit

import markdown
from pelican import signals
from pelican.generators import ArticlesGenerator, PagesGenerator

from sitebuild.facts import facts_of, substitute, unknown_facts

MARKDOWN_EXTENSIONS = ("md", "markdown", "mkd", "mdown")
REQUIRED = {"article": ("title", "date", "summary"), "page": ("title", "summary")}
STATUSES = ("published", "draft", "hidden")
DATE_HINT = "use YYYY-MM-DD or YYYY-MM-DD HH:MM"
# `make new-post` fills Summary with this; a published file must not keep it.
PLACEHOLDER = "TODO"

# Paths answered by the booking service (and Pagefind's index, written after Pelican), so
# they can never be found in Pelican's output. A setting of the same name can replace them.
CONTENTCHECK_SERVED_ELSEWHERE = (
    "/book",
    "/manage",
    "/admin",
    "/healthz",
    "/readyz",
    "/pagefind",
    "/readiness-check",
    "/newsletter",
)

# The same header grammar as Markdown's meta extension, which is what Pelican reads.
_META = re.compile(r"^[ ]{0,3}(?P<key>[A-Za-z0-9_-]+):\s*(?P<value>.*)")
_META_MORE = re.compile(r"^[ ]{4,}(?P<value>.*)")
_META_BEGIN = re.compile(r"^-{3}(\s.*)?")
_META_END = re.compile(r"^(-{3}|\.{3})(\s.*)?")

# Markdown output is regular enough for a regex: it is linear and much faster than an HTML
# parser over a thousand articles, and escaped code (&lt;img) never matches.
_TAG = re.compile(r"<(a|img|link|source|script|iframe|video|audio)\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r"""\b(href|src|alt)\b(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?""", re.I)
_INTRASITE = re.compile(r"^[{|](?P<what>filename|static|attach)[}|](?P<target>.*)$")
# Every link check_body looks at holds one of these once its attributes are unescaped: "{" or
# "|" (intrasite), "/" (a path or SITEURL), or "&" (an entity that may decode to them).
_LINK_MARK = re.compile(r"[{|/&]")


@dataclass(frozen=True, order=True)
class Problem:
    """One thing an editor must fix: the file, the line (when known) and what is wrong."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


class ContentCheckFailed(SystemExit):
    """The build found content problems; carries them and exits the ``pelican`` command with 1.

    A SystemExit because Pelican's command line turns any other exception into a logged
    traceback; this one prints just the report to stderr and sets the exit status.
    """

    def __init__(self, problems: list[Problem], note: str = ""):
        self.problems = sorted(problems)
        lines = [f"Content check failed: {len(self.problems)} problem(s). Fix and build again:"]
        lines += [str(problem) for problem in self.problems]
        if note:
            lines.append(note)
        super().__init__("\n".join(lines))


@dataclass
class Header:
    """The metadata header of one source file: key -> (value, line number)."""

    fields: dict[str, tuple[str, int]]

    def value(self, key: str) -> str:
        """Return the stripped value of `key`, or "" when absent."""
        return self.fields.get(key, ("", 0))[0].strip()

    def line(self, key: str, default: int = 1) -> int:
        """Return the line holding `key`, or `default` when absent."""
        return self.fields.get(key, ("", default))[1]


@dataclass
class Source:
    """A Markdown file Pelican was asked to read, with what the checks need to know of it."""

    path: str
    kind: str
    header: Header
    content: object = None  # the Pelican Article/Page, or None when Pelican dropped the file

    @cached_property
    def text(self) -> str:
        """The whole file, read again only when a problem needs a line number or a rendering.

        Not keeping every file's text in memory saves ~20 MiB at 1,000 articles.
        """
        return _read(self.path)

    @property
    def display(self) -> str:
        """The path as an editor would type it: relative to the working folder when inside it."""
        relative = os.path.relpath(self.path)
        return self.path if relative.startswith("..") else relative

    def line_of(self, needle: str, prefer: str = "") -> int:
        """Return the first line containing `needle` (and `prefer`, if any line has both)."""
        lines = self.text.splitlines()
        for wanted in ([prefer] if prefer else []) + [""]:
            for number, line in enumerate(lines, start=1):
                if needle in line and wanted in line:
                    return number
        return 0


@dataclass
class CheckRun:
    """Problems found before writing, and the root-relative links to look up after it."""

    problems: list[Problem] = field(default_factory=list)
    site_links: list[tuple[Source, str, str]] = field(default_factory=list)


_PENDING: dict[str, CheckRun] = {}


def parse_header(text: str) -> Header:
    """Read the metadata header the way Markdown's meta extension does, keeping line numbers."""
    # The header ends at the first blank line at the latest; the body is not needed here.
    lines = text.split("\n\n", 1)[0].splitlines()
    start = 1 if lines and _META_BEGIN.match(lines[0]) else 0
    fields: dict[str, tuple[str, int]] = {}
    key = None
    for number, line in enumerate(lines[start:], start=start + 1):
        if not line.strip() or _META_END.match(line):
            break
        if match := _META.match(line):
            key = match["key"].lower()
            if key not in fields:
                fields[key] = (match["value"].strip(), number)
        elif (more := _META_MORE.match(line)) and key:
            value, first = fields[key]
            fields[key] = (f"{value} {more['value'].strip()}", first)
        else:
            break
    return Header(fields)


def is_date(value: str) -> bool:
    """True for the ISO dates we accept: YYYY-MM-DD, optionally with a time (and zone)."""
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def check_header(source: Source) -> list[Problem]:
    """Required fields, dates, status, tag syntax and leftover placeholders of one header."""
    header, problems = source.header, []
    for key in REQUIRED[source.kind]:
        if not header.value(key):
            hint = f"add a line '{key.capitalize()}: ...' to the header at the top of the file"
            problems.append(Problem(source.display, 1, f"missing {key.capitalize()} ({hint})"))
    for key in ("date", "modified"):
        value = header.value(key)
        if value and not is_date(value):
            problems.append(_field_problem(source, key, f"is not a date ({DATE_HINT})"))
    status = header.value("status").lower()
    if status and status not in STATUSES:
        problems.append(_field_problem(source, "status", f"is not one of {', '.join(STATUSES)}"))
    if header.value("tags").startswith("["):
        problems.append(_field_problem(source, "tags", "looks like a YAML list; write 'a, b'"))
    if status != "draft":
        # New posts start as drafts with placeholders; they must not go out that way.
        for key in header.fields:
            if header.value(key).startswith(PLACEHOLDER):
                hint = "replace it before publishing, or keep 'Status: draft'"
                problems.append(_field_problem(source, key, f"is still a placeholder ({hint})"))
    return problems


def _field_problem(source: Source, key: str, what: str) -> Problem:
    """A problem with one header field, quoting its value on its own line."""
    value = source.header.value(key)
    shown = value if len(value) <= 60 else value[:57] + "..."
    return Problem(source.display, source.header.line(key), f"{key.capitalize()} '{shown}' {what}")


def _attributes(attrs: str) -> dict[str, str]:
    """Parse a tag's attributes (first value wins; a bare attribute has the value "")."""
    found: dict[str, str] = {}
    for match in _ATTR.finditer(attrs):
        value = next((v for v in match.groups()[1:] if v is not None), "")
        found.setdefault(match[1].lower(), html.unescape(value))
    return found


def check_alt(source: Source, tag: str, attrs: dict[str, str]) -> list[Problem]:
    """An image must say what it shows: a non-empty alt attribute."""
    if tag != "img" or attrs.get("alt", "").strip():
        return []
    src = attrs.get("src", "")
    line = source.line_of(src, prefer="![") if src else source.line_of("<img")
    message = f"image '{src}' has no alt text (write ![what the image shows]({src}))"
    return [Problem(source.display, line, message)]


def check_intrasite(source: Source, url: str, context: "SiteIndex") -> list[Problem]:
    """A {filename}/{static}/{attach} link must name an existing file that gets published."""
    match = _INTRASITE.match(url)
    target = unquote(urlsplit(match["target"]).path)
    base = context.content_root if target.startswith("/") else os.path.dirname(source.path)
    resolved = os.path.normpath(os.path.join(base, target.lstrip("/")))
    if not os.path.exists(resolved):
        shown = os.path.relpath(resolved, context.content_root)
        message = f"link '{url}' points to {shown}, which does not exist in the content folder"
        return [Problem(source.display, source.line_of(url), message)]
    linked = context.objects.get(resolved)
    to_unpublished = linked is not None and not _published(linked)
    if match["what"] == "filename" and to_unpublished and _published(source.content):
        message = f"link '{url}' points to a draft or a future article; it is not published yet"
        return [Problem(source.display, source.line_of(url), message)]
    return []


def _published(content) -> bool:
    """True when Pelican writes this content object in the current build."""
    if content is None:
        return False
    # Only drafts can go unwritten; save_as is a formatted property, so ask it only for them.
    return getattr(content, "status", "") != "draft" or bool(content.save_as)


def site_path(url: str, siteurl: str) -> str | None:
    """The path of a link into this site ('/about/'), or None for other links."""
    if siteurl and url.startswith(siteurl.rstrip("/") + "/"):
        url = url[len(siteurl.rstrip("/")) :]
    if not url.startswith("/") or url.startswith("//"):
        return None
    return unquote(urlsplit(url).path)


@dataclass
class SiteIndex:
    """What link checks need to know about the whole site."""

    content_root: str
    siteurl: str
    served_elsewhere: tuple[str, ...]
    objects: dict[str, object]


def check_body(source: Source, body: str, site: SiteIndex, run: CheckRun) -> list[Problem]:
    """Alt text and links of one rendered file; root-relative links are queued for `finalized`."""
    problems = []
    for tag_match in _TAG.finditer(body):
        tag = tag_match[1].lower()
        if tag != "img" and not _LINK_MARK.search(tag_match[2]):
            continue  # no link to check (a heading permalink's href="#..."): skip the parse
        attrs = _attributes(tag_match[2])
        problems += check_alt(source, tag, attrs)
        for name in ("href", "src"):
            url = attrs.get(name)
            if url and _INTRASITE.match(url):
                problems += check_intrasite(source, url, site)
            elif url and _is_checked_site_path(site_path(url, site.siteurl), site):
                run.site_links.append((source, url, "link" if name == "href" else "file"))
    return problems


def _is_checked_site_path(path: str | None, site: SiteIndex) -> bool:
    """True for a path into this site that Pelican writes (not /book, /manage/..., /healthz)."""
    if path is None:
        return False
    prefixes = (prefix.rstrip("/") for prefix in site.served_elsewhere)
    return not any(path == prefix or path.startswith(prefix + "/") for prefix in prefixes)


def render(source: Source, settings: dict) -> str:
    """The HTML of a source file: Pelican's own, or our rendering of a file Pelican dropped."""
    if source.content is not None:
        return source.content._content or ""
    # Pelican dropped it over a header problem; render it anyway so its other problems are
    # reported in this same build instead of the next one.
    config = settings.get("MARKDOWN", {})
    extensions = [*config.get("extensions", []), *config.get("extension_configs", {})]
    converter = markdown.Markdown(
        extensions=extensions,
        extension_configs=config.get("extension_configs", {}),
        output_format=config.get("output_format", "html5"),
    )
    return converter.convert(substitute(source.text, facts_of(settings)))


def check_slugs(sources: list[Source]) -> list[Problem]:
    """Two articles (or two pages) in one language cannot share a slug: name both files."""
    groups: dict[tuple, list[Source]] = {}
    for source in sources:
        slug = getattr(source.content, "slug", None)
        if slug:
            key = (source.kind, slug, getattr(source.content, "lang", ""))
            groups.setdefault(key, []).append(source)
    problems = []
    for (kind, slug, _lang), group in groups.items():
        first, *others = sorted(group, key=lambda s: s.path)
        for other in others:
            line = other.header.line("slug", other.header.line("title"))
            message = (
                f"slug '{slug}' is also used by {first.display}; "
                f"two {kind}s cannot share one address (change the Slug of one of them)"
            )
            problems.append(Problem(other.display, line, message))
    return problems


# Per generator class: the kind of content, its settings and every list Pelican files it in.
_KINDS = (
    (
        ArticlesGenerator,
        "article",
        "ARTICLE_PATHS",
        "ARTICLE_EXCLUDES",
        ("articles", "translations", "drafts", "drafts_translations")
        + ("hidden_articles", "hidden_translations"),
    ),
    (
        PagesGenerator,
        "page",
        "PAGE_PATHS",
        "PAGE_EXCLUDES",
        ("pages", "translations", "hidden_pages", "hidden_translations")
        + ("draft_pages", "draft_translations"),
    ),
)


def _read(path: str) -> str:
    """The text of a source file, as Pelican reads it (UTF-8, a leading BOM ignored)."""
    with open(path, encoding="utf-8-sig") as handle:
        return handle.read()


def collect_sources(generators) -> tuple[list[Source], list[Problem]]:
    """Every Markdown file the generators were asked to read, even those Pelican dropped."""
    sources, problems = [], []
    for generator in generators:
        for cls, kind, paths, excludes, lists in _KINDS:
            if not isinstance(generator, cls):
                continue
            objects = {
                os.path.normpath(item.source_path): item
                for name in lists
                for item in getattr(generator, name, [])
            }
            settings = generator.settings
            found = generator.get_files(
                settings[paths], exclude=settings[excludes], extensions=MARKDOWN_EXTENSIONS
            )
            for relative in sorted(found):
                path = os.path.normpath(os.path.join(generator.path, relative))
                try:
                    text = _read(path)
                except UnicodeDecodeError as error:
                    shown = Source(path, kind, Header({})).display
                    problems.append(Problem(shown, 0, f"is not UTF-8 text ({error.reason})"))
                    continue
                source = Source(path, kind, parse_header(text), objects.get(path))
                sources.append(source)
                problems += check_facts(source, text, facts_of(settings))
    return sources, problems


def check_facts(source: Source, text: str, facts: dict[str, str]) -> list[Problem]:
    """Every {fact:...} placeholder must name a fact of site.toml (sitebuild.facts)."""
    return [Problem(source.display, line, message) for line, message in unknown_facts(text, facts)]


def check_readiness_file(content_root: str) -> list[Problem]:
    """The readiness check's question file, when the site has one (docs/readiness-check.md).

    Checked with the booking service's own loader, so the build and the service agree on
    what a valid file is; imported only for a site that has the file.
    """
    path = os.path.join(content_root, "readiness.toml")
    if not os.path.isfile(path):
        return []
    from leadform.readiness.questions import QuestionFileError, article_files, load_questionnaire

    try:
        load_questionnaire(path, article_files(content_root))
    except QuestionFileError as error:
        shown = os.path.relpath(error.path) if os.path.isabs(error.path) else str(error.path)
        return [Problem(shown, error.line or 0, error.message)]
    return []


def check_sources(generators) -> None:
    """Signal handler (all_generators_finalized): check every source file before writing."""
    settings = generators[0].settings
    sources, problems = collect_sources(generators)
    site = SiteIndex(
        content_root=os.path.normpath(settings["PATH"]),
        siteurl=settings.get("SITEURL", ""),
        served_elsewhere=tuple(
            settings.get("CONTENTCHECK_SERVED_ELSEWHERE", CONTENTCHECK_SERVED_ELSEWHERE)
        ),
        objects={source.path: source.content for source in sources if source.content},
    )
    problems += check_readiness_file(settings["PATH"])
    run = CheckRun(problems)
    for source in sources:
        run.problems += check_header(source)
        run.problems += check_body(source, render(source, settings), site, run)
    duplicates = check_slugs(sources)
    if duplicates:
        # Pelican would crash writing the second file and this report would be lost.
        note = "Links to this site's own addresses (/about/, /blog/...) are checked once fixed."
        raise ContentCheckFailed(run.problems + duplicates, note)
    _PENDING[os.path.realpath(settings["OUTPUT_PATH"])] = run


def output_has(output: str, path: str) -> bool:
    """True when the output folder answers `path` (a file, or a folder with index.html)."""
    target = os.path.join(output, path.lstrip("/"))
    index = os.path.join(target, "index.html")
    if path.endswith("/"):
        return os.path.isfile(index)
    return os.path.isfile(target) or os.path.isfile(index)


def check_site_links(links: list[tuple[Source, str, str]], output: str, siteurl: str) -> list:
    """Root-relative links that match nothing the build wrote."""
    answers: dict[str, bool] = {}
    problems = []
    for source, url, what in links:
        path = site_path(url, siteurl)
        if path not in answers:
            answers[path] = output_has(output, path)
        if not answers[path]:
            message = f"{what} '{url}' matches nothing on the site (no page, article or file there)"
            problems.append(Problem(source.display, source.line_of(url), message))
    return problems


def check_output(pelican) -> None:
    """Signal handler (finalized): check links against the output, then report everything."""
    run = _PENDING.pop(os.path.realpath(pelican.output_path), None)
    if run is None:
        return
    siteurl = pelican.settings.get("SITEURL", "")
    problems = run.problems + check_site_links(run.site_links, pelican.output_path, siteurl)
    if problems:
        raise ContentCheckFailed(problems)


def register() -> None:
    """Connect the checks to Pelican's signals (called by Pelican for each entry in PLUGINS)."""
    signals.all_generators_finalized.connect(check_sources)
    signals.finalized.connect(check_output)
