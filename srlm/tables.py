"""The tables stage: ``results/table{1,2,3}.csv`` with a Markdown rendering and a bar chart each.

- table 1: the models before any training (students and the teacher);
- table 2: each method alone (``tables.table2`` pipelines) for every student, beside its start;
- table 3: hybrids (``tables.table3``) for every student, beside its start.
Cells are accuracy (%) on each benchmark of ``eval.benchmarks`` with its 95% Wilson interval
(``*_lo``, ``*_hi``); ``delta_*`` is the change from the untrained model on the same benchmark and
``p_*`` the two-sided p-value of that change, paired over the same problems (:func:`paired_p`), so a
reader can tell a method's effect from evaluation noise.
"""

from __future__ import annotations

import random
from collections import defaultdict
from math import comb
from pathlib import Path

from .config import Params
from .io import atomic_path, read_json, read_jsonl, write_text
from .paths import INIT, Paths, table_runs

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
        rows.append(row)
    return rows


def _p(value: float) -> str:
    return "<0.001" if value < 0.001 else f"{value:.3f}".rstrip("0").rstrip(".")


def markdown(df, benches: list[str]) -> str:
    """Accuracy with its 95% interval; the change from the untrained model with its paired p."""
    shown = df[["model", "pipeline"]].copy()
    for b in benches:
        shown[f"{b} (95% CI)"] = [f"{a:.1f} [{lo:.1f}, {hi:.1f}]"
                                  for a, lo, hi in zip(df[b], df[f"{b}_lo"], df[f"{b}_hi"])]
        if f"delta_{b}" in df:
            shown[f"Δ {b} (p)"] = ["" if p == "none" else f"{d:+.1f} ({_p(pv)})"
                                   for p, d, pv in zip(df["pipeline"], df[f"delta_{b}"], df[f"p_{b}"])]
    return shown.to_markdown(index=False)


def _plot(df, benches: list[str], title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{m}\n{p}" for m, p in zip(df["model"], df["pipeline"])]
    fig, axes = plt.subplots(1, len(benches), figsize=(max(6, 0.9 * len(df)) * len(benches), 4.5),
                             squeeze=False)
    for ax, bench in zip(axes[0], benches):
        err = [df[bench] - df[f"{bench}_lo"], df[f"{bench}_hi"] - df[bench]]
        ax.bar(range(len(df)), df[bench], yerr=err, capsize=3, ecolor="0.3",
               color=[f"C{i % 10}" for i in range(len(df))])
        ax.set_xticks(range(len(df)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel(f"{bench} accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"{title}: {bench}")
        for i, (v, hi) in enumerate(zip(df[bench], df[f"{bench}_hi"])):
            ax.text(i, hi + 1, f"{v:.1f}", ha="center", fontsize=7)
    fig.tight_layout()
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)


TITLES = {1: "Table 1: models before training", 2: "Table 2: each method alone",
          3: "Table 3: hybrid pipelines"}


def write_table(params: Params, paths: Paths, n: int) -> Path:
    import pandas as pd

    df = pd.DataFrame(table_rows(params, paths, n))
    benches = params.eval.benchmarks
    write_text(paths.table(n, "csv"), df.to_csv(index=False))
    note = "Accuracy (%) with its 95% Wilson interval."
    if n > 1:
        note += (" Δ: the change from the untrained model, with the two-sided p-value of a paired test"
                 " over the same problems (McNemar's exact test for greedy answers, a sign-flip"
                 " permutation test for sampled avg@k).")
    md = f"# {TITLES[n]} (profile {params.profile})\n\n{markdown(df, benches)}\n\n{note}\n"
    write_text(paths.table(n, "md"), md)
    _plot(df, benches, TITLES[n].split(":")[0], paths.table(n, "png"))
    return paths.table(n, "csv")
