"""``srlm plan``: every job of a profile with its estimated time and memory, and the totals.

The jobs and their dependencies are the graph's (:func:`srlm.stages.jobs`, the Snakefile's and
``dvc.yaml``'s). A job's estimate is its benchmark file from a previous
run (``{workdir}/benchmarks/``) when there is one, else a measured rate (``bench/rates.yaml``, by
device) times its work (examples, or completion tokens at their limit: an upper bound). Totals: the
sum of job times, and the wall time on one GPU and on a SLURM cluster of N GPUs, by list scheduling
over the graph (longest path first); on the CPU profile a "GPU" is a job slot (a core).
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .config import Params, TrainSpec, parse_pipeline
from .cost import read_benchmark
from .io import read_json
from .paths import Paths
from .stages import STAGES, job_name, jobs

RATES = Path(__file__).resolve().parents[1] / "bench" / "rates.yaml"
CPU_RULES = {name for name, stage in STAGES.items() if stage.resources == "cpu"}


@dataclass
class Job:
    name: str
    rule: str
    args: dict[str, str]
    deps: set[str] = field(default_factory=set)
    seconds: float = 0.0
    mem_mb: float = math.nan
    source: str = ""
    where: str = ""


def graph(params: Params, params_file: str) -> list[Job]:
    """The profile's jobs in graph order (:func:`srlm.stages.jobs`), each with the jobs whose
    outputs it reads."""
    out, producer = [], {}
    for stage, wc in jobs(params):
        job = Job(job_name(stage, wc), stage.name, dict(wc), where=stage.where(wc))
        for dep in map(str, stage.input_paths(params, wc)):
            job.deps |= {n for o, n in producer.items() if dep == o or dep.startswith(o + "/")}
        producer |= {str(p): job.name for p in stage.output_paths(params, wc)}
        out.append(job)
    return out


def benchmark_file(paths: Paths, job: Job) -> Path:
    return paths.root / "benchmarks" / f"{job.where}.tsv"


def split_size(params: Params, paths: Paths, dataset: str, split: str, sizes: dict) -> int:
    manifest = paths.data(dataset) / "manifest.json"
    if manifest.is_file():
        return read_json(manifest)["splits"].get(split, 0)
    if params.datasets[dataset].kind == "tinyworld":
        w = params.tinyworld
        return round(w.n_train * (1 - params.val_fraction)) if split == "train" else w.n_test
    return sizes.get(dataset, {}).get(split, 0)


def _steps(spec: TrainSpec, examples: int, per_step: float) -> int:
    return spec.max_steps if spec.max_steps > 0 else math.ceil(spec.epochs * examples / per_step)


def work(params: Params, paths: Paths, job: Job, sizes: dict) -> tuple[str, float]:
    """The rate key a job is estimated with and its units of work (0 for fixed-time jobs)."""
    gpus = max(1, params.resources["gpu"].gpus) if "gpu" in params.resources else 1
    train_rows = split_size(params, paths, params.train_data, "train", sizes)
    if job.rule == "model" and params.models[job.args["model"]].source == "tiny":
        spec, tiny = params.models[job.args["model"]], params.tiny
        t = tiny.teacher_train if spec.role == "teacher" else \
            tiny.instruct if spec.init_from else tiny.pretrain
        return "model", t.max_steps * t.batch_size * t.grad_accum
    if job.rule == "train":
        stage = parse_pipeline(job.args["pipeline"])[-1]
        if stage == "rl":
            t, rl = params.rl.train, params.rl
            per_step = t.batch_size * t.grad_accum * gpus  # completions a step
            steps = _steps(t, train_rows, per_step / rl.num_generations)
            return "grpo", steps * per_step * rl.max_completion_length
        t = {"sft": params.sft.full, "lora": params.sft.lora, "kd": params.kd.train}[stage]
        rows = train_rows
        if stage == "kd":
            tr = params.traces
            rows = (split_size(params, paths, tr.dataset, "train", sizes) if tr.source == "camel" else
                    (tr.n_questions if tr.n_questions > 0 else train_rows) * tr.keep_per_question)
        per_step = t.batch_size * t.grad_accum * gpus
        return "train", _steps(t, rows, per_step) * per_step
    if job.rule == "eval":
        tokens = 0
        for b in params.eval.benchmarks:
            limit = params.eval.limit_for(b)
            n = split_size(params, paths, params.eval.dataset_of(b), "test", sizes)
            s = params.eval.sampling_for(b)
            samples = s.k * len(s.seeds) if s else 1
            tokens += (min(limit, n) if limit > 0 else n) * samples * params.eval.max_new_tokens
        return "eval", tokens
    if job.rule == "teacher" and params.traces.source == "generate":
        tr = params.traces
        questions = tr.n_questions if tr.n_questions > 0 else train_rows
        return "teacher", questions * tr.samples * tr.max_new_tokens
    return job.rule, 0


def estimate(params: Params, params_file: str, overrides: dict | None = None) -> list[Job]:
    """The jobs with their estimated seconds, memory and where each estimate comes from;
    ``overrides``: rates (rate key -> rate) replacing bench/rates.yaml's for this device."""
    paths = Paths(params)
    table = yaml.safe_load(RATES.read_text())
    device = "cuda" if params.device == "cuda" else "cpu"
    rates, sizes = {**table[device], **(overrides or {})}, table["sizes"]
    planned = graph(params, params_file)
    for job in planned:
        measured = read_benchmark(benchmark_file(paths, job))
        kind = "cpu" if job.rule in CPU_RULES else "gpu"
        requested = params.resources[kind].mem_mb if kind in params.resources else math.nan
        if measured:
            job.seconds, job.mem_mb = measured["s"], measured["max_rss"]
            job.source = "measured: " + str(benchmark_file(paths, job).relative_to(paths.root))
            continue
        key, units = work(params, paths, job, sizes)
        rate = rates[key]
        job.seconds = rate["seconds"] if "seconds" in rate else rate["startup_s"] + rate["per_unit"] * units
        job.mem_mb = rate["mem_mb"] if rate.get("mem_mb") else requested
        job.source = f"rate: {device}.{key}" + ("" if rate.get("mem_mb") else ", mem requested")
    return planned


