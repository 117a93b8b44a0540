"""Production settings: pelicanconf.py plus absolute URLs and feeds on the public address.

The public address is LEADFORM_PUBLIC_URL, the one setting the booking service reads too
(/etc/tessellate/leadform.env, docs/deploy.md):

    LEADFORM_PUBLIC_URL=https://www.your-domain.com make build

`make build` first runs this file as a script, which refuses a missing or placeholder address
(ALLOW_PLACEHOLDER_URL=1 builds for the placeholder anyway, loudly). Pelican run directly
(`pelican content -s publishconf.py`, as the site tests do) falls back to the placeholder and
logs a warning.
"""

import logging
import os
import sys
from urllib.parse import urlsplit

sys.path.append(os.path.dirname(__file__))
from pelicanconf import *  # noqa: E402

PLACEHOLDER_URL = "https://www.tessellate.example"
# Domains reserved for documentation (RFC 2606, RFC 6761): no visitor can ever reach them.
_RESERVED_DOMAINS = ("example", "example.com", "example.net", "example.org")


def public_url_problem(url: str) -> str | None:
    """Say why `url` cannot be the published site's address, or return None when it can."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme != "https" or not host:
        return f"LEADFORM_PUBLIC_URL must be an https:// address, got {url!r}"
    if parts.path.strip("/") or parts.query or parts.fragment:
        return f"LEADFORM_PUBLIC_URL must be the origin only (no path or query), got {url!r}"
    if any(host == name or host.endswith("." + name) for name in _RESERVED_DOMAINS):
        return f"{url} is a placeholder address: no visitor can reach it"
    return None


def _public_url(environ) -> str:
    """The configured public address without a trailing slash; the placeholder when unset."""
    return environ.get("LEADFORM_PUBLIC_URL", "").strip().rstrip("/") or PLACEHOLDER_URL


def check_public_url(environ) -> int:
    """Print which address the build uses; return 2 (refuse) for a placeholder unless allowed."""
    url = _public_url(environ)
    problem = public_url_problem(url)
    if problem is None:
        print(f"Building for {url}")
        return 0
    if environ.get("ALLOW_PLACEHOLDER_URL") == "1" and url == PLACEHOLDER_URL:
        print(f"WARNING: building for the placeholder {url} (ALLOW_PLACEHOLDER_URL=1)")
        return 0
    print(
        f"make build: {problem}.\n"
        "Set the site's public address, the same value as LEADFORM_PUBLIC_URL in\n"
        "/etc/tessellate/leadform.env, e.g.\n"
        "    LEADFORM_PUBLIC_URL=https://www.your-domain.com make build\n"
        "(or ALLOW_PLACEHOLDER_URL=1 make build for a throw-away build on the placeholder).",
        file=sys.stderr,
    )
    return 2


SITEURL = _public_url(os.environ)
if public_url_problem(SITEURL) and __name__ != "__main__":
    # Pelican run by hand or by the site tests: say so, but build (make build refuses first).
    logging.getLogger(__name__).warning("publishconf.py: building for %s", SITEURL)
RELATIVE_URLS = False
FEED_DOMAIN = SITEURL
DELETE_OUTPUT_DIRECTORY = True
# Every text file also as .gz and .br, served as they are by nginx (deploy/nginx/).
PRECOMPRESS = True

if __name__ == "__main__":
    sys.exit(check_public_url(os.environ))
