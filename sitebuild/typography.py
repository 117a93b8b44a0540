"""Markdown extension: smarty's typographic quotes, dashes and ellipses, at a fraction of its cost.

``markdown.extensions.smarty`` cost half of a whole stock Pelican build: it runs a second
inline processor that scans every text node with each of its 18 patterns in turn, through
Markdown's generic pattern machinery. This extension makes the same choices (smarty's own
rules, in smarty's order) but does the work only where it can apply:

- a text node without a quote, ``--`` or ``...`` is skipped after four substring tests;
- dashes and ellipses are one ``re.sub`` each, over runs of dashes or dots;
- each quote is decided where it stands, by trying smarty's own rules, in smarty's order,
  anchored at that quote. That is exact when no other quote is within two characters (a rule
  looks at most one character back and consumes one character on either side); text where
  quotes are that close (``"'``, ``' '``) is rare and goes through a literal replay of
  smarty's sequential passes instead.

It writes the characters (’ “ ” – — …) where smarty writes entities (``&rsquo;``): pages read
the same and skip the HTML stash's post-processing. tests/site/test_plugins.py compares the
two, entities decoded, on the real content, on tricky text and on random punctuation. Code
spans and blocks are left alone (their text is an ``AtomicString``). Enable it as
``"sitebuild.typography": {}`` in ``MARKDOWN``, in place of smarty.
"""

import functools
import html
import re

from markdown.extensions import Extension
from markdown.extensions import smarty as _smarty
from markdown.treeprocessors import Treeprocessor
from markdown.util import AtomicString

# Smarty's priority: after inline patterns (20), before the toc (5), so heading ids and the
# table of contents see the same text as they did with smarty.
PRIORITY = 6

LSQUO, RSQUO, LDQUO, RDQUO = "&lsquo;", "&rsquo;", "&ldquo;", "&rdquo;"
# Smarty's quote rules in smarty's order: (pattern, replacement parts); an int part is a
# group of the match kept as text, a str part an entity.
# fmt: off
QUOTE_RULES = [(re.compile(pattern), parts) for pattern, parts in (
    (_smarty.singleQuoteStartRe, (RSQUO,)),
    (_smarty.doubleQuoteStartRe, (RDQUO,)),
    (_smarty.doubleQuoteSetsRe, (LDQUO + LSQUO,)),
    (_smarty.singleQuoteSetsRe, (LSQUO + LDQUO,)),
    (_smarty.doubleQuoteSetsRe2, (RSQUO + RDQUO,)),
    (_smarty.singleQuoteSetsRe2, (RDQUO + RSQUO,)),
    (_smarty.decadeAbbrRe, (RSQUO,)),
    (_smarty.openingSingleQuotesRegex, (1, LSQUO)),
    (_smarty.closingSingleQuotesRegex, (RSQUO,)),
    (_smarty.closingSingleQuotesRegex2, (RSQUO, 1)),
    (_smarty.remainingSingleQuotesRegex, (LSQUO,)),
    (_smarty.openingDoubleQuotesRegex, (1, LDQUO)),
    (_smarty.closingDoubleQuotesRegex, (RDQUO,)),
    (_smarty.closingDoubleQuotesRegex2, (RDQUO,)),
    (_smarty.remainingDoubleQuotesRegex, (LDQUO,)),
)]
# fmt: on
# The rules that can match a lone quote, per quote character (the four pair rules need two).
LONE_RULES = {
    "'": [QUOTE_RULES[i] for i in (0, 6, 7, 8, 9, 10)],
    '"': [QUOTE_RULES[i] for i in (1, 11, 12, 13, 14)],
}
# An opening rule's group 1 is the character(s) before the quote: whitespace or a Unicode
# dash (1), "--" (2), "&nbsp;" (6) or a dash entity (7). Only these look further back than
# one character, and they all end in ";" or "-".
_CONTEXT_LENGTHS = (1, 2, 6, 7)
_BEHIND, _AHEAD = 7, 3
# Next to a quote the rules tell apart only word characters, digits, "s", whitespace and
# punctuation: other ASCII letters can share one cache entry.
_LETTERS = str.maketrans(dict.fromkeys("abcdefghijklmnopqrtuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", "a"))
# Smarty's (?<!-)---(?!-), (?<!-)--(?!-) and (?<!\.)\.{3}(?!\.) replace runs of exactly
# three dashes, two dashes and three dots. Matching whole runs gives the same result and,
# starting with a literal, scans text several times faster than a leading lookbehind.
_DASH_RUN = re.compile(r"-{2,}")
_DOT_RUN = re.compile(r"\.{3,}")
# Dashes are replaced before quotes, so quote rules must see them as smarty does: wrapped
# like Markdown's own placeholders (\x02...\x03). Markdown's placeholders always hold ASCII
# letters or digits, so these two never clash with them.
_DASH_MARKS = {"--": "\x02\u2013\x03", "---": "\x02\u2014\x03"}
_QUOTE = re.compile(r"['\"]")
_CLOSE_QUOTES = re.compile(r"['\"].?['\"]", re.DOTALL)


