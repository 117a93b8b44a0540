"""Lighthouse scores for the booking steps, through the production nginx config.

Run from the repository root: `.venv/bin/python -m bench.lighthouse_booking [--site OUTPUT]
[--min 100] [--audits]`.
It starts the production layout as tests/deploy/conftest.py does (the shipped nginx config
with gzip and a self-signed certificate, two gunicorn instances from the systemd unit, a fresh
PostgreSQL database, Redis, an outbox worker and a local SMTP server), books one session over
HTTPS, then runs npm's `lighthouse` (mobile preset, simulated throttling: the defaults) against
Debian's Chromium on four pages:

- the picker, /book?from=<slug>;
- the form step, the picker's first time link (/book?slot=...&tz=Europe/London);
- the confirmation page and the manage page, with the booking's session cookie.

The last two are per-visitor pages and say noindex, so their SEO score drops by design; --min
applies to the booking steps (picker and form) only. Without --site the site is built (Pelican
+ Pagefind) into a temporary folder, as nginx serves it beside the service.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

import _pytest.outcomes
import redis

from bench.lighthouse import CATEGORIES, CHROME_FLAGS, CHROMIUM, LIGHTHOUSE, build_site
from tests.conftest import require_postgres_url, require_redis_url
from tests.deploy.conftest import (
    Stack,
    Visitor,
    app_environment,
    create_database,
    drop_database,
    migrate,
    start_apps,
    start_nginx,
    start_smtp,
    stop,
)
from tests.leadform.booking_pages import FormPage, answers

SLUG = "ai-readiness-assessment"
ZONE = "Europe/London"
# Not the tests' database 13: a test run may share this Redis.
REDIS_DB = 11
STEPS = ("picker", "form")


class Links(HTMLParser):
    """Collect every href on a page."""

    def __init__(self, html: str):
        super().__init__()
        self.hrefs: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        """Keep a link's href."""
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def get(visitor: Visitor, path: str) -> str:
    """GET `path` through nginx; return the body, failing unless it answers 200."""
    status, _, body = visitor.request("GET", path)
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}: {body[:300]}")
    return body


def booking_steps(visitor: Visitor) -> dict[str, str]:
    """The picker's path and the form step's (the picker's first time link)."""
    picker_path = f"/book?from={SLUG}"
    picker = FormPage(get(visitor, picker_path))
    if not picker.time_links:
        raise SystemExit("the picker offers no time")
    form_path = picker.time_links[0]
    # The picker's links carry the zone it guessed; the measured form is in Europe/London.
    if "tz=" not in form_path:
        form_path += f"&tz={ZONE}"
    if "email" not in FormPage(get(visitor, form_path)).values:
        raise SystemExit(f"{form_path} shows no form")
    return {"picker": picker_path, "form": form_path}


def book(stack: Stack, visitor: Visitor, form_path: str) -> dict[str, str]:
    """Book the form step's time over HTTPS; return the per-visitor paths and the cookie."""
    form = FormPage(get(visitor, form_path))
    status, headers, body = visitor.request("POST", "/book", data=answers(form))
    if status != 303:
        raise SystemExit(f"the booking POST answered {status}: {body[:300]}")
    confirmed_path = headers["Location"].removeprefix(stack.base)
    confirmed = get(visitor, confirmed_path)
    manage = [href for href in Links(confirmed).hrefs if href.startswith("/manage/")]
    if not manage:
        raise SystemExit("the confirmation page links to no manage page")
    cookie = "; ".join(f"{k}={v}" for k, v in visitor.cookies.items())
    return {"confirmed": confirmed_path, "manage": manage[0], "cookie": cookie}


