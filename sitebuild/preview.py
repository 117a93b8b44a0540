"""Live preview for editors: ``make preview`` (``python -m sitebuild.preview``).

Builds the site into ``output-preview/`` (never ``output/``) with drafts and future-dated
articles visible, serves it on http://HOST:PORT (port 8001 by default, so it runs beside
``make run`` on 8000), rebuilds when anything under content/,
theme/ or sitebuild/, or site.toml or the settings file changes, and reloads the open page.

The reload script and the "Draft" banners exist only in preview: the script is added to HTML
responses by this server (the files on disk are exactly what Pelican wrote), and the banners
come from this module acting as a Pelican plugin that only the preview build loads. A failed
build is printed in the terminal and shown in the browser; the server keeps running.

Each build runs the standard ``pelican`` command in a subprocess, so a crashing plugin or
template cannot take the server down and Pelican's global signals never pile up.
"""

import argparse
import html
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pelican import signals

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = "output-preview"
WATCHED = ("content", "theme", "sitebuild", "site.toml")
STATUS_PATH = "/__preview__/status"
DEFAULT_PORT = 8001  # not make run's 8000: editors run both at once
POLL_SECONDS = 0.5

# Settings layered over the settings file for preview builds only (pelican -e, JSON values).
PREVIEW_OVERRIDES = {
    "WITH_FUTURE_DATES": True,
    # Drafts get the address they will have once published, so links and bookmarks hold.
    "DRAFT_URL": "blog/{slug}/",
    "DRAFT_SAVE_AS": "blog/{slug}/index.html",
    "DRAFT_PAGE_URL": "{slug}/",
    "DRAFT_PAGE_SAVE_AS": "{slug}/index.html",
    "PREVIEW": True,  # templates may use it; the banners below do not depend on it
    "DELETE_OUTPUT_DIRECTORY": True,
    "CACHE_CONTENT": False,
    "LOAD_CONTENT_CACHE": False,
}

# Polls the build counter; reloads when a new build finishes and shows a failed build's output.
RELOAD_SCRIPT = """<script>(function () {
  var seen = null;
  function show(error) {
    var box = document.getElementById("preview-build-error");
    if (!error) { if (box) { box.remove(); } return; }
    if (!box) {
      box = document.createElement("pre");
      box.id = "preview-build-error";
      box.style.cssText = "position:fixed;inset:auto 0 0 0;max-height:60vh;overflow:auto;" +
        "margin:0;padding:1em;background:#7f1d1d;color:#fff;font:14px/1.4 monospace;" +
        "white-space:pre-wrap;z-index:99999";
      document.body.appendChild(box);
    }
    box.textContent = "The last build failed (the page shows the previous build):\\n\\n" + error;
  }
  function poll() {
    fetch("__STATUS__", {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (s) {
        if (seen !== null && s.build !== seen) { location.reload(); return; }
        seen = s.build;
        show(s.error);
      })
      .catch(function () {})
      .then(function () { setTimeout(poll, 1000); });
  }
  poll();
})();</script>""".replace("__STATUS__", STATUS_PATH)


@dataclass
class BuildState:
    """The latest build: a counter the browser watches and the error output, if it failed."""

    build: int = 0
    error: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, error: str) -> None:
        """Store a finished build's outcome (error "" when it succeeded)."""
        with self.lock:
            self.build += 1
            self.error = error

    def as_json(self) -> bytes:
        """The state as the JSON the reload script polls."""
        with self.lock:
            return json.dumps({"build": self.build, "error": self.error}).encode()


@dataclass(frozen=True)
class PreviewConfig:
    """Where the preview reads from and writes to."""

    settings: Path
    content: Path
    output: Path
    # The preview's own address, so canonical and JSON-LD URLs point at the preview itself.
    base_url: str = f"http://127.0.0.1:{DEFAULT_PORT}"

    @property
    def watched(self) -> list[Path]:
        """Everything whose change calls for a rebuild."""
        base = self.settings.parent
        return [self.content, self.settings, *(base / name for name in WATCHED[1:])]


def preview_overrides(settings: Path, base_url: str) -> dict:
    """The settings file's own values plus the preview layer (and this module as a plugin)."""
    from pelican.settings import read_settings  # the settings file may change between builds

    plugins = list(read_settings(str(settings)).get("PLUGINS") or [])
    layer = {**PREVIEW_OVERRIDES, "FEED_DOMAIN": base_url}
    return {**layer, "PLUGINS": [*plugins, "sitebuild.preview"]}


