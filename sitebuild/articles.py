"""Pelican plugin: reading time, previous/next and related articles.

After the article generator has read everything, each published article gains:

- ``word_count`` and ``reading_time`` (whole minutes, words / 200 rounded up),
- ``prev_article`` (the next older article) and ``next_article`` (the next newer one),
- ``related`` (up to three articles, by shared tags, then same category, newest first).

Every article and page also has its heading permalinks marked ``data-pagefind-ignore``, and
its URL computed once, when all content has been read (see ``freeze_urls``).

Templates read these attributes directly; see docs/theme.md.
"""

import math
import re
from collections import Counter, defaultdict
from html import unescape
from itertools import combinations, filterfalse, groupby
from operator import itemgetter

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


# count_html_words gives count_words(html_to_text(html)) working on bytes, where neither the
# tags nor the words become Python objects: 0.18 s -> 0.08 s CPU for 1,000 articles. Bytes
# and str patterns agree on ASCII and on the General Punctuation block (U+2000-U+203F:
# ’ “ ” – — … as typography writes them) apart from its spaces, and on the entities Markdown
# and smarty write; HTML with anything else (é, a no-break space, &copy;) is counted by the
# two str functions.
_SPACE_BYTES = bytes(c for c in range(128) if chr(c).isspace())
_WORD_BYTES = bytes(c for c in range(128) if _WORD.match(chr(c)))
# A str pattern's \s includes \x1c-\x1f, a bytes pattern's does not: they are kept, with
# the non-ASCII bytes, for _only_general_punctuation to find.
_PLAIN_ASCII = bytes(c for c in range(128) if c not in range(0x1C, 0x20))
# General Punctuation characters that are spaces (or word characters: there are none) in
# UTF-8, E2 80 followed by one byte.
_GENERAL_NOT_PUNCTUATION = re.compile(
    b"\xe2\x80["
    + b"".join(
        re.escape(bytes([0x80 + offset]))
        for offset in range(64)
        if chr(0x2000 + offset).isspace() or _WORD.match(chr(0x2000 + offset))
    )
    + b"]"
)
_PERMALINK_BYTES = re.compile(_PERMALINK.pattern.encode(), re.DOTALL | re.IGNORECASE)
_COMMENT_BYTES = re.compile(_COMMENT.pattern.encode(), re.DOTALL)
_BLOCK_TAG_BYTES = re.compile(_BLOCK_TAG.pattern.encode(), re.IGNORECASE)
_ANY_TAG_BYTES = re.compile(_ANY_TAG.pattern.encode())
_ENTITY_BYTES = re.compile(rb"&[#0-9A-Za-z]+;")
# Each entity becomes an ASCII character of its own kind: space, word character ("a") or,
# for punctuation, nothing.
_ENTITIES = {
    entity.encode(): b" " if char.isspace() else b"a" if _WORD.match(char) else b""
    for entity in ("&amp;", "&lt;", "&gt;", "&quot;", "&#39;", "&lsquo;", "&rsquo;", "&ldquo;",
                   "&rdquo;", "&ndash;", "&mdash;", "&hellip;")
    for char in [unescape(entity)]
}  # fmt: skip
# Counting: spaces become " ", word characters "w", everything else goes.
_COUNTING_TABLE = bytes(
    ord(" ") if c in _SPACE_BYTES else ord("w") if c in _WORD_BYTES else c for c in range(256)
)
_NOT_COUNTED = bytes(c for c in range(256) if c not in _SPACE_BYTES and c not in _WORD_BYTES)


def count_html_words(html: str) -> int:
    """Count the words of an HTML fragment: the same number as count_words(html_to_text(html)).

    Tags, permalinks, comments and entities go as in html_to_text; then every space becomes
    " ", every word character "w" and all else is dropped, so each word is a run of "w".
    """
    text = _countable_bytes(html)
    if text is None:
        return count_words(html_to_text(html))
    text = text.translate(_COUNTING_TABLE, _NOT_COUNTED)
    return text.count(b" w") + text.startswith(b"w")


def _countable_bytes(html: str) -> bytes | None:
    """html_to_text(html) as UTF-8, entities reduced to ASCII; None if only str is exact."""
    data = html.encode()
    if not _only_general_punctuation(data):
        return None
    if b"<!--" in data:
        data = _COMMENT_BYTES.sub(b"", data)
    data = _PERMALINK_BYTES.sub(b"", data)
    data = _ANY_TAG_BYTES.sub(b"", _BLOCK_TAG_BYTES.sub(b" ", data))
    if b"&" in data:
        for entity in set(_ENTITY_BYTES.findall(data)):
            if entity not in _ENTITIES:
                return None
            data = data.replace(entity, _ENTITIES[entity])
        if b"&" in data:  # an entity without its ";", or a bare "&" html.unescape may read
            return None
    return data