@functools.lru_cache(maxsize=4096)
def _quote_character(window: str, index: int) -> str:
    """The character smarty makes of the lone quote at `index` of `window`, rules in order."""
    for rx, parts in LONE_RULES[window[index]]:
        entity = next(part for part in parts if isinstance(part, str))
        if parts[0] != 1:  # the match starts at the quote
            if rx.match(window, index):
                return html.unescape(entity)
            continue
        for length in _CONTEXT_LENGTHS:  # the match starts before the quote
            match = rx.match(window, index - length) if index >= length else None
            if match and match.end() == index + 1:
                return html.unescape(entity)
    raise AssertionError("smarty's last rules match any quote")  # pragma: no cover


def _lone_quote(match: re.Match) -> str:
    """re.sub callback: the typographic character for a quote with no other quote nearby.

    Its neighbours decide, as far as smarty's rules look: 3 characters ahead ("'90s") and
    one behind, or 7 after ";" or "-" (group 1 "&#8211;", "--"). A window reduced to that
    is a small cache key, so the rules run once per distinct context, not once per quote.
    """
    text, index = match.string, match.start()
    previous = text[index - 1] if index else ""
    if previous in (";", "-"):
        behind = text[max(0, index - _BEHIND) : index]  # from 0: "^" stays the node's start
    else:
        behind = previous.translate(_LETTERS)
    ahead = text[index + 1 : index + _AHEAD + 1].translate(_LETTERS)
    return _quote_character(behind + text[index] + ahead, len(behind))


def _replay_quotes(text: str, stash) -> str:
    """Apply smarty's quote rules one after another, as smarty does (for close quotes)."""
    for rx, parts in QUOTE_RULES:
        match = rx.search(text)
        while match:
            replacement = "".join(match.group(p) if isinstance(p, int) else p for p in parts)
            placeholder = stash.store(replacement)
            text = text[: match.start()] + placeholder + text[match.end() :]
            match = rx.search(text, match.start() + len(placeholder))
    return text


def _mark_dashes(match: re.Match) -> str:
    """re.sub callback: a marked en or em dash for a run of exactly two or three dashes."""
    run = match.group()
    return _DASH_MARKS.get(run, run)


def _ellipsis(match: re.Match) -> str:
    """re.sub callback: an ellipsis for a run of exactly three dots."""
    run = match.group()
    return "\u2026" if run == "..." else run


def educate(text: str, stash) -> str:
    """Return `text` with smarty's quotes, dashes and ellipses, as Unicode characters.

    Smarty writes entities (&rsquo;) through Markdown's HTML stash; the characters
    themselves read the same and spare the stash and its post-processing. Quotes that
    stand close together (rare) go through a replay of smarty's passes and keep its entities.
    """
    if "--" in text:  # first, as in smarty
        text = _DASH_RUN.sub(_mark_dashes, text)
    if "'" in text or '"' in text:
        if _CLOSE_QUOTES.search(text):
            text = _replay_quotes(text, stash)
        else:
            text = _QUOTE.sub(_lone_quote, text)
    if "..." in text:  # last, as in smarty
        text = _DOT_RUN.sub(_ellipsis, text)
    if "\x02" in text:
        for mark in _DASH_MARKS.values():
            text = text.replace(mark, mark[1])
    return text


class TypographyProcessor(Treeprocessor):
    """Educate the text and tail of every element, except code (AtomicString)."""

    def run(self, root):
        """Walk the tree once and rewrite each text node in place."""
        stash = self.md.htmlStash
        for element in root.iter():
            if element is root:
                continue
            text = element.text
            if text and not isinstance(text, AtomicString):
                element.text = educate(text, stash)
            if element.tail:
                element.tail = educate(element.tail, stash)
        return root


class TypographyExtension(Extension):
    """Register the typography tree processor."""

    def extendMarkdown(self, md):
        """Add the processor and, like smarty, let \\" and \\' escape a straight quote."""
        md.treeprocessors.register(TypographyProcessor(md), "typography", PRIORITY)
        md.ESCAPED_CHARS.extend(['"', "'"])


def makeExtension(**kwargs):  # noqa: N802 - the name Markdown looks for
    """Entry point Markdown calls when the extension is named by its module path."""
    return TypographyExtension(**kwargs)
