"""The tables' statistics: paired tests of a method's change over the same problems."""

from __future__ import annotations

import json
import random

import pytest

from srlm.tables import paired_p, problem_scores


def scores(values: list[float]) -> dict[str, float]:
    return {f"p{i}": v for i, v in enumerate(values)}


def test_mcnemar_exact_on_greedy_answers():
    # 9 problems newly solved, 1 newly failed, 90 unchanged: 2 * P(X <= 1), X ~ Bin(10, 1/2)
    before = scores([0] * 9 + [1] + [1] * 45 + [0] * 45)
    after = scores([1] * 9 + [0] + [1] * 45 + [0] * 45)
    assert paired_p(before, after) == pytest.approx(22 / 1024)
    assert paired_p(after, before) == pytest.approx(22 / 1024)  # two-sided
    assert paired_p(before, before) == 1.0
    even = scores([1] * 5 + [0] * 5)  # 5 gained, 5 lost: no evidence of a change
    assert paired_p(even, scores([0] * 5 + [1] * 5)) == 1.0


def test_permutation_test_on_sampled_scores():
    rng = random.Random(1)
    before = scores([rng.random() for _ in range(60)])
    better = {k: min(1.0, v + 0.25) for k, v in before.items()}
    noisy = {k: min(1.0, max(0.0, v + rng.choice([-0.125, 0.125]))) for k, v in before.items()}
    assert paired_p(before, better) < 0.001
    assert paired_p(before, noisy) > 0.05
    assert paired_p(before, noisy) == paired_p(before, noisy)  # seeded: the same p twice


def test_different_problem_sets_are_an_error():
    with pytest.raises(ValueError, match="different problems"):
        paired_p(scores([1, 0]), scores([1, 0, 1]))


def test_problem_scores_average_samples(tmp_path):
    path = tmp_path / "s.samples.jsonl"
    rows = [{"id": "a", "correct": True}, {"id": "a", "correct": False}, {"id": "b", "correct": True}]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert problem_scores(path) == {"a": 0.5, "b": 1.0}


def test_avg_at_k_interval_has_the_problem_as_unit():
    """30 problems x 32 samples, 3 solved in every sample: the interval of 3 in 30, not 96 in 960."""
    from srlm.evaluate import problem_interval

    samples = [{"id": f"p{i}", "correct": i < 3} for i in range(30) for _ in range(32)]
    accuracy, lo, hi, problems = problem_interval(samples)
    assert (accuracy, problems) == (pytest.approx(10.0), 30)
    assert (round(lo, 1), round(hi, 1)) == (3.5, 25.6)


def test_markdown_shows_k_seeds_and_truncation():
    import pandas as pd

    from srlm.tables import markdown

    df = pd.DataFrame([{"model": "m", "pipeline": "none", "aime24": 10.0, "aime24_lo": 3.5,
                        "aime24_hi": 25.6, "aime24_k": 16, "aime24_seeds": 4, "aime24_truncated": 7.5,
                        "gsm8k": 50.0, "gsm8k_lo": 47.0, "gsm8k_hi": 53.0, "gsm8k_k": 1,
                        "gsm8k_seeds": 1, "gsm8k_truncated": 0.0}])
    text = markdown(df, ["aime24", "gsm8k"])
    assert "aime24 (avg@16, 4 seeds; 95% CI)" in text and "gsm8k (greedy; 95% CI)" in text
    assert "10.0 [3.5, 25.6] †" in text and "50.0 [47.0, 53.0] " in text and text.count("†") == 1
