"""The readiness check's question file: loaded, checked and turned into plain values.

The file (content/readiness.toml by default) belongs to editors, so every mistake is
reported as `file:line: what is wrong`, and the service refuses to start (and the site build
fails) rather than show a broken check. Nothing here needs Flask or a database.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from markdown.extensions.toc import slugify

MIN_QUESTIONS, MAX_QUESTIONS = 12, 15
_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
_TOML_LINE = re.compile(r"at line (\d+)")


class QuestionFileError(ValueError):
    """The question file is broken; `str()` names the file and line and says what to fix."""

    def __init__(self, path: Path, line: int | None, message: str):
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.message = path, line, message


@dataclass(frozen=True)
class Dimension:
    """One thing that decides whether an initiative scales, with its share of the score."""

    key: str
    title: str
    weight: float
    article: str  # "slug" or "slug#heading-id"
    risk: str

    @property
    def article_slug(self) -> str:
        """The article's slug, without any #heading."""
        return self.article.partition("#")[0]


@dataclass(frozen=True)
class Question:
    """One statement the reader rates on the scale."""

    key: str
    dimension: str
    text: str


@dataclass(frozen=True)
class Band:
    """A named range of the overall score (0-100) from `start` up to the next band."""

    start: float
    name: str
    summary: str


@dataclass(frozen=True)
class Questionnaire:
    """The whole check: the scale, the dimensions, the questions and the bands."""

    scale: tuple[str, ...]
    dimensions: tuple[Dimension, ...]
    questions: tuple[Question, ...]
    bands: tuple[Band, ...]

    @property
    def top_answer(self) -> int:
        """The highest answer on the scale (the lowest is 0)."""
        return len(self.scale) - 1

    def dimension(self, key: str) -> Dimension:
        """Return the dimension called `key`."""
        return next(dimension for dimension in self.dimensions if dimension.key == key)


class _Lines:
    """Find where a table entry or one of its keys is written, to point editors at it."""

    def __init__(self, text: str):
        self.lines = text.splitlines()

    def entry(self, table: str, index: int) -> int | None:
        """The line of the `index`-th `[[table]]` header (1-based), if there is one."""
        seen = -1
        for number, line in enumerate(self.lines, start=1):
            if line.strip() == f"[[{table}]]":
                seen += 1
                if seen == index:
                    return number
        return None

    def key(self, name: str, table: str | None = None, index: int = 0) -> int | None:
        """The line where `name = ...` is written (inside that table entry, if given)."""
        start = self.entry(table, index) if table else 0
        if start is None:
            return None
        pattern = re.compile(rf"\s*{re.escape(name)}\s*=")
        for number in range(start, len(self.lines)):
            line = self.lines[number]
            if table and number > start and line.strip().startswith("["):
                break
            if pattern.match(line):
                return number + 1
        return start or None


