"""Reusable checks over a built site: HTML validity, accessibility, links and Atom feeds.

Each checker takes plain inputs (a folder, a Playwright page, raw XML) and returns a list of
human-readable problems, so a test asserts `problems == []` and its failure message is the list.
"""

import contextlib
import functools
import http.server
import json
import re
import subprocess
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urljoin, urlsplit

ROOT = Path(__file__).resolve().parents[2]
VNU_JAR = ROOT / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = ROOT / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]

# Paths answered by the booking service (leadform), never present in the static output.
SERVICE_PREFIXES = ("/book/", "/manage/", "/admin/", "/newsletter/", "/readiness-check/")
SERVICE_PATHS = ("/book", "/healthz", "/readyz", "/readiness-check")
BOOKING_PATH = "/book"
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


# --- Nu Html Checker -------------------------------------------------------------------------


@dataclass(frozen=True)
class HtmlError:
    """One error reported by the Nu Html Checker, located in a file of the checked folder."""

    path: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line or '?'}: {self.message}"


def run_vnu(folder: Path, java: str = "java", exclude: tuple[str, ...] = ()) -> list[HtmlError]:
    """Run the Nu Html Checker once over every HTML file in `folder`; return its errors.

    `exclude` lists folder-relative path prefixes (e.g. "pagefind/") whose messages are dropped.
    One JVM for the whole folder: starting vnu costs seconds, checking a page milliseconds.
    """
    cmd = [java, "-jar", str(VNU_JAR), "--errors-only", "--skip-non-html"]
    cmd += ["--format", "json", "--stdout", str(folder)]
    # vnu exits 1 when it finds errors; the JSON on stdout is the verdict either way.
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    try:
        messages = json.loads(result.stdout)["messages"]
    except (json.JSONDecodeError, KeyError) as exc:
        raise RuntimeError(f"vnu gave no JSON report: {result.stdout}{result.stderr}") from exc
    errors = [_vnu_error(folder, message) for message in messages]
    return [error for error in errors if not error.path.startswith(exclude)]


def _vnu_error(folder: Path, message: dict) -> HtmlError:
    """Turn one vnu JSON message into an HtmlError with a folder-relative path."""
    location = unquote(urlsplit(message.get("url", "")).path)
    with contextlib.suppress(ValueError):
        location = Path(location).resolve().relative_to(folder.resolve()).as_posix()
    # "non-document-error" (an unreadable file, an I/O failure) is kept: it is a failure too.
    text = message.get("message", "")
    if message.get("type") != "error":
        text = f"[{message.get('type')}] {text}"
    return HtmlError(location, message.get("lastLine"), text)


# --- Local HTTP server -----------------------------------------------------------------------


class _StaticSiteHandler(http.server.SimpleHTTPRequestHandler):
    """Serves a built site like the production host: index.html for directories, 404.html."""

    def list_directory(self, path):
        """Refuse directory listings: the real host has none, so a missing index is a 404."""
        self.send_error(404)
        return None

    def send_error(self, code, message=None, explain=None):
        """Answer a 404 with the site's own /404.html, as the production host does."""
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            return super().send_error(code, message, explain)
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format, *args):
        """Stay quiet: test output should show failures, not access logs."""


