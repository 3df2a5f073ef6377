"""Extraction and grading, checked on real gold answers and on equivalent forms."""

from __future__ import annotations

import json
import random

import pytest

from srlm.data import gsm8k_cot, gsm8k_final
from srlm.grading import equivalent, extract_answer, grade, has_format


@pytest.mark.parametrize("text,expected,method", [
    ("so the answer is \\boxed{\\frac{1}{2}}.", "\\frac{1}{2}", "boxed"),
    ("first \\boxed{3} then \\boxed{4}", "4", "boxed"),
    ("12 + 5 = 17\n#### 17", "17", "hash"),
    ("#### 1,234", "1234", "hash"),
    ("She pays 3 + 4 = 7 dollars.", "7", "last_number"),
    ("no number here", None, "none"),
])
def test_extract(text, expected, method):
    assert extract_answer(text) == (expected, method)


@pytest.mark.parametrize("pred,gold", [
    ("0.5", "\\frac{1}{2}"), ("\\dfrac{1}{2}", "\\frac12"), ("18.0", "18"), ("1,000", "1000"),
    ("x = 3", "3"), ("(1, 2]", "(1,2]"), ("\\{1, 2\\}", "\\{2, 1\\}"),
])
def test_equivalent_forms(pred, gold):
    assert equivalent(pred, gold)


@pytest.mark.parametrize("pred,gold", [
    ("17", "18"), ("0.51", "\\frac{1}{2}"), ("(1, 2)", "(1,2]"), ("-3", "3"), (None, "3"),
])
def test_near_misses(pred, gold):
    assert not equivalent(pred, gold)


def test_gsm8k_references_grade_against_their_gold(mirror):
    rows = [json.loads(line) for line in (mirror / "gsm8k" / "test.jsonl").open()]
    golds = [gsm8k_final(r["answer"]) for r in rows]
    cots = [gsm8k_cot(r["answer"]) for r in rows]
    own = sum(grade(c, g)["correct"] for c, g in zip(cots, golds)) / len(rows)
    assert own == 1.0
    shuffled = golds[:]
    random.Random(0).shuffle(shuffled)
    other = sum(grade(c, g)["correct"] for c, g in zip(cots, shuffled)) / len(rows)
    assert other < 0.05


def test_format_reward_signal():
    assert has_format("1 + 2 = 3\n#### 3") and has_format("\\boxed{3}")
    assert not has_format("1 + 2 = 3")


def test_grading_outside_main_thread():
    """Graded from a worker thread (where SIGALRM timeouts are off) it still answers, via a process."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        assert pool.submit(equivalent, "\\dfrac{1}{2}", "0.5").result(timeout=60)
        assert not pool.submit(equivalent, "\\frac{1}{3}", "0.5").result(timeout=60)


def test_gsm8k_strict_and_flexible():
    from srlm.grading import flexible_answer, strict_answer

    assert strict_answer("so 3 + 4 = 7\n#### 7") == "7"
    assert strict_answer("the answer is 7") is None
    assert flexible_answer("the answer is 7.") == "7"
    assert flexible_answer("$1,200 in total") == "1200"
