"""Site build benchmark: ``make bench`` or ``python -m bench.site_build [--articles 1000]``.

Generates a site of N realistic articles (bench/sitegen.py) in a temporary folder and measures,
each build being the standard ``pelican`` command in a subprocess:

(a) stock Pelican: default theme, default Markdown settings, no plugins;
(b) our pelicanconf.py (theme + plugins) on the same content, and the ratio b/a; plus our
    settings without plugins, to tell theme cost from plugin cost;
(c) a rebuild after editing one article, without and with Pelican's content cache;
(d) peak memory of each build (os.wait4's rusage of that child);
(e) the weight of one real article page of the repo's own content: HTML + CSS (+ any JS),
    gzipped;
(f) Pagefind indexing time of the generated site;
(g) the first build of our site with an empty share-card cache (sitebuild.cards draws a PNG
    per article and page); the timed builds of (b) then find the cards in the cache, as every
    build after the first does.

Timings are medians of --runs runs, wall-clock and CPU (user + system; CPU time barely moves
when other work shares the machine). Every full build writes into a new, empty folder, and the
folders are deleted only when all timing is done: deleting a previous output (thousands of
files and folders) just before a build made that build's system time larger and much noisier
here, more so for the build that creates more files (see Outputs; ``--delete-between``
measures that way). ``--attribute`` adds variants of our build (Markdown's smarty extension
instead of sitebuild.typography, its toc instead of sitebuild.headings, no typography, no
plugins, the content check only) and ``--profile`` a cProfile of our build listing where the
sitebuild plugins spend their time. Results are printed, never asserted: the goals (b/a under
1.10, page under 20 KB) are read from the table; docs/performance.md records the figures.
"""

import argparse
import cProfile
import gzip
import io
import json
import os
import platform
import pstats
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.sitegen import ROOT, edit_one, generate

STOCK_SETTINGS = """\
# Stock Pelican: everything default except where the content is and the time zone.
PATH = {content!r}
ARTICLE_PATHS = ["articles"]
PAGE_PATHS = ["pages"]
STATIC_PATHS = ["images"]
TIMEZONE = "Europe/London"
PLUGINS = []
"""
CACHE_OVERRIDES = ["CACHE_CONTENT=true", "LOAD_CONTENT_CACHE=true"]
CACHE_OVERRIDES += ['CHECK_MODIFIED_METHOD="sha256"']
GOAL_RATIO = 1.10
GOAL_PAGE_KB = 20.0


class BenchError(RuntimeError):
    """A build or command of the benchmark failed; carries the command and its log's tail."""


@dataclass(frozen=True)
class Run:
    """One timed subprocess: wall-clock and CPU (user + system) seconds, peak resident memory.

    CPU seconds barely move when other work shares the machine; wall-clock seconds do.
    `system` is the kernel's part of `cpu` (file and folder creation, page faults).
    """

    seconds: float
    cpu: float
    peak_mib: float
    system: float = 0.0


@dataclass
class Outputs:
    """A new, empty output folder for every build, all under `root`, deleted at the end.

    Measured on this machine's ext4 (perf: the time was in inode allocation under mkdir and
    open): in two runs of three, builds started right after deleting the previous output
    spent 0.2-0.35 s more system time for stock Pelican and 0.35-0.5 s more for ours (1,550
    folders and 1,530 files against stock's 10 and 1,070), and their CPU spread doubled. A
    fresh folder with nothing deleted during the timing measures the builds themselves;
    ``delete_between`` (``--delete-between``) measures the old way.
    """

    root: Path
    delete_between: bool = False  # one folder per kind of build, emptied before each build
    made: int = 0

    def new(self, name: str) -> Path:
        """A folder path that no build has used yet (or, deleting between, the emptied one)."""
        if self.delete_between:
            shutil.rmtree(self.root / name, ignore_errors=True)
            return self.root / name
        self.made += 1
        return self.root / f"{self.made:03d}-{name}"

    def remove(self) -> None:
        """Delete every output folder (after the timing)."""
        shutil.rmtree(self.root, ignore_errors=True)


