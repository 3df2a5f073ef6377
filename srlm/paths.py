"""Where each stage writes: one place, used by the CLI, the Snakefile and dvc.yaml's generator.

Paths carry the graph: ``models/{model}/{pipeline}`` is built from ``models/{model}/{prefix}`` (the
pipeline minus its last stage) or from ``models/{model}/init`` for a one-stage pipeline.
"""

from __future__ import annotations

from pathlib import Path

from .config import Params, parse_pipeline

INIT = "init"


PAPER_PROFILE = "paper"
"""The profile whose tables are ``results/table{n}.*`` (``snakemake results/table2.csv`` means the paper);
every other profile writes ``results/{profile}/table{n}.*``."""


class Paths:
    def __init__(self, params: Params, results: str | Path = "results"):
        self.root = Path(params.workdir)
        self.results = Path(results) if params.profile == PAPER_PROFILE else Path(results) / params.profile

    def data(self, dataset: str) -> Path:
        return self.root / "data" / dataset

    @property
    def tokenizer(self) -> Path:
        return self.root / "models" / "_tokenizer"

    def model(self, name: str, pipeline: str = INIT) -> Path:
        return self.root / "models" / name / pipeline

    def run(self, name: str, pipeline: str = INIT) -> Path:
        """Checkpoints and TensorBoard logs of a training run (kept across interruptions)."""
        return self.root / "runs" / name / pipeline

    @staticmethod
    def parent(pipeline: str) -> str:
        """The pipeline a stage starts from: ``sft-kd-rl`` -> ``sft-kd``; ``rl`` -> ``init``."""
        stages = parse_pipeline(pipeline)
        return "-".join(stages[:-1]) or INIT

    @property
    def traces(self) -> Path:
        return self.root / "traces" / "traces.jsonl"

    @property
    def traces_report(self) -> Path:
        return self.root / "traces" / "report.json"

    def eval(self, name: str, pipeline: str, bench: str) -> Path:
        return self.root / "eval" / name / pipeline / f"{bench}.json"

    def samples(self, name: str, pipeline: str, bench: str) -> Path:
        return self.root / "eval" / name / pipeline / f"{bench}.samples.jsonl"

    def table(self, n: int, ext: str = "csv") -> Path:
        return self.results / f"table{n}.{ext}"


def rule_resources(params: Params, kind: str) -> dict:
    """Snakemake resources (read by the SLURM executor) for a ``cpu`` or ``gpu`` rule."""
    spec = params.resources.get(kind)
    if spec is None:
        return {}
    out = {"mem_mb": spec.mem_mb, "runtime": spec.runtime_min, "cpus_per_task": spec.cpus}
    if spec.gpus:
        out["gpu"] = spec.gpus
    return out


def train_gpus(params: Params) -> int:
    """GPUs a training rule asks the scheduler for (``resources.gpu.gpus``)."""
    spec = params.resources.get("gpu")
    return spec.gpus if spec else 0


def train_launcher(params: Params) -> str:
    """The command that runs ``srlm`` for a training rule: one process per GPU when it has several."""
    gpus = train_gpus(params)
    return f"torchrun --standalone --nproc_per_node {gpus} -m srlm.cli" if gpus > 1 else "srlm"


def deepspeed_config(params: Params) -> str | None:
    """The DeepSpeed config the trainers use, chosen by the training rule's GPU count."""
    dist = params.distributed
    if dist.deepspeed and train_gpus(params) >= dist.min_gpus:
        if not Path(dist.deepspeed).is_file():
            raise FileNotFoundError(f"distributed.deepspeed: {dist.deepspeed} not found")
        return dist.deepspeed
    return None


DATA_SECTIONS = ["tinyworld", "tiny.pretrain_max_steps_per_problem", "tiny.pretrain_step_weights",
                 "val_fraction", "seed"]
"""Params sections every dataset depends on besides its own ``datasets.NAME`` (the CPU profile's
generator and its pre-training mix)."""

TRAIN_SECTIONS = {"sft": ["sft.full"], "lora": ["sft.lora", "sft.lora_adapter"], "kd": ["kd"],
                  "rl": ["rl", "eval.base_prompt"]}
"""Params sections each training stage reads (rerun triggers for Snakemake and DVC)."""


TEACHER_SECTIONS = ["traces", "seed", "eval.system_prompt", "eval.base_prompt", "cpu_numerics"]
"""Params sections the teacher traces depend on."""

EVAL_SECTIONS = ["eval", "seed", "cpu_numerics"]
"""Params sections an evaluation depends on."""


def model_sections(name: str) -> list[str]:
    """Everything building the starting model ``name`` depends on in the params."""
    return [f"models.{name}", "tiny", "standin", "seed", "eval.system_prompt", "cpu_numerics"]


def train_sections(pipeline: str) -> list[str]:
    """Everything the last stage of ``pipeline`` depends on in the params."""
    return [*TRAIN_SECTIONS[parse_pipeline(pipeline)[-1]], "seed", "eval.system_prompt", "distributed",
            "cpu_numerics"]


def model_inputs(params: Params, name: str) -> dict[str, Path]:
    """What building the starting model ``name`` reads: a tiny model its data, the tokenizer and the
    model it starts from (``init``, from ``init_from``); a hub model nothing local."""
    spec = params.models[name]
    if spec.source != "tiny":
        return {}
    paths = Paths(params)
    init = {"init": paths.model(spec.init_from)} if spec.init_from else {}
    return {"data": paths.data(params.train_data), "tokenizer": paths.tokenizer, **init}


def train_inputs(params: Params, model: str, pipeline: str) -> dict[str, Path]:
    """What the last stage of ``pipeline`` reads: its starting model, and the training data (a
    dataset directory) or, for KD, the teacher's traces and the teacher."""
    paths = Paths(params)
    start = paths.model(model, Paths.parent(pipeline))
    if parse_pipeline(pipeline)[-1] == "kd":
        return {"start": start, "traces": paths.traces, "teacher": paths.model(params.teacher)}
    return {"start": start, "data": paths.data(params.train_data)}


def table_inputs(params: Params, n: int) -> list[Path]:
    """What table ``n`` reads: each run's metrics and, for the paired tests of tables 2 and 3, its
    per-sample file."""
    paths = Paths(params)
    kinds = (paths.eval, paths.samples) if n > 1 else (paths.eval,)
    return [f(m, p, b) for m, p in table_runs(params, n) for b in params.eval.benchmarks for f in kinds]


def table_runs(params: Params, n: int) -> list[tuple[str, str]]:
    """The (model, pipeline) evaluations table ``n`` is made of, in row order."""
    if n == 1:
        return [(m, INIT) for m in params.tables.table1]
    pipelines = params.tables.table2 if n == 2 else params.tables.table3
    return [(m, p) for m in params.students for p in [INIT, *pipelines]]
