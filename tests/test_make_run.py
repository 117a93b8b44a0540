"""`make run` and `make preview` as a developer starts them.

- `PORT=<p> make run` serves on that port and links to it: the manage link in the
  confirmation email, the site's canonical and JSON-LD URLs.
- `make preview` and `make run` have different default ports, print them at start, and run
  side by side on them.

Each command runs as `make` in its own process group, on a temporary database, mail folder
and output folder, so the developer's instance/ and output/ are left alone. The group is
killed at the end whatever happens.
"""

import email
import email.policy
import html
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import Message
from pathlib import Path

import pytest

from sitebuild.preview import DEFAULT_PORT as PREVIEW_DEFAULT_PORT
from tests.conftest import ROOT
from tests.leadform.booking_pages import FormPage, answers
from tests.leadform.conftest import SITE_FILE
from tests.site.test_pages import jsonld, meta, parse

pytestmark = pytest.mark.slow

HOST = "127.0.0.1"
PROSPECT = "siobhan.obrien@example.com"  # the address tests.leadform.booking_pages fills in
# Settings the developer may have exported that would change what make starts.
MAKE_VARIABLES = ("HOST", "PORT", "OUTPUT", "PREVIEW_OUTPUT")
START_LIMIT = 240.0  # seconds: the site build, Pagefind and migrations come first


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True when nothing on this machine listens on `port` on the loopback address."""
    with socket.socket() as sock:
        # As the servers themselves do: connections that just closed (TIME_WAIT) do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
        return True


def make_env(workdir: Path, **variables: str) -> dict[str, str]:
    """The environment for `make`: a temporary database, mail and output folder."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("LEADFORM_") and name not in MAKE_VARIABLES
    }
    env.update(
        LEADFORM_DATABASE_URL=f"sqlite:///{workdir / 'leadform.sqlite3'}",
        # The tests' own availability: the real site.toml may have no free time this week.
        LEADFORM_SITE_FILE=str(SITE_FILE),
        LEADFORM_MAIL_BACKEND="file",
        LEADFORM_MAIL_DIR=str(workdir / "mail"),
        # The test fills the form at once; the real form's bot check would turn it away.
        LEADFORM_MIN_FILL_SECONDS="0",
        LEADFORM_OUTBOX_POLL_SECONDS="0.2",
        OUTPUT=str(workdir / "output"),
        PREVIEW_OUTPUT=str(workdir / "output-preview"),
    )
    env.update(variables)
    return env


@dataclass
class Started:
    """A `make` command running in its own process group, its output collected as it comes."""

    process: subprocess.Popen
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        """Everything the command printed so far."""
        return "".join(self.lines)

    def wait_for_line(self, pattern: str, limit: float = START_LIMIT) -> re.Match:
        """Wait until a printed line matches `pattern`; fail with the output if it never does."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if match := re.search(pattern, line):
                    return match
            if self.process.poll() is not None:
                break
            time.sleep(0.1)
        pytest.fail(f"no line matched {pattern!r}; the command printed:\n{self.output()}")


@contextmanager
def started(target: str, env: dict[str, str]):
    """Run `make <target>` from the repository root; kill its whole process group at the end."""
    process = subprocess.Popen(
        [shutil.which("make") or "make", "--no-print-directory", target],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # make, flask, the worker and pelican share one group
    )
    run = Started(process)
    reader = threading.Thread(target=lambda: run.lines.extend(process.stdout), daemon=True)
    reader.start()
    try:
        yield run
    finally:
        _kill_group(process)
        reader.join(timeout=10)
        process.stdout.close()


def _kill_group(process: subprocess.Popen) -> None:
    """Stop every process of the group politely, then firmly."""
    for stop, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, stop)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def fetch(url: str, opener=None, data: bytes | None = None) -> tuple[str, str]:
    """GET (or POST `data` to) `url`; return the final URL and the body."""
    opener = opener or urllib.request.build_opener()
    with opener.open(url, data=data, timeout=30) as response:
        return response.url, response.read().decode("utf-8")


def book_a_session(base: str) -> str:
    """Book through the real form over HTTP, as a browser would; return the confirmation URL."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    _, picker = fetch(f"{base}/book?from=make-run-test", opener)
    times = FormPage(picker).time_links
    assert times, "the booking page offers no time (site.toml availability?)"
    _, form = fetch(base + html.unescape(times[0]), opener)
    body = urllib.parse.urlencode(answers(FormPage(form))).encode()
    confirmed, _ = fetch(f"{base}/book", opener, data=body)
    return confirmed


