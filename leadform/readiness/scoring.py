"""Scoring a readiness check: plain answers in, a band, scores and the biggest risks out.

A dimension scores the mean of its answers as a percentage of the top answer; the overall
score is the weighted mean of the dimensions. The biggest risks are the weakest dimensions
below `RISK_BELOW`, lowest first (weight breaks ties), at most `MAX_RISKS`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from leadform.readiness.questions import Band, Dimension, Questionnaire

MAX_RISKS = 3
# A dimension at or above this share of the top answer is not called a risk.
RISK_BELOW = 75.0


class IncompleteAnswers(ValueError):
    """Some questions are unanswered or answered off the scale; `missing` lists their keys."""

    def __init__(self, missing: list[str]):
        super().__init__(f"unanswered: {', '.join(missing)}")
        self.missing = missing


@dataclass(frozen=True)
class DimensionScore:
    """One dimension's score, 0-100."""

    dimension: Dimension
    score: int


@dataclass(frozen=True)
class Result:
    """The outcome of one check."""

    overall: int
    band: Band
    scores: tuple[DimensionScore, ...]
    risks: tuple[DimensionScore, ...]

    def scores_by_key(self) -> dict[str, int]:
        """The dimension scores by dimension key, for storing and reporting."""
        return {item.dimension.key: item.score for item in self.scores}


def check_answers(questionnaire: Questionnaire, answers: Mapping[str, object]) -> dict[str, int]:
    """Return every question's answer as an int on the scale, or raise IncompleteAnswers."""
    checked, missing = {}, []
    for question in questionnaire.questions:
        value = answers.get(question.key)
        if isinstance(value, str) and value.isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            missing.append(question.key)
        elif 0 <= value <= questionnaire.top_answer:
            checked[question.key] = value
        else:
            missing.append(question.key)
    if missing:
        raise IncompleteAnswers(missing)
    return checked


def score(questionnaire: Questionnaire, answers: Mapping[str, object]) -> Result:
    """Score a complete set of answers (question key -> 0..top answer)."""
    checked = check_answers(questionnaire, answers)
    scores = tuple(
        DimensionScore(dimension, _dimension_score(questionnaire, dimension, checked))
        for dimension in questionnaire.dimensions
    )
    total_weight = sum(item.dimension.weight for item in scores)
    weighted = sum(item.score * item.dimension.weight for item in scores) / total_weight
    overall = _half_up(weighted)
    return Result(overall, band_for(questionnaire, overall), scores, biggest_risks(scores))


def _dimension_score(questionnaire: Questionnaire, dimension: Dimension, answers) -> int:
    values = [answers[q.key] for q in questionnaire.questions if q.dimension == dimension.key]
    return _half_up(100 * sum(values) / (len(values) * questionnaire.top_answer))


def band_for(questionnaire: Questionnaire, overall: float) -> Band:
    """Return the band whose range holds `overall`."""
    return [band for band in questionnaire.bands if band.start <= overall][-1]


def biggest_risks(scores: tuple[DimensionScore, ...]) -> tuple[DimensionScore, ...]:
    """The weakest dimensions under RISK_BELOW, lowest first, at most MAX_RISKS."""
    weak = [item for item in scores if item.score < RISK_BELOW]
    weak.sort(key=lambda item: (item.score, -item.dimension.weight))
    return tuple(weak[:MAX_RISKS])


def _half_up(value: float) -> int:
    """Round .5 up, as a reader expects (Python's round() goes to the even neighbour)."""
    return math.floor(value + 0.5)
