"""Pelican plugin: reading time, previous/next and related articles.

After the article generator has read everything, each published article gains:

- ``word_count`` and ``reading_time`` (whole minutes, words / 200 rounded up),
- ``prev_article`` (the next older article) and ``next_article`` (the next newer one),
- ``related`` (up to three articles, by shared tags, then same category, newest first).

Every article and page also has its heading permalinks marked ``data-pagefind-ignore``.

Templates read these attributes directly; see docs/theme.md.
"""

import heapq
import math
import re
from collections import Counter, defaultdict
from html.parser import HTMLParser

from pelican import signals

WORDS_PER_MINUTE = 200
RELATED_LIMIT = 3

# A word is any run of characters between spaces that holds a letter or a digit, so
# dashes, bullets and punctuation standing alone do not count.
_WORD = re.compile(r"\S*\w\S*")
# Elements whose start or end separates words even when no whitespace is written there
# (<li>a</li><li>b</li> is two words).
# fmt: off
BLOCK_LEVEL = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
# fmt: on


class _TextExtractor(HTMLParser):
    """Collect the visible text of an HTML fragment, skipping heading permalinks."""

    # The toc extension's "#" permalinks are not prose.
    _SKIPPED_CLASSES = {"headerlink"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self._skip_depth = 0

    def handle_starttag(self, tag, attrs):
        """Separate blocks; start skipping inside a permalink anchor (counting nested tags)."""
        if tag in BLOCK_LEVEL:
            self.parts.append(" ")
        classes = set((dict(attrs).get("class") or "").split())
        if self._skip_depth or classes & self._SKIPPED_CLASSES:
            self._skip_depth += 1

    def handle_endtag(self, tag):
        """Leave a skipped element; a block's end separates words too."""
        if tag in BLOCK_LEVEL:
            self.parts.append(" ")
        if self._skip_depth:
            self._skip_depth -= 1

    def handle_data(self, data):
        """Keep text outside skipped elements."""
        if not self._skip_depth:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML fragment, without heading permalinks."""
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return "".join(extractor.parts)


def count_words(text: str) -> int:
    """Count the words in plain text (tokens that contain a letter or digit)."""
    return len(_WORD.findall(text))


def reading_minutes(words: int) -> int:
    """Return the reading time in whole minutes: words / 200, rounded up, at least 1."""
    return max(1, math.ceil(words / WORDS_PER_MINUTE))


class RelatedIndex:
    """Articles by tag and by category, built once per build.

    Ranking every article against every other is quadratic (about 1,000,000 pairs and several
    seconds at 1,000 articles); looking candidates up by tag touches only articles that can
    be related at all.
    """

    def __init__(self, articles):
        self.articles = list(articles)
        self.positions = {id(article): position for position, article in enumerate(self.articles)}
        self.by_tag = defaultdict(list)  # tag -> positions, ascending (newest first)
        self.by_category = defaultdict(list)
        for position, article in enumerate(self.articles):
            for tag in set(getattr(article, "tags", []) or []):
                self.by_tag[tag].append(position)
            self.by_category[article.category].append(position)

    def related(self, article, limit: int = RELATED_LIMIT) -> list:
        """Up to `limit` other articles: most shared tags, then same category, then newest."""
        shared = Counter()
        for tag in set(getattr(article, "tags", []) or []):
            shared.update(self.by_tag.get(tag, ()))
        mine = self.positions.get(id(article))
        ranked = heapq.nsmallest(
            limit,
            (
                (-count, self.articles[p].category != article.category, p)
                for p, count in shared.items()
                if p != mine
            ),
        )
        # Articles sharing no tag come after all that share one: same category, newest first.
        for position in self.by_category.get(article.category, ()):
            if len(ranked) >= limit:
                break
            if position not in shared and position != mine:
                ranked.append((0, False, position))
        return [self.articles[position] for *_key, position in ranked]


def related_articles(article, articles, limit: int = RELATED_LIMIT) -> list:
    """Return up to `limit` other articles ranked by shared tags, then same category.

    `articles` must be ordered newest first; ties keep that order. Articles that share
    neither a tag nor the category are not related and never returned.
    """
    return RelatedIndex(articles).related(article, limit)


def annotate_articles(articles) -> None:
    """Set word_count, reading_time, prev_article, next_article and related on each article.

    Neighbours follow the publication date whatever order `articles` arrives in.
    """
    articles = sorted(articles, key=lambda article: article.date, reverse=True)
    related = RelatedIndex(articles)
    for index, article in enumerate(articles):
        # _content is the body as rendered from Markdown, before Pelican resolves
        # {filename} links; reading `content` this early would memoize broken links.
        article.word_count = count_words(html_to_text(article._content))
        article.reading_time = reading_minutes(article.word_count)
        article.next_article = articles[index - 1] if index > 0 else None
        article.prev_article = articles[index + 1] if index + 1 < len(articles) else None
        article.related = related.related(article)


def hide_permalinks_from_search(content) -> None:
    """Mark the toc extension's "#" heading permalinks so Pagefind leaves them out.

    The anchors are generated by Markdown with a fixed class, so a plain replacement of
    that attribute is exact; without it every indexed heading would end in "#".
    """
    if getattr(content, "_content", None):
        content._content = content._content.replace(
            'class="headerlink"', 'class="headerlink" data-pagefind-ignore'
        )


def on_articles_finalized(generator) -> None:
    """Annotate the published articles once the generator has read them all."""
    annotate_articles(generator.articles)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.content_object_init.connect(hide_permalinks_from_search)
    signals.article_generator_finalized.connect(on_articles_finalized)
