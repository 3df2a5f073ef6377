"""The report stage: ``results/{profile}/report.html``, one self-contained page a profile's run ends in.

It holds the three tables (accuracy with 95% intervals, change and paired p) with bar charts grouped
by model, one colour per method throughout; published counterparts and our delta
(:mod:`srlm.published`); the learning curves of every training stage (``train_log.json``: the
per-step log TRL also writes to TensorBoard under ``runs/``); the evaluation protocol of every
metrics JSON; the cost of each cell and every job (:mod:`srlm.cost`). Figures are SVG data URIs and
there is no script: the page opens offline in any browser. The Snakefile also flags it and the
tables with ``report()``, so ``snakemake --report`` bundles them in Snakemake's own report.
"""

from __future__ import annotations

import base64
import datetime
import json
from html import escape
from pathlib import Path

from . import __version__, published
from .config import Params
from .cost import PREFIX, job_costs
from .figures import grouped_bars, grpo_curves, loss_curves, method_colours, save, stage_logs
from .io import read_json, write_text
from .paths import INIT, Paths
from .stages import table_runs
from .tables import TITLES

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1200px;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.6em 0 1.2em;font-size:13px}th,td{border:1px solid #ccc;
padding:3px 7px;text-align:left;vertical-align:top}th{background:#f2f2f2}td.n{text-align:right}
figure{margin:.5em 0 1.5em}img{max-width:100%}figcaption{color:#555;font-size:12px}
code{background:#f4f4f4;padding:0 3px}.note{color:#555;font-size:12px}
.row{display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start}"""


def report_path(params: Params, results: str | Path = "results") -> Path:
    return Path(results) / params.profile / "report.html"


def _img(data: bytes, alt: str, caption: str) -> str:
    uri = "data:image/svg+xml;base64," + base64.b64encode(data).decode()
    return (f'<figure><img src="{uri}" alt="{escape(alt)}">'
            f"<figcaption>{escape(caption)}</figcaption></figure>")


def _table(header: list[str], rows: list[list], cls: str = "") -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(
        f'<td class="n">{escape(str(c))}</td>' if isinstance(c, (int, float)) else f"<td>{c}</td>"
        for c in row) + "</tr>" for row in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _fmt(value, digits: int = 1) -> str:
    if value != value:  # NaN: not measured
        return "–"
    return f"{value:,.{digits}f}" if isinstance(value, float) and digits else f"{value:,.0f}"


def _results(params: Params, n: int, df, colours: dict[str, str]) -> str:
    benches = params.eval.benchmarks
    header = ["model", "pipeline"]
    for b in benches:
        header += [f"{b} % [95% CI]"] + ([f"Δ {b} (p)"] if f"delta_{b}" in df else [])
    rows = []
    for _, r in df.iterrows():
        row = [escape(str(r["model"])), escape(str(r["pipeline"]))]
        for b in benches:
            row.append(f"{r[b]:.1f} [{r[f'{b}_lo']:.1f}, {r[f'{b}_hi']:.1f}]")
            if f"delta_{b}" in df:
                row.append("" if r["pipeline"] == "none" else f"{r[f'delta_{b}']:+.1f} ({r[f'p_{b}']:.3g})")
        rows.append(row)
    fig = save(grouped_bars(df, benches, colours, TITLES[n].split(":")[0]))
    return (f'<h3 id="table{n}">{escape(TITLES[n])}</h3><div class="row">' + _table(header, rows, "results")
            + _img(fig, f"bar chart of table {n}", "Accuracy by model, one colour per method; error "
                   "bars: 95% Wilson intervals over problems.") + "</div>")


def _published(refs: list[dict]) -> str:
    if not refs:
        return ('<p class="note">No cell of this profile has a published counterpart in '
                f"<code>{escape(str(published.REFERENCES.name))}</code> (they are matched on the models'"
                " hub ids: the paper profile's Qwen2.5-0.5B and -Instruct).</p>")
    rows = [[escape(r["label"]), escape(r["pipeline"]), escape(r["benchmark"]), r["ours"], r["score"],
             f"{r['delta']:+.1f}", escape(r["method"]), escape(r["protocol_text"]),
             f'<a href="{escape(r["url"])}">{escape(r["title"])}</a>'] for r in refs]
    return _table(["model", "pipeline", "benchmark", "ours", "published", "Δ ours − published",
                   "their method", "their protocol", "source"], rows, "published")


def _protocols(params: Params, paths: Paths, runs: list[tuple[str, str]]) -> str:
    groups: dict[tuple[str, str], dict[str, list[str]]] = {}
    grading = None
    for model, pipeline in runs:
        for b in params.eval.benchmarks:
            path = paths.eval(model, pipeline, b)
            if not path.is_file():
                continue
            proto = dict(read_json(path)["protocol"])
            grading = proto.pop("grading", grading)
            proto.pop("few_shot_ids", None)
            cells = groups.setdefault((b, json.dumps(proto, sort_keys=True)), {})
            cells.setdefault(params.models[model].label or model, []).append(
                "none" if pipeline == INIT else pipeline)
    rows = []
    for (bench, text), cells in groups.items():
        p = json.loads(text)
        prompt = p.get("system_prompt") or p.get("prompt_format") or ""
        shown = "; ".join(f"{m}: {', '.join(pipes)}" for m, pipes in cells.items())
        rows.append([escape(bench), escape(shown), escape(p.get("decoding", "")),
                     f"T {p.get('temperature')}, top_p {p.get('top_p')}, k {p.get('k')}",
                     escape(str(p.get("seeds"))), p.get("max_new_tokens", ""), p.get("few_shot", ""),
                     escape(p.get("template", "")), f"<code>{escape(prompt)}</code>",
                     escape(", ".join(map(repr, p.get("stop_strings", [])))), escape(p.get("backend", "")),
                     escape(p.get("interval", ""))])
    out = _table(["benchmark", "cells", "decoding", "sampling", "seeds", "max new tokens", "few-shot",
                  "template", "prompt", "stop strings", "backend", "interval"], rows, "protocol")
    if grading:
        out += "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>"
                                for k, v in grading.items()) + "</dl>"
    return out


def _cost(paths: Paths, cells: list[tuple[str, str, dict]]) -> str:
    cols = [c for c in cells[0][2] if c.startswith(PREFIX)] if cells else []
    rows = [[escape(label), escape(pipe), *(_fmt(r[c], 4 if c.endswith("_h") else 1 if c.endswith("_s")
                                                  else 0) for c in cols)] for label, pipe, r in cells]
    jobs = job_costs(paths)
    wall = sum(j["s"] for _, j in jobs)
    cpu = sum(j.get("cpu_time", 0) or 0 for _, j in jobs)
    peak = max((j["max_rss"] for _, j in jobs), default=float("nan"))
    line = (f"<p>All {len(jobs)} jobs with a benchmark file: {_fmt(wall)} s of jobs "
            f"({wall / 3600:.3f} h), {cpu / 3600:.3f} CPU-hours, peak RSS {_fmt(peak, 0)} MB.</p>")
    job_rows = [[escape(name), _fmt(j["s"]), _fmt(j.get("cpu_time", float("nan"))), _fmt(j["max_rss"], 0)]
                for name, j in jobs]
    return (line + _table(["model", "pipeline", *(c[len(PREFIX):] for c in cols)], rows, "cost")
            + "<details><summary>every job (Snakemake benchmark files)</summary>"
            + _table(["job", "wall s", "CPU s", "peak RSS MB"], job_rows, "jobs") + "</details>"
            + '<p class="note">A cell: its training jobs (every stage of its chain; for <i>none</i> the'
            " job that built or fetched the model) and its evaluation job. Shared jobs (data, tokenizer,"
            " teacher traces) are in the job list only. Tokens trained: TRL's num_tokens (prompt and"
            " completion, GRPO rollouts included); tokens generated: evaluation completions. Peak"
            " memory is host RSS (GPU memory is not recorded).</p>")


def build_report(params: Params, paths: Paths, params_file: str = "") -> str:
    import pandas as pd

    colours = method_colours(params)
    data = published.load_references() if published.REFERENCES.is_file() else {"references": []}
    parts, refs, cells, seen = [], [], [], set()
    for n in (1, 2, 3):
        df = pd.read_csv(paths.table(n, "csv"))
        parts.append(_results(params, n, df, colours))
        cost = pd.read_csv(paths.table(n, "cost.csv"))  # every cost column, wall-clock ones included
        df = df.drop(columns=[c for c in df if c.startswith(PREFIX)]).join(
            cost.drop(columns=["model", "pipeline"]))
        for (model, pipeline), (_, r) in zip(table_runs(params, n), df.iterrows()):
            if (model, pipeline) not in seen:  # a cell once, though tables 2 and 3 repeat the start
                seen.add((model, pipeline))
                cells.append((str(r["model"]), str(r["pipeline"]), r.to_dict()))
                ours = {b: r[b] for b in params.eval.benchmarks}
                refs += published.counterparts(params, model, pipeline, ours, data)
    logs = stage_logs(params, paths)
    curves = [(f, cap) for f, cap in (
        (loss_curves(params, logs, colours), "Training loss per logged step, every stage."),
        (grpo_curves(params, logs, colours), "GRPO stages (line style: student)."))
        if f is not None]
    all_runs = list(dict.fromkeys(run for n in (1, 2, 3) for run in table_runs(params, n)))
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    summary = (f"Profile <b>{escape(params.profile)}</b> ({escape(params_file)}), device "
               f"{escape(params.device)}, students {escape(', '.join(params.students))}, teacher "
               f"{escape(params.teacher)}, benchmarks {escape(', '.join(params.eval.benchmarks))}; "
               f"srlm {__version__}, {now}.")
    body = [f"<h1>srlm report: {escape(params.profile)}</h1><p>{summary}</p>",
            '<h2 id="tables">Results</h2>', *parts,
            '<h2 id="published">Published numbers beside ours</h2>', _published(refs),
            '<h2 id="curves">Learning curves</h2>',
            *([_img(save(f), cap, cap) for f, cap in curves] or ['<p class="note">No training logs.</p>']),
            '<h2 id="protocol">Evaluation protocol</h2>', _protocols(params, paths, all_runs),
            '<h2 id="cost">Cost of each cell</h2>', _cost(paths, cells)]
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>srlm report: '
            f"{escape(params.profile)}</title><style>{CSS}</style></head><body>"
            + "\n".join(body) + "</body></html>\n")


def write_report(params: Params, paths: Paths, out: Path, params_file: str = "") -> Path:
    write_text(out, build_report(params, paths, params_file))
    return out
