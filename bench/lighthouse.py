"""Lighthouse scores for pages of the locally built site (by default its first article).

Run from the repository root: `.venv/bin/python -m bench.lighthouse [--site OUTPUT]
[--path /about/ --path / ...]`.
Without --site it builds the site (Pelican + Pagefind) into a temporary folder. It serves the
folder on 127.0.0.1, runs npm's `lighthouse` against Debian's Chromium and prints the four
category scores. Lighthouse exits 0 whatever the scores, so `--min` makes this script exit 1
when any score falls below it.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.site.checkers import serve_folder

ROOT = Path(__file__).resolve().parent.parent
LIGHTHOUSE = ROOT / "node_modules" / ".bin" / "lighthouse"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CATEGORIES = ["performance", "accessibility", "best-practices", "seo"]
CHROME_FLAGS = "--headless --no-sandbox --disable-gpu --disable-background-networking"


def build_site(output: Path) -> None:
    """Build the site with the local settings and index it, as `make html` does."""
    subprocess.run(
        [sys.executable, "-m", "pelican", "content", "-s", "pelicanconf.py", "-o", str(output)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    pagefind = [sys.executable, "-m", "pagefind", "--site", str(output), "--silent"]
    subprocess.run(pagefind, check=True)


def first_article(site: Path) -> str:
    """The site path of the first article under /blog/ (sorted, so the figure is comparable)."""
    articles = sorted(site.glob("blog/*/index.html"))
    if not articles:
        raise SystemExit(f"no article under {site}/blog/")
    return f"/blog/{articles[0].parent.name}/"


def lighthouse_scores(url: str) -> dict[str, int]:
    """Run Lighthouse on `url` and return each category's score out of 100."""
    cmd = [str(LIGHTHOUSE), url, "--output=json", "--output-path=stdout", "--quiet"]
    cmd += [f"--only-categories={','.join(CATEGORIES)}", f"--chrome-flags={CHROME_FLAGS}"]
    env = {**os.environ, "CHROME_PATH": CHROMIUM}
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    if report.get("runtimeError"):
        raise SystemExit(f"lighthouse failed: {report['runtimeError']}")
    return {name: round(report["categories"][name]["score"] * 100) for name in CATEGORIES}


def main() -> int:
    """Print the scores; exit 1 if any is below --min."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, help="an already built output folder")
    parser.add_argument("--min", type=int, default=0, help="lowest acceptable score (0-100)")
    parser.add_argument(
        "--path", action="append", help="a site path to measure (repeatable; default: an article)"
    )
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        raise SystemExit("lighthouse is not installed: run `npm install`")
    with tempfile.TemporaryDirectory() as scratch:
        site = args.site or Path(scratch) / "output"
        if not args.site:
            build_site(site)
        with serve_folder(site) as base:
            lowest = 100
            for path in args.path or [first_article(site)]:
                scores = lighthouse_scores(base + path)
                print(f"lighthouse {path}: " + "  ".join(f"{k} {v}" for k, v in scores.items()))
                lowest = min(lowest, *scores.values())
    return 1 if lowest < args.min else 0


if __name__ == "__main__":
    sys.exit(main())
