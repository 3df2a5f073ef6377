"""Comparison of an extracted answer with a gold answer.

1. Both are cleaned the same way: ``$``, ``\\$``, ``\\left``/``\\right``, thin spaces, degree signs,
   a trailing ``\\text{unit}`` (or the problem's own ``unit``) and a leading ``x =`` go.
2. Equal after removing spaces: right.
3. Lists: a bare comma list (``1, 3, 5``; OlympiadBench's several answers) or a set
   ``\\{...\\}`` is unordered, every element required (``\\pm`` gives two elements). A comma is a
   thousands separator only inside valid digit groups without spaces (``1,234,567``).
4. Numbers (integers, decimals, ``4.5e33``, ``4.5 \\times 10^{33}``, fractions, mixed numbers,
   ``62.5%``), compared exactly as rationals: a gold written as an integer needs the exact value;
   another gold is met within ``rel_tol`` of its value (no absolute floor: a gold ``1e-8`` is not
   met by ``0``), or within ``abs_tol`` when the problem gives one (OlympiadBench's ``error``, with
   its judge's 1% slack). A gold with ``%`` is also met by its value / 100.
5. Tuples and intervals: same brackets, elements in order.
6. Anything else: math-verify (:mod:`.symbolic`).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import NamedTuple

REL_TOL = 1e-4
"""Relative tolerance for non-integer numeric golds (Qwen2.5-Math's grader uses 1e-4)."""
MAX_CHARS = 2000
"""Answers longer than this are compared as strings only (no parsing, no math-verify)."""
MAX_DIGITS = 400

_REPLACE = (("\\$", ""), ("$", ""), ("\\left", ""), ("\\right", ""), ("\\!", ""), ("\\,", " "),
            ("\\;", " "), ("\\:", " "), ("\\ ", " "), ("~", " "), ("\\dfrac", "\\frac"),
            ("\\tfrac", "\\frac"), ("\\displaystyle", ""), ("^{\\circ}", ""), ("^\\circ", ""),
            ("\\circ", ""), ("°", ""), ("\\%", "%"), ("\\(", ""), ("\\)", ""), ("\\mathbf", ""),
            ("\\textbf", ""), ("\\mbox", "\\text"), ("\\mathrm", "\\text"), ("\\operatorname", "\\text"))
_UNIT_TAIL = re.compile(r"\s*\\text\s*\{[^{}]*\}(?:\s*\^\s*\{?\d\}?)?\s*$")
_WORD_UNIT = re.compile(r"(-?[\d.,/]+(?:\s*\\times\s*10\^\{?-?\d+\}?)?)\s*[A-Za-z]{2,}[A-Za-z .]*(?:\^\d)?")
_UNWRAP = re.compile(r"\\text\s*\{([^{}]*)\}")
_VAR_IN = re.compile(r"^[A-Za-z]\s*\\in\s*")

_INT = r"(?:\d{1,3}(?:,\d{3})+|\d+)"
_DEC = rf"(?:{_INT}\.\d*|\.\d+|{_INT})"
_PLAIN = re.compile(rf"({_DEC})(?:[eE]([-+]?\d{{1,3}}))?")
_TIMES10 = re.compile(rf"(?:({_DEC})(?:\\times|\\cdot|×|\*|x))?10\^\{{?([-+]?\d{{1,3}})\}}?")
_FRAC = re.compile(r"\\frac(?:\{(-?[\d.]+)\}|(\d))(?:\{(-?[\d.]+)\}|(\d))")
_MIXED = re.compile(r"(\d+)\\frac\{(\d+)\}\{(\d+)\}")
_SLASH = re.compile(rf"(-?{_DEC})/(-?{_DEC})")


class Num(NamedTuple):
    value: Fraction
    integer: bool
    """Written as an integer literal (compared exactly)."""
    percent: bool


def clean(text: str, unit: str | None = None) -> str:
    """The answer without its wrapping: dollars, units, degree signs, ``\\left``, ``x =``."""
    s = re.sub(r",\\!\s*", ",", text.strip().replace("\n", " "))
    for old, new in _REPLACE:
        s = s.replace(old, new)
    s = s.strip().rstrip(".").strip()
    for _ in range(2):
        cut = _UNIT_TAIL.sub("", s)
        if cut.strip():
            s = cut.strip()
    s = _UNWRAP.sub(r"\1", s).strip()
    if unit:
        bare = clean(unit).replace(" ", "")
        compact = s.replace(" ", "")
        for tail in (bare + "s", bare) if bare else ():
            if compact.endswith(tail) and len(compact) > len(tail):
                s = compact[:-len(tail)]
                break
    word = _WORD_UNIT.fullmatch(s)
    if word:
        s = word.group(1)
    s = _VAR_IN.sub("", s)
    if s.count("=") == 1:
        lhs, rhs = s.split("=")
        if len(lhs.strip()) <= 2 and rhs.strip():
            s = rhs
    return s.strip()


def _key(text: str) -> str:
    key = re.sub(r"\s+", "", text)
    return key.lower() if key.isalpha() else key


def split_top(text: str) -> list[str]:
    """Split at commas outside brackets, keeping thousands separators (``1,234``) inside numbers."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    merged: list[str] = []
    for part in parts:
        if (merged and re.fullmatch(r"-?\d{1,3}(?:,\d{3})*", merged[-1].lstrip())
                and re.fullmatch(r"\d{3}(?:\.\d+)?", part.rstrip()) and not part[:1].isspace()):
            merged[-1] += "," + part
        else:
            merged.append(part)
    return [p.strip() for p in merged]


def elements(text: str) -> list[str]:
    """The answers a string lists: one for a single answer (``\\pm`` counts as two)."""
    s = text.strip()
    if s.startswith("\\{") and s.endswith("\\}"):
        s = s[2:-2]
    out = []
    for part in split_top(s):
        if "\\pm" in part:
            out += [part.replace("\\pm", "+", 1), part.replace("\\pm", "-", 1)]
        elif part:
            out.append(part)
    return out


def number(text: str) -> Num | None:
    """The exact value of a numeric answer, or None."""
    s = re.sub(r"\s+", "", text)
    if not s or len(s) > MAX_DIGITS:
        return None
    percent = s.endswith("%")
    s = s.rstrip("%").lstrip("+")
    sign = -1 if s.startswith("-") else 1
    s = s[1:] if sign < 0 else s
    try:
        value, integer = _unsigned(s)
    except (ValueError, ZeroDivisionError, OverflowError):  # "1.2.3", an exponent too large
        return None
    if value is None:
        return None
    return Num(sign * value, integer, percent)


def _dec(text: str) -> Fraction:
    return Fraction(text.replace(",", "") + ("0" if text.endswith(".") else ""))


def _unsigned(s: str) -> tuple[Fraction | None, bool]:
    if m := _PLAIN.fullmatch(s):
        exp = m.group(2)
        value = _dec(m.group(1)) * (Fraction(10) ** int(exp) if exp else 1)
        return value, exp is None and re.fullmatch(_INT, m.group(1)) is not None
    if m := _TIMES10.fullmatch(s):
        return (_dec(m.group(1)) if m.group(1) else Fraction(1)) * Fraction(10) ** int(m.group(2)), False
    if m := _FRAC.fullmatch(s):
        num, den = _dec(m.group(1) or m.group(2)), _dec(m.group(3) or m.group(4))
        return (num / den if den else None), False
    if m := _MIXED.fullmatch(s):
        den = int(m.group(3))
        return (int(m.group(1)) + Fraction(int(m.group(2)), den) if den else None), False
    if m := _SLASH.fullmatch(s):
        den = _dec(m.group(2))
        return (_dec(m.group(1)) / den if den else None), False
    return None, False


def numbers_equal(pred: Num, gold: Num, rel_tol: float = REL_TOL, abs_tol: float | None = None) -> bool:
    """The numeric rule of the module doc."""
    golds = [(gold.value, gold.integer)] + ([(gold.value / 100, False)] if gold.percent else [])
    preds = [pred.value] + ([pred.value / 100] if pred.percent and not gold.percent else [])
    for a in preds:
        for b, integer in golds:
            if a == b:
                return True
            if abs_tol is not None:
                if abs(a - b) <= Fraction(abs_tol) * Fraction(101, 100):
                    return True
            elif not integer and b != 0 and abs(a - b) <= Fraction(rel_tol) * abs(b):
                return True
    return False


def _bracketed(text: str) -> tuple[str, str, str] | None:
    """(open, inside, close) of a string wrapped in one pair of ``()``/``[]`` brackets."""
    if len(text) < 2 or text[0] not in "([" or text[-1] not in ")]":
        return None
    depth = 0
    for i, ch in enumerate(text):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and i < len(text) - 1:
            return None
    return text[0], text[1:-1], text[-1]


def _match_unordered(preds: list[str], golds: list[str], **tol) -> bool:
    left = list(preds)
    for gold in golds:
        hit = next((i for i, p in enumerate(left) if _key(p) == _key(gold)), None)
        if hit is None:
            hit = next((i for i, p in enumerate(left) if _equal(p, gold, **tol)), None)
        if hit is None:
            return False
        left.pop(hit)
    return not left


def _equal(pred: str, gold: str, **tol) -> bool:
    if _key(pred) == _key(gold):
        return True
    preds, golds = elements(pred), elements(gold)
    if len(preds) > 1 or len(golds) > 1:
        return len(preds) == len(golds) and _match_unordered(preds, golds, **tol)
    a, b = number(pred), number(gold)
    if a is not None and b is not None:
        return numbers_equal(a, b, **tol)
    pb, gb = _bracketed(pred), _bracketed(gold)
    if pb and gb:
        p_items, g_items = split_top(pb[1]), split_top(gb[1])
        if pb[0] != gb[0] or pb[2] != gb[2] or len(p_items) != len(g_items):
            return False
        if len(g_items) > 1:
            return all(_equal(p, g, **tol) for p, g in zip(p_items, g_items))
    if "\\cup" in pred and "\\cup" in gold:
        p_parts, g_parts = pred.split("\\cup"), gold.split("\\cup")
        return len(p_parts) == len(g_parts) and all(_equal(p.strip(), g.strip(), **tol)
                                                   for p, g in zip(p_parts, g_parts))
    from .symbolic import symbolic_equal

    return symbolic_equal(pred, gold)


def equivalent(pred: str | None, gold: str, *, rel_tol: float = REL_TOL, abs_tol: float | None = None,
               unit: str | None = None) -> bool:
    """Is the extracted answer equivalent to the gold one (module doc)? Never raises."""
    try:
        if pred is None or gold is None:
            return False
        if len(pred) > MAX_CHARS or len(gold) > MAX_CHARS:
            return _key(pred) == _key(gold)
        return _equal(clean(pred, unit), clean(gold, unit), rel_tol=rel_tol, abs_tol=abs_tol)
    except Exception:
        return False
