"""What every params class shares: strict validation, the error type, the pipeline stages."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

METHODS = ("sft", "lora", "kd", "rl")
"""Training stages a pipeline is made of: full SFT, LoRA SFT, knowledge distillation, GRPO."""


class ParamsError(ValueError):
    """A params file is missing, malformed, or names an unknown key or a bad value."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)
    """Unknown keys and non-finite numbers (``.inf``, ``.nan``) are errors naming the key."""


def parse_pipeline(pipeline: str) -> list[str]:
    """Split ``sft-kd-rl`` into stages, rejecting unknown ones."""
    stages = pipeline.split("-")
    for stage in stages:
        if stage not in METHODS:
            raise ValueError(f"pipeline {pipeline!r}: unknown stage {stage!r} (known: {', '.join(METHODS)})")
    return stages
