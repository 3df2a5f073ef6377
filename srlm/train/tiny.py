"""Building the CPU profile's models offline: tokenizer, base, Instruct and teacher.

- base: a tiny Qwen2 pre-trained briefly on plain ``Question: ... Answer: ...`` text of short
  problems (it knows the task a little, not the chat format);
- instruct: the base tuned briefly on chat-format problems (it knows the chat format);
- teacher: a larger Qwen2 trained on the chat-format training set to high accuracy.

All three go through the same ``SFTTrainer`` code path as the paper profile.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..io import atomic_dir, read_jsonl
from ..models import ENDOFTEXT, IM_END, PLAIN_TEMPLATE, load_model, load_tokenizer, use_chat_eos
from ..runtime import setup
from ..tinyworld import build_model, build_tokenizer
from .sft import chat_examples, fit


def build_tiny_tokenizer(params: Params, data_dir: Path, out_dir: Path) -> None:
    rows = read_jsonl(data_dir / "pretrain.jsonl") + read_jsonl(data_dir / "train.jsonl")
    texts = [f"{PLAIN_TEMPLATE.format(question=r['question'])} {r['cot']}" for r in rows]
    with atomic_dir(out_dir) as tmp:
        build_tokenizer(texts, params.tiny.vocab_size, tmp)


def build_tiny_model(params: Params, name: str, data_dir: Path, tokenizer_dir: Path,
                     out_dir: Path, run_dir: Path, init_dir: Path | None = None) -> dict:
    """Build one tiny model of the study into ``out_dir`` (atomically; resumable)."""
    spec = params.models[name]
    tiny = params.tiny
    device = setup(params)
    if spec.init_from:
        if init_dir is None:
            raise ValueError(f"model {name}: init_from={spec.init_from} needs its directory")
        model, tokenizer, _ = load_model(init_dir, device)
    else:
        tokenizer = load_tokenizer(tokenizer_dir)
        arch = tiny.teacher if spec.role == "teacher" else tiny.student
        model = build_model(tokenizer, arch, params.seed).to(device)
    lineage = [name]
    if spec.template == "plain":
        texts = [{"text": f"{PLAIN_TEMPLATE.format(question=r['question'])} {r['cot']}{ENDOFTEXT}"}
                 for r in read_jsonl(data_dir / "pretrain.jsonl")]
        return fit(params, tiny.pretrain, model, tokenizer, texts, run_dir, out_dir, device,
                   "plain", lineage, eos_token=ENDOFTEXT, params_count=model.num_parameters())
    use_chat_eos(tokenizer, model)
    if spec.role == "teacher":
        rows, train_spec = read_jsonl(data_dir / "train.jsonl"), tiny.teacher_train
    else:
        rows, train_spec = read_jsonl(data_dir / "pretrain.jsonl"), tiny.instruct
    examples = chat_examples(tokenizer, rows, params.eval.system_prompt)
    return fit(params, train_spec, model, tokenizer, examples, run_dir, out_dir, device, "chat",
               lineage, eos_token=IM_END, params_count=model.num_parameters())