def lighthouse(url: str, cookie: str | None, report_path: Path) -> dict:
    """Run Lighthouse on `url` (self-signed TLS accepted) and return its JSON report."""
    flags = f"{CHROME_FLAGS} --ignore-certificate-errors"
    cmd = [str(LIGHTHOUSE), url, "--output=json", f"--output-path={report_path}", "--quiet"]
    cmd += [f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={flags}"]
    if cookie:
        cmd.append(f"--extra-headers={json.dumps({'Cookie': cookie})}")
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    subprocess.run(cmd, env=env, capture_output=True, text=True, check=True, timeout=300)
    report = json.loads(report_path.read_text())
    if report.get("runtimeError"):
        raise SystemExit(f"lighthouse failed on {url}: {report['runtimeError']}")
    return report


def scores(report: dict) -> dict[str, int]:
    """Each category's score out of 100."""
    return {name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES}


def _describe(item: dict) -> str:
    """A short text for one audit detail item (the source line or the node's snippet)."""
    source = item.get("source")
    if isinstance(source, dict):
        return source.get("snippet") or source.get("url") or ""
    node = item.get("node")
    if isinstance(node, dict):
        return node.get("snippet", "")
    return str(source or "")[:120]


def failing_audits(report: dict) -> list[str]:
    """The weighted audits that did not score full marks, as 'category: id (score)'."""
    failing = []
    for name in CATEGORIES:
        for ref in report["categories"][name]["auditRefs"]:
            audit = report["audits"][ref["id"]]
            if ref["weight"] and audit["score"] is not None and audit["score"] < 1:
                items = (audit.get("details") or {}).get("items") or []
                why = "; ".join(_describe(item) for item in items[:3])
                failing.append(f"{name}: {ref['id']} ({audit['score']:.2f}) {why}".rstrip())
    return failing


def start_stack(tmp: Path, site: Path, cleanups: list) -> Stack:
    """Start the production layout as the `production` fixture does; add its cleanups."""
    server_url = require_postgres_url()
    stack = Stack(tmp=tmp, server_url=server_url)
    (tmp / "logs").mkdir(parents=True)
    stack.redis_url = f"{require_redis_url().rsplit('/', 1)[0]}/{REDIS_DB}"
    redis.Redis.from_url(stack.redis_url).flushdb()
    stack.database_url, db_name = create_database(server_url)
    cleanups.append(lambda: drop_database(server_url, db_name))
    cleanups.append(lambda: redis.Redis.from_url(stack.redis_url).flushdb())
    controller, smtp_port = start_smtp(stack)
    cleanups.append(controller.stop)
    for service in ("nginx", "worker-1", "gunicorn-b", "gunicorn-a"):
        cleanups.append(lambda name=service: name in stack.services and stop(stack.services[name]))
    stack.env = app_environment(stack, smtp_port)
    migrate(stack)
    start_apps(stack)
    stack.start_worker("worker-1")
    start_nginx(stack, site)
    return stack


def measure(stack: Stack, tmp: Path, show_audits: bool) -> dict[str, dict[str, int]]:
    """Book once, then run Lighthouse on each page; print and return the scores."""
    visitor = Visitor(stack, "127.0.0.2")
    paths = booking_steps(visitor)
    table = {}
    for page in ("picker", "form", "confirmed", "manage"):
        if page == "confirmed":
            # Only now: the booking takes the form step's time, so it is measured first.
            paths |= book(stack, visitor, paths["form"])
        cookie = None if page in STEPS else paths["cookie"]
        report = lighthouse(stack.base + paths[page], cookie, tmp / f"{page}.json")
        table[page] = scores(report)
        if show_audits:
            for line in failing_audits(report):
                print(f"  {page}: {line}")
    print(f"{'page':<11}" + "".join(f"{name:>16}" for name in CATEGORIES))
    for page, row in table.items():
        print(f"{page:<11}" + "".join(f"{row[name]:>16}" for name in CATEGORIES))
    shown = {page: paths[page].split("?")[0] for page in table}
    shown["manage"] = "/manage/<token>"
    print("pages: " + "  ".join(f"{page} {path}" for page, path in shown.items()))
    print("(confirmed and manage are noindex per-visitor pages: their SEO drop is by design)")
    return table


def main() -> int:
    """Print the table; exit 1 if a booking step (picker, form) scores below --min."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="an already built output folder")
    parser.add_argument("--min", type=int, default=0, help="lowest acceptable step score")
    parser.add_argument("--audits", action="store_true", help="list audits below full marks")
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        raise SystemExit("lighthouse is not installed: run `npm install`")
    with tempfile.TemporaryDirectory() as scratch:
        tmp = Path(scratch)
        site = args.site or tmp / "output"
        if not args.site:
            build_site(site)
        cleanups = []
        try:
            stack = start_stack(tmp / "production", site, cleanups)
            table = measure(stack, tmp, args.audits)
        except (_pytest.outcomes.Failed, _pytest.outcomes.Skipped) as error:
            raise SystemExit(f"the production stack did not start: {error}") from None
        finally:
            for cleanup in reversed(cleanups):
                cleanup()
    lowest = min(score for page in STEPS for score in table[page].values())
    return 1 if lowest < args.min else 0


if __name__ == "__main__":
    sys.exit(main())
