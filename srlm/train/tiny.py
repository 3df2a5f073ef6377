"""Building the CPU profile's models offline: tokenizer, base, Instruct and teacher.

- base: a tiny Qwen2 pre-trained briefly on plain ``Question: ... Answer: ...`` text of short
  problems (it knows the task a little, not the chat format);
- instruct: the base tuned briefly on chat-format problems (it knows the chat format);
- teacher: a larger Qwen2 trained on the chat-format training set to high accuracy.

All three go through the same ``SFTTrainer`` code path as the paper profile.
"""

from __future__ import annotations

import random
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


def compact_working(cot: str) -> str:
    """Multi-step working as one compound line: ``7 + 5 = 12 / 12 - 3 = 9`` -> ``7 + 5 - 3 = 9``."""
    *lines, final = cot.split("\n")
    operations = [line.split(" = ")[0].split(" ", 1)[1] for line in lines[1:]]  # "- 3" of "12 - 3"
    lhs = " ".join([lines[0].split(" = ")[0], *operations])
    return f"{lhs} = {lines[-1].split(' = ')[1]}\n{final}"


def pretrain_answers(rows: list[dict], direct_fraction: float, seed: int,
                     compact_fraction: float = 0.0) -> list[tuple[dict, str]]:
    """Each pre-training problem with its answer text: the working (one line a step); for a seeded
    ``direct_fraction`` of them only the final ``#### n``; for a seeded ``compact_fraction`` of the
    multi-step rest, the working as one compound line (``compact_working``). With no compact
    fraction the seeded draws are those of ``direct_fraction`` alone, as before that option."""
    rng = random.Random(seed)
    out = []
    for r in rows:
        if rng.random() < direct_fraction:
            out.append((r, f"#### {r['answer']}"))
        elif compact_fraction and rng.random() < compact_fraction and r["cot"].count("\n") > 1:
            out.append((r, compact_working(r["cot"])))
        else:
            out.append((r, r["cot"]))
    return out


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
        texts = [{"text": f"{PLAIN_TEMPLATE.format(question=r['question'])} {answer}{ENDOFTEXT}"}
                 for r, answer in pretrain_answers(read_jsonl(data_dir / "pretrain.jsonl"),
                                                   tiny.pretrain_direct_fraction, params.seed,
                                                   tiny.pretrain_compact_fraction)]
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
