"""Start a new article: ``make new-post TITLE="How we scope a pilot"``.

Writes ``content/articles/<slug>.md`` with a complete header and a body skeleton. The file is
a draft (``Status: draft``) whose Summary is a placeholder: it shows in ``make preview`` but
is never published, and the content check refuses to publish it while the placeholder is
still there. An existing file is never overwritten.
"""

import argparse
import os
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from pelican.settings import read_settings
from pelican.utils import slugify

from sitebuild.contentcheck import PLACEHOLDER, parse_header
from sitebuild.preview import DEFAULT_PORT

DEFAULT_CATEGORY = "Strategy"
USAGE_EXIT = 2
EXISTS_EXIT = 1


class NewPostError(Exception):
    """A new post cannot be written; carries the message and the exit status for the shell."""

    def __init__(self, message: str, exit_status: int = EXISTS_EXIT):
        super().__init__(message)
        self.exit_status = exit_status


@dataclass(frozen=True)
class NewPost:
    """Everything that goes into the new file's header."""

    title: str
    slug: str
    date: datetime
    category: str
    author: str


def make_slug(title: str, settings: dict) -> str:
    """Lowercase ASCII words joined by dashes, as Pelican would make them from the title."""
    slug = slugify(
        title,
        regex_subs=settings.get("SLUG_REGEX_SUBSTITUTIONS", []),
        preserve_case=False,
        use_unicode=False,
    )
    return slug.strip("-")


def article_headers(articles_dir: Path) -> list[dict[str, str]]:
    """The header fields of every existing article (for categories and taken slugs)."""
    headers = []
    for path in sorted(articles_dir.rglob("*.md")):
        fields = parse_header(path.read_text(encoding="utf-8-sig", errors="replace")).fields
        headers.append({key: value for key, (value, _line) in fields.items()})
    return headers


def pick_category(headers: list[dict[str, str]]) -> str:
    """The category most articles use (alphabetical on a tie), or Strategy on an empty site."""
    counts = Counter(h["category"] for h in headers if h.get("category"))
    if not counts:
        return DEFAULT_CATEGORY
    return min(counts, key=lambda name: (-counts[name], name))


def used_slugs(headers: list[dict[str, str]], settings: dict) -> set[str]:
    """Slugs in use: each article's Slug, or the one Pelican makes from its Title."""
    return {h.get("slug") or make_slug(h.get("title", ""), settings) for h in headers}


def taken(slug: str, articles_dir: Path, used: set[str]) -> bool:
    """True when a file of that name exists or another article already uses the slug."""
    return (articles_dir / f"{slug}.md").exists() or slug in used


def free_slug(slug: str, articles_dir: Path, used: set[str]) -> str:
    """The first of slug-2, slug-3, ... that nothing uses yet (offered to the editor)."""
    number = 2
    while taken(f"{slug}-{number}", articles_dir, used):
        number += 1
    return f"{slug}-{number}"


def git_author() -> str:
    """The editor's name from `git config user.name`, or "" when git or the name is absent."""
    try:
        result = subprocess.run(
            ["git", "config", "user.name"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def render(post: NewPost) -> str:
    """The new file: a complete header (a draft with a placeholder Summary) and a skeleton."""
    stamp = post.date.strftime("%Y-%m-%d %H:%M")
    return f"""Title: {post.title}
Date: {stamp}
Modified: {stamp}
Category: {post.category}
Tags:
Slug: {post.slug}
Author: {post.author}
Summary: {PLACEHOLDER}: one or two sentences that make a busy reader want to read on.
Status: draft

Open with the problem this article addresses and who it matters to, in two or three sentences.

## The first point

Make the argument here. Short paragraphs read best on a phone.

## What to do next

Close with one concrete step the reader can take this week.
"""


def create_post(title: str, slug: str, settings: dict, content: Path) -> Path:
    """Write the new article and return its path; refuse to overwrite anything."""
    articles_dir = content / settings["ARTICLE_PATHS"][0]
    headers = article_headers(articles_dir) if articles_dir.is_dir() else []
    slug = slug or make_slug(title, settings)
    if not slug:
        raise NewPostError(
            f"Cannot make an address from the title {title!r}; give one: "
            'make new-post TITLE="..." SLUG=my-article',
            USAGE_EXIT,
        )
    path = articles_dir / f"{slug}.md"
    used = used_slugs(headers, settings)
    if taken(slug, articles_dir, used):
        raise NewPostError(
            f"{_shown(path)} (or another article with Slug: {slug}) already exists; "
            f"nothing was written. Pick another title, or keep this one with a new address:\n"
            f'  make new-post TITLE="{title}" SLUG={free_slug(slug, articles_dir, used)}'
        )
    post = NewPost(
        title=title,
        slug=slug,
        date=datetime.now(ZoneInfo(settings["TIMEZONE"])),
        category=pick_category(headers),
        author=git_author() or settings["AUTHOR"],
    )
    articles_dir.mkdir(parents=True, exist_ok=True)
    with path.open("x", encoding="utf-8") as handle:  # "x": never clobber a file
        handle.write(render(post))
    return path


def _shown(path: Path) -> str:
    """A path relative to the working folder when inside it, as the editor typed commands."""
    relative = os.path.relpath(path)
    return str(path) if relative.startswith("..") else relative


def next_steps(path: Path, settings: dict, slug: str) -> str:
    """What the editor does next, printed after the file is written."""
    url = settings["ARTICLE_URL"].format(slug=slug)
    return f"""Created {_shown(path)} (a draft: it is not published).

Next steps:
  1. make preview      then open http://127.0.0.1:{DEFAULT_PORT}/{url}
  2. Write the article. Replace the Summary line ({PLACEHOLDER}: ...) and add Tags.
  3. When it is ready, change 'Status: draft' to 'Status: published' and commit.
See docs/editing.md for every field and for publishing."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line arguments: the title, and optionally the slug, settings and content folder."""
    parser = argparse.ArgumentParser(
        prog="make new-post",
        description='Start a new draft article, e.g. make new-post TITLE="How we scope a pilot".',
    )
    parser.add_argument("title", nargs="?", default="", help="the article's title")
    parser.add_argument("--slug", default="", help="the address (default: from the title)")
    parser.add_argument("--settings", default="pelicanconf.py", help="Pelican settings file")
    parser.add_argument("--content", default=None, help="content folder (default: PATH)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the command; return the exit status (0 written, 1 refused, 2 usage)."""
    args = parse_args(argv)
    title = " ".join(args.title.split())
    if not title:
        print('Usage: make new-post TITLE="How we scope a pilot"', file=sys.stderr)
        print("A title is required; the file name and address are made from it.", file=sys.stderr)
        return USAGE_EXIT
    settings = read_settings(args.settings)
    content = Path(args.content or settings["PATH"])
    slug = make_slug(args.slug, settings) if args.slug else ""
    try:
        path = create_post(title, slug, settings, content)
    except NewPostError as error:
        print(error, file=sys.stderr)
        return error.exit_status
    print(next_steps(path, settings, path.stem))
    return 0


if __name__ == "__main__":
    sys.exit(main())
