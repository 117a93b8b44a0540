"""Pelican plugin: a 1200 x 630 share card (PNG) for every article and page, drawn with Pillow.

LinkedIn, Slack and the like show ``og:image`` large when it is 1.91:1; without one a link
is a bare line of text. Each card shows the title, the category (articles) and the firm, in
the site's colours.

Cards are drawn once per content: a card's file name is the hash of everything drawn on it
(``/cards/<hash>.png``), so a card changes exactly when its title, category or the firm's
name changes. Drawing takes ~30 ms a card, too slow to repeat for 1,000 articles on every
build, so drawn cards are kept in ``SHARE_CARDS_CACHE`` (default ``<CACHE_PATH>/share-cards``)
and each build only links (or copies) them into the output; the first build of a new
checkout draws them all (docs/performance.md has the figures).

- ``content.share_card``: the card's root path, set on every article and page before the
  templates run (``og:image``).
- ``SHARE_CARD_DEFAULT`` (setting): the site's own card (tagline and firm) for the home page
  and the lists.
"""

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from pelican import signals

# Part of every card's hash: bump it when the drawing changes so every card is drawn again.
DESIGN_VERSION = "1"
SIZE = (1200, 630)
OUTPUT_FOLDER = "cards"
# The theme's light palette (theme/static/css/site.css :root).
COLOURS = {
    "bg": "#fbfaf7",
    "surface": "#f0ede6",
    "text": "#1c2230",
    "muted": "#4a5263",
    "line": "#d6d1c6",
    "accent": "#0d5f66",
    "warm": "#a63a0a",
}
# Debian's fonts-dejavu-core; Pillow's own font stands in where it is missing.
FONT_FILES = {
    "bold": "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "regular": "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
}
# The logo's three faces (theme/static/images/logo.svg, a 32-unit square).
LOGO_FACES = (
    ("#0f6b73", ((2, 6), (16, 2), (30, 6), (16, 14))),
    ("#2a9aa1", ((2, 6), (16, 14), (16, 30), (2, 24))),
    ("#c2410c", ((30, 6), (16, 14), (16, 30), (30, 24))),
)
MARGIN = 80
CONTENT_LISTS = ("articles", "translations", "hidden_articles", "pages", "hidden_pages")


@dataclass(frozen=True)
class Card:
    """What one card shows: the title, a kicker above it (the category) and the firm."""

    title: str
    kicker: str
    firm: str
    tagline: str

    @property
    def name(self) -> str:
        """The file name: a hash of everything drawn, the design and the fonts available."""
        fonts = [path for path in FONT_FILES.values() if os.path.exists(path)]
        data = json.dumps([DESIGN_VERSION, self.title, self.kicker, self.firm, self.tagline, fonts])
        return hashlib.sha256(data.encode()).hexdigest()[:20] + ".png"


def _font(weight: str, size: int):
    """The card's font at `size` px: DejaVu when installed, else Pillow's built-in font."""
    from PIL import ImageFont

    path = FONT_FILES[weight]
    return ImageFont.truetype(path, size) if os.path.exists(path) else ImageFont.load_default(size)


def wrap(text: str, font, width: int) -> list[str]:
    """Split `text` into lines no wider than `width` px (a longer word stays whole)."""
    lines: list[str] = []
    for word in text.split():
        if lines and font.getlength(f"{lines[-1]} {word}") <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines


def title_lines(title: str, width: int) -> tuple[object, list[str]]:
    """The largest title size (64 to 40 px) whose wrapped lines fit in four; cut beyond that."""
    for size in (64, 56, 48, 40):
        font = _font("bold", size)
        lines = wrap(title, font, width)
        if len(lines) <= 4:
            return font, lines
    return font, lines[:3] + [lines[3] + " …"]