def emails_to(mail_dir: Path, address: str) -> list[Message]:
    """The emails the outbox worker wrote to `mail_dir` for `address`."""
    found = []
    for path in sorted(mail_dir.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if address in str(message["To"]):
            found.append(message)
    return found


def text_of(message: Message) -> str:
    """The plain-text body of an email, transfer encoding undone."""
    return message.get_body(preferencelist=("plain",)).get_content()


def wait_for(check, what: str, limit: float = 60.0):
    """Poll `check` until it returns something truthy; fail naming `what`."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.2)
    pytest.fail(f"gave up waiting for {what}")


def an_article_path(output: Path) -> str:
    """The site path of one article the build wrote (/blog/<slug>/)."""
    articles = sorted(p.parent.name for p in (output / "blog").glob("*/index.html"))
    assert articles, f"the build wrote no article under {output / 'blog'}"
    return f"/blog/{articles[0]}/"


# --- PORT=<p> make run ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def make_run(tmp_path_factory):
    """`make run` on a free, non-default port; yields (base URL, its temporary folder)."""
    workdir = tmp_path_factory.mktemp("make-run")
    port = free_port()
    with started("run", make_env(workdir, PORT=str(port), HOST=HOST)) as run:
        run.wait_for_line(rf"Serving on http://{HOST}:{port}/")
        yield f"http://{HOST}:{port}", workdir


def test_run_serves_on_the_port_it_was_given(make_run):
    base, _ = make_run
    url, page = fetch(base + "/")
    assert url == base + "/"
    assert "<h1>" in page


def test_run_emails_a_manage_link_to_the_address_it_serves(make_run):
    base, workdir = make_run
    assert "/book/confirmed/" in book_a_session(base)
    confirmation = wait_for(lambda: emails_to(workdir / "mail", PROSPECT), "the confirmation")
    links = re.findall(r"https?://\S+/manage/\S+", text_of(confirmation[0]))
    assert links, text_of(confirmation[0])
    assert all(link.startswith(f"{base}/manage/") for link in links), links
    # The link reaches this very server (urlopen raises on a 404 or 410), not another program.
    url, _ = fetch(links[0])
    assert url == links[0]


def test_run_site_links_canonical_and_jsonld_to_the_address_it_serves(make_run):
    base, workdir = make_run
    path = an_article_path(workdir / "output")
    _, html = fetch(base + path)
    doc = parse(html)
    assert doc.find("link", rel="canonical").attrs["href"] == base + path
    assert meta(doc, "og:url") == base + path
    data = {item["@type"]: item for item in jsonld(doc)}
    assert data["BlogPosting"]["mainEntityOfPage"] == base + path
    assert data["Organization"]["url"] == base + "/"


def test_run_sends_the_blog_folder_to_the_article_list(make_run):
    base, _ = make_run
    url, html = fetch(base + "/blog/")
    refresh = [m for m in parse(html).find_all("meta") if m.attrs.get("http-equiv") == "refresh"]
    assert url == base + "/blog/"
    assert [m.attrs["content"] for m in refresh] == ["0; url=/"]


# --- make run and make preview side by side --------------------------------------------------


def default_run_port() -> int:
    """The port `make run` uses when none is given, read from make's own dry run."""
    result = subprocess.run(
        ["make", "--no-print-directory", "-n", "run"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if k not in MAKE_VARIABLES},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(re.search(r"leadform serve .*--port (\d+)", result.stdout).group(1))


def test_run_and_preview_default_to_different_ports():
    assert default_run_port() != PREVIEW_DEFAULT_PORT


def test_run_and_preview_run_side_by_side_on_their_defaults(tmp_path):
    run_port = default_run_port()
    busy = [port for port in (run_port, PREVIEW_DEFAULT_PORT) if not port_is_free(port)]
    if busy:
        # A shared machine (CI runners, a developer's other projects) may hold them; the
        # dry-run test above still shows the defaults differ.
        pytest.skip(f"default port(s) {busy} are in use on this machine")
    env = make_env(tmp_path)
    with started("run", env) as run, started("preview", env) as preview:
        served = run.wait_for_line(r"Serving on (http://\S+?)/? ").group(1)
        previewed = preview.wait_for_line(r"Preview .*: (http://\S+?)/?$").group(1)
        assert (served, previewed) == (
            f"http://{HOST}:{run_port}",
            f"http://{HOST}:{PREVIEW_DEFAULT_PORT}",
        )
        preview.wait_for_line(r"built in ")
        for base in (served, previewed):
            _, html = fetch(base + "/")
            # Each links to itself, so neither sends a reader to the other program.
            assert parse(html).find("link", rel="canonical").attrs["href"] == base + "/"