def run(command: list[str], log: Path) -> Run:
    """Run `command` from the repo root; time it and read its own peak RSS (os.wait4)."""
    with log.open("w") as out:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
        raise BenchError(f"{' '.join(command)} exited {process.returncode}:\n{tail}")
    cpu = usage.ru_utime + usage.ru_stime
    # ru_maxrss is in KiB on Linux
    return Run(seconds, cpu, usage.ru_maxrss / 1024, system=usage.ru_stime)


def pelican(content: Path, settings: Path, output: Path, *overrides: str) -> list[str]:
    """The standard pelican command line, with optional -e overrides."""
    command = [sys.executable, "-m", "pelican", str(content), "-s", str(settings)]
    command += ["-o", str(output)]
    return command + (["-e", *overrides] if overrides else [])


@dataclass(frozen=True)
class Build:
    """One way of building the content: a settings file and its -e overrides."""

    settings: Path
    overrides: tuple[str, ...] = ()

    def time(self, content: Path, outputs: Outputs, name: str, log: Path) -> tuple[Run, Path]:
        """Build into a fresh folder; return the timing and the folder."""
        output = outputs.new(name)
        return run(pelican(content, self.settings, output, *self.overrides), log), output


def repeat(build: Build, content: Path, outputs: Outputs, runs: int, log: Path) -> list[Run]:
    """Run a full build `runs` times, each into a new, empty output folder."""
    return [build.time(content, outputs, log.stem, log)[0] for _ in range(runs)]


def median(runs: list[Run], attribute: str = "seconds") -> float:
    """Median wall-clock seconds, or of another Run field ("cpu", "system")."""
    return statistics.median(getattr(r, attribute) for r in runs)


def peak(runs: list[Run]) -> float:
    """Highest peak memory of the runs, MiB."""
    return max(r.peak_mib for r in runs)


def full_builds(work: Path, content: Path, runs: int, outputs: Outputs) -> dict[str, list[Run]]:
    """(a) and (b): stock, ours without plugins and ours, interleaved round by round.

    Our last build's output is moved to work/output (for the Pagefind step and --keep).
    """
    stock = work / "stock_settings.py"
    stock.write_text(STOCK_SETTINGS.format(content=str(content)))
    ours = ROOT / "pelicanconf.py"
    cards = card_cache(work)
    builds = {
        "stock": Build(stock),
        "ours_no_plugins": Build(ours, ("PLUGINS=[]",)),
        "ours": Build(ours, cards),
    }
    # (g): the one build that draws every share card; the rounds below reuse them.
    shutil.rmtree(work / "share-cards", ignore_errors=True)
    cold, _ = builds["ours"].time(content, outputs, "ours_cold_cards", work / "cards.log")
    # Interleaving spreads any drift of the machine (other work, thermal) over all three.
    results: dict[str, list[Run]] = {name: [] for name in builds}
    for _ in range(runs):
        for name, build in builds.items():
            timing, output = build.time(content, outputs, name, work / f"{name}.log")
            results[name].append(timing)
    shutil.rmtree(work / "output", ignore_errors=True)
    output.rename(work / "output")  # a rename: no files are deleted during the timing
    return {**results, "cards_cold": [cold]}


def card_cache(work: Path) -> tuple[str, ...]:
    """The -e override that keeps the bench's share cards in `work`, not in the repo's cache."""
    return (f'SHARE_CARDS_CACHE="{work / "share-cards"}"',)


def markdown_variant(drop: str, add: str | None = None) -> str:
    """Our MARKDOWN setting with extension `drop` left out or replaced by `add` (same options),
    as a pelican -e override."""
    from pelican.settings import read_settings

    markdown = read_settings(str(ROOT / "pelicanconf.py"))["MARKDOWN"]
    configs = dict(markdown.get("extension_configs", {}))
    options = configs.pop(drop)
    if add:
        configs[add] = options
    return "MARKDOWN=" + json.dumps({**markdown, "extension_configs": configs})


