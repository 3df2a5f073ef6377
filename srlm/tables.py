"""The tables stage: ``results/table{1,2,3}.csv`` with a Markdown rendering and a bar chart each.

- table 1: the models before any training (students and the teacher);
- table 2: each method alone (``tables.table2`` pipelines) for every student, beside its start;
- table 3: hybrids (``tables.table3``) for every student, beside its start.
Cells are accuracy (%) on each benchmark of ``eval.benchmarks``; ``delta_*`` is the change from the
untrained model on the same benchmark.
"""

from __future__ import annotations

from pathlib import Path

from .config import Params
from .io import atomic_path, read_json, write_text
from .paths import INIT, Paths, table_runs


def _row(params: Params, paths: Paths, model: str, pipeline: str) -> dict:
    spec = params.models[model]
    row = {"model": spec.label or model, "pipeline": "none" if pipeline == INIT else pipeline}
    for bench in params.eval.benchmarks:
        metrics = read_json(paths.eval(model, pipeline, bench))
        row[bench] = round(metrics["accuracy"], 2)
        row[f"{bench}_n"] = metrics["n"]
    return row


def table_rows(params: Params, paths: Paths, n: int) -> list[dict]:
    rows, start = [], {}
    for model, pipeline in table_runs(params, n):
        row = _row(params, paths, model, pipeline)
        if n > 1:
            start = row if pipeline == INIT else start
            for b in params.eval.benchmarks:
                row[f"delta_{b}"] = round(row[b] - start[b], 2)
        rows.append(row)
    return rows


def _plot(df, benches: list[str], title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = [f"{m}\n{p}" for m, p in zip(df["model"], df["pipeline"])]
    fig, axes = plt.subplots(1, len(benches), figsize=(max(6, 0.9 * len(df)) * len(benches), 4.5),
                             squeeze=False)
    for ax, bench in zip(axes[0], benches):
        ax.bar(range(len(df)), df[bench], color=[f"C{i % 10}" for i in range(len(df))])
        ax.set_xticks(range(len(df)), labels, rotation=60, ha="right", fontsize=8)
        ax.set_ylabel(f"{bench} accuracy (%)")
        ax.set_ylim(0, 100)
        ax.set_title(f"{title}: {bench}")
        for i, v in enumerate(df[bench]):
            ax.text(i, v + 1, f"{v:.1f}", ha="center", fontsize=7)
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
    shown = df[[c for c in df.columns if not c.endswith("_n")]]
    md = f"# {TITLES[n]} (profile {params.profile})\n\n{shown.to_markdown(index=False)}\n"
    write_text(paths.table(n, "md"), md)
    _plot(df, benches, TITLES[n].split(":")[0], paths.table(n, "png"))
    return paths.table(n, "csv")
