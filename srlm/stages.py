"""The study's stages, declared once: command, inputs, outputs, the params each reads, resources.

The Snakefile's rules, ``dvc.yaml`` (:mod:`srlm.dvcgen`), ``srlm plan`` and the CLI all derive from
:data:`STAGES`. A stage's ``reads`` are the params keys its code may read: the CLI hands it a
:class:`~srlm.view.ParamsView` of exactly those keys (any other read is an error), and the same keys
give its Snakemake rerun digest, its ``dvc.yaml`` params and its resume fingerprint.

:data:`STRUCTURE` keys (names of the graph's nodes, where outputs go) are readable by every stage
and enter no digest: a change to them changes which jobs exist or which files they read, which
Snakemake and DVC see as changed inputs and outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from .config import Params, digest, parse_pipeline
from .paths import INIT, Paths
from .view import ParamsView

STRUCTURE = ("profile", "workdir", "students", "teacher", "train_data")
RUNTIME = ("seed", "device", "threads", "cpu_numerics")
"""Read by every computing stage's set-up (:func:`srlm.runtime.setup`): they can change its bytes."""

GRAPH = ("resources", "tables", "eval.benchmarks", "models", "distributed")
"""Read by the graph itself (which jobs exist, what they ask the scheduler for), besides stages."""

TRAIN_READS = {"sft": ["sft.full", "train_defaults"], "lora": ["sft.lora", "sft.lora_adapter",
                                                               "train_defaults"],
               "kd": ["kd", "train_defaults"], "rl": ["rl", "eval.base_prompt", "train_defaults"]}
"""Params sections each training stage reads besides :data:`RUNTIME` and the common ones."""

Kind = Literal["dir", "file", "metric", "git"]
"""An output's kind: a DVC-cached directory or file, a metric (Git-tracked JSON), or another
Git-tracked file (samples, tables)."""


@dataclass(frozen=True)
class Out:
    path: Path
    kind: Kind = "file"


@dataclass(frozen=True)
class Stage:
    """A stage: its CLI subcommand (``srlm NAME --WILDCARD VALUE ...``) and how it maps to files.

    Each function takes the params and the wildcards (``{"model": "base", ...}``)."""

    name: str
    wildcards: tuple[str, ...]
    inputs: Callable[[Params, dict], dict[str, Path | list[Path]]]
    outputs: Callable[[Params, dict], dict[str, Out | list[Out]]]
    reads: Callable[[Params, dict], list[str]]
    resources: Literal["cpu", "gpu"] = "cpu"
    run_dir: Callable[[Params, dict], Path | None] | None = None
    """Checkpoints of a job that trains, kept across interruptions (a persistent, uncached DVC
    output); None for jobs that do not train."""
    multi_gpu: bool = False
    """Launched with ``torchrun`` (one process per GPU) when its rule asks for several GPUs."""
    slug: str = ""
    """Where its log and benchmark files go under ``{workdir}/logs|benchmarks/`` (wildcards in braces)."""
    help: str = ""

    def args(self, wc: dict) -> str:
        return " ".join(f"--{w} {wc[w]}" for w in self.wildcards)

    def where(self, wc: dict) -> str:
        return (self.slug or self.name).format(**wc)

    def view(self, params: Params, wc: dict) -> ParamsView:
        """The params as this stage may read them."""
        return ParamsView(params, [*STRUCTURE, *self.reads(params, wc)], self.name)

    def digest(self, params: Params, wc: dict) -> str:
        return digest(params, *self.reads(params, wc))

    def checkpoints(self, params: Params, wc: dict) -> Path | None:
        return self.run_dir(params, wc) if self.run_dir else None

    def output_paths(self, params: Params, wc: dict) -> list[Path]:
        outs = self.outputs(params, wc)
        return [o.path for v in outs.values() for o in (v if isinstance(v, list) else [v])]

    def input_paths(self, params: Params, wc: dict) -> list[Path]:
        ins = self.inputs(params, wc)
        return [p for v in ins.values() for p in (v if isinstance(v, list) else [v])]


