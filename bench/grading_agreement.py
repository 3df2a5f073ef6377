"""How well the grader agrees with each benchmark's own answers, on the real data of the mirror.

    python bench/grading_agreement.py [--mirror ../shared/data] [--json out.json]

For every benchmark of the paper profile, each problem's reference solution is graded against its
own gold answer (share right: should be ~100%) and against the gold of another problem, drawn by a
seeded shuffle (share right: false positives, should be 0; pairs whose two golds are themselves
equivalent are left out). References are the benchmark's own solutions where they state a final
answer (GSM8K rationales, MATH-500, Minerva, AIME 2024), else the gold as the dataset writes it,
boxed (AIME 2025, AMC 2023, OlympiadBench's raw ``final_answer``), as a model would write it.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from srlm.config import load_params  # noqa: E402
from srlm.data import run_data  # noqa: E402
from srlm.grading import equivalent, gold_options, grade  # noqa: E402
from srlm.io import read_jsonl  # noqa: E402

BENCHMARKS = ["gsm8k", "math500", "aime24", "aime25", "amc23", "minerva_math", "olympiadbench"]
RAW_GOLD = {"aime25": "answer", "amc23": "answer", "olympiadbench": "final_answer"}


def _raw(value) -> str:
    return ", ".join(map(str, value)) if isinstance(value, list) else str(value)


def references(name: str, rows: list[dict], mirror: Path) -> list[str]:
    """One reference completion per normal-form row (see the module doc)."""
    if name not in RAW_GOLD:
        return [r["cot"] for r in rows]
    raw = [json.loads(line) for line in (mirror / name / "test.jsonl").open()]
    field = RAW_GOLD[name]
    return [f"So the final answer is $\\boxed{{{_raw(r[field]).replace('$', '')}}}$." for r in raw]


def load(mirror: Path, work: Path) -> dict[str, list[dict]]:
    params = load_params(REPO / "params" / "paper.yaml", {"workdir": str(work), "mirror": str(mirror)})
    out = {}
    for name in BENCHMARKS:
        run_data(params, name, work / name)
        out[name] = read_jsonl(work / name / "test.jsonl", required=("id", "answer"))
    return out


def agreement(name: str, rows: list[dict], refs: list[str], seed: int = 0) -> dict:
    """Own-gold accuracy with the misses, and shuffled-gold false positives with the hits."""
    own = [grade(c, r["answer"], **gold_options(r))["correct"] for c, r in zip(refs, rows)]
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    pairs = [(i, j) for i, j in enumerate(order)
             if i != j and not equivalent(rows[j]["answer"], rows[i]["answer"], **gold_options(rows[i]))]
    false = [rows[i]["id"] for i, j in pairs
             if grade(refs[i], rows[j]["answer"], **gold_options(rows[j]))["correct"]]
    return {"benchmark": name, "n": len(rows), "own_right": sum(own),
            "own_pct": round(100 * sum(own) / len(rows), 2),
            "misses": [r["id"] for r, ok in zip(rows, own) if not ok],
            "shuffled_pairs": len(pairs), "false_positives": false}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mirror", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = load(args.mirror, Path(tmp))
    results = [agreement(n, rows, references(n, rows, args.mirror)) for n, rows in data.items()]
    print("| benchmark | n | reference vs own gold | misses | shuffled pairs | false positives |")
    print("|---|---:|---:|---|---:|---:|")
    for r in results:
        print(f"| {r['benchmark']} | {r['n']} | {r['own_pct']:.2f}% | {', '.join(r['misses']) or '-'} "
              f"| {r['shuffled_pairs']} | {len(r['false_positives'])} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
