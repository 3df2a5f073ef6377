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


# lm-eval gsm8k verdicts, worked through its filters (RegexFilter + take_first, exact_match with
# regexes_to_ignore [",", "\\$", "(?s).*#### ", "\\.$"], ignore_case): strict-match, flexible-extract
LM_EVAL = [
    ("so 3 + 4 = 7\n#### 7", "7", True, True),
    ("#### 57500.0", "57500", False, False),  # no numeric tolerance: "57500.0" != "57500"
    ("#### 1,234", "1234", True, True),        # commas ignored
    ("#### $18.", "18", False, True),          # strict's regex needs a digit or '-' right after '#### '
    ("The answer is 18.00.", "18", False, False),
    ("The answer is $\\boxed{18}$.", "18", False, False),  # flexible's last match is "$."
    ("The answer is 18.", "18", False, True),
    ("She has 5 apples, so 3 + 2 = 5.", "5", False, True),
    ("the answer is 7", "7", False, True),     # one digit: the second group (-?[0-9]+)
    ("#### 7\n#### 8", "8", False, True),      # strict takes the first match, flexible the last
    ("#### -3", "-3", True, True),
]


@pytest.mark.parametrize("text,gold,strict,flexible", LM_EVAL)
def test_lm_eval_gsm8k_verdicts(text, gold, strict, flexible):
    from srlm.grading import flexible_extract, strict_match

    assert strict_match(text, gold) is strict
    assert flexible_extract(text, gold) is flexible


def test_lm_eval_extraction_and_gold_reading(mirror):
    """Our stored gold reads as lm-eval reads the full rationale (its ``doc_to_target``)."""
    from srlm.grading import flexible_answer, lmeval, strict_answer

    assert strict_answer("the answer is 7") == "[invalid]" == flexible_answer("no digits")
    assert flexible_answer("$1,200 in total") == "$1,200"
    rows = [json.loads(line) for line in (mirror / "gsm8k" / "test.jsonl").open()]
    assert all(lmeval.normalise(r["answer"]) == lmeval.normalise(gsm8k_final(r["answer"])) for r in rows)


@pytest.mark.parametrize("text,expected,method", [
    ("So the answer is $\\frac{3}{4}$.", "\\frac{3}{4}", "answer_is"),
    ("#### 3/4", "3/4", "hash"),
    ("The answer is 18. Check: 18 - 3 = 15.", "18", "answer_is"),
    ("The answer is: 7 apples.", "7", "answer_is"),
    ("$\\boxed{69}$ and $\\boxed{84}$.", "69, 84", "boxed"),       # a run of boxes: one list
    ("$\\boxed{15\\frac{39}{40}}$, or $\\boxed{\\frac{639}{40}}$", "\\frac{639}{40}", "boxed"),  # "or": last
    ("The roots are 1,3,5", "5", "last_number"),
    ("It costs 1,234 dollars", "1234", "last_number"),
])
def test_extraction_stages(text, expected, method):
    assert extract_answer(text) == (expected, method)
