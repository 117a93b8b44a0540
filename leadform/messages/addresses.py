"""Gentle corrections for mistyped email domains: "ada@gmial.com" -> "ada@gmail.com".

`suggest_address` is a pure function: no DNS, no network. It only ever suggests one of the big
providers' real domains (or fixes a top-level domain that does not exist, like `.con`), so a
company's own domain, however unusual, is never "corrected". The local part is kept as typed.
"""

from __future__ import annotations

# Real domains of the big providers: a suggestion is always one of these, or a `.con` fix.
PROVIDER_DOMAINS = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "hotmail.co.uk",
        "hotmail.fr",
        "hotmail.de",
        "hotmail.it",
        "live.com",
        "yahoo.com",
        "yahoo.co.uk",
        "yahoo.fr",
        "yahoo.de",
        "icloud.com",
        "proton.me",
        "protonmail.com",
        "protonmail.ch",
    }
)
# Real domains one typo away from a provider's: never corrected.
LOOKALIKES = frozenset(
    {"mail.com", "email.com", "ymail.com", "gmx.com", "gmx.net", "me.com", "mac.com", "cloud.com"}
)
# Names a typo is measured against; "live" is too short to guess from safely (life, love).
PROVIDER_NAMES = frozenset(domain.split(".", 1)[0] for domain in PROVIDER_DOMAINS) - {"live"}
# Endings that are no top-level domain anywhere: always a slip for .com or .co.uk.
SLIPS = {
    "con": "com",
    "cmo": "com",
    "ocm": "com",
    "cpm": "com",
    "xom": "com",
    "vom": "com",
    "comm": "com",
    "coom": "com",
    "c0m": "com",
    "co.uj": "co.uk",
    "co.ul": "co.uk",
    "co.ik": "co.uk",
    "cp.uk": "co.uk",
    "couk": "co.uk",
}
# Real top-level domains that, after a provider's name, are a slip for .com.
PROVIDER_SLIPS = {"co": "com", "cm": "com", "om": "com", "net": "com"}


def suggest_address(address: str) -> str | None:
    """Return the likely intended address when its domain looks mistyped, else None."""
    local, at, domain = address.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    typed = domain.lower().rstrip(".")
    if typed in PROVIDER_DOMAINS or typed in LOOKALIKES:
        return None
    fixed = _fix_domain(typed)
    if fixed is None or fixed == typed:
        return None
    return f"{local}@{fixed}"


def _fix_domain(domain: str) -> str | None:
    """The corrected domain (possibly `domain` itself), or None when nothing safe is known."""
    name, dot, suffix = domain.partition(".")
    if not dot:
        name, suffix = _split_glued(domain)
    near = _nearest_provider(name)
    if near is None:
        return _fix_ending(domain)
    suffix = SLIPS.get(suffix, suffix)
    for candidate in (f"{near}.{suffix}", f"{near}.{PROVIDER_SLIPS.get(suffix, suffix)}"):
        if candidate in PROVIDER_DOMAINS:
            return candidate
    return None


def _fix_ending(domain: str) -> str | None:
    """`domain` with an ending that exists nowhere (".con") replaced; None if it has none."""
    for slip, ending in SLIPS.items():
        if domain.endswith("." + slip):
            return domain[: -len(slip)] + ending
    return None


def _split_glued(domain: str) -> tuple[str, str]:
    """Split "gmailcom" into ("gmail", "com"); a bare name gets ".com" ("gmail")."""
    for ending in ("com", "couk"):
        if domain.endswith(ending) and len(domain) > len(ending):
            return domain[: -len(ending)], SLIPS.get(ending, ending)
    return domain, "com"


def _nearest_provider(name: str) -> str | None:
    """The provider name within typo distance of `name` (one edit, two for long names).

    Short names must start with the provider's first letter: "wahoo" and "cloud" are real
    companies, not slips for yahoo and icloud.
    """
    if name in PROVIDER_NAMES:
        return name
    allowed = 2 if len(name) >= 8 else 1
    ranked = sorted((edit_distance(name, known), known) for known in PROVIDER_NAMES)
    distance, known = ranked[0]
    if distance > allowed or ranked[1][0] == distance:
        return None  # too far, or two providers equally near: no honest guess
    if len(name) < 7 and name[:1] != known[:1]:
        return None
    return known


def edit_distance(a: str, b: str) -> int:
    """Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, char_a in enumerate(a, start=1):
        current = [i]
        for j, char_b in enumerate(b, start=1):
            cost = 0 if char_a == char_b else 1
            value = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and char_a == b[j - 2] and a[i - 2] == char_b:
                value = min(value, previous2[j - 2] + 1)
            current.append(value)
        previous2, previous = previous, current
    return previous[-1]
