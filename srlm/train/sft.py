"""Supervised fine-tuning with TRL's ``SFTTrainer``: full or LoRA (PEFT), loss on the completion only.

Examples are prompt/completion pairs rendered in the chat template; each completion ends with
``<|im_end|>`` so base models learn to stop. LoRA adapters are merged into the weights on save, so
every later stage and the evaluation see a plain model directory.
"""

from __future__ import annotations

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


def fit(params: Params, spec: TrainSpec, model, tokenizer, dataset: list[dict], run_dir: Path,
        out_dir: Path, device: str, template: str, lineage: list[str],
        lora: LoraSpec | None = None, eos_token: str | None = None, **meta) -> dict:
    """Run ``SFTTrainer`` on prompt/completion (or ``text``) rows and save the result atomically."""
    from datasets import Dataset
    from trl import SFTConfig

    config = SFTConfig(
        **trl_args(spec, params, run_dir, device),
        max_length=spec.max_length,
        packing=False,
        eos_token=eos_token or tokenizer.eos_token,
        pad_token=tokenizer.pad_token,
    )
    trainer = trainer_class(spec.chunked_lm_head)(
        model=model, args=config, train_dataset=Dataset.from_list(dataset),
        processing_class=tokenizer, peft_config=peft_config(lora))
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