def _only_general_punctuation(data: bytes) -> bool:
    """True when UTF-8 `data` holds only ASCII (but 1C-1F) and General Punctuation (but spaces).

    In UTF-8 a General Punctuation character is three bytes starting E2 80, and no other
    character contains E2 80: the bytes left after deleting plain ASCII must be exactly those.
    """
    other = data.translate(None, _PLAIN_ASCII)
    if not other:
        return True
    return len(other) == 3 * other.count(b"\xe2\x80") and not _GENERAL_NOT_PUNCTUATION.search(other)


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
        self.by_tag = defaultdict(set)  # tag -> positions (position 0 is the newest article)
        self.by_category = defaultdict(list)  # category -> positions, ascending
        for position, article in enumerate(self.articles):
            for tag in set(getattr(article, "tags", []) or []):
                self.by_tag[tag].add(position)
            self.by_category[article.category].append(position)
        self.category_sets = {category: set(found) for category, found in self.by_category.items()}

    def related(self, article, limit: int = RELATED_LIMIT) -> list:
        """Up to `limit` other articles: most shared tags, then same category, then newest."""
        tag_sets = [self.by_tag.get(tag, set()) for tag in set(getattr(article, "tags", []) or [])]
        itself = {self.positions.get(id(article))}
        # Articles sharing two tags or more, from the pairs of this article's tags: an article
        # sharing s tags is in s(s-1)/2 of the pairs' intersections, so ranking by that count
        # is ranking by s, and the hundreds that share a single tag are never counted.
        pairs = Counter()
        for first, second in combinations(tag_sets, 2):
            pairs.update(first & second)
        for position in itself:
            pairs.pop(position, None)
        groups = [dict(group).keys() for _n, group in groupby(pairs.most_common(), itemgetter(1))]
        ranked = self._rank(groups, article.category, limit)
        if len(ranked) < limit:  # then those sharing one tag, then the rest of the category
            sharing = set().union(*tag_sets)
            ranked = self._rank([sharing - pairs.keys() - itself], article.category, limit, ranked)
            unshared = self.category_sets.get(article.category, set()) - sharing - itself
            ranked += sorted(unshared)[: limit - len(ranked)]
        return [self.articles[position] for position in ranked]

    def _rank(self, groups, category, limit: int, ranked=()) -> list[int]:
        """Extend `ranked` from groups of positions, best group first, up to `limit` in all.

        Within a group, articles of `category` come first, then the others, newest first.
        """
        ranked, in_category = list(ranked), self.category_sets.get(category, set())
        for positions in groups:
            if len(ranked) >= limit:
                break
            ranked += sorted(positions & in_category)[: limit - len(ranked)]
            ranked += sorted(positions - in_category)[: limit - len(ranked)]
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
        article.word_count = count_html_words(article._content)
        article.reading_time = reading_minutes(article.word_count)
        article.next_article = articles[index - 1] if index > 0 else None
        article.prev_article = articles[index + 1] if index + 1 < len(articles) else None
        article.related = related.related(article)


def hide_permalinks_from_search(content) -> None:
    """Mark the "#" heading permalinks (sitebuild.headings) so Pagefind leaves them out.

    The anchors are generated by Markdown with a fixed class, so a plain replacement of
    that attribute is exact; without it every indexed heading would end in "#".
    """
    if getattr(content, "_content", None):
        content._content = content._content.replace(
            'class="headerlink"', 'class="headerlink" data-pagefind-ignore'
        )


# Every list a generator files content in; drafts and hidden content have URLs too.
CONTENT_LISTS = (
    "articles", "translations", "hidden_articles", "hidden_translations", "drafts",
    "drafts_translations", "pages", "hidden_pages", "draft_pages", "draft_translations",
)  # fmt: skip


def freeze_urls(generators) -> None:
    """Give every article and page its URL once, as Pelican's own ``override_url``.

    ``Content.url`` formats the URL setting anew on every read (a copy of the metadata, a
    relative path of the source file), and the templates read it about 12,000 times in a
    1,000-article build: the index and list pages, previous/next and related links, the
    canonical URL. Pelican returns ``override_url`` when it is set (that is how a ``URL:``
    header works), so storing the same string there once, after every generator has read
    its content and before anything is written, changes no URL and spares the rest.
    """
    for generator in generators:
        for name in CONTENT_LISTS:
            for content in getattr(generator, name, []):
                if not hasattr(content, "override_url"):
                    content.override_url = content.url


def on_articles_finalized(generator) -> None:
    """Annotate the published articles once the generator has read them all."""
    annotate_articles(generator.articles)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.content_object_init.connect(hide_permalinks_from_search)
    signals.article_generator_finalized.connect(on_articles_finalized)
    signals.all_generators_finalized.connect(freeze_urls)