def attribution(work: Path, content: Path, runs: int, outputs: Outputs) -> dict[str, list[Run]]:
    """--attribute: variants of our build that tell where the extra time goes."""
    typography = "sitebuild.typography"
    no_typography = markdown_variant(typography)
    smarty = markdown_variant(typography, "markdown.extensions.smarty")
    toc = markdown_variant("sitebuild.headings", "markdown.extensions.toc")
    variants = {
        "ours, smarty instead of sitebuild.typography": [smarty],
        "ours, toc instead of sitebuild.headings": [toc],
        "ours, Markdown without typography": [no_typography],
        "ours, plugins off, without typography": ["PLUGINS=[]", no_typography],
        "ours, only sitebuild.contentcheck": ['PLUGINS=["sitebuild.contentcheck"]'],
        "ours, share cards off": ["SHARE_CARDS=false"],
    }
    return {
        name: repeat(Build(ROOT / "pelicanconf.py", (*overrides, *card_cache(work))), content,
                     outputs, runs, work / "attribution.log")
        for name, overrides in variants.items()
    }  # fmt: skip


def rebuilds(work: Path, content: Path) -> dict[str, Run]:
    """(c): our build after editing one article, without and with the content cache."""
    ours, output, log = ROOT / "pelicanconf.py", work / "rebuild", work / "rebuild.log"
    cards = card_cache(work)
    cache = [*CACHE_OVERRIDES, f'CACHE_PATH="{work / "cache"}"', *cards]
    shutil.rmtree(output, ignore_errors=True)
    run(pelican(content, ours, output, *cards), log)
    edit_one(content)
    no_cache = run(pelican(content, ours, output, *cards), log)
    run(pelican(content, ours, output, *cache), log)  # fills the cache
    edit_one(content)
    cached = run(pelican(content, ours, output, *cache), log)
    return {"no_cache": no_cache, "cache": cached}


_STYLESHEET = re.compile(r"<link\b[^>]*\bstylesheet\b[^>]*>", re.I)
_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']?([^\"' >]+)", re.I)
_HREF = re.compile(r"\bhref=[\"']?([^\"' >]+)", re.I)


def gzipped(data: bytes) -> int:
    """Size in bytes after gzip at level 6, the usual web server setting."""
    return len(gzip.compress(data, compresslevel=6))


def page_weight(work: Path) -> tuple[str, dict[str, int]]:
    """(e): gzipped bytes of HTML, CSS and JS of the first article page of the repo's content."""
    output = work / "real"
    run(pelican(ROOT / "content", ROOT / "pelicanconf.py", output), work / "real.log")
    page = sorted(output.glob("blog/*/index.html"))[0]
    text = page.read_text(encoding="utf-8")
    sizes = {"HTML": gzipped(text.encode()), "CSS": 0, "JS": 0}
    css = [m[1] for tag in _STYLESHEET.findall(text) if (m := _HREF.search(tag))]
    for kind, urls in (("CSS", css), ("JS", _SCRIPT.findall(text))):
        for url in urls:
            path = output / url.split("?")[0].split("#")[0].lstrip("/")
            if path.is_file():
                sizes[kind] += gzipped(path.read_bytes())
    return str(page.relative_to(output)), sizes


def pagefind(work: Path) -> Run:
    """(f): Pagefind indexing of our build of the generated site."""
    command = [sys.executable, "-m", "pagefind", "--site", str(work / "output"), "--silent"]
    return run(command, work / "pagefind.log")


def profile(work: Path, content: Path, limit: int = 20) -> str:
    """cProfile of our build in this process: the sitebuild functions by cumulative time."""
    from pelican import Pelican
    from pelican.settings import read_settings

    override = {"PATH": str(content), "OUTPUT_PATH": str(work / "profile")}
    override["SHARE_CARDS_CACHE"] = str(work / "share-cards")
    settings = read_settings(str(ROOT / "pelicanconf.py"), override=override)
    profiler = cProfile.Profile()
    profiler.runcall(Pelican(settings).run)
    stream = io.StringIO()
    stats = pstats.Stats(profiler, stream=stream)
    stats.sort_stats("cumulative").print_stats(r"sitebuild", limit)
    return stream.getvalue()


def machine() -> str:
    """One line about where the figures were taken."""
    from pelican import __version__ as pelican_version

    return (
        f"{os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, Pelican {pelican_version}"
    )


def _row(name: str, runs: list[Run]) -> str:
    """One table line: median wall, CPU and system seconds, CPU spread, highest peak memory."""
    wall, cpu, system = median(runs), median(runs, "cpu"), median(runs, "system")
    spread = f"{min(r.cpu for r in runs):.2f}-{max(r.cpu for r in runs):.2f}"
    return f"{name:46} {wall:9.2f} {cpu:9.2f} {system:7.2f} {spread:>11} {peak(runs):9.0f}"