def build(config: PreviewConfig) -> subprocess.CompletedProcess:
    """Run the standard pelican command with the preview settings; return the finished process."""
    try:
        overrides = preview_overrides(config.settings, config.base_url)
    except Exception as error:  # noqa: BLE001 - a broken settings file is a build error to show
        return subprocess.CompletedProcess([], 1, "", f"{config.settings}: {error!r}")
    command = [sys.executable, "-m", "pelican", str(config.content), "-s", str(config.settings)]
    command += ["-o", str(config.output), "-e"]
    command += [f"{key}={json.dumps(value)}" for key, value in overrides.items()]
    # A wide virtual terminal keeps Pelican's log lines (file names) unbroken.
    env = {**os.environ, "COLUMNS": "160"}
    return subprocess.run(
        command, cwd=config.settings.parent, capture_output=True, text=True, env=env, check=False
    )


def rebuild(config: PreviewConfig, state: BuildState) -> None:
    """Build once, print the outcome and record it for the browser."""
    started = time.monotonic()
    result = build(config)
    seconds = time.monotonic() - started
    if result.returncode == 0:
        print(f"[{datetime.now():%H:%M:%S}] built in {seconds:.1f} s", flush=True)
        state.record("")
        return
    output = (result.stdout + result.stderr).strip() or f"pelican exited with {result.returncode}"
    print(f"[{datetime.now():%H:%M:%S}] BUILD FAILED ({seconds:.1f} s):\n{output}", flush=True)
    state.record(output)


def snapshot(paths: list[Path]) -> frozenset:
    """(path, mtime, size) of every file under `paths`; caches and hidden files are skipped."""
    entries = set()
    for root in paths:
        if root.is_file():
            stat = root.stat()
            entries.add((str(root), stat.st_mtime_ns, stat.st_size))
            continue
        for dirpath, dirs, files in os.walk(root):
            dirs[:] = [d for d in dirs if not d.startswith(".") and d != "__pycache__"]
            for name in files:
                if name.startswith(".") or name.endswith((".pyc", "~", ".swp")):
                    continue
                path = os.path.join(dirpath, name)
                try:
                    stat = os.stat(path)
                except FileNotFoundError:  # deleted between listing and stat
                    continue
                entries.add((path, stat.st_mtime_ns, stat.st_size))
    return frozenset(entries)


def watch(config: PreviewConfig, state: BuildState, stop: threading.Event) -> None:
    """Rebuild whenever the watched files change, once they have stopped changing."""
    seen = snapshot(config.watched)
    while not stop.wait(POLL_SECONDS):
        try:
            current = snapshot(config.watched)
            if current == seen:
                continue
            # Editors save several files at once (and some write twice): let them settle.
            while not stop.wait(POLL_SECONDS) and (latest := snapshot(config.watched)) != current:
                current = latest
            seen = current
            rebuild(config, state)
        except Exception as error:  # noqa: BLE001 - the preview must outlive any one failure
            print(f"Preview watcher: {error!r}; still watching.", flush=True)


def inject(page: bytes) -> bytes:
    """The page with the reload script before </body> (appended when there is none)."""
    script = RELOAD_SCRIPT.encode()
    at = page.rfind(b"</body>")
    return page + script if at < 0 else page[:at] + script + page[at:]


