"""Reward terms that need no gold answer: answer format and the arithmetic of working lines.

Both return a bounded score for any string: operands and results are read as exact rationals of at
most ``MAX_DIGITS`` digits (longer ones make the line count as wrong), nothing is ``eval``'d, and
the line pattern is matched in linear time (possessive quantifiers, at most ``MAX_OPS`` operators
a line), so a run-away sample of a megabyte of digits costs milliseconds, never an exception.
"""

from __future__ import annotations

import re
from fractions import Fraction

from .extract import last_boxed

MAX_DIGITS = 30
MAX_OPS = 64
_NUM = r"-?\d++(?:\.\d++)?"
EQUATION = re.compile(rf"(?<!\d)({_NUM}(?:\s*+[-+*/x×]\s*+{_NUM}){{1,{MAX_OPS}}}+)"
                      r"\s*+=\s*+(-?\d[\d,]*+(?:\.\d+)?)")
_STEP = re.compile(r"\s*([-+*/x×])\s*(-?\d+(?:\.\d+)?)")
_FIRST = re.compile(r"-?\d+(?:\.\d+)?")
_BAD_SPACE = re.compile(r"[^\S \t\x0c]")
HASH = re.compile(r"####\s*+-?\d")


def has_format(completion: str) -> bool:
    """The completion states a final answer in a checkable form (``\\boxed{}`` or ``#### n``)."""
    try:
        return last_boxed(completion) is not None or HASH.search(completion) is not None
    except Exception:
        return False


def _value(number: str, operand: bool = True) -> Fraction:
    """An operand or result, exactly; too long raises, and so does an integer operand with a
    leading zero (``07``: a syntax error to the ``eval`` this replaces, so the line was wrong)."""
    if len(number) > MAX_DIGITS + 2 or (operand and re.fullmatch(r"-?0+[1-9]\d*", number)):
        raise ValueError(number[:20])
    return Fraction(number)


def _evaluate(lhs: str) -> Fraction:
    """``a op b op c`` with Python's precedence (``*``, ``/`` before ``+``, ``-``), exactly. Spacing
    other than spaces, tabs and form feeds (a line break inside the expression) raises, as it did
    in the ``eval`` this replaces."""
    if _BAD_SPACE.search(lhs):
        raise ValueError("line break inside the expression")
    first = _FIRST.match(lhs)
    terms = [_value(first.group())]
    for op, num in _STEP.findall(lhs, first.end()):
        value = _value(num)
        if op == "/":
            terms[-1] /= value  # ZeroDivisionError: the line counts as wrong
        elif op in "*x×":
            terms[-1] *= value
        else:
            terms.append(value if op == "+" else -value)
    return sum(terms, Fraction(0))


def arithmetic_score(completion: str) -> float:
    """Fraction of the ``a op b = c`` working lines whose arithmetic is right (0 if none).

    Verifiable without a gold answer; in sampled chains it separates correct reasoning from
    lucky final answers.
    """
    try:
        found = EQUATION.findall(completion)
    except Exception:
        return 0.0
    if not found:
        return 0.0
    right = 0
    for lhs, rhs in found:
        try:
            right += abs(_evaluate(lhs) - _value(rhs.replace(",", ""), operand=False)) < Fraction(1, 10**6)
        except (ZeroDivisionError, OverflowError, ValueError):
            continue
    return right / len(found)