# reads --------------------------------------------------------------------------------------
def data_reads(params: Params, wc: dict) -> list[str]:
    spec = params.datasets[wc["dataset"]]
    if spec.kind == "tinyworld":  # generated, with the CPU profile's pre-training mix
        return [f"datasets.{wc['dataset']}", "tinyworld", "tiny.pretrain_max_steps_per_problem",
                "tiny.pretrain_step_weights", "val_fraction", "seed"]
    return [f"datasets.{wc['dataset']}", "mirror", "val_fraction", "seed"]


def model_reads(params: Params, wc: dict) -> list[str]:
    name = wc["model"]
    spec = params.models[name]
    if spec.source == "tiny":
        return [f"models.{name}", "tiny", "train_defaults", "eval.system_prompt", "distributed",
                "resources.gpu.gpus", *RUNTIME]
    if spec.source == "standin":
        return [f"models.{name}", f"standin.{spec.role}", "seed"]
    return [f"models.{name}"]


def teacher_reads(params: Params, wc: dict) -> list[str]:
    if params.traces.source == "camel":  # verified against gold, not generated
        return ["traces.source", "traces.dataset", "traces.n_questions"]
    return ["traces", "eval.system_prompt", "eval.base_prompt", *RUNTIME]


def train_reads(params: Params, wc: dict) -> list[str]:
    stage = parse_pipeline(wc["pipeline"])[-1]
    return [*TRAIN_READS[stage], "eval.system_prompt", "distributed", "resources.gpu.gpus", *RUNTIME]


def eval_reads(params: Params, wc: dict) -> list[str]:
    benches = wc.get("bench") or params.eval.benchmarks
    kinds = [f"datasets.{params.eval.dataset_of(b)}.kind" for b in benches
             if params.eval.benchmarks[b].grading == "auto"]  # GSM8K-style or not
    return ["eval", *kinds, *RUNTIME]


def table_reads(params: Params, wc: dict) -> list[str]:
    return ["tables", "models", "eval.benchmarks", "device", "resources"]  # cost: GPU- or CPU-hours


def report_reads(params: Params, wc: dict) -> list[str]:
    return ["tables", "models", "eval.benchmarks", "device", "resources"]


# inputs and outputs -------------------------------------------------------------------------
def _paths(params: Params) -> Paths:
    return Paths(params)


def model_inputs(params: Params, wc: dict) -> dict[str, Path]:
    """A tiny model reads its data, the tokenizer and the model it starts from (``init_from``);
    stand-in and hub models nothing local."""
    spec, paths = params.models[wc["model"]], _paths(params)
    if spec.source != "tiny":
        return {}
    init = {"init": paths.model(spec.init_from)} if spec.init_from else {}
    return {"data": paths.data(params.train_data), "tokenizer": paths.tokenizer, **init}


def teacher_inputs(params: Params, wc: dict) -> dict[str, Path]:
    paths = _paths(params)
    if params.traces.source == "camel":
        return {"data": paths.data(params.train_data), "camel": paths.data(params.traces.dataset)}
    return {"data": paths.data(params.train_data), "teacher": paths.model(params.teacher)}


def train_inputs(params: Params, wc: dict) -> dict[str, Path]:
    """The stage's starting model, and its training data or, for KD, the traces and the teacher."""
    paths, model, pipeline = _paths(params), wc["model"], wc["pipeline"]
    start = paths.model(model, Paths.parent(pipeline))
    if parse_pipeline(pipeline)[-1] == "kd":
        return {"start": start, "traces": paths.traces, "teacher": paths.model(params.teacher)}
    return {"start": start, "data": paths.data(params.train_data)}


def eval_outputs(params: Params, wc: dict) -> dict[str, list[Out]]:
    paths, m, p = _paths(params), wc["model"], wc["pipeline"]
    benches = wc.get("bench") or params.eval.benchmarks
    return {"metrics": [Out(paths.eval(m, p, b), "metric") for b in benches],
            "samples": [Out(paths.samples(m, p, b), "git") for b in benches]}


