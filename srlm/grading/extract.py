"""Answer extraction: from a completion to the string that is compared with the gold answer.

Stages, first that applies wins (the order of Qwen2.5-Math's ``extract_answer``, with GSM8K's
``####`` before "the answer is"):

1. ``\\boxed{}`` / ``\\fbox{}``: the last one. Several boxes in a row, separated only by commas,
   "and", ``$`` or spaces (``$\\boxed{69}$ and $\\boxed{84}$``), are one list answer; boxes
   separated by anything else ("then", "or": a restatement) are not, and the last one counts.
2. ``####``: the rest of the line after the last ``####``: the number (or ``a/b``) it starts with,
   else the first ``$...$``, else the phrase (a number in it if it has words).
3. "the answer is": the same reading of what follows the last "answer is", up to the end of its
   sentence (``So the answer is $\\frac{3}{4}$.`` gives ``\\frac{3}{4}``).
4. The last number (a comma in it is a thousands separator only in valid groups: ``1,234``).

Everything is bounded: only the last ``MAX_BOXES`` boxes are read, each at most ``MAX_ANSWER``
characters, so no input (a megabyte of braces or digits) can make extraction slow.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

MAX_BOXES = 32
MAX_ANSWER = 4000
BOX = re.compile(r"\\(?:boxed|fbox)\b\s*")
BETWEEN_BOXES = re.compile(r"(?:[\s$,;]|\\[,;: ]|\\quad|\\qquad|\\text\{\s*(?:and)?\s*\}|and)*")
NUMBER = re.compile(r"-?\d[\d,]*+(?:\.\d++)?")
GROUPED = re.compile(r"-?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
ANSWER_IS = re.compile(r"answer is\b\s*:?", re.IGNORECASE)
SENTENCE_END = re.compile(r"\.(?:\s|$)|\n")
WORD = re.compile(r"[A-Za-z]{2,}")
LEAD = re.compile(r"-?\d[\d,]*(?:\.\d+)?(?:/\d+)?(?![\d.,/]*[A-Za-z\\^{(])")


def cut_at_stop(text: str, stops: Sequence[str] = ()) -> str:
    """The completion up to its first stop string (a base model running on into a new question)."""
    cut = min((i for i in (text.find(s) for s in stops if s) if i >= 0), default=-1)
    return text if cut < 0 else text[:cut]


def _braced(text: str, start: int) -> tuple[str, int] | None:
    """Content of the brace group opening at ``start`` and the index after it (bounded scan)."""
    depth = 0
    for j in range(start, min(len(text), start + MAX_ANSWER)):
        if text[j] == "{" and text[j - 1:j] != "\\":
            depth += 1
        elif text[j] == "}" and text[j - 1:j] != "\\":
            depth -= 1
            if depth == 0:
                return text[start + 1:j], j + 1
    return None


def _boxes(text: str) -> list[tuple[int, int, str]]:
    """(start, end, content) of the last ``MAX_BOXES`` well-formed boxes, in order."""
    starts = [m for m in BOX.finditer(text)][-MAX_BOXES:]
    out = []
    for m in starts:
        i = m.end()
        if i < len(text) and text[i] == "{":
            got = _braced(text, i)
            if got is not None:
                out.append((m.start(), got[1], got[0].strip()))
        elif i < len(text):  # \boxed 5
            word = re.match(rf"[^\s$]{{1,{MAX_ANSWER}}}", text[i:])
            if word:
                out.append((m.start(), i + word.end(), word.group()))
    return [b for b in out if b[2]]


def last_boxed(text: str) -> str | None:
    """The boxed answer: the last box, or the run of adjacent boxes it ends, joined by ", "."""
    boxes = _boxes(text)
    if not boxes:
        return None
    run = [boxes[-1]]
    for prev in reversed(boxes[:-1]):
        gap = text[prev[1]:run[0][0]]
        if len(gap) > 200 or BETWEEN_BOXES.fullmatch(gap) is None:
            break
        run.insert(0, prev)
    return ", ".join(b[2] for b in run)


def _number_token(token: str) -> str:
    """A matched number: thousands separators removed when valid, else its last comma piece."""
    token = token.rstrip(",")
    if "," not in token:
        return token
    if GROUPED.fullmatch(token):
        return token.replace(",", "")
    return token.rsplit(",", 1)[1]


def _phrase(tail: str, numeric: bool) -> str | None:
    """The answer stated at the start of ``tail`` (after ``####`` or "the answer is"); ``numeric``
    (``####``): a phrase without LaTeX gives its first number, or nothing."""
    tail = tail.lstrip(" :\t")[:MAX_ANSWER]
    for open_, close in (("$", "$"), ("\\(", "\\)"), ("\\[", "\\]")):
        if tail.startswith(open_):
            end = tail.find(close, len(open_))
            if end > len(open_):
                return tail[len(open_):end].strip()
    end = SENTENCE_END.search(tail)
    phrase = (tail[:end.start()] if end else tail).strip().rstrip(".")
    phrase = phrase.replace("\\$", "").replace("$", "").strip()
    lead = LEAD.match(phrase)
    if lead:
        return lead.group() if "/" in lead.group() else _number_token(lead.group())
    if phrase and ("\\" in phrase or "^" in phrase or not (numeric or WORD.search(phrase))):
        return phrase
    number = NUMBER.search(tail if numeric else phrase)
    return _number_token(number.group()) if number else (None if numeric else phrase or None)


def _last(regex: re.Pattern, text: str) -> re.Match | None:
    match = None
    for match in regex.finditer(text):  # noqa: B007 (the loop keeps the last match)
        pass
    return match


def extract_answer(text: str) -> tuple[str | None, str]:
    """The final answer of a completion and the stage that found it (see the module doc)."""
    boxed = last_boxed(text)
    if boxed:
        return boxed[:MAX_ANSWER], "boxed"
    if "####" in text:
        got = _phrase(text.rsplit("####", 1)[1].strip().split("\n", 1)[0], numeric=True)
        if got:
            return got, "hash"
    said = _last(ANSWER_IS, text)
    if said is not None:
        got = _phrase(text[said.end():said.end() + MAX_ANSWER], numeric=False)
        if got:
            return got, "answer_is"
    last = _last(NUMBER, text)
    if last is not None:
        return _number_token(last.group()), "last_number"
    return None, "none"
