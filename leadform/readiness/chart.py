"""A result drawn as an accessible, server-rendered SVG: one bar per dimension.

The numbers are in the SVG's text and in the table beside it, so the chart adds a picture
and takes nothing away from a screen reader or a text-only email client.
"""

from markupsafe import Markup, escape

from leadform.readiness.scoring import Result

# Sized so the labels stay at least 11 px on a 375 px phone, where the chart is ~340 px wide.
BAR_HEIGHT, GAP, LABEL_WIDTH, BAR_WIDTH, FONT_SIZE = 26, 14, 210, 190, 19
WIDTH = LABEL_WIDTH + BAR_WIDTH + 60


def result_chart_svg(result: Result, chart_id: str = "readiness-chart") -> Markup:
    """Return the SVG bar chart of `result`'s dimension scores (0-100)."""
    rows = [
        _row(index, item.dimension.title, item.score) for index, item in enumerate(result.scores)
    ]
    height = len(result.scores) * (BAR_HEIGHT + GAP) + GAP
    summary = "; ".join(f"{item.dimension.title} {item.score}%" for item in result.scores)
    return Markup(
        '<svg class="readiness-chart" role="img" viewBox="0 0 {w} {h}" width="100%" '
        'aria-labelledby="{id}-title {id}-desc" xmlns="http://www.w3.org/2000/svg">'
        '<title id="{id}-title">Readiness by dimension</title>'
        '<desc id="{id}-desc">{summary}</desc>{rows}</svg>'
    ).format(w=WIDTH, h=height, id=chart_id, summary=summary, rows=Markup("").join(rows))


def _row(index: int, title: str, score: int) -> Markup:
    """One dimension: its name, a track, a bar as long as the score, and the number."""
    y = GAP + index * (BAR_HEIGHT + GAP)
    length = round(BAR_WIDTH * max(0, min(score, 100)) / 100)
    return Markup(
        '<g class="readiness-chart__row">'
        '<text x="0" y="{ty}" class="readiness-chart__label" fill="currentColor" '
        'font-size="{fs}">{title}</text>'
        '<rect x="{x}" y="{y}" width="{track}" height="{h}" class="readiness-chart__track" '
        'fill="currentColor" fill-opacity="0.12"/>'
        '<rect x="{x}" y="{y}" width="{length}" height="{h}" class="readiness-chart__bar" '
        'fill="currentColor"/>'
        '<text x="{nx}" y="{ty}" class="readiness-chart__value" fill="currentColor" '
        'font-size="{fs}">{score}%</text>'
        "</g>"
    ).format(
        x=LABEL_WIDTH,
        y=y,
        h=BAR_HEIGHT,
        ty=y + BAR_HEIGHT - 6,
        nx=LABEL_WIDTH + BAR_WIDTH + 8,
        track=BAR_WIDTH,
        length=length,
        title=escape(title),
        score=score,
        fs=FONT_SIZE,
    )
