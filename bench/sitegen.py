"""Generate a large, realistic Pelican content folder for the build benchmark.

Articles are deterministic (seeded) Markdown of about 1,500 words with headings, bullet and
numbered lists, a quote, straight quotes, apostrophes and dashes for typography, an image with
alt text, an internal {filename} link and a link to a
page, and valid metadata spread over several categories and tags. Pages are plain (no custom
templates), so stock Pelican with its default theme can build the same folder.
"""

import random
import shutil
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CATEGORIES = ("Strategy", "Delivery", "Governance", "Data", "People")
TAGS = (
    "pilots", "use cases", "governance", "risk", "data", "operating model", "change",
    "procurement", "metrics", "skills", "vendors", "generative AI", "automation", "ethics",
    "board", "budget", "security", "customer service", "finance", "roadmap",
)  # fmt: skip
AUTHORS = ("Priya Raman", "Grace Adeyemi", "Helen Marsh", "Tom Okafor")
_PROSE = (
    "the team decided to measure value before scaling any pilot because leadership wanted "
    "evidence that the process would change in daily work and not only in a demo several "
    "managers asked which data was good enough for one narrow job rather than for every "
    "possible report so we scored each idea on feasibility ownership risk and the size of the "
    "prize then agreed a budget a sponsor and a date for the first review customers noticed "
    "shorter waiting times while staff kept control of the final decision governance moved "
    "from a single gate to tiers matched to the harm a mistake could cause vendors were asked "
    "for references in regulated sectors and for a plan to hand over the model to internal "
    "owners the board saw a short list of use cases with costs benefits and the reasons the "
    "others were waiting training focused on the people who would use the tool every day the "
    "owner's plan"
)
WORDS = _PROSE.split()
PARAGRAPHS_PER_SECTION = 3
TARGET_WORDS = 1500


def sentence(rng: random.Random) -> str:
    """One sentence of 12 to 24 words, capitalised and closed with a full stop.

    One sentence in ten quotes a phrase and one in twenty has a dash aside; with the
    apostrophe in the vocabulary that is about 20 quote characters per 1,000 words, more than
    the densest real article (14; the four average 8), so typography has its real work to do.
    """
    words = rng.choices(WORDS, k=rng.randint(12, 24))
    if rng.random() < 0.1:
        start = rng.randrange(1, len(words) - 2)
        words[start], words[start + 1] = f'"{words[start]}', f'{words[start + 1]}"'
    if rng.random() < 0.05:
        words.insert(rng.randrange(1, len(words)), "--")
    return " ".join(words).capitalize() + "."


def paragraph(rng: random.Random) -> str:
    """Three to six sentences."""
    return " ".join(sentence(rng) for _ in range(rng.randint(3, 6)))


def section(rng: random.Random, number: int, image: str) -> list[str]:
    """One '## ' section: paragraphs plus, in turn, a list, a quote, an image or a sub-heading."""
    blocks = [f"## Section {number}: {sentence(rng)[:-1].lower()}"]
    blocks += [paragraph(rng) for _ in range(PARAGRAPHS_PER_SECTION)]
    kind = number % 4
    if kind == 0:
        blocks.append("\n".join(f"- {sentence(rng)}" for _ in range(5)))
    elif kind == 1:
        blocks.append(f"> {paragraph(rng)}\n>\n> — a client sponsor")
    elif kind == 2:
        blocks.append(f"![A diagram for section {number}]({{static}}../images/{image})")
    else:
        steps = "\n".join(f"{i}. {sentence(rng)}" for i in (1, 2, 3))
        blocks.append(f"### What to check\n\n{steps}")
    return blocks


def article(index: int, images: list[str]) -> str:
    """The Markdown of bench article number `index` (stable for a given index)."""
    rng = random.Random(index)
    date = datetime(2022, 1, 3, 9, 0) + timedelta(days=index)
    tags = ", ".join(rng.sample(TAGS, 3))
    header = [
        f"Title: Bench article {index}: {sentence(rng)[:-1].lower()}",
        f"Date: {date:%Y-%m-%d %H:%M}",
        f"Modified: {date + timedelta(days=7):%Y-%m-%d %H:%M}",
        f"Category: {CATEGORIES[index % len(CATEGORIES)]}",
        f"Tags: {tags}",
        f"Slug: bench-article-{index:04d}",
        f"Author: {AUTHORS[index % len(AUTHORS)]}",
        f"Summary: {sentence(rng)}",
        "Status: published",
    ]
    body = [paragraph(rng), paragraph(rng)]
    if index:
        previous = f"{{filename}}bench-{index - 1:04d}.md"
        body.append(f"See also [the previous article]({previous}) and [about us](/about/).")
    number = 1
    while len(" ".join(body).split()) < TARGET_WORDS:
        body += section(rng, number, images[(index + number) % len(images)])
        number += 1
    return "\n".join(header) + "\n\n" + "\n\n".join(body) + "\n"


def generate(content: Path, count: int) -> Path:
    """Write `count` articles, two pages, the repo's images and extra files under `content`."""
    images_dir = content / "images"
    images_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for svg in sorted((ROOT / "content" / "images").glob("*.svg")):
        shutil.copy(svg, images_dir / svg.name)
        images.append(svg.name)
    if not images:  # the repo has no images yet: one placeholder keeps the articles valid
        (images_dir / "figure.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>\n')
        images.append("figure.svg")
    if (ROOT / "content" / "extra").is_dir():
        shutil.copytree(ROOT / "content" / "extra", content / "extra", dirs_exist_ok=True)
    articles = content / "articles"
    articles.mkdir(parents=True, exist_ok=True)
    for index in range(count):
        (articles / f"bench-{index:04d}.md").write_text(article(index, images), encoding="utf-8")
    pages = content / "pages"
    pages.mkdir(parents=True, exist_ok=True)
    for slug in ("about", "privacy"):
        text = f"Title: {slug.capitalize()}\nSlug: {slug}\nSummary: The {slug} page.\n\n"
        (pages / f"{slug}.md").write_text(text + paragraph(random.Random(slug)) + "\n")
    return content


def edit_one(content: Path, index: int = 0) -> Path:
    """Append a paragraph to one article, as an editor's small change; return its path."""
    path = content / "articles" / f"bench-{index:04d}.md"
    with path.open("a", encoding="utf-8") as handle:
        handle.write("\n" + paragraph(random.Random(f"edit-{path.stat().st_mtime_ns}")) + "\n")
    return path
