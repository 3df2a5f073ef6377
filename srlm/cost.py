"""The cost of each cell: wall time, device hours, tokens, peak memory of the jobs that made it.

A cell (model x pipeline) is made by its training jobs (every stage of the chain; for ``none`` the
job that built or fetched the model) and its evaluation job. Times and memory come from the Snakemake
``benchmark:`` files (``{workdir}/benchmarks/``), tokens from the training logs (TRL's cumulative
``num_tokens``, prompt and completion tokens, GRPO rollouts included) and the evaluation's metrics
(completion tokens generated). Jobs shared by several cells (data, tokenizer, teacher traces) are
not charged to a cell; :func:`job_costs` lists every job. What is missing (a DVC run writes no
benchmark files) is left empty. Wall-clock columns differ run to run: compare results with
:func:`drop_cost`.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

from .config import Params, parse_pipeline
from .io import read_json
from .paths import INIT, Paths

PREFIX = "cost_"
WALL_CLOCK = ("train_s", "eval_s", "cpu_h", "gpu_h", "peak_rss_mb")
"""Cost columns that differ from run to run: kept out of the tables (``table{n}.cost.csv`` holds every
cost column), so the same seeds give byte-identical tables."""


def is_wall_clock(column: str) -> bool:
    return column.startswith(PREFIX) and column[len(PREFIX):] in WALL_CLOCK


def read_benchmark(path: Path) -> dict[str, float] | None:
    """A Snakemake benchmark TSV's first row (``s``, ``max_rss`` MB, ``cpu_time`` s, ...), or None."""
    if not path.is_file():
        return None
    with path.open() as f:
        row = next(csv.DictReader(f, delimiter="\t"), None)
    if row is None:
        return None
    out = {}
    for key, value in row.items():
        try:
            out[key] = float(value)
        except (TypeError, ValueError):
            out[key] = math.nan
    return out


def device_hours_column(params: Params) -> str:
    """``cost_gpu_h`` on a GPU profile, ``cost_cpu_h`` (measured CPU time) on the CPU profile."""
    return f"{PREFIX}gpu_h" if params.device == "cuda" else f"{PREFIX}cpu_h"


def _gpus(params: Params) -> int:
    spec = params.resources.get("gpu")
    return max(1, spec.gpus) if spec else 1


def chain(pipeline: str) -> list[str]:
    """The pipelines a cell's model went through: ``sft-kd-rl`` -> ``sft``, ``sft-kd``, ``sft-kd-rl``."""
    if pipeline == INIT:
        return [INIT]
    stages = parse_pipeline(pipeline)
    return ["-".join(stages[:i]) for i in range(1, len(stages) + 1)]


def tokens_trained(model_dir: Path) -> float | None:
    """Tokens a training stage consumed, as last logged (TRL's cumulative ``num_tokens``); None where
    it logged none (``chunked_lm_head: false`` swaps TRL's loss, and its token count with it)."""
    log = model_dir / "train_log.json"
    if not log.is_file():
        return None
    counts = [e["num_tokens"] for e in read_json(log).get("log_history", []) if "num_tokens" in e]
    return counts[-1] if counts else None


def _sum(values: list[float | None]) -> float:
    present = [v for v in values if v is not None and not math.isnan(v)]
    return sum(present) if present else math.nan


def _int(value: float) -> float | int:
    return value if math.isnan(value) else round(value)


def cell_cost(params: Params, paths: Paths, model: str, pipeline: str) -> dict[str, float]:
    """The ``cost_*`` columns of one cell (NaN where a file is missing)."""
    bench = paths.root / "benchmarks"
    if pipeline == INIT:
        train_jobs, models = [bench / "model" / f"{model}.tsv"], [paths.model(model)]
    else:
        train_jobs = [bench / "train" / model / f"{p}.tsv" for p in chain(pipeline)]
        models = [paths.model(model, p) for p in chain(pipeline)]
    train = [read_benchmark(p) for p in train_jobs]
    ev = read_benchmark(bench / "eval" / model / f"{pipeline}.tsv")
    jobs = [j for j in [*train, ev] if j]
    complete = len(jobs) == len(train) + 1
    train_s = sum(j["s"] for j in train) if all(train) else math.nan
    eval_s = ev["s"] if ev else math.nan
    if not complete:
        hours = math.nan
    elif params.device == "cuda":  # GPUs held for the jobs' wall time
        hours = (train_s + eval_s) * _gpus(params) / 3600
    else:  # CPU time measured by Snakemake
        hours = _sum([j.get("cpu_time") for j in jobs]) / 3600
    generated = 0.0
    for b in params.eval.benchmarks:
        path = paths.eval(model, pipeline, b)
        if path.is_file():
            m = read_json(path)
            generated += m.get("mean_new_tokens", 0.0) * m.get("samples", 0)
    trained = [tokens_trained(d) for d in models]
    return {
        f"{PREFIX}train_s": round(train_s, 1),
        f"{PREFIX}eval_s": round(eval_s, 1),
        device_hours_column(params): float(f"{hours:.4g}"),
        f"{PREFIX}tokens_trained": _int(sum(trained)) if None not in trained else math.nan,
        f"{PREFIX}tokens_generated": round(generated),
        f"{PREFIX}peak_rss_mb": _int(max(j["max_rss"] for j in jobs)) if jobs else math.nan,
    }


def job_costs(paths: Paths) -> list[tuple[str, dict[str, float]]]:
    """Every job's benchmark record, by job (``train/base/sft``), in path order."""
    root = paths.root / "benchmarks"
    out = []
    for path in sorted(root.rglob("*.tsv")):
        record = read_benchmark(path)
        if record:
            out.append((str(path.relative_to(root).with_suffix("")), record))
    return out


def drop_cost(csv_text: str) -> str:
    """A table CSV without its ``cost_*`` columns: what two runs with the same seeds agree on."""
    rows = list(csv.reader(io.StringIO(csv_text)))
    keep = [i for i, name in enumerate(rows[0]) if not name.startswith(PREFIX)] if rows else []
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([row[i] for i in keep] for row in rows)
    return out.getvalue()