class _QuietServer(http.server.ThreadingHTTPServer):
    """A threaded server that ignores clients hanging up mid-response (browsers do)."""

    daemon_threads = True

    def handle_error(self, request, client_address):
        """Drop connection resets; anything else still prints its traceback."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@contextlib.contextmanager
def serve_folder(folder: Path) -> Iterator[str]:
    """Serve `folder` on 127.0.0.1 at a random free port; yield its base URL (no trailing /)."""
    handler = functools.partial(_StaticSiteHandler, directory=str(folder))
    server = _QuietServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="serve_folder", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- axe-core ----------------------------------------------------------------------------------


def run_axe(page, tags: list[str] = AXE_TAGS) -> list[dict]:
    """Inject axe-core into a loaded Playwright page and return its violations."""
    page.add_script_tag(path=str(AXE_JS))
    return page.evaluate(
        "async (tags) => (await axe.run(document, {runOnly: tags})).violations", tags
    )


def describe_violations(violations: list[dict]) -> list[str]:
    """One line per axe violation: rule, impact, help text and the offending selectors."""
    lines = []
    for violation in violations:
        targets = ", ".join(" ".join(map(str, node["target"])) for node in violation["nodes"])
        lines.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return lines


# --- Links -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reference:
    """A URL found in a page, with where it came from (for the failure message)."""

    source: str
    attribute: str
    url: str


class _ReferenceParser(HTMLParser):
    """Collects every URL-bearing attribute and every id (fragment target) of one page."""

    URL_ATTRS = {"href", "src", "action", "poster", "data", "cite", "formaction"}
    META_URL_PROPERTIES = {"og:url", "og:image", "twitter:image", "og:image:url"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        """Record URLs (href, src, srcset, og: meta) and ids declared by this tag."""
        attrs = {name: value or "" for name, value in attrs}
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and "name" in attrs:
            self.ids.add(attrs["name"])
        for name in self.URL_ATTRS & attrs.keys():
            self.urls.append((f"{tag}[{name}]", attrs[name].strip()))
        if "srcset" in attrs:
            for candidate in attrs["srcset"].split(","):
                if candidate.strip():
                    self.urls.append((f"{tag}[srcset]", candidate.split()[0]))
        meta_name = attrs.get("property", attrs.get("name"))
        if tag == "meta" and meta_name in self.META_URL_PROPERTIES:
            self.urls.append((f"meta[{meta_name}]", attrs.get("content", "")))


def _parse_page(path: Path) -> _ReferenceParser:
    """The parsed page; each file version is parsed once, as fragments look its ids up again."""
    stat = path.stat()
    return _parse_file_version(path, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4096)
def _parse_file_version(path: Path, mtime_ns: int, size: int) -> _ReferenceParser:
    """Parse one version of an HTML file (the stat values are only the cache key)."""
    parser = _ReferenceParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    return parser


def page_url(folder: Path, path: Path) -> str:
    """The site-absolute URL of a file in the output: blog/x/index.html -> /blog/x/."""
    url = "/" + path.relative_to(folder).as_posix()
    return url.removesuffix("index.html")


def check_links(folder: Path, local_origins: tuple[str, ...] = ()) -> list[str]:
    """Check every internal link and asset of every page and stylesheet in `folder`.

    `local_origins` are absolute bases ("http://127.0.0.1:8000") that mean "this site".
    Returns one line per problem: missing target, missing fragment, external URL, bad /book link.
    """
    problems = []
    for path in sorted(folder.rglob("*.html")):
        base = page_url(folder, path)
        for attribute, url in _parse_page(path).urls:
            ref = Reference(base, attribute, url)
            problems += check_reference(folder, ref, local_origins)
    for path in sorted(folder.rglob("*.css")):
        for url in css_urls(path.read_text(encoding="utf-8")):
            ref = Reference(page_url(folder, path), "url()", url)
            problems += check_reference(folder, ref, local_origins)
    return problems


def css_urls(css: str) -> list[str]:
    """Every url(...) and @import target in a stylesheet, comments removed."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.DOTALL)
    urls = re.findall(r"""url\(\s*(['"]?)(.*?)\1\s*\)""", css)
    imports = re.findall(r"""@import\s+(['"])(.*?)\1""", css)
    return [url for _, url in urls + imports]


def check_reference(folder: Path, ref: Reference, local_origins: tuple[str, ...]) -> list[str]:
    """Problems with one reference: empty, external, a bad /book link, a missing target."""
    where = f"{ref.source} {ref.attribute}={ref.url!r}"
    if not ref.url:
        return [f"{where}: empty URL"]
    absolute = urljoin(f"http://site.invalid{ref.source}", ref.url)
    for origin in local_origins:
        if ref.url.startswith(origin.rstrip("/") + "/") or ref.url == origin:
            absolute = "http://site.invalid" + ref.url[len(origin.rstrip("/")) :]
    parts = urlsplit(absolute)
    if parts.scheme in ("mailto", "data"):
        return []
    if parts.scheme not in ("http", "https") or parts.netloc != "site.invalid":
        return [f"{where}: external or non-HTTP URL (the site must not depend on other hosts)"]
    path = unquote(parts.path) or "/"
    if path in SERVICE_PATHS or path.startswith(SERVICE_PREFIXES):
        return _booking_problems(where, path, parts.query)
    return _target_problems(folder, where, path, parts.fragment, ref.url.startswith("#"))


def _booking_problems(where: str, path: str, query: str) -> list[str]:
    """A link to the booking page must say which page sent the visitor (?from=<slug>)."""
    if path != BOOKING_PATH:
        return []
    sources = parse_qs(query).get("from", [])
    if len(sources) != 1 or not SLUG_RE.match(sources[0]):
        return [f"{where}: a /book link needs exactly one ?from=<slug> with a non-empty slug"]
    return []


def _target_problems(folder: Path, where: str, path: str, fragment: str, same_page: bool):
    """The file a site path names must exist, and so must the element a fragment names."""
    target = folder / path.lstrip("/")
    if path.endswith("/"):
        target = target / "index.html"
    elif target.is_dir():
        return [f"{where}: directory URL without its trailing slash (costs a redirect)"]
    if not target.is_file():
        return [f"{where}: no such file in the output ({target.relative_to(folder)})"]
    if same_page and not fragment:
        return [f"{where}: link to '#' goes nowhere"]
    if not fragment or fragment == "top" or target.suffix != ".html":
        return []
    if unquote(fragment) not in _parse_page(target).ids:
        return [f"{where}: no element with id {fragment!r} in {target.relative_to(folder)}"]
    return []


