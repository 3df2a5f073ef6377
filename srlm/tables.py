"""The tables stage: ``results/table{1,2,3}.csv`` with a Markdown rendering and a bar chart each.

- table 1: the models before any training (students and the teacher);
- table 2: each method alone (``tables.table2`` pipelines) for every student, beside its start;
- table 3: hybrids (``tables.table3``) for every student, beside its start.
Cells are accuracy (%) on each benchmark of ``eval.benchmarks`` with its 95% Wilson interval over
problems (``*_lo``, ``*_hi``); ``*_k`` and ``*_seeds`` give the samples per problem and seeds
(avg@k), ``*_truncated`` the % of completions cut at the token limit (marked † over 5%);
``delta_*`` is the change from the untrained model on the same benchmark and ``p_*`` the two-sided
p-value of that change, paired over the same problems (:func:`paired_p`), so a reader can tell a
method's effect from evaluation noise.
"""

from __future__ import annotations

import random
from collections import defaultdict
from math import comb
from pathlib import Path

from . import published
from .config import Params
from .cost import PREFIX, cell_cost, is_wall_clock
from .io import read_json, read_jsonl, write_text
from .paths import INIT, Paths
from .stages import table_runs

PERMUTATIONS = 10_000


def problem_scores(samples: Path) -> dict[str, float]:
    """Each problem's score in an evaluation: its fraction of correct samples (0 or 1 when greedy)."""
    scores: dict[str, list[float]] = defaultdict(list)
    for s in read_jsonl(samples, required=("id", "correct")):
        scores[s["id"]].append(float(s["correct"]))
    return {pid: sum(v) / len(v) for pid, v in scores.items()}


def paired_p(before: dict[str, float], after: dict[str, float], seed: int = 0) -> float:
    """Two-sided p-value of "no change in accuracy", paired over the same problems.

    Greedy scores (0/1): McNemar's exact test, a binomial test on the problems only one of the two
    models solves. Sampled scores (avg@k): a sign-flip permutation test on the per-problem
    differences (``PERMUTATIONS`` seeded flips, so the same inputs give the same p).
    """
    if before.keys() != after.keys():
        raise ValueError(f"paired test: the evaluations cover different problems "
                         f"({len(before.keys() ^ after.keys())} not in both)")
    diffs = [after[pid] - before[pid] for pid in sorted(before)]
    changed = [d for d in diffs if d]
    if not changed:
        return 1.0
    if all(abs(d) == 1 for d in changed):
        n, k = len(changed), min(sum(d > 0 for d in changed), sum(d < 0 for d in changed))
        return min(1.0, 2 * sum(comb(n, i) for i in range(k + 1)) / 2 ** n)
    rng = random.Random(seed)
    observed = abs(sum(changed)) - 1e-12
    hits = sum(abs(sum(d if rng.random() < 0.5 else -d for d in changed)) >= observed
               for _ in range(PERMUTATIONS))
    return (hits + 1) / (PERMUTATIONS + 1)


def _row(params: Params, paths: Paths, model: str, pipeline: str) -> dict:
    spec = params.models[model]
    row = {"model": spec.label or model, "pipeline": "none" if pipeline == INIT else pipeline}
    for bench in params.eval.benchmarks:
        metrics = read_json(paths.eval(model, pipeline, bench))
        row[bench] = round(metrics["accuracy"], 2)
        row[f"{bench}_n"] = metrics["n"]
        row[f"{bench}_lo"], row[f"{bench}_hi"] = (round(x, 2) for x in metrics["ci95"])
        proto = metrics.get("protocol", {})
        row[f"{bench}_k"], row[f"{bench}_seeds"] = proto.get("k", 1), len(proto.get("seeds", [0]))
        cut = metrics.get("truncated_fraction", 1 - metrics.get("stopped_fraction", 1.0))
        row[f"{bench}_truncated"] = round(100 * cut, 2)
    return row


