"""Params of the study's inputs: models, datasets, the CPU profile's world and its models."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from .base import Strict
from .training import TrainSpec


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
