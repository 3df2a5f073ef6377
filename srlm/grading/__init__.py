"""Answer extraction and grading: the one decision of correctness that evaluation, teacher rejection
sampling and the GRPO reward share (:func:`grade`).

A completion is cut at its template's stop strings, its answer extracted (:mod:`.extract`), then
compared with the gold answer (:mod:`.compare`, math-verify for what is not a number or a list).
GSM8K-style benchmarks also get lm-evaluation-harness's own scores (:mod:`.lmeval`). Every function
here returns a bounded value for any string and never raises; none can hang (:mod:`.symbolic`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .compare import REL_TOL, equivalent, split_top
from .extract import cut_at_stop, extract_answer, last_boxed
from .lmeval import flexible_answer, flexible_extract, strict_answer, strict_match
from .rewards import arithmetic_score, has_format

__all__ = ["REL_TOL", "arithmetic_score", "cut_at_stop", "equivalent", "extract_answer",
           "flexible_answer", "flexible_extract", "gold_options", "grade", "has_format", "last_boxed",
           "protocol", "split_answers", "strict_answer", "strict_match"]

EXTRACTOR = ("cut at the template's stop strings; last \\boxed{} (a run of adjacent boxes is one "
             "list) > rest of the line after the last '####' > what follows the last 'answer is' > "
             "last number (a comma is a thousands separator only in valid groups)")
COMPARISON = ("normalised string match; numbers as exact rationals: integer golds exactly, others "
              "within rel_tol (no absolute floor), or within the problem's abs_tol; a '%' gold also "
              "accepts value/100; bare comma lists and \\{\\} sets unordered with every element "
              "required; tuples and intervals in order with the same brackets; else math-verify "
              "0.9 (5 s timeouts)")


def protocol(rel_tol: float = REL_TOL) -> dict:
    """How an evaluation was graded, for its metrics file."""
    return {"extractor": EXTRACTOR, "comparison": COMPARISON, "rel_tol": rel_tol,
            "abs_tol": "per problem where the benchmark gives one (OlympiadBench 'error', x1.01)",
            "units": "a trailing \\text{...} unit, the problem's own unit field, degree signs, $",
            "lm_eval": "gsm8k v3 strict-match (first '#### N') and flexible-extract (last number): "
                       "exact string match after lm-eval's regexes_to_ignore and ignore_case"}


def gold_options(row: dict, rel_tol: float = REL_TOL) -> dict:
    """The per-problem comparison settings a normal-form row carries (``abs_tol``, ``unit``)."""
    return {"rel_tol": rel_tol, "abs_tol": row.get("abs_tol"), "unit": row.get("unit")}


def split_answers(text: str) -> list[str]:
    """The answers of a gold that lists several (OlympiadBench ``$69$,$84$``), unwrapped."""
    return [p for p in split_top(re.sub(r"(?<!\\)\$", "", text)) if p]


def grade(completion: str, gold: str, *, stops: Sequence[str] = (), rel_tol: float = REL_TOL,
          abs_tol: float | None = None, unit: str | None = None) -> dict:
    """Cut, extract and grade one completion: ``extracted``, ``method`` and ``correct``."""
    try:
        extracted, method = extract_answer(cut_at_stop(completion, stops))
    except Exception:
        extracted, method = None, "none"
    return {"extracted": extracted, "method": method,
            "correct": equivalent(extracted, gold, rel_tol=rel_tol, abs_tol=abs_tol, unit=unit)}