def makespan(params: Params, jobs: list[Job], gpus: int) -> float:
    """Wall seconds on ``gpus`` GPUs (CPU profile: job slots), list scheduling, longest path first."""
    per_gpu_job = params.resources["gpu"].gpus if "gpu" in params.resources else 0
    need = {j.name: (1 if per_gpu_job == 0 else 0 if j.rule in CPU_RULES else per_gpu_job) for j in jobs}
    tail: dict[str, float] = {}
    for job in reversed(jobs):  # graph order: dependants come later
        after = [tail[d.name] for d in jobs if job.name in d.deps]
        tail[job.name] = job.seconds + max(after, default=0.0)
    if any(n > gpus for n in need.values()):
        return math.inf
    done: set[str] = set()
    running: list[tuple[float, str]] = []
    started: set[str] = set()
    now, free = 0.0, gpus
    while len(done) < len(jobs):
        ready = sorted((j for j in jobs if j.name not in started and j.deps <= done),
                       key=lambda j: -tail[j.name])
        for job in ready:
            if need[job.name] <= free:
                free -= need[job.name]
                started.add(job.name)
                heapq.heappush(running, (now + job.seconds, job.name))
        now, name = heapq.heappop(running)
        done.add(name)
        free += need[name]
    return now


def _t(seconds: float) -> str:
    if seconds == math.inf:
        return "n/a"
    return f"{seconds:,.0f} s" if seconds < 600 else f"{seconds / 3600:,.2f} h"


def print_plan(params: Params, params_file: str, gpus: int = 1) -> None:
    jobs = estimate(params, params_file)
    measured = sum(j.source.startswith("measured") for j in jobs)
    unit = "GPU" if params.device == "cuda" else "job slot"
    print(f"srlm plan: profile {params.profile} ({params_file}), {len(jobs)} jobs; {measured} estimated "
          f"from a previous run's benchmark files ({params.workdir}/benchmarks), {len(jobs) - measured} "
          f"from measured rates ({RATES.parent.name}/{RATES.name})")
    print(f"{'job':34s} {'time':>10s} {'memory':>9s}  estimated from")
    for j in jobs:
        mem = "–" if math.isnan(j.mem_mb) else f"{j.mem_mb:,.0f} MB"
        print(f"{j.name:34s} {_t(j.seconds):>10s} {mem:>9s}  {j.source}")
    total = sum(j.seconds for j in jobs)
    print(f"total: {_t(total)} of jobs; peak memory of a job "
          f"{max((j.mem_mb for j in jobs if not math.isnan(j.mem_mb)), default=0):,.0f} MB")
    for n in sorted({1, gpus}):
        where = f"one {unit}" if n == 1 else f"SLURM, {n} {unit}s"
        print(f"wall time, {where}: {_t(makespan(params, jobs, n))} (list scheduling over the graph)")
    if measured < len(jobs):
        print("rates: training and evaluation at their token limits (upper bounds); hub downloads and"
              " CAMEL verification assumed (bench/rates.yaml says which)")
