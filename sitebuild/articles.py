"""Pelican plugin: reading time, previous/next and related articles.

After the article generator has read everything, each published article gains:

- ``word_count`` and ``reading_time`` (whole minutes, words / 200 rounded up),
- ``prev_article`` (the next older article) and ``next_article`` (the next newer one),
- ``related`` (up to three articles, by shared tags, then same category, newest first).

Every article and page also has its heading permalinks marked ``data-pagefind-ignore``.

Templates read these attributes directly; see docs/theme.md.
"""

import math
import re
from collections import Counter, defaultdict
from html import unescape
from itertools import filterfalse

from pelican import signals

WORDS_PER_MINUTE = 200
RELATED_LIMIT = 3

# A word is any run of characters between spaces that holds a letter or a digit, so
# dashes, bullets and punctuation standing alone do not count. Matching from a run's first
# word character to its end counts each such run once, without the backtracking of
# \S*\w\S* (a third faster on 1,000 articles).
_WORD = re.compile(r"\w\S*")
# Elements whose start or end separates words even when no whitespace is written there
# (<li>a</li><li>b</li> is two words).
# fmt: off
BLOCK_LEVEL = frozenset({
    "address", "article", "aside", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption",
    "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "main", "nav",
    "ol", "p", "pre", "section", "table", "td", "th", "tr", "ul",
})
# fmt: on


# html_to_text strips markup with a few regex passes instead of html.parser, which was the
# plugin's largest cost (with the count, 0.62 s CPU per 1,000 articles, now 0.27 s).
# Python-Markdown escapes "<" and ">" in text and attribute values, so a tag always ends at
# the first ">".
_PERMALINK = re.compile(
    r"""<a\s[^>]*\bclass=["']?[^"'>]*\bheaderlink\b[^>]*>.*?</a\s*>""", re.DOTALL | re.IGNORECASE
)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_BLOCK_TAG = re.compile(rf"</?(?:{'|'.join(sorted(BLOCK_LEVEL))})(?=[\s/>])[^>]*>", re.IGNORECASE)
_ANY_TAG = re.compile(r"</?[a-zA-Z][^>]*>")


def html_to_text(html: str) -> str:
    """Return the visible text of an HTML fragment, without heading permalinks.

    Block-level tags become a space, other tags nothing, entities their characters: the
    same words html.parser gives for the HTML Markdown writes, though runs of whitespace may
    differ (tests/site/test_plugins.py compares the two on the real content and on tricky
    fragments).
    """
    text = _COMMENT.sub("", html) if "<!--" in html else html
    text = _PERMALINK.sub("", text)
    text = _ANY_TAG.sub("", _BLOCK_TAG.sub(" ", text))
    return unescape(text) if "&" in text else text


def count_words(text: str) -> int:
    """Count the words in plain text (tokens that contain a letter or digit)."""
    tokens = text.split()
    # Most tokens are plain letters or digits, and str.split and str.isalnum run in C; only
    # the others ("word.", "“quoted”", "—") need the regex, a quarter less time in all.
    others = list(filterfalse(str.isalnum, tokens))
    return len(tokens) - len(others) + len(_WORD.findall(" ".join(others)))


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
        shared.pop(self.positions.get(id(article)), None)
        ranked = self._most_shared(shared, article.category, limit)
        # Articles sharing no tag come after all that share one: same category, newest first.
        for position in self.by_category.get(article.category, ()):
            if len(ranked) >= limit:
                break
            if position not in shared and self.articles[position] is not article:
                ranked.append(position)
        return [self.articles[position] for position in ranked]

    def _most_shared(self, shared: Counter, category, limit: int) -> list[int]:
        """Positions of up to `limit` articles by most shared tags, same category, newest.

        Sorting the counts in C and ranking only the groups of equal count that can still
        make the top `limit` avoids building a key for every candidate (hundreds each).
        """
        ranked, counted = [], shared.most_common()
        start = 0
        while start < len(counted) and len(ranked) < limit:
            count, end = counted[start][1], start + 1
            while end < len(counted) and counted[end][1] == count:
                end += 1
            group = sorted(position for position, _count in counted[start:end])
            group.sort(key=lambda position: self.articles[position].category != category)
            ranked += group[: limit - len(ranked)]
            start = end
        return ranked


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