def _ratio(full: dict[str, list[Run]], attribute: str) -> str:
    """b/a on wall-clock or CPU medians, with the verdict against the goal."""
    ratio = median(full["ours"], attribute) / median(full["stock"], attribute)
    verdict = "OK" if ratio < GOAL_RATIO else "OVER GOAL"
    return f"{ratio:.3f} ({(ratio - 1) * 100:+.1f}%, goal under +10%: {verdict})"


def report(articles: int, runs: int, results: dict) -> str:
    """The printed table."""
    full, again = results["full"], results["rebuild"]
    page, sizes = results["page"]
    total_kb = sum(sizes.values()) / 1024
    lines = [
        f"Site build benchmark: {articles} articles of ~1,500 words; median of {runs} run(s)",
        f"Machine: {machine()}",
        "",
        f"{'':46} {'wall s':>9} {'CPU s':>9} {'sys s':>7} {'CPU min-max':>11} {'peak MiB':>9}",
        _row("(a) stock Pelican (default theme, no plugins)", full["stock"]),
        _row("    our settings and theme, plugins off", full["ours_no_plugins"]),
        _row("(b) our pelicanconf.py (theme + plugins)", full["ours"]),
        _row("(c) rebuild after one edit, no cache", [again["no_cache"]]),
        _row("    rebuild after one edit, content cache", [again["cache"]]),
    ]
    if index := results.get("pagefind"):
        lines.append(_row("(f) Pagefind index of (b)'s output", [index]))
    lines.append(_row("(g) first build, empty share-card cache", full["cards_cold"]))
    lines += [
        "(d) peak MiB: the largest resident set of the build process (os.wait4).",
        "",
        f"ratio b/a, wall-clock: {_ratio(full, 'seconds')}",
        f"ratio b/a, CPU time:   {_ratio(full, 'cpu')}",
        f"(e) article page weight, gzip -6: {page}: HTML {sizes['HTML'] / 1024:.1f} KB + CSS "
        f"{sizes['CSS'] / 1024:.1f} KB + JS {sizes['JS'] / 1024:.1f} KB = {total_kb:.1f} KB "
        f"(goal under {GOAL_PAGE_KB:.0f} KB: {'OK' if total_kb < GOAL_PAGE_KB else 'OVER GOAL'})",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(prog="python -m bench.site_build", description=__doc__)
    parser.add_argument("--articles", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-pagefind", action="store_true", help="skip (f)")
    parser.add_argument("--profile", action="store_true", help="also cProfile our plugins")
    parser.add_argument("--attribute", action="store_true", help="also time build variants")
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    parser.add_argument(
        "--delete-between",
        action="store_true",
        help="delete each build's previous output just before it (adds file-system time)",
    )
    return parser.parse_args(argv)


def bench(work: Path, args: argparse.Namespace) -> str:
    """Generate the site, take every measurement and return the report."""
    content = generate(work / "content", args.articles)
    print(f"Generated {args.articles} articles in {content}; building...", flush=True)
    outputs = Outputs(work / "runs", delete_between=args.delete_between)
    try:
        results = {"full": full_builds(work, content, args.runs, outputs)}
        results["pagefind"] = None if args.no_pagefind else pagefind(work)
        results["page"] = page_weight(work)
        text = report(args.articles, args.runs, {**results, "rebuild": rebuilds(work, content)})
        if args.attribute:
            text += "\n\nWhere the extra time goes (same content; CPU compared with (a)):\n"
            stock_cpu = median(results["full"]["stock"], "cpu")
            for name, runs in attribution(work, content, args.runs, outputs).items():
                text += f"{_row(name, runs)}  {median(runs, 'cpu') / stock_cpu - 1:+6.1%}\n"
    finally:
        outputs.remove()
    if args.profile:
        text += "\n\nWhere our plugins spend their time (cProfile, cumulative):\n"
        text += profile(work, content)
    return text


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    args = parse_args(argv)
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        print(bench(args.keep.resolve(), args))
        return 0
    with tempfile.TemporaryDirectory(prefix="site-bench-") as work:
        print(bench(Path(work), args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