def load_questionnaire(path: str | Path, articles: dict[str, Path]) -> Questionnaire:
    """Read and check the question file; `articles` maps each article slug to its file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except OSError as exc:
        raise QuestionFileError(path, None, f"cannot read the file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        line = int(match.group(1)) if match else None
        raise QuestionFileError(path, line, f"not valid TOML: {exc}") from None
    return _Checker(path, text, data, articles).questionnaire()


class _Checker:
    """Turn the parsed file into a Questionnaire, or raise at the first mistake."""

    def __init__(self, path: Path, text: str, data: dict, articles: dict[str, Path]):
        self.path, self.data, self.articles = path, data, articles
        self.where = _Lines(text)

    def fail(self, line: int | None, message: str):
        """Raise the error for `line`."""
        raise QuestionFileError(self.path, line, message)

    def questionnaire(self) -> Questionnaire:
        """Check each part, then the whole."""
        scale = self._scale()
        dimensions = tuple(self._entries("dimensions", self._dimension))
        keys = [dimension.key for dimension in dimensions]
        questions = tuple(self._entries("questions", lambda e, i: self._question(e, i, keys)))
        bands = tuple(self._entries("bands", self._band))
        self._check_whole(dimensions, questions, bands)
        return Questionnaire(scale, dimensions, questions, bands)

    def _scale(self) -> tuple[str, ...]:
        scale = self.data.get("scale")
        if not isinstance(scale, list) or not 3 <= len(scale) <= 7:
            self.fail(self.where.key("scale"), "`scale` must list 3 to 7 answers")
        if not all(isinstance(label, str) and label.strip() for label in scale):
            self.fail(self.where.key("scale"), "every answer on the `scale` must be text")
        return tuple(label.strip() for label in scale)

    def _entries(self, table: str, build):
        entries = self.data.get(table)
        if not isinstance(entries, list) or not entries:
            self.fail(None, f"no [[{table}]] entries")
        seen = set()
        for index, entry in enumerate(entries):
            item = build(entry, index)
            key = getattr(item, "key", getattr(item, "name", None))
            if key in seen:
                self.fail(self.where.entry(table, index), f"[[{table}]] {key!r} appears twice")
            seen.add(key)
            yield item

    def _text(self, entry: dict, name: str, table: str, index: int) -> str:
        value = entry.get(name)
        if not isinstance(value, str) or not value.strip():
            self.fail(self.where.key(name, table, index), f"[[{table}]] needs a `{name}` text")
        return " ".join(value.split())

    def _key(self, entry: dict, table: str, index: int) -> str:
        key = self._text(entry, "key", table, index)
        if not _KEY.fullmatch(key):
            self.fail(
                self.where.key("key", table, index),
                f"key {key!r}: use lower-case letters, digits and _ (up to 40)",
            )
        return key

    def _dimension(self, entry: dict, index: int) -> Dimension:
        key = self._key(entry, "dimensions", index)
        weight = entry.get("weight")
        if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
            self.fail(
                self.where.key("weight", "dimensions", index),
                f"dimension {key!r}: `weight` must be a number above 0",
            )
        article = self._text(entry, "article", "dimensions", index)
        self._check_article(article, self.where.key("article", "dimensions", index))
        title = self._text(entry, "title", "dimensions", index)
        risk = self._text(entry, "risk", "dimensions", index)
        return Dimension(key, title, float(weight), article, risk)

    def _check_article(self, article: str, line: int | None) -> None:
        slug, _, heading = article.partition("#")
        if slug not in self.articles:
            self.fail(line, f"no article has the slug {slug!r}")
        if heading and heading not in _heading_ids(self.articles[slug]):
            self.fail(line, f"article {slug!r} has no heading with the id {heading!r}")

    def _question(self, entry: dict, index: int, dimensions: list[str]) -> Question:
        key = self._key(entry, "questions", index)
        dimension = self._text(entry, "dimension", "questions", index)
        if dimension not in dimensions:
            self.fail(
                self.where.key("dimension", "questions", index),
                f"question {key!r}: no dimension is called {dimension!r}",
            )
        return Question(key, dimension, self._text(entry, "text", "questions", index))

    def _band(self, entry: dict, index: int) -> Band:
        start = entry.get("from")
        if isinstance(start, bool) or not isinstance(start, int | float) or not 0 <= start < 100:
            self.fail(self.where.key("from", "bands", index), "`from` must be 0 to 99")
        name = self._text(entry, "name", "bands", index)
        return Band(float(start), name, self._text(entry, "summary", "bands", index))

    def _check_whole(self, dimensions, questions, bands) -> None:
        if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
            self.fail(
                self.where.entry("questions", 0),
                f"the check has {len(questions)} questions; "
                f"keep it to {MIN_QUESTIONS}-{MAX_QUESTIONS} (about five minutes)",
            )
        asked = {question.dimension for question in questions}
        for index, dimension in enumerate(dimensions):
            if dimension.key not in asked:
                self.fail(
                    self.where.entry("dimensions", index),
                    f"dimension {dimension.key!r} has no questions",
                )
        starts = [band.start for band in bands]
        if starts[0] != 0 or starts != sorted(set(starts)):
            self.fail(
                self.where.entry("bands", 0), "bands must start at 0 and go up, each `from` once"
            )


def _heading_ids(article: Path) -> set[str]:
    """The ids the site gives the article's headings (toc's slugify of `#` lines)."""
    ids = set()
    for line in article.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            ids.add(slugify(line.lstrip("#").strip(), "-"))
    return ids


def article_files(content_dir: str | Path) -> dict[str, Path]:
    """Map each article's slug to its file: its `Slug:` header, else its title made a slug.

    Pelican gives an article without a Slug header one made from its title (lower case,
    words joined by hyphens); this reads it the same way for ordinary titles.
    """
    files = {}
    for path in sorted(Path(content_dir).glob("articles/**/*.md")):
        header = _header(path)
        slug = header.get("slug") or slugify(header.get("title", path.stem), "-")
        files[slug] = path
    return files


def _header(path: Path) -> dict[str, str]:
    """The Markdown file's `Name: value` header lines, names lower-cased."""
    header = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            break
        name, _, value = line.partition(":")
        header[name.strip().lower()] = value.strip()
    return header
