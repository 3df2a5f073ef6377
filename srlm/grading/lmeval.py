"""lm-evaluation-harness's ``gsm8k`` scores, reproduced exactly (task version 3.0, lm_eval 0.4.13).

``strict-match``: the regex ``#### (\\-?[0-9\\.\\,]+)``, first match. ``flexible-extract``: the regex
``(-?[$0-9.,]{2,})|(-?[0-9]+)``, last match (``group_select: -1``). Either is then compared with the
gold by ``exact_match``: both strings with ``,``, ``\\$``, ``(?s).*#### `` and a final ``\\.`` removed
(``regexes_to_ignore``, in that order), lower-cased (``ignore_case``), then equal. No numeric
tolerance: ``#### 57500.0`` does not match a gold ``57500``. A miss extracts ``[invalid]``.
"""

from __future__ import annotations

import re

STRICT = re.compile(r"#### (\-?[0-9\.\,]+)")
FLEXIBLE = re.compile(r"(-?[$0-9.,]{2,})|(-?[0-9]+)")
IGNORE = (",", r"\$", r"(?s).*#### ", r"\.$")
INVALID = "[invalid]"


def _select(regex: re.Pattern, text: str, group_select: int) -> str:
    """lm-eval's ``RegexFilter``: findall, pick one match, its first non-empty group, stripped."""
    found = regex.findall(text)
    if not found:
        return INVALID
    match = found[group_select]
    if isinstance(match, tuple):
        match = next((m for m in match if m), INVALID)
    return match.strip()


def normalise(text: str) -> str:
    """lm-eval ``exact_match``'s view of a string (``regexes_to_ignore`` then ``ignore_case``).

    ``(?s).*#### `` is applied as what it does, dropping all up to the last ``#### ``: the regex
    itself takes quadratic time on a long string without one."""
    for pattern in IGNORE:
        if pattern == IGNORE[2]:
            text = text.rsplit("#### ", 1)[1] if "#### " in text else text
        else:
            text = re.sub(pattern, "", text)
    return text.lower()


def strict_answer(text: str) -> str:
    return _select(STRICT, text, 0)


def flexible_answer(text: str) -> str:
    return _select(FLEXIBLE, text, -1)


def strict_match(text: str, gold: str) -> bool:
    """lm-eval gsm8k ``exact_match,strict-match`` of one completion (gold: the answer or rationale)."""
    return normalise(strict_answer(text)) == normalise(gold)


def flexible_extract(text: str, gold: str) -> bool:
    """lm-eval gsm8k ``exact_match,flexible-extract`` of one completion."""
    return normalise(flexible_answer(text)) == normalise(gold)