def table_runs(params: Params, n: int) -> list[tuple[str, str]]:
    """The (model, pipeline) evaluations table ``n`` is made of, in row order."""
    if n == 1:
        return [(m, INIT) for m in params.tables.table1]
    pipelines = params.tables.table2 if n == 2 else params.tables.table3
    return [(m, p) for m in params.students for p in [INIT, *pipelines]]


def table_inputs(params: Params, n: int) -> list[Path]:
    """Each run's metrics and, for the paired tests of tables 2 and 3, its per-sample file."""
    paths = _paths(params)
    kinds = (paths.eval, paths.samples) if n > 1 else (paths.eval,)
    return [f(m, p, b) for m, p in table_runs(params, n) for b in params.eval.benchmarks for f in kinds]


def _table_inputs(params: Params, wc: dict) -> dict[str, list[Path]]:
    from . import published

    refs = [published.REFERENCES] if published.REFERENCES.is_file() else []
    return {"runs": table_inputs(params, int(wc["table"])), "references": refs}


def _table_outputs(params: Params, wc: dict) -> dict[str, Out]:
    paths, n = _paths(params), wc["table"]
    return {ext: Out(paths.results / f"table{n}.{'cost.csv' if ext == 'cost' else ext}", "git")
            for ext in ("csv", "cost", "md", "png")}


def _report_inputs(params: Params, wc: dict) -> dict[str, list[Path]]:
    paths = _paths(params)
    return {"tables": [paths.table(n) for n in (1, 2, 3)],
            "metrics": sorted({p for n in (1, 2, 3) for p in table_inputs(params, n)})}


def _report_outputs(params: Params, wc: dict) -> dict[str, Out]:
    from .report import report_path

    return {"html": Out(report_path(params), "git")}


STAGES: dict[str, Stage] = {s.name: s for s in [
    Stage("data", ("dataset",), lambda p, wc: {},
          lambda p, wc: {"data": Out(_paths(p).data(wc["dataset"]), "dir")}, data_reads,
          slug="data/{dataset}", help="download or mirror, verify and normalise a dataset"),
    Stage("tokenizer", (), lambda p, wc: {"data": _paths(p).data(p.train_data)},
          lambda p, wc: {"tokenizer": Out(_paths(p).tokenizer, "dir")},
          lambda p, wc: ["tiny.vocab_size"], help="build the CPU profile's tokenizer"),
    Stage("model", ("model",), model_inputs,
          lambda p, wc: {"model": Out(_paths(p).model(wc["model"]), "dir")}, model_reads, "gpu",
          run_dir=lambda p, wc: _paths(p).run(wc["model"]) if p.models[wc["model"]].source == "tiny"
          else None, slug="model/{model}",
          help="fetch a hub model, or build a tiny or stand-in one, into models/NAME/init"),
    Stage("teacher", (), teacher_inputs,
          lambda p, wc: {"traces": Out(_paths(p).traces), "report": Out(_paths(p).traces_report, "metric")},
          teacher_reads, "gpu", help="teacher traces by rejection sampling against gold"),
    Stage("train", ("model", "pipeline"), train_inputs,
          lambda p, wc: {"model": Out(_paths(p).model(wc["model"], wc["pipeline"]), "dir")},
          train_reads, "gpu", run_dir=lambda p, wc: _paths(p).run(wc["model"], wc["pipeline"]),
          multi_gpu=True, slug="train/{model}/{pipeline}",
          help="run the last stage of a pipeline (sft, lora, kd, rl)"),
    Stage("eval", ("model", "pipeline"),
          lambda p, wc: {"model": _paths(p).model(wc["model"], wc["pipeline"]),
                         "data": [_paths(p).data(p.eval.dataset_of(b))
                                  for b in wc.get("bench") or p.eval.benchmarks]},
          eval_outputs, eval_reads, "gpu", slug="eval/{model}/{pipeline}",
          help="evaluate a model on every benchmark of the profile"),
    Stage("tables", ("table",), _table_inputs, _table_outputs, table_reads, slug="table{table}",
          help="write results[/PROFILE]/tableN.{csv,cost.csv,md,png}"),
    Stage("report", (), _report_inputs, _report_outputs, report_reads,
          help="write results/PROFILE/report.html (tables, figures, curves, cost)"),
]}


