"""Cleaning what visitors type and where they came from: one place for every form.

Single-line answers lose control characters, invisible format characters and direction
overrides (U+202E shows "gnp.exe" as "exe.png"); free text keeps its line breaks, tabs and the
zero-width joiners emoji and Persian need. The attribution a page carries (the article, utm_*,
an outside referrer) is cleaned and cut the same way by the booking form, the readiness check
and the booking page's visit counts.
"""

import unicodedata

ATTRIBUTION_MAX, REFERRER_MAX = 200, 2000

# Unicode category Cc, "control": C0, DEL and C1. The Cc set is immutable by Unicode's
# stability policy, so a fixed table is exact; str.translate beats a per-character loop.
CONTROL_CHARACTERS = frozenset(chr(code) for code in (*range(0x20), *range(0x7F, 0xA0)))
_CONTROLS_TO_SPACES = str.maketrans(dict.fromkeys(CONTROL_CHARACTERS, " "))
_DROP_CONTROLS_BUT_LINES = str.maketrans(dict.fromkeys(CONTROL_CHARACTERS - {"\n", "\t"}))


# Unicode category Cf, "format": invisible characters (zero-width space, BOM, soft hyphen)
# and direction overrides (U+202E shows "gnp.exe" as "exe.png"). Cf grows with Unicode, so
# it is looked up rather than listed; no Cf character is printable, so text that
# str.isprintable() accepts (nearly every answer) is not looked at character by character.
# Free text keeps the zero-width (non-)joiners: emoji sequences and Persian words need them.
_JOINERS = frozenset("\u200c\u200d")


def _drop_format_characters(text: str, keep: frozenset[str] = frozenset()) -> str:
    """Return `text` without Unicode format (Cf) characters, except those in `keep`."""
    if text.isprintable():
        return text
    return "".join(
        char
        for char in text
        if char.isprintable() or char in keep or unicodedata.category(char) != "Cf"
    )


def clean_line(value):
    """Strip control, invisible and direction characters and surrounding space from one line."""
    if value is None:
        return None
    text = _drop_format_characters(str(value))
    return " ".join(text.translate(_CONTROLS_TO_SPACES).split())


def clean_text(value):
    """Strip controls but line breaks and tabs, and Cf characters but joiners, from free text."""
    if value is None:
        return None
    text = str(value).replace("\r\n", "\n").replace("\r", "\n")
    return _drop_format_characters(text, _JOINERS).translate(_DROP_CONTROLS_BUT_LINES).strip()


def truncate(limit: int):
    """Return a filter cutting a hidden attribution value to `limit` characters."""

    def _cut(value):
        value = clean_line(value)
        return value[:limit] or None if value else None

    return _cut


# The attribution's hidden fields, in page order, and the length each is cut to.
ATTRIBUTION_LIMITS = {
    "source_article": ATTRIBUTION_MAX,
    "utm_source": ATTRIBUTION_MAX,
    "utm_medium": ATTRIBUTION_MAX,
    "utm_campaign": ATTRIBUTION_MAX,
    "utm_term": ATTRIBUTION_MAX,
    "utm_content": ATTRIBUTION_MAX,
    "referrer": REFERRER_MAX,
}


def clean_attribution(data) -> dict:
    """Return the attribution in `data` (a query string or a form) cleaned and cut."""
    return {name: truncate(limit)(data.get(name)) for name, limit in ATTRIBUTION_LIMITS.items()}