# --- Atom feeds -------------------------------------------------------------------------------

ATOM = "{http://www.w3.org/2005/Atom}"
RFC3339_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def atom_problems(xml: bytes) -> list[str]:
    """What an Atom document lacks of RFC 4287's requirements, one line per problem.

    feedparser only checks well-formedness; this checks the elements a reader relies on.
    """
    try:
        feed = ET.fromstring(xml)
    except ET.ParseError as exc:
        return [f"not well-formed XML: {exc}"]
    if feed.tag != f"{ATOM}feed":
        return [f"root element is {feed.tag}, not atom:feed"]
    entries = feed.findall(f"{ATOM}entry")
    problems = _common_problems("feed", feed)
    problems += _link_problems("feed", feed, required=("self", "alternate"))
    # RFC 4287 4.1.1: the feed names an author unless every entry names its own.
    feed_has_author = feed.find(f"{ATOM}author") is not None
    problems += _author_problems("feed", feed, required=False)
    for number, entry in enumerate(entries, start=1):
        label = f"entry {number} ({_text(entry, 'id') or 'no id'})"
        problems += _common_problems(label, entry)
        problems += _link_problems(label, entry, required=("alternate",))
        problems += _author_problems(label, entry, required=not feed_has_author)
        if entry.find(f"{ATOM}summary") is None and entry.find(f"{ATOM}content") is None:
            problems.append(f"{label}: neither summary nor content")
    ids = [_text(entry, "id") for entry in entries]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    problems += [f"entry id {i!r} is used more than once" for i in repeated]
    return problems


def atom_entry_links(xml: bytes) -> list[str]:
    """The rel="alternate" link of every entry: the article pages a feed points readers to."""
    feed = ET.fromstring(xml)
    links = []
    for entry in feed.findall(f"{ATOM}entry"):
        links += [link.get("href", "") for link in _links(entry, "alternate")]
    return links


def _text(element: ET.Element, name: str) -> str:
    """The stripped text of the first atom:`name` child, or an empty string."""
    child = element.find(f"{ATOM}{name}")
    return (child.text or "").strip() if child is not None else ""


def _links(element: ET.Element, rel: str) -> list[ET.Element]:
    """The atom:link children with relation `rel` (a link without rel is "alternate")."""
    return [link for link in element.findall(f"{ATOM}link") if link.get("rel", "alternate") == rel]


def _common_problems(label: str, element: ET.Element) -> list[str]:
    """Exactly one non-empty id (an absolute IRI), title and RFC 3339 updated."""
    problems = []
    for name in ("id", "title", "updated"):
        count = len(element.findall(f"{ATOM}{name}"))
        if count != 1:
            problems.append(f"{label}: has {count} atom:{name}, needs exactly one")
        elif not _text(element, name):
            problems.append(f"{label}: atom:{name} is empty")
    problems += _id_problems(label, _text(element, "id"))
    updated = _text(element, "updated")
    if updated and not is_rfc3339(updated):
        problems.append(f"{label}: atom:updated {updated!r} is not an RFC 3339 date-time")
    return problems


def _id_problems(label: str, identifier: str) -> list[str]:
    """An atom:id must be an absolute IRI; a tag: URI must name a real domain or email.

    RFC 4151 tag URIs are minted under a domain the publisher owns, so a single-label name
    (Pelican writes "tag:None," when SITEURL is empty) cannot keep ids globally unique.
    """
    if not identifier:
        return []
    if not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", identifier):
        return [f"{label}: atom:id {identifier!r} is not an absolute IRI"]
    authority = identifier[4:].partition(",")[0] if identifier.startswith("tag:") else "."
    if "." not in authority and "@" not in authority:
        return [f"{label}: atom:id {identifier!r} is not minted under a domain name"]
    return []


def is_rfc3339(value: str) -> bool:
    """True if `value` is an RFC 3339 date-time with an explicit offset and a real date."""
    if not RFC3339_RE.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _link_problems(label: str, element: ET.Element, required: tuple[str, ...]) -> list[str]:
    """Each `required` relation present with an href; every link has an href."""
    links = element.findall(f"{ATOM}link")
    problems = [f"{label}: atom:link without href" for link in links if not link.get("href")]
    for rel in required:
        if not _links(element, rel):
            problems.append(f'{label}: no atom:link rel="{rel}"')
    return problems


def _author_problems(label: str, element: ET.Element, required: bool) -> list[str]:
    """Every atom:author has exactly one non-empty name; `required` means one must exist."""
    authors = element.findall(f"{ATOM}author")
    if not authors:
        return [f"{label}: no atom:author, and the feed has none"] if required else []
    problems = []
    for author in authors:
        names = author.findall(f"{ATOM}name")
        if len(names) != 1 or not (names[0].text or "").strip():
            problems.append(f"{label}: atom:author needs exactly one non-empty atom:name")
    return problems
