"""Pelican plugin: Atom feeds with absolute links, ids and content URLs in every build.

Pelican builds a feed's links, its id and each entry's id from SITEURL, which is "" in
local builds; RFC 4287 needs absolute IRIs there, and feed readers resolve nothing against
a feed's own address. This writer gives the feed machinery SITE_BASE_URL (see
sitebuild.seo) instead, so local feeds point at the local server and published feeds at
the public domain, while HTML pages keep their root-relative links.
"""

from pelican import signals
from pelican.writers import Writer

from sitebuild.seo import base_url


class AbsoluteFeedWriter(Writer):
    """Pelican's writer, with SITEURL replaced by the absolute base URL for feeds only."""

    def write_feed(self, elements, context, *args, **kwargs):
        """Write a feed as Pelican does, but with absolute URLs throughout."""
        context = dict(context, SITEURL=base_url(self.settings))
        return super().write_feed(elements, context, *args, **kwargs)

    def _create_new_feed(self, *args, **kwargs):
        """Create the feed with its own URL as its id.

        Pelican's default id is the site's home page, the same for every feed; RFC 4287
        wants each feed's id to identify that feed.
        """
        feed = super()._create_new_feed(*args, **kwargs)
        feed.feed["id"] = self.feed_url
        return feed


def provide_writer(pelican):
    """Hand Pelican the feed-aware writer class."""
    return AbsoluteFeedWriter


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.get_writer.connect(provide_writer)
