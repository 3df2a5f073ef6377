"""Answer extraction and grading (math-verify), shared by evaluation, rejection sampling and rewards."""

from __future__ import annotations

import re
import threading
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from functools import lru_cache

TIMEOUT_S = 5
_pool: ProcessPoolExecutor | None = None

NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def last_boxed(text: str) -> str | None:
    """Content of the last ``\\boxed{...}`` (or ``\\fbox{...}``), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    i = text.find("{", start)
    if i < 0:
        return None
    depth = 0
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i + 1:j].strip()
    return None


def extract_answer(text: str) -> tuple[str | None, str]:
    """The final answer of a completion and how it was found: boxed, ``####``, or last number."""
    boxed = last_boxed(text)
    if boxed:
        return boxed, "boxed"
    if "####" in text:
        tail = text.rsplit("####", 1)[1].strip().split("\n")[0].strip()
        match = NUMBER.search(tail)
        if match:
            return match.group().replace(",", ""), "hash"
    numbers = NUMBER.findall(text)
    if numbers:
        return numbers[-1].replace(",", "").rstrip("."), "last_number"
    return None, "none"


STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")


def strict_answer(text: str) -> str | None:
    """lm-eval's gsm8k ``strict-match``: the number after ``#### ``."""
    match = STRICT.search(text)
    return match.group(1).replace(",", "").rstrip(".") if match else None


def flexible_answer(text: str) -> str | None:
    """lm-eval's gsm8k ``flexible-extract``: the last number in the text."""
    numbers = NUMBER.findall(text)
    return numbers[-1].replace(",", "").rstrip(".") if numbers else None


def _as_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip().rstrip("."))
    except ValueError:
        return None


def _in_main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


@lru_cache(maxsize=65536)
def _parse(text: str, timeout: int | None):
    from math_verify import parse

    wrapped = text if "$" in text or "\\boxed" in text else f"${text}$"
    return parse(wrapped, parsing_timeout=timeout)


def _verify(pred: str, gold: str, timeout: int | None) -> bool:
    from math_verify import verify

    try:
        return bool(verify(_parse(gold, timeout), _parse(pred, timeout), timeout_seconds=timeout))
    except Exception:
        return False


def _verify_in_worker(pred: str, gold: str) -> bool:
    """math-verify's timeouts use SIGALRM, which works only in a main thread: outside one, run it
    in a worker process with a hard deadline, so a pathological answer cannot hang the caller."""
    global _pool
    if _pool is None:
        _pool = ProcessPoolExecutor(max_workers=1)
    future = _pool.submit(_verify, pred, gold, TIMEOUT_S)
    try:
        return future.result(timeout=TIMEOUT_S + 5)
    except FutureTimeout:
        for proc in list(getattr(_pool, "_processes", {}).values()):
            proc.kill()
        _pool.shutdown(wait=False, cancel_futures=True)
        _pool = None
        return False


def equivalent(pred: str | None, gold: str) -> bool:
    """Is the extracted answer equivalent to the gold one? Numbers fast, the rest by math-verify."""
    if pred is None:
        return False
    a, b = _as_number(pred), _as_number(gold)
    if a is not None and b is not None:
        return abs(a - b) <= 1e-6 * max(1.0, abs(b))
    if _in_main_thread():
        return _verify(pred, gold, TIMEOUT_S)
    return _verify_in_worker(pred, gold)


def grade(completion: str, gold: str) -> dict:
    """Extract and grade one completion."""
    extracted, method = extract_answer(completion)
    return {"extracted": extracted, "method": method, "correct": equivalent(extracted, gold)}


def has_format(completion: str) -> bool:
    """The completion states a final answer in a checkable form (``\\boxed{}`` or ``#### n``)."""
    return last_boxed(completion) is not None or bool(re.search(r"####\s*-?\d", completion))


EQUATION = re.compile(r"(-?\d+(?:\.\d+)?(?:\s*[-+*/x×]\s*-?\d+(?:\.\d+)?)+)\s*=\s*(-?\d[\d,]*(?:\.\d+)?)")


def arithmetic_score(completion: str) -> float:
    """Fraction of the ``a op b = c`` working lines whose arithmetic is right (0 if none).

    Verifiable without a gold answer; in sampled chains it separates correct reasoning from
    lucky final answers.
    """
    found = EQUATION.findall(completion)
    if not found:
        return 0.0
    right = 0
    for lhs, rhs in found:
        expr = lhs.replace("x", "*").replace("×", "*")
        try:
            value = eval(expr, {"__builtins__": {}}, {})  # digits and + - * / only (regex)
        except (ZeroDivisionError, SyntaxError):
            continue
        right += abs(value - float(rhs.replace(",", ""))) < 1e-6
    return right / len(found)
