"""Read site.toml, the one source of the firm's facts, for the booking service."""

import tomllib
from pathlib import Path

REQUIRED_TABLES = ("firm", "assessment", "privacy", "availability")


class SiteFactsError(Exception):
    """site.toml is missing, unreadable or lacks a table; the message says which and where."""


def load_site(path: str | Path) -> dict:
    """Return the parsed site.toml at `path`; raise SiteFactsError naming the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SiteFactsError(f"{path}: file not found (set LEADFORM_SITE_FILE)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SiteFactsError(f"{path}: cannot be read ({exc})") from None
    try:
        site = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SiteFactsError(f"{path}: not valid TOML ({exc})") from None
    for table in REQUIRED_TABLES:
        if not isinstance(site.get(table), dict):
            raise SiteFactsError(f"{path}: the [{table}] table is missing")
    return site
