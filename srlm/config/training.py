"""Params of the training stages (mapped onto TRL's Config classes) and the teacher traces."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .base import Strict


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
    packing: Literal[False, "padding_free", "bfd"] = False
    """SFT-type training (docs/gpu.md): ``padding_free``: each batch of ``batch_size`` examples is one
    row without pad tokens, position ids restarting per example (the same examples a step and the
    same loss as padded batches, tested); ``bfd``: TRL's best-fit-decreasing packing into rows of
    ``max_length`` tokens (``batch_size`` then counts rows, so a step holds more examples)."""
    pad_to_multiple_of: int | None = Field(None, gt=0)
    """Pad each batch's length to a multiple of this (SFT: the packed row; GRPO: prompts, left, and
    completions), so compiled kernels see few shapes; null: no extra padding."""
    attn_implementation: Literal["auto", "eager", "sdpa", "flex_attention", "flash_attention_2"] | None = None
    """SFT-type training: the attention kernel (null: the model's own). ``auto``: PyTorch's
    ``flex_attention`` on CUDA with ``packing`` (skips the blocks between packed examples), else SDPA
    (a dense block-diagonal mask over each packed row)."""
    use_liger_kernel: bool | Literal["auto"] = False
    """SFT-type training: Liger's Triton kernels (RMSNorm, RoPE, SwiGLU); ``auto``: on CUDA when
    ``liger_kernel`` is importable; true without it is an error."""
    torch_compile: bool = False
    """SFT-type training: ``torch.compile`` the model (transformers' ``torch_compile``)."""

    @field_validator("max_examples")
    @classmethod
    def _examples(cls, value: int) -> int:
        if value == 0 or value < -1:
            raise ValueError("max_examples must be -1 (all rows) or a positive count")
        return value


class LoraSpec(Strict):
    r: int = Field(64, gt=0)
    alpha: int = Field(128, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class TracesSpec(Strict):
    """Teacher trace generation with rejection sampling against gold answers."""

    source: Literal["generate", "camel"] = "generate"
    dataset: str = "camel"
    """``source: camel``: the dataset (a key of ``datasets``, of kind ``camel``) holding the traces."""
    n_questions: int = -1
    samples: int = Field(4, gt=0)
    temperature: float = Field(0.7, ge=0)
    top_p: float = Field(0.95, gt=0, le=1)
    max_new_tokens: int = Field(1024, gt=0)
    batch_size: int = Field(64, gt=0)
    keep_per_question: int = Field(1, gt=0)
    backend: Literal["auto", "hf", "vllm"] = "auto"


SFT_ONLY = {"chunked_lm_head": True, "packing": False, "attn_implementation": None,
            "use_liger_kernel": False, "torch_compile": False}
"""TrainSpec settings of the SFT trainer alone (with their defaults): elsewhere they would be ignored."""


def _sft_type_only(spec: TrainSpec, where: str, trainer: str) -> None:
    for key, default in SFT_ONLY.items():
        value = getattr(spec, key)
        if value != default:
            shown = str(value).lower() if isinstance(value, bool) else value
            raise ValueError(f"{where}.{key}: {shown} applies to SFT-type training only, not to {trainer}")


class KdSpec(Strict):
    mode: Literal["sequence", "logit"] = "sequence"
    train: TrainSpec
    temperature: float = Field(1.0, gt=0)
    beta: float = Field(0.0, ge=0, le=1)
    """GKD generalised JSD interpolation: 0 = forward KL(teacher||student), 1 = reverse KL."""
    lmbda: float = Field(0.0, ge=0, le=1)
    """GKD fraction of on-policy (student-generated) batches."""
    max_new_tokens: int = Field(1024, gt=0)
    """GKD: length of the student's on-policy completions (``lmbda`` > 0)."""

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
    generation_batch_size: int | None = Field(None, gt=0)
    """Completions generated at once (TRL's), a multiple of ``train.batch_size * train.grad_accum``:
    one rollout batch then serves several optimiser steps (null: one step's worth)."""
    cache_implementation: Literal["dynamic", "static"] | None = None
    """KV cache of HF rollouts (TRL's ``cache_implementation``; null: transformers' default)."""
    compile_rollouts: bool = False
    """CUDA, static cache: compile the decoding step (TRL turns transformers' auto-compile off)."""
    bf16_rollouts: bool = False
    """CUDA, HF rollouts: generate under bf16 autocast; the fp32 policy and its optimiser state are
    left as they are (no cast of the live weights)."""
    vllm_enable_sleep_mode: bool = False
    """Colocated vLLM: free its weights and KV cache during the optimiser step (TRL's)."""

    @model_validator(mode="after")
    def _batch_and_head(self) -> RlSpec:
        step = self.train.batch_size * self.train.grad_accum
        if self.generation_batch_size and self.generation_batch_size % step:
            raise ValueError(f"rl.generation_batch_size ({self.generation_batch_size}) must be a multiple "
                             f"of rl.train.batch_size*grad_accum ({step})")
        if self.compile_rollouts and self.cache_implementation != "static":
            raise ValueError("rl.compile_rollouts: true needs rl.cache_implementation: static")
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
