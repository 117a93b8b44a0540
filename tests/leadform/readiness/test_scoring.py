"""Scoring as a table: answer sets and their overall score, band and biggest risks."""

import pytest

from leadform.readiness.questions import article_files, load_questionnaire
from leadform.readiness.scoring import IncompleteAnswers, score


@pytest.fixture
def questionnaire(content_dir):
    return load_questionnaire(content_dir / "readiness.toml", article_files(content_dir))


def answers(alpha: int, beta: int, gamma: int, delta: int) -> dict[str, int]:
    """The same answer for every question of each dimension."""
    values = {"a": alpha, "b": beta, "c": gamma, "d": delta}
    counts = {"a": 4, "b": 3, "c": 3, "d": 2}
    return {f"{k}{n}": values[k] for k, count in counts.items() for n in range(1, count + 1)}


# Weights: alpha 3, beta 1, gamma 1, delta 1 (sum 6). Scores are answer/4 as a percentage.
TABLE = [
    # answers (alpha, beta, gamma, delta), overall, band, risks in order
    ((4, 4, 4, 4), 100, "High", []),
    ((0, 0, 0, 0), 0, "Low", ["alpha", "beta", "gamma"]),
    ((4, 0, 4, 4), 83, "High", ["beta"]),
    ((0, 4, 4, 4), 50, "Middle", ["alpha"]),
    ((2, 2, 2, 2), 50, "Middle", ["alpha", "beta", "gamma"]),
    ((3, 3, 3, 3), 75, "Middle", []),  # 75% is not below the risk line
    ((1, 4, 2, 0), 38, "Low", ["delta", "alpha", "gamma"]),  # 37.5 rounds half up
    ((3, 1, 1, 3), 58, "Middle", ["beta", "gamma"]),
]


@pytest.mark.parametrize(("given", "overall", "band", "risks"), TABLE)
def test_scores_bands_and_risks(questionnaire, given, overall, band, risks):
    result = score(questionnaire, answers(*given))

    assert result.overall == overall
    assert result.band.name == band
    assert [item.dimension.key for item in result.risks] == risks


def test_mixed_answers_within_a_dimension_average(questionnaire):
    given = answers(0, 0, 0, 0) | {"a1": 4, "a2": 4}

    result = score(questionnaire, given)

    assert result.scores_by_key()["alpha"] == 50


def test_a_weight_tie_breaks_towards_the_heavier_dimension(questionnaire):
    result = score(questionnaire, answers(1, 1, 4, 4))

    assert [item.dimension.key for item in result.risks] == ["alpha", "beta"]


@pytest.mark.parametrize(
    "change",
    [{"a1": None}, {"a1": 5}, {"a1": -1}, {"a1": "x"}, {"a1": True}, {"a1": 2.5}],
)
def test_incomplete_or_off_scale_answers_are_refused(questionnaire, change):
    given = answers(2, 2, 2, 2) | change
    given = {key: value for key, value in given.items() if value is not None}

    with pytest.raises(IncompleteAnswers) as caught:
        score(questionnaire, given)

    assert caught.value.missing == ["a1"]
