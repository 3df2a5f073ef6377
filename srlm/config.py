"""The params schema: one validated model of the study, shared by Snakemake, DVC and the CLI.

A params file is YAML. ``extends: other.yaml`` deep-merges this file over another one. Every key is
checked on load: an unknown key or a bad value raises :class:`ParamsError` naming the key, before any
compute starts.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

STAGES = ("sft", "lora", "kd", "rl")
"""Training stages a pipeline is made of: full SFT, LoRA SFT, knowledge distillation, GRPO."""


class ParamsError(ValueError):
    """A params file is missing, malformed, or names an unknown key or a bad value."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    """Unknown keys and non-finite numbers (``.inf``, ``.nan``) are errors naming the key."""


class ModelSpec(Strict):
    """A model of the study: a hub id at a pinned revision, ``tiny`` (built offline in the graph), or
    ``standin`` (a small random Qwen2 with the exact Qwen2.5 tokenizer, built offline: the paper
    profile's code paths without the hub)."""

    source: str
    revision: str = "main"
    template: Literal["plain", "chat"]
    """Prompt format the model understands before we train it: base models get ``plain``."""
    role: Literal["student", "teacher"] = "student"
    init_from: str | None = None
    """Tiny models only: start from this model's weights (the tiny Instruct starts from the base)."""
    label: str = ""


class DatasetSpec(Strict):
    """A dataset: hub repo at a pinned revision, files in an offline mirror, checksums."""

    kind: Literal["gsm8k", "camel", "math", "tinyworld"]
    hub_repo: str = ""
    revision: str = "main"
    """Hub commit (or tag) the files are read at; the resolved commit goes into the manifest."""
    hub_files: dict[str, str] = Field(default_factory=dict)
    """split -> file path inside the hub repo (parquet or JSONL), fetched by ``hf_hub_download``."""
    hub_config: str = ""
    hub_splits: list[str] = Field(default_factory=list)
    """Splits read with ``datasets.load_dataset`` (repo, config, revision) when no file is named."""
    mirror_files: dict[str, str] = Field(default_factory=dict)
    """split -> file path inside the offline mirror directory (``params.mirror``)."""
    local_files: dict[str, str] = Field(default_factory=dict)
    """split -> a file of this repository (relative to the working directory), read before the mirror
    and the hub: format fixtures of offline profiles (``params/fixtures/``), sha256-checked alike."""
    sha256: dict[str, str] = Field(default_factory=dict)
    """file path (hub or mirror) -> expected sha256; a mismatch stops the stage."""
    fields: dict[str, str] = Field(default_factory=dict)
    """Normal-form field -> source field (question, answer, cot), overriding the kind's default."""
    answer_from: Literal["field", "boxed"] = "field"
    """``math`` kind: gold is the answer field itself, or the last ``\\boxed{}`` in it (Minerva)."""
    fix_escapes: bool = False
    """Restore LaTeX escapes JSON ate (form feed -> ``\\f``, tab -> ``\\t``): the AIME25 defect."""


class TinyWorldSpec(Strict):
    n_train: int = Field(4000, gt=0)
    n_test: int = Field(500, gt=0)
    n_pretrain: int = Field(6000, gt=0)
    max_steps: int = Field(3, ge=1, le=6)
    max_operand: int = Field(20, ge=2)
    seed: int = Field(7, ge=0, lt=2**32)


class TinyArch(Strict):
    hidden_size: int = Field(gt=0)
    layers: int = Field(gt=0)
    heads: int = Field(gt=0)
    kv_heads: int = Field(gt=0)
    intermediate_size: int = Field(gt=0)


class StandinSpec(Strict):
    """Widths of the ``standin`` models (random weights, Qwen2.5's real vocabulary and conventions)."""

    student: TinyArch
    teacher: TinyArch


class TrainSpec(Strict):
    """Optimiser and loop settings shared by every trainer (mapped onto TRL's Config classes)."""

    lr: float = Field(gt=0)
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1
    max_examples: int = -1
    """Train on the first ``max_examples`` rows of the stage's data (-1: all): quick and offline runs."""
    batch_size: int = Field(8, gt=0)
    grad_accum: int = Field(1, gt=0)
    max_length: int = Field(1024, gt=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    weight_decay: float = Field(0.0, ge=0)
    scheduler: str = "cosine"
    optim: Literal["adamw_torch_fused", "adamw_torch", "adafactor", "sgd"] = "adamw_torch_fused"
    """The optimiser (transformers' name). Plain SGD moves only where the gradient is consistent;
    Adam moves every weight by about ``lr`` per step, noise included."""
    save_steps: int = Field(200, gt=0)
    save_total_limit: int = Field(2, gt=0)
    logging_steps: int = Field(10, gt=0)
    bf16: bool = False
    activation_checkpointing: bool = False
    chunked_lm_head: bool = True
    """SFT-type trainers: TRL's chunked log-prob LM head (never holds the batch x vocabulary logits,
    as the paper's 151k vocabulary needs; logs entropy and token accuracy), or false: the model's own
    loss over full logits (same loss, tested; 0.26 -> 0.18 s a step on the tiny student). Not
    bit-identical: on the tiny profile it is a different draw of every model (README)."""


    @field_validator("max_examples")
    @classmethod
    def _examples(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError("max_examples must be -1 (all rows) or a positive count")
        return value


class TinyBuildSpec(Strict):
    """How the CPU profile builds its tokenizer and its base, Instruct and teacher models."""

    vocab_size: int = Field(512, ge=300)
    student: TinyArch
    teacher: TinyArch
    pretrain: TrainSpec
    """Plain-text pre-training of the base (and the teacher's own base)."""
    pretrain_max_steps_per_problem: int = Field(2, ge=1)
    pretrain_step_weights: list[float] | None = None
    """Relative frequency of 1, 2, ... ``pretrain_max_steps_per_problem``-step problems in the
    base's pre-training text (null: uniform). A rare longest kind leaves a base that stops one
    line early when greedy but sometimes goes on when sampling: what RL can sharpen."""
    pretrain_direct_fraction: float = Field(0.0, ge=0, lt=1)
    """Fraction of the base's pre-training text that states the answer without working (as much
    web text does): the base then often answers in one step, and RL can find that working pays."""
    pretrain_compact_fraction: float = Field(0.0, ge=0, lt=1)
    """Fraction of the multi-step problems in the base's pre-training text whose working is one
    compound line (``7 + 5 - 3 = 9``) instead of a line a step: two valid ways to work a problem, one
    much harder for a tiny model; the base's greedy choice between them is what RL can change."""
    instruct: TrainSpec
    """Brief chat-format tuning that turns the tiny base into the tiny Instruct model."""
    teacher_train: TrainSpec

    @model_validator(mode="after")
    def _step_weights(self) -> TinyBuildSpec:
        w = self.pretrain_step_weights
        if w is not None and (len(w) != self.pretrain_max_steps_per_problem or min(w) < 0 or not sum(w)):
            raise ValueError(f"tiny.pretrain_step_weights {w}: need {self.pretrain_max_steps_per_problem} "
                             "non-negative weights (one per step count), not all zero")
        return self


class LoraSpec(Strict):
    r: int = Field(64, gt=0)
    alpha: int = Field(128, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class TracesSpec(Strict):
    """Teacher trace generation with rejection sampling against gold answers."""

    source: Literal["generate", "camel"] = "generate"
    n_questions: int = -1
    samples: int = Field(4, gt=0)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(1024, gt=0)
    batch_size: int = Field(64, gt=0)
    keep_per_question: int = Field(1, gt=0)
    backend: Literal["auto", "hf", "vllm"] = "auto"


def _sft_type_only(spec: TrainSpec, where: str, trainer: str) -> None:
    """``chunked_lm_head: false`` swaps the SFT trainer's loss; elsewhere it would be ignored."""
    if not spec.chunked_lm_head:
        raise ValueError(f"{where}.chunked_lm_head: false applies to SFT-type training only, "
                         f"not to {trainer}")


class KdSpec(Strict):
    mode: Literal["sequence", "logit"] = "sequence"
    train: TrainSpec
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.0, ge=0, le=1)
    """GKD generalised JSD interpolation: 0 = forward KL(teacher||student), 1 = reverse KL."""
    lmbda: float = Field(0.0, ge=0, le=1)
    """GKD fraction of on-policy (student-generated) batches."""

    @model_validator(mode="after")
    def _head(self) -> KdSpec:
        if self.mode == "logit":
            _sft_type_only(self.train, "kd.train", "kd.mode: logit (GKD computes its own loss)")
        return self


class RewardSpec(Strict):
    """Reward weights: answer correctness, answer format, and arithmetic of the working lines."""

    correctness: float = 1.0
    format: float = 0.1
    arithmetic: float = 0.0


class RlSpec(Strict):
    train: TrainSpec
    num_generations: int = Field(8, ge=2)
    max_prompt_length: int = Field(512, gt=0)
    max_completion_length: int = Field(1024, gt=0)
    temperature: float = Field(1.0, gt=0)
    top_p: float = Field(1.0, gt=0, le=1)
    beta: float = Field(0.0, ge=0)
    loss_type: Literal["grpo", "dapo", "dr_grpo", "bnpo"] = "dapo"
    epsilon: float = Field(0.2, gt=0)
    scale_rewards: Literal["group", "batch", "none"] = "group"
    reward: RewardSpec = RewardSpec()
    use_vllm: bool | Literal["auto"] = "auto"
    vllm_gpu_memory_utilization: float = Field(0.3, gt=0, le=1)
    lora_adapter: LoraSpec | None = None
    """GRPO on LoRA adapters (as verl's GRPO-LoRA baseline), merged into the weights on save."""

    @model_validator(mode="after")
    def _batch_and_head(self) -> RlSpec:
        gen_batch = self.train.batch_size * self.train.grad_accum
        if gen_batch % self.num_generations:
            raise ValueError(
                f"rl.train.batch_size*grad_accum ({gen_batch}) must be divisible by "
                f"rl.num_generations ({self.num_generations})"
            )
        _sft_type_only(self.train, "rl.train", "GRPO")
        return self


class SftSpec(Strict):
    full: TrainSpec
    lora: TrainSpec
    lora_adapter: LoraSpec = LoraSpec()


class SamplingSpec(Strict):
    """Sampled evaluation (avg@k): ``k`` samples per problem for each seed."""

    k: int = Field(16, gt=0)
    temperature: float = Field(0.6, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] = Field(default_factory=lambda: [0], min_length=1)


class EvalSpec(Strict):
    benchmarks: list[str]
    sampling: dict[str, SamplingSpec] = Field(default_factory=dict)
    """Benchmarks scored as avg@k over sampled completions (AIME, AMC); the rest greedy pass@1."""
    max_new_tokens: int = Field(1024, gt=0)
    batch_size: int = Field(64, gt=0)
    limit: int = -1
    """Evaluate the first ``limit`` problems only (-1: all)."""
    limits: dict[str, int] = Field(default_factory=dict)
    """Per-benchmark ``limit`` (e.g. a GSM8K smoke check on the CPU profile)."""
    few_shot: int = Field(0, ge=0)
    """Solved examples put before each question (from the benchmark's train split; 0: zero-shot)."""
    backend: Literal["auto", "hf", "vllm"] = "auto"
    system_prompt: str = "Please reason step by step, and put your final answer within \\boxed{}."
    base_prompt: Literal["plain", "boxed"] = "plain"
    """Prompt of models with the plain template (base models; also their GRPO prompts): ``plain``
    is lm-eval's ``Question: ...\\nAnswer:``, ``boxed`` adds Qwen2.5-Math's instruction to box the
    answer (``srlm.models.BASE_PROMPTS``)."""


    def limit_for(self, bench: str) -> int:
        return self.limits.get(bench, self.limit)


class TablesSpec(Strict):
    table1: list[str]
    """Models evaluated before any training (students and the teacher)."""
    table2: list[str]
    """Single-method pipelines, run for every student."""
    table3: list[str]
    """Hybrid pipelines, run for every student."""

    @field_validator("table2", "table3")
    @classmethod
    def _pipelines(cls, pipelines: list[str]) -> list[str]:
        for pipeline in pipelines:
            parse_pipeline(pipeline)
        return pipelines


class Resources(Strict):
    """Per-rule scheduler resources (read by the SLURM profile)."""

    gpus: int = Field(0, ge=0)
    cpus: int = Field(1, gt=0)
    mem_mb: int = Field(4000, gt=0)
    runtime_min: int = Field(60, gt=0)


class DistributedSpec(Strict):
    """Multi-GPU training. A training rule with ``resources.gpu.gpus`` > 1 is launched with
    ``torchrun`` (one process per GPU); the trainers use the DeepSpeed config from ``min_gpus`` GPUs
    on (``0``: always, also single-process, as the CPU test does)."""

    deepspeed: str | None = "params/deepspeed/zero2.json"
    min_gpus: int = Field(2, ge=0)


class Params(Strict):
    profile: str
    seed: int = Field(1234, ge=0, lt=2**32)
    """Seeds every draw of the study (NumPy, PyTorch and the data order take 0 to 2**32 - 1)."""
    workdir: str
    device: Literal["cpu", "cuda", "auto"] = "auto"
    threads: int = Field(1, gt=0)
    cpu_numerics: Literal["avx2", "native"] = "native"
    """``avx2``: PyTorch's, MKL's and oneDNN's CPU kernels take their AVX2 code paths on every x86-64
    CPU (``apply_cpu_numerics``), so CPU results are the same on AVX2 and AVX-512 machines;
    ``native``: each library picks the fastest path this CPU has."""
    mirror: str | None = None
    """Offline mirror directory holding dataset files (``../shared/data`` here); null: hub only."""
    datasets: dict[str, DatasetSpec]
    train_data: str
    """Dataset (a key of ``datasets``) whose train split feeds SFT and RL."""
    models: dict[str, ModelSpec]
    students: list[str]
    teacher: str
    tiny: TinyBuildSpec | None = None
    standin: StandinSpec | None = None
    tinyworld: TinyWorldSpec = TinyWorldSpec()
    val_fraction: float = Field(0.05, ge=0, lt=0.5)
    traces: TracesSpec
    sft: SftSpec
    kd: KdSpec
    rl: RlSpec
    eval: EvalSpec
    tables: TablesSpec
    resources: dict[Literal["cpu", "gpu"], Resources] = Field(default_factory=dict)
    distributed: DistributedSpec = Field(default_factory=DistributedSpec)

    @model_validator(mode="after")
    def _references(self) -> Params:
        for name in [*self.students, self.teacher]:
            if name not in self.models:
                raise ValueError(f"unknown model {name!r}: not a key of models ({sorted(self.models)})")
        for name in self.tables.table1:
            if name not in self.models:
                raise ValueError(f"tables.table1: unknown model {name!r}")
        if self.train_data not in self.datasets:
            raise ValueError(f"train_data: unknown dataset {self.train_data!r}")
        for bench in [*self.eval.benchmarks, *self.eval.sampling]:
            if bench not in self.datasets:
                raise ValueError(f"eval.benchmarks: unknown dataset {bench!r}")
        if any(m.source == "tiny" for m in self.models.values()) and self.tiny is None:
            raise ValueError("models with source 'tiny' need a 'tiny' section")
        if any(m.source == "standin" for m in self.models.values()) and self.standin is None:
            raise ValueError("models with source 'standin' need a 'standin' section")
        return self

    # paths -------------------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        return Path(self.workdir)

    def pipelines(self) -> list[str]:
        """Every pipeline the tables need, with the prefixes they are built from."""
        out: list[str] = []
        for pipeline in [*self.tables.table2, *self.tables.table3]:
            stages = parse_pipeline(pipeline)
            for i in range(1, len(stages) + 1):
                prefix = "-".join(stages[:i])
                if prefix not in out:
                    out.append(prefix)
        return out


CPU_NUMERICS_ENV = {"ATEN_CPU_CAPABILITY": "avx2", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
"""What ``cpu_numerics: avx2`` sets: the kernel paths of PyTorch's own ops, MKL (matmuls) and oneDNN."""


def cpu_has_avx2() -> bool:
    """Is this an x86-64 CPU with AVX2 (where ``cpu_numerics: avx2`` can hold)?"""
    import platform

    cpuinfo = Path("/proc/cpuinfo")
    return (platform.machine().lower() in ("x86_64", "amd64")
            and (not cpuinfo.exists() or " avx2" in cpuinfo.read_text()))


def apply_cpu_numerics(params: Params) -> list[str]:
    """Pin the CPU kernels' code paths (``params.cpu_numerics``) for this process and its children.

    Must run before torch is imported (the libraries read these variables once, at start-up).
    Returns warnings: the setting cannot hold on a CPU without AVX2 (an ARM machine, say)."""
    import platform
    import sys

    if params.cpu_numerics == "native":
        return []
    warnings = []
    if "torch" in sys.modules:
        warnings.append("cpu_numerics: torch was imported before the CPU kernels were pinned")
    if not cpu_has_avx2():
        warnings.append(f"cpu_numerics: avx2, but this CPU ({platform.machine()}) has no AVX2: results "
                        "will differ from those of x86-64 machines")
        return warnings
    os.environ.update(CPU_NUMERICS_ENV)
    return warnings


def digest(params: Params, *keys: str) -> str:
    """A short hash of some params sections (dotted keys): a rule reruns when its sections change."""
    import hashlib
    import json

    dump = params.model_dump(mode="json")
    picked = {}
    for key in keys:
        node = dump
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        picked[key] = node
    return hashlib.sha1(json.dumps(picked, sort_keys=True).encode()).hexdigest()[:12]


def parse_pipeline(pipeline: str) -> list[str]:
    """Split ``sft-kd-rl`` into stages, rejecting unknown ones."""
    stages = pipeline.split("-")
    for stage in stages:
        if stage not in STAGES:
            raise ValueError(f"pipeline {pipeline!r}: unknown stage {stage!r} (known: {', '.join(STAGES)})")
    return stages


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice in one mapping is an error naming key and line."""


def _unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: dict = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"key {key!r} given twice (first on line {seen[key] + 1})",
                key_node.start_mark)
        seen[key] = key_node.start_mark.line
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _unique_mapping)


def read_text(path: Path) -> str:
    """A params file's text; bytes that are not UTF-8 are an error naming file, line and column."""
    data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        raise ParamsError(f"{path}:{line}:{column}: not UTF-8 (byte 0x{data[err.start]:02x})") from None


def params_chain(path: str | os.PathLike, _seen: tuple[str, ...] = ()) -> list[tuple[str, dict]]:
    """The files of an ``extends`` chain, most derived first, each with its own (unmerged) keys."""
    path = Path(os.path.normpath(path))
    if not path.is_file():
        via = f" (extended by {_seen[-1]})" if _seen else ""
        raise ParamsError(f"{path}: params file not found{via}")
    if str(path.resolve()) in _seen:
        cycle = [*_seen[_seen.index(str(path.resolve())):], str(path.resolve())]
        raise ParamsError(f"{path}: extends cycle: {' -> '.join(cycle)}")
    try:
        raw = yaml.load(read_text(path), Loader=_UniqueKeyLoader) or {}  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as err:
        raise ParamsError(f"{path}: not valid YAML: {err}") from err
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: top level must be a mapping")
    parent = raw.pop("extends", None)
    if parent is not None and not (isinstance(parent, str) and parent.strip()):
        raise ParamsError(f"{path}: extends: must be the path of another params file, "
                          f"not {parent!r}")
    chain = [(str(path), raw)]
    seen = (*_seen, str(path.resolve()))
    return chain + params_chain(path.parent / parent, seen) if parent else chain


def read_raw(path: str | os.PathLike) -> dict:
    """Read a params YAML file, resolving ``extends`` chains (later files override earlier ones)."""
    merged: dict = {}
    for _, raw in reversed(params_chain(path)):
        merged = _merge(merged, raw)
    return merged


def has_key(raw: dict, dotted: str) -> bool:
    """Whether a dotted key (``rl.train``) is set in a raw params mapping."""
    for part in dotted.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return False
        raw = raw[part]
    return True


def _describe(err: ValidationError, path: Path) -> str:
    lines = [f"{path}: invalid params"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def load_params(path: str | os.PathLike, overrides: dict | None = None) -> Params:
    """Load and validate a params file; raise :class:`ParamsError` naming any bad key."""
    raw = read_raw(path)
    if overrides:
        raw = _merge(raw, overrides)
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ParamsError(_describe(err, Path(path))) from None
