"""Markdown extension: heading ids and permalinks exactly as the toc extension makes them, cheaper.

The site needs two things from ``markdown.extensions.toc``: an ``id`` on every heading and a
permalink anchor after its text. Toc also builds a table of contents nobody prints (it
serializes it, and every heading, through Markdown's serializer and post-processors, then
walks the whole tree looking for a ``[TOC]`` marker). On the benchmark's 1,000 articles toc
cost about 0.28 s CPU, a twentieth of a stock Pelican build; this extension saves 0.13 s of it
(most of the rest is the anchors themselves, which the site needs).

This extension is toc with a cheaper run: same options, same ids (toc's own ``slugify`` and
``unique``), same permalink elements. A heading that is plain text (no child element, no
``&``, ``<``, ``>`` or HTML-stash placeholder) has its name taken from its text directly, which
is what toc's rendering gives for such text; any other heading goes through toc's own
rendering. A document that contains the marker (``[TOC]``) is handed to toc's original run
whole. What is skipped is the table of contents itself: ``md.toc`` and ``md.toc_tokens`` stay
empty, and nothing in Pelican or the theme reads them. tests/site/test_headings.py compares
the output with toc's on tricky headings, the real content and random headings.

Enable it as ``"sitebuild.headings": {...}`` in ``MARKDOWN``, with toc's options, in place of
``markdown.extensions.toc``.
"""

import html
import re

from markdown.extensions.toc import (
    TocExtension,
    TocTreeprocessor,
    remove_fnrefs,
    render_inner_html,
    strip_tags,
    unique,
)

# Text that toc's rendering would change beyond collapsing whitespace: characters the
# serializer escapes and the STX/ETX that wrap Markdown's placeholders (HTML stash,
# backslash escapes, footnote markers).
_NOT_PLAIN = re.compile("[&<>\x02\x03]")


class HeadingLinksTreeprocessor(TocTreeprocessor):
    """Toc's tree processor without the table of contents (unless the document asks for one)."""

    def run(self, doc):
        """Give every heading its id and permalink, as toc does, in document order."""
        used_ids, headings = set(), []
        marker, is_heading = self.marker, self.header_rgx.match
        for element in doc.iter():
            attrib, text, tag = element.attrib, element.text, element.tag
            if attrib and "id" in attrib:
                used_ids.add(attrib["id"])
            if marker and text and marker in text:
                return super().run(doc)  # a [TOC] to replace: toc's own run, all of it
            if isinstance(tag, str) and is_heading(tag):
                headings.append(element)
        id_counters: dict[str, int] = {}
        for heading in headings:
            self.set_level(heading)
            if "id" not in heading.attrib:  # toc never overrides an id given in the source
                slug = self.slugify(html.unescape(self.heading_name(heading)), self.sep)
                heading.attrib["id"] = unique(slug, used_ids, id_counters)
            # Toc reads this attribute for its table of contents and removes it.
            heading.attrib.pop("data-toc-label", None)
            if self.use_anchors:
                self.add_anchor(heading, heading.attrib["id"])
            if self.use_permalinks not in (False, None):
                self.add_permalink(heading, heading.attrib["id"])

    def heading_name(self, heading) -> str:
        """The heading's text as toc computes it for the id: rendered, tags stripped."""
        text = heading.text or ""
        if len(heading) == 0 and not _NOT_PLAIN.search(text):
            # Rendering plain text only escapes &, < and > (absent here); toc then strips
            # the ends and collapses whitespace.
            return " ".join(text.split())
        return strip_tags(render_inner_html(remove_fnrefs(heading), self.md))


class HeadingLinksExtension(TocExtension):
    """Toc's extension and options, with the cheaper tree processor."""

    TreeProcessorClass = HeadingLinksTreeprocessor


def makeExtension(**kwargs):  # noqa: N802 - the name Markdown looks for
    """Entry point Markdown calls when the extension is named by its module path."""
    return HeadingLinksExtension(**kwargs)