class PreviewHandler(SimpleHTTPRequestHandler):
    """Serves the preview output, adding the reload script to every HTML page it sends."""

    def __init__(self, *args, state: BuildState, **kwargs):
        self.state = state
        super().__init__(*args, **kwargs)

    def do_GET(self):
        """Answer the status poll, an HTML page (with the script), or any other file."""
        if self.path.split("?", 1)[0] == STATUS_PATH:
            self._send(200, "application/json", self.state.as_json())
            return
        page = self._html_file()
        if page is not None:
            self._send(200, "text/html; charset=utf-8", inject(page.read_bytes()))
        elif not os.path.exists(self.translate_path(self.path)):
            self._send(404, "text/html; charset=utf-8", inject(self._not_found()))
        else:
            super().do_GET()

    def _html_file(self) -> Path | None:
        """The HTML file this request names (a folder's index.html), or None."""
        path = Path(self.translate_path(self.path))
        if path.is_dir() and self.path.split("?", 1)[0].endswith("/"):
            path = path / "index.html"
        return path if path.suffix == ".html" and path.is_file() else None

    def _not_found(self) -> bytes:
        """A small 404 page; its script reloads it when a rebuild creates the page."""
        where = html.escape(self.path)
        return (
            "<!doctype html><html lang='en'><title>Not found (preview)</title><body>"
            f"<h1>Nothing at {where} in this preview build</h1>"
            "<p>This page reloads by itself after the next build.</p></body></html>"
        ).encode()

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        """Send a complete response that the browser must not cache."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        """Keep the terminal for build results: log failed requests only."""
        if len(args) > 1 and str(args[1])[:1] in "45":
            super().log_message(format, *args)


def make_server(host: str, port: int, output: Path, state: BuildState) -> ThreadingHTTPServer:
    """An HTTP server for `output` on host:port (port 0 picks a free one)."""
    handler = partial(PreviewHandler, state=state, directory=str(output))
    ThreadingHTTPServer.allow_reuse_address = True
    return ThreadingHTTPServer((host, port), handler)


def browsable_url(host: str, port: int) -> str:
    """The address a browser on this machine opens to reach a server bound to host:port."""
    # A wildcard address listens everywhere but cannot be browsed to; loopback can.
    return f"http://{'127.0.0.1' if host in ('', '0.0.0.0') else host}:{port}"  # noqa: S104


def banner(content) -> str:
    """The preview-only notice for a draft or a future-dated article, or ""."""
    style = "padding:.75em 1em;border:2px solid #b45309;background:#fef3c7;color:#451a03"
    if getattr(content, "status", "") == "draft":
        text = "Draft: not on the published site. Set 'Status: published' when it is ready."
    elif (date := getattr(content, "date", None)) and date > datetime.now(date.tzinfo):
        text = f"Scheduled: goes live with the first build on or after {date:%d %B %Y %H:%M}."
    else:
        return ""
    return f'<p class="preview-banner" role="note" style="{style}">{text}</p>\n'


# Every list a draft or a scheduled article can be in (Pelican writes drafts without a signal).
_BANNER_LISTS = ("articles", "translations", "drafts", "drafts_translations", "draft_pages")


def add_banners(generators) -> None:
    """Signal handler (preview builds only): put the banner at the top of each body."""
    for generator in generators:
        for name in _BANNER_LISTS:
            for content in getattr(generator, name, []):
                notice = banner(content)
                if notice and not (content._content or "").startswith(notice):
                    content._content = notice + (content._content or "")


def register() -> None:
    """Pelican plugin entry point; only preview builds list this module in PLUGINS."""
    signals.all_generators_finalized.connect(add_banners)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line arguments (the Makefile passes --host and --port)."""
    parser = argparse.ArgumentParser(prog="make preview", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--settings", default="pelicanconf.py", type=Path)
    parser.add_argument("--content", default=None, type=Path, help="default: content/")
    parser.add_argument("--output", default=None, type=Path, help=f"default: {OUTPUT}/")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Serve, build, then rebuild on every change until Ctrl-C."""
    args = parse_args(argv)
    settings = args.settings.resolve()
    output = (args.output or settings.parent / OUTPUT).resolve()
    state = BuildState()
    try:
        server = make_server(args.host, args.port, output, state)
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error.strerror}.", file=sys.stderr)
        print(f"Something else uses port {args.port} (another preview?).", file=sys.stderr)
        print(f"Try another port: make preview PORT={args.port + 1}", file=sys.stderr)
        return 1
    address = browsable_url(args.host, server.server_address[1])
    config = PreviewConfig(
        settings=settings,
        content=(args.content or settings.parent / "content").resolve(),
        output=output,
        base_url=address,
    )
    # Printed before the first build, which takes a while: the editor knows where to look.
    print(f"Preview (drafts and future articles included): {address}/", flush=True)
    rebuild(config, state)
    stop = threading.Event()
    threading.Thread(target=watch, args=(config, state, stop), daemon=True).start()
    print("Edits rebuild the site and reload the page. Ctrl-C stops.", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
