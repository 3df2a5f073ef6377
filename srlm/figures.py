"""Figures of the tables and the report: bars grouped by model, one colour per method throughout,
with 95% intervals; learning curves of every training stage from its ``train_log.json``."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING

from .config import Params
from .io import read_json
from .paths import INIT, Paths

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PALETTE = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c",
           "#ccb974", "#64b5cd"]
LINESTYLES = ["-", "--", ":", "-."]
GRPO_CURVES = {"reward": "reward", "frac_reward_zero_std": "fraction of zero-std groups",
               "completions/mean_length": "completion length (tokens)", "entropy": "entropy"}


def method_colours(params: Params) -> dict[str, str]:
    """One colour per method (``none`` = untrained), in table order, the same in every figure."""
    methods = ["none", *params.tables.table2, *params.tables.table3]
    methods += [p for p in params.pipelines() if p not in methods]
    return {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.fonttype": "none", "svg.hashsalt": "srlm", "font.size": 9})
    return plt


def save(fig: Figure, out: Path | None = None, fmt: str = "svg") -> bytes:
    """The figure's bytes (written to ``out`` when given); closes it."""
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=110, metadata={"Date": None} if fmt == "svg" else None)
    _plt().close(fig)
    data = buf.getvalue()
    if out is not None:
        from .io import atomic_path

        with atomic_path(out) as tmp:
            tmp.write_bytes(data)
    return data


def grouped_bars(df, benches: list[str], colours: dict[str, str], title: str) -> Figure:
    """One panel per benchmark: a group of bars per model, a colour per method, 95% intervals."""
    plt = _plt()
    models = list(dict.fromkeys(df["model"]))
    methods = list(dict.fromkeys(df["pipeline"]))
    cols = min(len(benches), 3)
    rows = -(-len(benches) // cols)
    width = 0.8 / len(methods)
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.5, 1.1 * len(df) + 1.5) * cols, 3.6 * rows),
                             squeeze=False)
    for ax, bench in zip(axes.flat, benches):
        for j, method in enumerate(methods):
            sub = df[df["pipeline"] == method]
            xs = [models.index(m) - 0.4 + width * (j + 0.5) for m in sub["model"]]
            err = [sub[bench] - sub[f"{bench}_lo"], sub[f"{bench}_hi"] - sub[bench]]
            ax.bar(xs, sub[bench], width, yerr=err, capsize=2, ecolor="0.25", label=method,
                   color=colours.get(method, "0.5"))
            for x, v, hi in zip(xs, sub[bench], sub[f"{bench}_hi"]):
                ax.text(x, hi + 1, f"{v:.1f}", ha="center", fontsize=6)
        ax.set_xticks(range(len(models)), models)
        ax.set_ylim(0, 105)
        ax.set_ylabel(f"{bench} accuracy (%)")
        ax.set_title(f"{title}: {bench}")
    for ax in list(axes.flat)[len(benches):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, ncols=min(len(methods), 4), loc="upper left", frameon=False)
    fig.tight_layout()
    return fig


def _history(model_dir: Path) -> list[dict]:
    log = model_dir / "train_log.json"
    return read_json(log).get("log_history", []) if log.is_file() else []


def _curve(history: list[dict], key: str) -> tuple[list[float], list[float]]:
    points = [(e["step"], e[key]) for e in history if key in e and "step" in e]
    return [p[0] for p in points], [p[1] for p in points]


def stage_logs(params: Params, paths: Paths) -> dict[tuple[str, str], list[dict]]:
    """Each training stage's per-step log (starting models' own training included), by (model,
    pipeline); stages without a log (hub models, not yet trained) are left out."""
    out = {}
    for model in params.models:
        for pipeline in [INIT, *(params.pipelines() if model in params.students else [])]:
            history = _history(paths.model(model, pipeline))
            if history:
                out[model, pipeline] = history
    return out


def loss_curves(params: Params, logs: dict, colours: dict[str, str]) -> Figure | None:
    """Training loss: a panel for the starting models, one per student, a colour per method."""
    plt = _plt()
    panels = [("starting models", [(m, INIT) for m in params.models if (m, INIT) in logs])]
    panels += [(params.models[s].label or s, [(s, p) for p in params.pipelines() if (s, p) in logs])
               for s in params.students]
    panels = [p for p in panels if p[1]]
    if not panels:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 3.4), squeeze=False)
    for ax, (title, keys) in zip(axes[0], panels):
        for i, (model, pipeline) in enumerate(keys):
            steps, loss = _curve(logs[model, pipeline], "loss")
            label, colour = (model, PALETTE[i % len(PALETTE)]) if pipeline == INIT else \
                (pipeline, colours.get(pipeline, "0.5"))
            ax.plot(steps, loss, color=colour, label=label, marker=".", markersize=3)
        ax.set_title(f"loss: {title}")
        ax.set_xlabel("step")
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def grpo_curves(params: Params, logs: dict, colours: dict[str, str]) -> Figure | None:
    """GRPO stages: reward, zero-std groups, completion length, entropy (where logged)."""
    plt = _plt()
    keys = [(m, p) for (m, p) in logs if p != INIT and p.split("-")[-1] == "rl"]
    metrics = [k for k in GRPO_CURVES if any(_curve(logs[mp], k)[0] for mp in keys)]
    if not keys or not metrics:
        return None
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.0 * len(metrics), 3.4), squeeze=False)
    for ax, metric in zip(axes[0], metrics):
        for model, pipeline in keys:
            steps, values = _curve(logs[model, pipeline], metric)
            style = LINESTYLES[params.students.index(model) % len(LINESTYLES)]
            ax.plot(steps, values, style, color=colours.get(pipeline, "0.5"), marker=".", markersize=3,
                    label=f"{params.models[model].label or model} / {pipeline}")
        ax.set_title(f"GRPO: {GRPO_CURVES[metric]}")
        ax.set_xlabel("step")
    axes[0][0].legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig
