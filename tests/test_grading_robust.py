"""Grading and rewards under any input and from any thread: bounded scores, no exception, no hang."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from srlm.grading import (
    arithmetic_score,
    equivalent,
    extract_answer,
    flexible_extract,
    grade,
    has_format,
    strict_match,
    symbolic,
)
from srlm.train.rl import reward_functions

DIGITS = st.text("0123456789", min_size=1, max_size=600)
EXPRESSIONS = st.lists(st.tuples(DIGITS, st.sampled_from(["+", "-", "*", "/", "x", " * ", " / "])),
                       min_size=1, max_size=8).map(lambda ops: "".join(a + o for a, o in ops) + "1 = 1")
ODD = st.text(st.characters(codec="utf-8"), max_size=300)
MATHY = st.text("0123456789-+*/=x×.,$\\{}()[]^_ boxedfrac#answer is\n", max_size=300)
INPUTS = st.one_of(DIGITS, EXPRESSIONS, ODD, MATHY, st.just(""))
HUGE = ["1" + "0" * 400 + "/1 = 1", "9" * 400 + "*" + "9" * 400 + " = 1", "9" * 5000 + " = 9",
        "1+" * 500_000 + "1 = 2", "7" * 1_000_000, "\\boxed{" * 200_000, "{" * 1_000_000,
        "#### " + "1," * 300_000, "answer is " * 100_000, " " * 1_000_000 + "= 1", "\x00\ud7ff\U0010ffff"]


def check_all(text: str, gold: str = "1") -> None:
    assert 0.0 <= arithmetic_score(text) <= 1.0
    assert isinstance(has_format(text), bool)
    answer, method = extract_answer(text)
    assert answer is None or isinstance(answer, str)
    assert isinstance(grade(text, gold)["correct"], bool)
    assert isinstance(strict_match(text, gold), bool) and isinstance(flexible_extract(text, gold), bool)
    funcs, _ = reward_functions({"correctness": 1.0, "format": 0.1, "arithmetic": 0.5}, "plain")
    for fn in funcs:
        assert all(0.0 <= r <= 1.0 for r in fn(completions=[text], answer=[gold]))


def test_arithmetic_of_huge_numbers_is_bounded():
    assert arithmetic_score("1" + "0" * 400 + "/1 = 1") == 0.0
    assert arithmetic_score("9" * 400 + "*" + "9" * 400 + " = 1") == 0.0
    assert arithmetic_score("2 + 3 = 5\n7 * 6 = 41") == 0.5 and arithmetic_score("3 - -2 = 5") == 1.0
    assert arithmetic_score("8 / 2 * 4 = 16, 10 - 6 / 2 = 7, 1 / 0 = 1") == pytest.approx(2 / 3)


@pytest.mark.parametrize("text", HUGE, ids=lambda t: f"{t[:12]!r}x{len(t)}")
def test_huge_inputs_are_fast_and_bounded(text):
    start = time.perf_counter()
    check_all(text)
    assert time.perf_counter() - start < 20, "grading a pathological completion took too long"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(INPUTS, st.one_of(DIGITS, MATHY))
def test_fuzz_every_reward_and_grading_function(text, gold):
    check_all(text, gold[:50] or "0")


@settings(max_examples=150, deadline=None)
@given(MATHY, MATHY)
def test_fuzz_equivalent_never_raises(pred, gold):
    assert isinstance(equivalent(pred, gold), bool)
    assert isinstance(equivalent(pred, gold, rel_tol=0.0, abs_tol=1e-3, unit="cm"), bool)


def test_zero_weight_rewards_are_not_computed():
    funcs, weights = reward_functions({"correctness": 1.0, "format": 0.1, "arithmetic": 0.0}, "plain")
    assert [f.__name__ for f in funcs] == ["correctness_reward", "format_reward"] and weights == [1.0, 0.1]
    with pytest.raises(ValueError, match="every weight is 0"):
        reward_functions({"correctness": 0.0, "format": 0.0, "arithmetic": 0.0}, "chat")


def test_reward_and_evaluation_agree_on_run_on_completions():
    """The GRPO reward and evaluation decide with the same function, the template's cut included."""
    from srlm.models import stop_strings

    (correct, *_), _ = reward_functions({"correctness": 1.0}, "plain")
    cases = ["2 + 3 = 5\n#### 5\n\nQuestion: Tom has 7 pens.\nAnswer: #### 7",
             "The answer is 5.\nQuestion: and the next?\nThe answer is 9.",
             "\\boxed{5} Question: again \\boxed{6}", "5 pens.Question: 8 pens"]
    for text in cases:
        evaluated = grade(text, "5", stops=stop_strings("plain"))["correct"]
        assert correct(completions=[text], answer=["5"]) == [1.0] and evaluated


def sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "late"


def test_worker_start_method_is_fork_free():
    assert symbolic._context().get_start_method() in ("forkserver", "spawn")


def test_timeout_in_one_thread_does_not_break_another(monkeypatch):
    """A check that misses its deadline kills only its own thread's worker; the others go on,
    and the thread that timed out grades again on a fresh worker."""
    stop = threading.Event()
    results: list[bool] = []

    def steady() -> None:
        while not stop.is_set():
            results.append(equivalent("\\frac{\\sqrt{8}}{2}", "\\sqrt{2}"))

    def hung() -> tuple:
        quick = symbolic.run_isolated(sleepy, 0.1, default="timeout", timeout=60.0)
        start = time.perf_counter()
        late = symbolic.run_isolated(sleepy, 30.0, default="timeout", timeout=3.0)
        assert time.perf_counter() - start < 20
        return quick, late, equivalent("\\sin^2 x + \\cos^2 x", "1")

    with ThreadPoolExecutor(2) as pool:
        runner = pool.submit(steady)
        assert pool.submit(hung).result(timeout=180) == ("late", "timeout", True)
        time.sleep(1)
        stop.set()
        runner.result(timeout=120)
    assert results and all(results)


def test_grading_from_many_threads():
    pairs = [("\\dfrac{1}{2}", "0.5", True), ("\\frac{1}{3}", "0.5", False),
             ("2\\sqrt{2}", "\\sqrt{8}", True), ("x^2+1", "1+x^2", True), ("x+1", "x-1", False)] * 4
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda p: equivalent(p[0], p[1]), pairs))
    assert got == [p[2] for p in pairs]
