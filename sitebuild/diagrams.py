"""Pelican plugin: an SVG diagram alone in its paragraph becomes a scrollable figure.

The diagrams are drawn about 640 px wide with 14 px labels. Shrunk to a 375 px phone they
would print labels of about 7 px; instead, on narrow screens the stylesheet keeps a diagram
at least 36rem wide (labels of 11 px or more) and lets it scroll sideways on its own, inside
``<figure class="diagram">``. The figure takes keyboard focus (``tabindex="0"``) so a
keyboard user can scroll it too (WCAG 2.1.1; axe's scrollable-region-focusable), and is
named by the image's alt text through the image it contains.
"""

import re

from pelican import signals

# Markdown writes an image alone in a paragraph as <p><img ... /></p>; attributes never
# contain ">" (Markdown escapes it), so the tag ends at the first one. An image given a class
# ({: .person__photo}, a portrait on /about) is styled by it and left alone.
_DIAGRAM = re.compile(r'<p>(<img\b(?![^>]*\bclass=)[^>]*\bsrc="[^"]*\.svg"[^>]*>)</p>')


def wrap_diagrams(html: str) -> str:
    """Wrap each paragraph holding only an SVG image in a focusable, scrollable figure."""
    if ".svg" not in html:  # most articles have no diagram: one substring test
        return html
    return _DIAGRAM.sub(r'<figure class="diagram" tabindex="0">\1</figure>', html)


def on_content_init(content) -> None:
    """Signal handler (content_object_init): rewrite the rendered body of an article or page."""
    if getattr(content, "_content", None):
        content._content = wrap_diagrams(content._content)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.content_object_init.connect(on_content_init)
