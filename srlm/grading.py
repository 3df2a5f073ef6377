"""Answer extraction and grading (math-verify), shared by evaluation, rejection sampling and rewards."""

from __future__ import annotations

import re
import threading
from functools import lru_cache

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


def _as_number(text: str) -> float | None:
    try:
        return float(text.replace(",", "").strip().rstrip("."))
    except ValueError:
        return None


@lru_cache(maxsize=65536)
def _parse(text: str):
    from math_verify import parse

    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    wrapped = text if "$" in text or "\\boxed" in text else f"${text}$"
    return parse(wrapped, parsing_timeout=timeout)


def equivalent(pred: str | None, gold: str) -> bool:
    """Is the extracted answer equivalent to the gold one? Numbers fast, the rest by math-verify."""
    if pred is None:
        return False
    a, b = _as_number(pred), _as_number(gold)
    if a is not None and b is not None:
        return abs(a - b) <= 1e-6 * max(1.0, abs(b))
    from math_verify import verify

    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    try:
        return bool(verify(_parse(gold), _parse(pred), timeout_seconds=timeout))
    except Exception:
        return False


def grade(completion: str, gold: str) -> dict:
    """Extract and grade one completion."""
    extracted, method = extract_answer(completion)
    return {"extracted": extracted, "method": method, "correct": equivalent(extracted, gold)}


def has_format(completion: str) -> bool:
    """The completion states a final answer in a checkable form (``\\boxed{}`` or ``#### n``)."""
    return last_boxed(completion) is not None or bool(re.search(r"####\s*-?\d", completion))
