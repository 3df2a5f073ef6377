"""The whole params file: :class:`Params`, cross-checked on load, and its section digests."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, model_validator

from .base import Strict, parse_pipeline
from .evaluation import EvalSpec, TablesSpec
from .sources import DatasetSpec, ModelSpec, StandinSpec, TinyBuildSpec, TinyWorldSpec
from .training import SFT_ONLY, KdSpec, RlSpec, SftSpec, TracesSpec, TrainSpec


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


TRAIN_SPECS = (("sft", "full"), ("sft", "lora"), ("kd", "train"), ("rl", "train"), ("tiny", "pretrain"),
               ("tiny", "instruct"), ("tiny", "teacher_train"))
"""Where a :class:`TrainSpec` sits in the params: each starts from ``train_defaults``."""


class Params(Strict):
    profile: str
    train_defaults: dict = Field(default_factory=dict)
    """Training settings shared by every training section (``sft.full``, ``kd.train``, ...); a
    section's own keys override them. SFT-only settings (``packing``, ...) reach SFT-type sections
    only (not ``rl.train``, nor ``kd.train`` under ``kd.mode: logit``)."""
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

    @model_validator(mode="before")
    @classmethod
    def _train_defaults(cls, raw):
        defaults = raw.get("train_defaults") if isinstance(raw, dict) else None
        if not defaults:
            return raw
        if not isinstance(defaults, dict):
            raise ValueError("train_defaults: must be a mapping of training settings")
        unknown = sorted(set(defaults) - set(TrainSpec.model_fields))
        if unknown:
            raise ValueError(f"train_defaults.{unknown[0]}: unknown key (a TrainSpec field: "
                             f"{', '.join(TrainSpec.model_fields)})")
        try:  # each value checked here, so an error names train_defaults, not a section
            TrainSpec.model_validate({"lr": 1.0, **defaults})
        except ValidationError as err:
            e = err.errors()[0]
            raise ValueError(f"train_defaults.{'.'.join(map(str, e['loc']))}: {e['msg']}") from None
        raw = dict(raw)
        for section, key in TRAIN_SPECS:
            if isinstance(raw.get(section), dict) and isinstance(raw[section].get(key), dict):
                sft_type = (section, key) != ("rl", "train") and not (
                    section == "kd" and raw[section].get("mode") == "logit")
                shared = {k: v for k, v in defaults.items() if sft_type or k not in SFT_ONLY}
                raw[section] = {**raw[section], key: {**shared, **raw[section][key]}}
        return raw

    @model_validator(mode="after")
    def _references(self) -> Params:
        for name in [*self.students, self.teacher]:
            if name not in self.models:
                raise ValueError(f"unknown model {name!r}: not a key of models ({sorted(self.models)})")
        for name in self.models:
            chain = [name]
            while self.models[chain[-1]].init_from is not None:
                nxt = self.models[chain[-1]].init_from
                if nxt not in self.models:
                    raise ValueError(f"models.{chain[-1]}.init_from: unknown model {nxt!r}")
                if nxt in chain:
                    raise ValueError(f"models.{name}.init_from: cycle {' -> '.join([*chain, nxt])}")
                chain.append(nxt)
        for name in self.tables.table1:
            if name not in self.models:
                raise ValueError(f"tables.table1: unknown model {name!r}")
        if self.train_data not in self.datasets:
            raise ValueError(f"train_data: unknown dataset {self.train_data!r}")
        if self.traces.source == "camel" and (self.traces.dataset not in self.datasets
                                              or self.datasets[self.traces.dataset].kind != "camel"):
            raise ValueError(f"traces.dataset: {self.traces.dataset!r} is not a dataset of kind camel")
        for bench in self.eval.benchmarks:
            if self.eval.dataset_of(bench) not in self.datasets:
                raise ValueError(f"eval.benchmarks.{bench}: unknown dataset "
                                 f"{self.eval.dataset_of(bench)!r}")
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
