"""Params of the evaluation: the benchmarks as objects, sampling, the protocol, the tables."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator

from .base import Strict, parse_pipeline


class SamplingSpec(Strict):
    """Sampled evaluation (avg@k): ``k`` samples per problem for each seed."""

    k: int = Field(16, gt=0)
    temperature: float = Field(0.6, gt=0)
    top_p: float = Field(0.95, gt=0, le=1)
    seeds: list[Annotated[int, Field(ge=0, lt=2**32)]] = Field(default_factory=lambda: [0], min_length=1)


class BenchmarkSpec(Strict):
    """A benchmark: which dataset's test split, how it is decoded, how many problems, how its
    answers are compared."""

    dataset: str = ""
    """A key of ``datasets`` (default: the benchmark's own name)."""
    sampling: SamplingSpec | None = None
    """avg@k over sampled completions (AIME, AMC); null: greedy pass@1."""
    limit: int | None = None
    """Evaluate the first ``limit`` problems only (-1: all; null: ``eval.limit``)."""
    grading: Literal["auto", "gsm8k", "math"] = "auto"
    """``gsm8k``: our grade plus lm-evaluation-harness's own strict-match and flexible-extract
    scores; ``math``: our grade; ``auto``: ``gsm8k`` for datasets of kind gsm8k and tinyworld."""


GSM8K_STYLE = {"gsm8k", "tinyworld"}
"""Dataset kinds graded ``gsm8k``-style when a benchmark says ``grading: auto``."""


class EvalSpec(Strict):
    benchmarks: dict[str, BenchmarkSpec]
    """The benchmarks in table order, each one object. Under ``extends`` a mapping merges into the
    parent's (to change a benchmark's settings); a list of names replaces it (to choose the
    benchmarks), each with the defaults."""
    max_new_tokens: int = Field(1024, gt=0)
    batch_size: int = Field(64, gt=0)
    limit: int = -1
    """Evaluate the first ``limit`` problems of each benchmark only (-1: all), unless it sets its own."""
    few_shot: int = Field(0, ge=0)
    """Solved examples put before each question (from the benchmark's train split; 0: zero-shot)."""
    backend: Literal["auto", "hf", "vllm"] = "auto"
    system_prompt: str = "Please reason step by step, and put your final answer within \\boxed{}."
    base_prompt: Literal["plain", "boxed"] = "plain"
    """Prompt of models with the plain template (base models; also their GRPO prompts): ``plain``
    is lm-eval's ``Question: ...\\nAnswer:``, ``boxed`` adds Qwen2.5-Math's instruction to box the
    answer (``srlm.models.BASE_PROMPTS``)."""
    static_cache: Literal["long_jobs", "always", "never"] = "long_jobs"
    """CUDA, HF backend: a static KV cache with a compiled decoding step for generate calls of
    ``STATIC_CACHE_MIN_BATCHES`` batches or more (``long_jobs``), for every call (``always``: one
    shape a job, docs/gpu.md), or never."""
    prompt_multiple: int = Field(0, ge=0)
    """Static cache: left-pad prompts to a multiple of this many tokens (0: to the call's longest
    prompt); a job keeps its largest shape, so a later benchmark whose prompts fit reuses it."""
    batch_memory: float = Field(0.0, ge=0, lt=1)
    """Static cache on CUDA: double the batch from ``batch_size`` while its KV cache fits in this
    fraction of the free GPU memory (0: ``batch_size`` as given)."""

    @field_validator("benchmarks", mode="before")
    @classmethod
    def _names(cls, value):
        if isinstance(value, list):
            if len(set(value)) != len(value):
                raise ValueError(f"a benchmark is listed twice: {value}")
            return {name: {} for name in value}
        return value

    def limit_for(self, bench: str) -> int:
        limit = self.benchmarks[bench].limit
        return self.limit if limit is None else limit

    def sampling_for(self, bench: str) -> SamplingSpec | None:
        return self.benchmarks[bench].sampling

    def dataset_of(self, bench: str) -> str:
        return self.benchmarks[bench].dataset or bench


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