def draw(card: Card):
    """Draw `card` as a Pillow image in the site's look."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", SIZE, COLOURS["bg"])
    pen = ImageDraw.Draw(image)
    pen.rectangle((0, 0, SIZE[0], 110), fill=COLOURS["surface"])
    pen.line((0, 110, SIZE[0], 110), fill=COLOURS["line"], width=2)
    for colour, points in LOGO_FACES:
        pen.polygon([(MARGIN + x * 2, 23 + y * 2) for x, y in points], fill=colour)
    firm_font = _font("bold", 36)
    pen.text((MARGIN + 84, 55), card.firm, font=firm_font, fill=COLOURS["text"], anchor="lm")
    top = 170
    if card.kicker:
        pen.text((MARGIN, top), card.kicker.upper(), font=_font("bold", 28), fill=COLOURS["warm"])
        top += 60
    font, lines = title_lines(card.title, SIZE[0] - 2 * MARGIN)
    for line in lines:
        pen.text((MARGIN, top), line, font=font, fill=COLOURS["text"])
        top += int(font.size * 1.2)
    pen.text((MARGIN, 560), card.tagline, font=_font("regular", 28), fill=COLOURS["muted"])
    pen.rectangle((0, SIZE[1] - 14, SIZE[0], SIZE[1]), fill=COLOURS["accent"])
    return image


def render_to(card: Card, path: Path) -> None:
    """Draw `card` into `path` as a PNG, atomically (a half-written card is never cached)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    draw(card).save(partial, format="PNG")
    os.replace(partial, path)


def place(source: Path, target: Path) -> None:
    """Put a cached card into the output: a hard link where possible (no copy), else a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except FileExistsError:
        pass
    except OSError:  # another file system, or links not allowed
        shutil.copyfile(source, target)


def write_cards(cards: dict[str, Card], cache: Path, output: Path) -> int:
    """Make sure every card is in `output`; draw into `cache` only those never drawn. Returns
    how many were drawn."""
    drawn = 0
    for name, card in cards.items():
        target = output / name
        if target.exists():
            continue
        cached = cache / name
        if not cached.exists():
            render_to(card, cached)
            drawn += 1
        place(cached, target)
    return drawn


def content_card(content, site: dict) -> Card:
    """The card of an article (its category as the kicker) or a page (no kicker)."""
    category = getattr(content, "category", None)
    firm = site["firm"]
    return Card(str(content.title), str(category or ""), firm["name"], firm["tagline"])


def site_card(site: dict) -> Card:
    """The site's own card: the tagline as the title."""
    firm = site["firm"]
    return Card(firm["tagline"], "", firm["name"], firm["city"])


_PENDING: dict[str, dict[str, Card]] = {}


def _pending(settings) -> dict[str, Card]:
    """The cards this build must write, by output folder."""
    return _PENDING.setdefault(os.path.realpath(settings["OUTPUT_PATH"]), {})


def on_initialized(pelican) -> None:
    """Name the site's own card (SHARE_CARD_DEFAULT) before the templates' context is made."""
    settings = pelican.settings
    if not settings.get("SHARE_CARDS", True):
        return
    card = site_card(settings["SITE"])
    _pending(settings)[card.name] = card
    settings["SHARE_CARD_PATH"] = f"/{OUTPUT_FOLDER}/"
    settings["SHARE_CARD_DEFAULT"] = f"/{OUTPUT_FOLDER}/{card.name}"


def on_all_generators_finalized(generators) -> None:
    """Give every article and page its `share_card` path; the files come at `finalized`."""
    settings = generators[0].settings
    if not settings.get("SHARE_CARDS", True):
        return
    pending = _pending(settings)
    for generator in generators:
        for name in CONTENT_LISTS:
            for content in getattr(generator, name, []):
                card = content_card(content, settings["SITE"])
                name = card.name
                pending[name] = card
                content.share_card = f"/{OUTPUT_FOLDER}/{name}"


def on_finalized(pelican) -> None:
    """Write the cards (signal handler, after everything else is written)."""
    cards = _PENDING.pop(os.path.realpath(pelican.output_path), {})
    if not cards:
        return
    settings = pelican.settings
    cache = settings.get("SHARE_CARDS_CACHE") or os.path.join(settings["CACHE_PATH"], "share-cards")
    write_cards(cards, Path(cache), Path(pelican.output_path) / OUTPUT_FOLDER)


def register() -> None:
    """Connect the plugin to Pelican's signals."""
    signals.initialized.connect(on_initialized)
    signals.all_generators_finalized.connect(on_all_generators_finalized)
    signals.finalized.connect(on_finalized)
