"""RL with TRL's ``GRPOTrainer`` and verifiable rewards.

Rewards: ``correctness`` (:func:`srlm.grading.grade`, the very decision evaluation makes, cut at the
template's stop strings included; weight ``rl.reward.correctness``), a ``format``
term (the completion states a checkable final answer, ``rl.reward.format``) and an ``arithmetic``
term (the fraction of ``a op b = c`` working lines that are right, ``rl.reward.arithmetic``), which
keeps a weak policy from being rewarded for lucky final answers reached through wrong working.
A reward whose weight is 0 is not computed (nor passed to TRL).
Prompts keep the template the incoming model understands (plain for a base model: "zero-RL").
TRL logs ``frac_reward_zero_std``: the fraction of groups whose rewards are all equal, which carry
no learning signal; it is kept in ``train_log.json`` and TensorBoard.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

from ..config import Params, RlSpec
from ..grading import arithmetic_score, grade, has_format
from ..models import load_model, render_prompt, stop_strings
from ..runtime import setup
from .common import peft_config, train_and_save, trl_args


def correctness_reward(completions: list[str], answer: list[str], stops: Sequence[str] = (),
                       **_) -> list[float]:
    return [1.0 if grade(c, a, stops=stops)["correct"] else 0.0 for c, a in zip(completions, answer)]


def format_reward(completions: list[str], **_) -> list[float]:
    return [1.0 if has_format(c) else 0.0 for c in completions]


def arithmetic_reward(completions: list[str], **_) -> list[float]:
    return [arithmetic_score(c) for c in completions]


def reward_functions(weights: dict[str, float], template: str) -> tuple[list[Callable], list[float]]:
    """The reward functions with a non-zero weight, and their weights (TRL's order)."""
    stops = stop_strings(template)

    def correctness(completions: list[str], answer: list[str], **kw) -> list[float]:
        return correctness_reward(completions, answer, stops=stops)

    correctness.__name__ = correctness_reward.__name__  # TRL's log keys, as before
    funcs = {"correctness": correctness, "format": format_reward, "arithmetic": arithmetic_reward}
    kept = [(funcs[name], w) for name, w in weights.items() if w]
    if not kept:
        raise ValueError("rl.reward: every weight is 0, so there is no reward to train on")
    return [f for f, _ in kept], [w for _, w in kept]


def use_vllm(setting: bool | str, device: str) -> bool:
    """TRL's colocated vLLM rollouts: ``auto`` uses them when vLLM and a GPU are there."""
    available = device == "cuda" and importlib.util.find_spec("vllm") is not None
    if setting is True and not available:
        raise RuntimeError("rl.use_vllm: true, but vLLM is not importable or no GPU is visible")
    return setting is True or (setting == "auto" and available)


def rollout_args(cfg: RlSpec) -> dict:
    """``GRPOConfig`` fields of the rollout fast paths (docs/gpu.md); TRL's defaults when unset."""
    return dict(generation_batch_size=cfg.generation_batch_size,
                cache_implementation=cfg.cache_implementation,
                pad_to_multiple_of=cfg.train.pad_to_multiple_of,
                vllm_enable_sleep_mode=cfg.vllm_enable_sleep_mode)


def trainer_class(compile_rollouts: bool, bf16_rollouts: bool):
    """TRL's ``GRPOTrainer``, or one whose HF rollouts compile the decoding step (TRL builds its
    generation config with ``disable_compile=True``) and run under bf16 autocast on CUDA: the policy
    stays fp32, only the rollout's matmuls are bf16 (TRL's continuous-batching path, by contrast,
    casts the live model to bf16, so it is not used)."""
    import torch
    from trl import GRPOTrainer

    if not (compile_rollouts or bf16_rollouts):
        return GRPOTrainer

    class FastRolloutGRPOTrainer(GRPOTrainer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not self.use_vllm:
                self.generation_config.disable_compile = not compile_rollouts

        def _generate_single_turn(self, *args, **kwargs):
            if not bf16_rollouts or self.use_vllm:
                return super()._generate_single_turn(*args, **kwargs)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                return super()._generate_single_turn(*args, **kwargs)

    return FastRolloutGRPOTrainer


def grpo_trainer(cfg: RlSpec, args: dict, model, tokenizer, data: list[dict], template: str, device: str):
    """The GRPO trainer of ``cfg`` on prompt/answer rows, with ``args`` (``TrainingArguments``
    fields); returns it and whether it rolls out with vLLM."""
    from datasets import Dataset
    from trl import GRPOConfig

    vllm = use_vllm(cfg.use_vllm, device)
    funcs, weights = reward_functions(cfg.reward.model_dump(), template)
    config = GRPOConfig(
        **args,
        **rollout_args(cfg),
        num_generations=cfg.num_generations,
        max_completion_length=cfg.max_completion_length,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        beta=cfg.beta,
        loss_type=cfg.loss_type,
        epsilon=cfg.epsilon,
        scale_rewards=cfg.scale_rewards,
        reward_weights=weights,
        use_vllm=vllm,
        vllm_mode="colocate",
        vllm_gpu_memory_utilization=cfg.vllm_gpu_memory_utilization,
        log_completions=False,
    )
    cuda = device == "cuda"
    trainer = trainer_class(cfg.compile_rollouts and cuda, cfg.bf16_rollouts and cuda)(
        model=model, reward_funcs=funcs, args=config, train_dataset=Dataset.from_list(data),
        processing_class=tokenizer, peft_config=peft_config(cfg.lora_adapter))
    return trainer, vllm


def run_rl(params: Params, model_dir: Path, out_dir: Path, run_dir: Path, rows: list[dict],
           lineage: list[str]) -> dict:
    cfg = params.rl
    device = setup(params)
    model, tokenizer, meta = load_model(model_dir, device)
    template = meta["template"]
    if template == "chat":
        from ..models import use_chat_eos

        use_chat_eos(tokenizer, model)
    data = []
    for r in rows:
        prompt = render_prompt(tokenizer, r["question"], template, params.eval.system_prompt,
                               base_prompt=params.eval.base_prompt)
        if len(tokenizer(prompt, add_special_tokens=False)["input_ids"]) <= cfg.max_prompt_length:
            data.append({"prompt": prompt, "answer": r["answer"]})
    if not data:
        raise ValueError(f"rl: every prompt is longer than rl.max_prompt_length={cfg.max_prompt_length}")
    trainer, vllm = grpo_trainer(cfg, trl_args(cfg.train, params, run_dir, device), model, tokenizer, data,
                                 template, device)
    return train_and_save(trainer, run_dir, out_dir, template, lineage,
                          merge_lora=cfg.lora_adapter is not None, rl_prompts=len(data), vllm=vllm)
