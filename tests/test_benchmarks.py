"""Benchmarks read from the offline mirror; the grader validated on their real gold answers."""

from __future__ import annotations

import random

import pytest

from srlm.config import load_params
from srlm.data import run_data
from srlm.grading import equivalent, grade, last_boxed
from srlm.io import read_jsonl

from .conftest import REPO

BENCHMARKS = ["gsm8k", "math500", "aime24", "aime25", "amc23", "minerva_math", "olympiadbench"]


@pytest.fixture(scope="module")
def bench(tmp_path_factory, mirror) -> dict[str, list[dict]]:
    root = tmp_path_factory.mktemp("bench")
    params = load_params(REPO / "params" / "paper.yaml", {"workdir": str(root), "mirror": str(mirror)})
    assert list(params.eval.benchmarks) == BENCHMARKS
    out = {}
    for name in BENCHMARKS:
        manifest = run_data(params, name, root / name)
        assert manifest["origin"]["test"]["verified"], name
        out[name] = read_jsonl(root / name / "test.jsonl", required=("id", "question", "answer"))
    return out


def test_counts(bench):
    counts = {k: len(v) for k, v in bench.items()}
    assert counts == {"gsm8k": 1319, "math500": 500, "aime24": 30, "aime25": 30, "amc23": 40,
                      "minerva_math": 272, "olympiadbench": 675}


def test_gold_forms(bench):
    assert all(r["answer"] == str(int(float(r["answer"]))) for r in bench["amc23"])  # 27.0 -> 27
    assert all(0 <= int(r["answer"]) <= 999 for r in bench["aime24"] + bench["aime25"])
    fixed = [r for r in bench["aime25"] if "\\frac" in r["question"] or "\\triangle" in r["question"]]
    assert len(fixed) >= 3 and not any("\x0c" in r["question"] or "\t" in r["question"]
                                       for r in bench["aime25"])
    assert bench["minerva_math"][0]["answer"] and "\\boxed" not in bench["minerva_math"][0]["answer"]
    assert not any(r["answer"].startswith("$") and r["answer"].count("$") == 2
               for r in bench["olympiadbench"])


@pytest.mark.parametrize("name,floor", [("gsm8k", 1.0), ("math500", 0.98), ("minerva_math", 0.98),
                                        ("aime24", 0.9)])
def test_references_grade_against_own_gold(bench, name, floor):
    rows = [r for r in bench[name] if last_boxed(r["cot"]) or "\\boxed" in r["cot"]]
    assert len(rows) >= 0.9 * len(bench[name])
    own = [grade(r["cot"], r["answer"])["correct"] for r in rows]
    misses = [r["id"] for r, ok in zip(rows, own) if not ok]
    assert sum(own) / len(rows) >= floor, f"{name}: exceptions {misses}"
    shuffled = [r["answer"] for r in rows]
    random.Random(1).shuffle(shuffled)
    other = sum(grade(r["cot"], g)["correct"] for r, g in zip(rows, shuffled)) / len(rows)
    assert other < 0.1, f"{name}: {other:.2%} of references match another problem's gold"


@pytest.mark.parametrize("name", BENCHMARKS)
def test_gold_is_self_equivalent_and_distinct(bench, name):
    rows = bench[name][:150]
    assert sum(equivalent(r["answer"], r["answer"]) for r in rows) >= 0.99 * len(rows)
    pairs = list(zip(rows, rows[1:]))
    same = sum(equivalent(a["answer"], b["answer"]) for a, b in pairs
               if a["answer"].strip() != b["answer"].strip())
    assert same <= 0.05 * len(pairs)