def table_rows(params: Params, paths: Paths, n: int) -> list[dict]:
    """Rows of table ``n``; in tables 2 and 3 each row's change from its untrained model, tested."""
    rows, start, start_scores = [], {}, {}
    for model, pipeline in table_runs(params, n):
        row = _row(params, paths, model, pipeline)
        if n > 1:
            if pipeline == INIT:  # the untrained model's row comes first: read its samples once
                start = row
                start_scores = {b: problem_scores(paths.samples(model, INIT, b))
                                for b in params.eval.benchmarks}
            for b in params.eval.benchmarks:
                row[f"delta_{b}"] = round(row[b] - start[b], 2)
                p = 1.0 if pipeline == INIT else paired_p(
                    start_scores[b], problem_scores(paths.samples(model, pipeline, b)))
                row[f"p_{b}"] = float(f"{p:.3g}")
        rows.append({**row, **cell_cost(params, paths, model, pipeline)})  # cost last (srlm.cost)
    return rows


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}".rstrip("0").rstrip(".")


def markdown(df, benches: list[str]) -> str:
    """Accuracy with its 95% interval; the change from the untrained model with its paired p."""
    shown = df[["model", "pipeline"]].copy()
    for b in benches:
        k, seeds = int(df[f"{b}_k"].max()), int(df[f"{b}_seeds"].max())
        how = f"avg@{k}, {seeds} seed{'s' * (seeds > 1)}" if k > 1 else "greedy"
        shown[f"{b} ({how}; 95% CI)"] = [
            f"{a:.1f} [{lo:.1f}, {hi:.1f}]{' †' if cut > 5 else ''}"
            for a, lo, hi, cut in zip(df[b], df[f"{b}_lo"], df[f"{b}_hi"], df[f"{b}_truncated"])]
        if f"delta_{b}" in df:
            shown[f"Δ {b} (p)"] = ["" if p == "none" else f"{d:+.1f} ({_p(pv)})"
                                   for p, d, pv in zip(df["pipeline"], df[f"delta_{b}"], df[f"p_{b}"])]
    return shown.to_markdown(index=False)


def _plot(params: Params, df, benches: list[str], title: str, out: Path) -> None:
    """Bars grouped by model, one colour per method (the report's colours), 95% intervals."""
    from .figures import grouped_bars, method_colours, save

    save(grouped_bars(df, benches, method_colours(params), title), out, fmt="png")


TITLES = {1: "Table 1: models before training", 2: "Table 2: each method alone",
          3: "Table 3: hybrid pipelines"}


def write_table(params: Params, paths: Paths, n: int) -> Path:
    import pandas as pd

    df = pd.DataFrame(table_rows(params, paths, n))
    benches = params.eval.benchmarks
    wall = [c for c in df if is_wall_clock(c)]
    write_text(paths.table(n, "csv"), df.drop(columns=wall).to_csv(index=False))
    write_text(paths.table(n, "cost.csv"),
               df[["model", "pipeline", *(c for c in df if c.startswith(PREFIX))]].to_csv(index=False))
    note = ("Accuracy (%) with its 95% Wilson interval, the problem as the unit (avg@k: a problem's"
            " score is its share of right samples). †: more than 5% of completions hit the token"
            " limit (`*_truncated` in the CSV).")
    if n > 1:
        note += (" Δ: the change from the untrained model, with the two-sided p-value of a paired test"
                 " over the same problems (McNemar's exact test for greedy answers, a sign-flip"
                 " permutation test for sampled avg@k).")
    md = f"# {TITLES[n]} (profile {params.profile})\n\n{markdown(df, benches)}\n\n{note}\n"
    md += published.markdown_section(params, table_runs(params, n), df)  # empty without counterparts
    write_text(paths.table(n, "md"), md)
    _plot(params, df, benches, TITLES[n].split(":")[0], paths.table(n, "png"))
    return paths.table(n, "csv")