def distils(params: Params) -> bool:
    """Does a pipeline of the tables distil (so the graph needs the teacher's traces)?"""
    return any("kd" in parse_pipeline(p) for p in params.pipelines())


def datasets_needed(params: Params) -> list[str]:
    names = {params.train_data, *map(params.eval.dataset_of, params.eval.benchmarks)}
    if distils(params) and params.traces.source == "camel":
        names.add(params.traces.dataset)
    return sorted(names)


def jobs(params: Params) -> list[tuple[Stage, dict]]:
    """Every job of the profile's graph, each before the jobs that read its outputs."""
    out = [(STAGES["data"], {"dataset": d}) for d in datasets_needed(params)]
    if any(m.source == "tiny" for m in params.models.values()):
        out.append((STAGES["tokenizer"], {}))
    out += [(STAGES["model"], {"model": m}) for m in _init_order(params)]
    if distils(params):
        out.append((STAGES["teacher"], {}))
    out += [(STAGES["train"], {"model": m, "pipeline": p})
            for m in params.students for p in params.pipelines()]
    runs = dict.fromkeys(r for n in (1, 2, 3) for r in table_runs(params, n))
    out += [(STAGES["eval"], {"model": m, "pipeline": p}) for m, p in runs]
    out += [(STAGES["tables"], {"table": str(n)}) for n in (1, 2, 3)]
    out.append((STAGES["report"], {}))
    return out


def _init_order(params: Params) -> list[str]:
    """The models the graph needs (students, table 1's, the teacher when a pipeline distils, and the
    models these start from), each after the one it starts from."""
    needed = [*params.students, *params.tables.table1]
    if distils(params):  # KD reads the teacher (and generated traces sample it)
        needed.append(params.teacher)
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        if params.models[name].init_from:
            visit(params.models[name].init_from)
        order.append(name)

    for name in params.models:  # in the params' order
        if name in needed:
            visit(name)
    return order


def job_name(stage: Stage, wc: dict) -> str:
    """``train-base-sft``, ``table2``: the job's DVC stage name."""
    return stage.where(wc).replace("/", "-")


def launcher(params: Params, stage: Stage) -> str:
    """The command that runs ``srlm``: ``torchrun`` with one process per GPU for a multi-GPU
    training rule."""
    gpus = gpus_of(params, stage.resources)
    if stage.multi_gpu and gpus > 1:
        return f"torchrun --standalone --nproc_per_node {gpus} -m srlm.cli"
    return "srlm"


def command(params: Params, params_file: str, stage: Stage, wc: dict) -> str:
    args = stage.args(wc)
    return f"{launcher(params, stage)} --params {params_file} {stage.name}{' ' + args if args else ''}"


def gpus_of(params: Params, kind: str) -> int:
    spec = params.resources.get(kind)
    return spec.gpus if spec else 0


def resources(params: Params, stage: Stage) -> dict:
    """Snakemake resources (read by the SLURM executor) of a stage's rule."""
    spec = params.resources.get(stage.resources)
    if spec is None:
        return {}
    out = {"mem_mb": spec.mem_mb, "runtime": spec.runtime_min, "cpus_per_task": spec.cpus}
    if spec.gpus:
        out["gpu"] = spec.gpus
    return out


def leaf_keys(raw: dict, prefix: str = "") -> list[str]:
    """Dotted leaf keys of a params mapping (lists and scalars are leaves)."""
    out = []
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        out += leaf_keys(value, dotted + ".") if isinstance(value, dict) and value else [dotted]
    return out


def unread_keys(params: Params, params_file: str) -> list[str]:
    """Keys set in the params files that no job of this profile reads (nor the graph itself)."""
    from .config import read_raw
    from .view import covered

    reads = {r for stage, wc in jobs(params) for r in stage.reads(params, wc)}
    reads |= {*STRUCTURE, *GRAPH}
    return [k for k in leaf_keys(read_raw(params_file)) if not covered(k, reads)]
