"""Pelican plugin: the firm's facts from site.toml in Markdown, as ``{fact:assessment.price}``.

Prose repeats facts the booking service also states (the price, how late a session can be
moved, how fast the firm replies). Written by hand they drift apart; written as a
placeholder, every page says what ``site.toml`` says. A fact is any text or number in
site.toml, named by its dotted path: ``{fact:session.change_cutoff_hours}`` is
``[session] change_cutoff_hours``, ``{fact:people.priya-raman.role}`` is
``[people.priya-raman] role``. Placeholders work in the header too (``Summary: A
{fact:assessment.minutes}-minute session``).

The Markdown reader replaces them before Markdown sees the text, so a fact may sit inside a
link, a heading or an image address. A placeholder naming no fact is left as it is and
``sitebuild.contentcheck`` stops the build with the file and line (``unknown_facts``).
"""

import difflib
import re

from markdown import Markdown
from pelican import signals
from pelican.readers import MarkdownReader
from pelican.utils import pelican_open

PLACEHOLDER = re.compile(r"\{fact:([^{}\s]*)\}")
_MARKER = "{fact:"


def flatten(site: dict, prefix: str = "") -> dict[str, str]:
    """Return every text or number of `site` by dotted path ("assessment.price" -> "£1,950").

    Tables are walked; lists are not facts (a sentence cannot hold one), so they are left out.
    """
    facts: dict[str, str] = {}
    for key, value in site.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            facts.update(flatten(value, f"{path}."))
        elif isinstance(value, str | int | float) and not isinstance(value, bool):
            facts[path] = str(value)
    return facts


def facts_of(settings: dict) -> dict[str, str]:
    """The flattened facts of a build, computed once per settings object."""
    if "SITE_FACTS" not in settings:
        settings["SITE_FACTS"] = flatten(settings["SITE"])
    return settings["SITE_FACTS"]


def substitute(text: str, facts: dict[str, str]) -> str:
    """Replace each known ``{fact:key}`` in `text` by its value; leave unknown ones as they are."""
    if _MARKER not in text:  # most articles state no fact: one substring test
        return text
    return PLACEHOLDER.sub(lambda match: facts.get(match[1], match[0]), text)


def unknown_facts(text: str, facts: dict[str, str]) -> list[tuple[int, str]]:
    """(line, message) for every placeholder in `text` that names no fact."""
    if _MARKER not in text:
        return []
    found = []
    for match in PLACEHOLDER.finditer(text):
        key = match[1]
        if key in facts:
            continue
        line = text.count("\n", 0, match.start()) + 1
        found.append((line, f"'{match[0]}' names no fact in site.toml{_suggestion(key, facts)}"))
    return found


def _suggestion(key: str, facts: dict[str, str]) -> str:
    """A hint: the closest fact names, or the facts of the table the key points into."""
    close = difflib.get_close_matches(key, facts, n=2, cutoff=0.75)
    if not close:
        close = [name for name in facts if name.startswith(f"{key}.")][:4]
    if not close:
        return " (facts are the keys of site.toml, e.g. {fact:assessment.price})"
    return f" (did you mean {' or '.join('{fact:' + name + '}' for name in close)}?)"


class FactsMarkdownReader(MarkdownReader):
    """Pelican's Markdown reader, with ``{fact:...}`` placeholders replaced before parsing."""

    def read(self, source_path):
        """Parse content and metadata of a Markdown file (as MarkdownReader.read), facts filled."""
        self._source_path = source_path
        self._md = Markdown(**self.settings["MARKDOWN"])
        with pelican_open(source_path) as text:
            content = self._md.convert(substitute(text, facts_of(self.settings)))
        metadata = self._parse_metadata(self._md.Meta) if hasattr(self._md, "Meta") else {}
        return content, metadata


def use_facts_reader(readers) -> None:
    """Signal handler (readers_init): read every Markdown extension with FactsMarkdownReader."""
    for extension in FactsMarkdownReader.file_extensions:
        readers.reader_classes[extension] = FactsMarkdownReader


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.readers_init.connect(use_facts_reader)
