"""Supervised fine-tuning with TRL's ``SFTTrainer``: full or LoRA (PEFT), loss on the completion only.

Examples are prompt/completion pairs rendered in the chat template; each completion ends with
``<|im_end|>`` so base models learn to stop. LoRA adapters are merged into the weights on save, so
every later stage and the evaluation see a plain model directory.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from ..config import LoraSpec, Params, TrainSpec
from ..models import IM_END, load_model, render_prompt, use_chat_eos
from ..runtime import setup
from .common import peft_config, train_and_save, trl_args


def chat_examples(tokenizer, rows: list[dict], system_prompt: str) -> list[dict]:
    """Prompt/completion pairs: the question in the chat template, the CoT ending in <|im_end|>."""
    return [{"prompt": render_prompt(tokenizer, r["question"], "chat", system_prompt),
             "completion": r["cot"] + IM_END} for r in rows]


def trainer_class(chunked_lm_head: bool):
    """TRL's ``SFTTrainer``, or (``chunked_lm_head: false``) the same trainer with the model's own
    cross-entropy over full logits instead of TRL's chunked LM head and its per-step metrics."""
    from transformers import Trainer
    from trl import SFTTrainer

    if chunked_lm_head:
        return SFTTrainer

    class FullLogitsSFTTrainer(SFTTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            inputs["use_cache"] = False
            return Trainer.compute_loss(self, model, inputs, return_outputs=return_outputs,
                                        num_items_in_batch=num_items_in_batch)

    return FullLogitsSFTTrainer


def attention(setting: str | None, packing: bool | str, device: str) -> str | None:
    """The attention kernel to train with (None: keep the model's). ``auto``: ``flex_attention`` for
    packed rows on CUDA (block-sparse: the blocks between packed examples are skipped), else SDPA,
    which takes a dense boolean block-diagonal mask over each packed row (L x L for a row of L
    tokens; attention work grows with L squared, not with the examples' own lengths)."""
    if setting != "auto":
        return setting
    return "flex_attention" if packing and device == "cuda" else "sdpa"


def liger(setting: bool | str, device: str) -> bool:
    available = device == "cuda" and importlib.util.find_spec("liger_kernel") is not None
    if setting is True and importlib.util.find_spec("liger_kernel") is None:
        raise RuntimeError("use_liger_kernel: true, but liger_kernel is not importable")
    return setting is True or (setting == "auto" and available)


def fast_args(spec: TrainSpec, device: str) -> dict:
    """``SFTConfig`` fields of the fast paths (docs/gpu.md); padding-free without packing is switched on
    after the trainer is built (:func:`build_trainer`)."""
    return dict(max_length=spec.max_length, packing=spec.packing == "bfd", packing_strategy="bfd",
                pad_to_multiple_of=spec.pad_to_multiple_of, torch_compile=spec.torch_compile,
                use_liger_kernel=liger(spec.use_liger_kernel, device))


def build_trainer(spec: TrainSpec, args: dict, model, tokenizer, dataset: list[dict], device: str,
                  lora: LoraSpec | None = None, eos_token: str | None = None):
    """``SFTTrainer`` (or its full-logits variant) with ``args`` (``TrainingArguments`` fields) and the
    spec's fast paths. ``packing: padding_free``: TRL 1.16 truncates to ``max_length`` only when its
    ``padding_free`` is off at construction, so the collator is switched to padding-free after it:
    each batch becomes one row with per-example position ids and no attention mask, from which
    transformers builds the block-diagonal mask (needs ``use_cache=False``, which TRL sets)."""
    from datasets import Dataset
    from trl import SFTConfig

    impl = attention(spec.attn_implementation, spec.packing, device)
    if impl:
        model.set_attn_implementation(impl)
    config = SFTConfig(**args, **fast_args(spec, device), eos_token=eos_token or tokenizer.eos_token,
                       pad_token=tokenizer.pad_token)
    trainer = trainer_class(spec.chunked_lm_head)(
        model=model, args=config, train_dataset=Dataset.from_list(dataset),
        processing_class=tokenizer, peft_config=peft_config(lora))
    if spec.packing == "padding_free":
        trainer.padding_free = trainer.data_collator.padding_free = True
    return trainer


def fit(params: Params, spec: TrainSpec, model, tokenizer, dataset: list[dict], run_dir: Path,
        out_dir: Path, device: str, template: str, lineage: list[str],
        lora: LoraSpec | None = None, eos_token: str | None = None, **meta) -> dict:
    """Run ``SFTTrainer`` on prompt/completion (or ``text``) rows and save the result atomically."""
    trainer = build_trainer(spec, trl_args(spec, params, run_dir, device), model, tokenizer, dataset,
                            device, lora=lora, eos_token=eos_token)
    return train_and_save(trainer, run_dir, out_dir, template, lineage,
                          merge_lora=lora is not None, **meta)


def run_sft(params: Params, model_dir: Path, out_dir: Path, run_dir: Path, rows: list[dict],
            lineage: list[str], lora: bool = False, spec: TrainSpec | None = None) -> dict:
    """One SFT stage (full or LoRA) from ``model_dir`` on reference or teacher CoTs."""
    device = setup(params)
    model, tokenizer, _ = load_model(model_dir, device)
    use_chat_eos(tokenizer, model)
    spec = spec or (params.sft.lora if lora else params.sft.full)
    examples = chat_examples(tokenizer, rows, params.eval.system_prompt)
    return fit(params, spec, model, tokenizer, examples, run_dir, out_dir, device, "chat", lineage,
               lora=params.sft.lora_adapter if lora else None, eos_token=IM_END)
