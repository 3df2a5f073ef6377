"""Knowledge distillation from the teacher, in one of two modes (``kd.mode``).

- ``sequence``: sequence-level KD, i.e. SFT on the teacher's verified traces (Kim & Rush, 2016).
- ``logit``: token-level KD against the teacher's logits with TRL's ``GKDTrainer``: ``kd.beta`` 0 is
  forward KL(teacher||student), 1 reverse KL, between them the generalised JSD; ``kd.lmbda`` is the
  fraction of on-policy (student-generated) batches. Teacher and student must share a tokenizer.
"""

from __future__ import annotations

from pathlib import Path

from ..config import Params
from ..models import IM_END, load_model, use_chat_eos
from ..runtime import setup
from .common import train_and_save, trl_args
from .sft import run_sft


def run_kd(params: Params, model_dir: Path, teacher_dir: Path, out_dir: Path, run_dir: Path,
           traces: list[dict], lineage: list[str]) -> dict:
    if params.kd.mode == "sequence":
        return run_sft(params, model_dir, out_dir, run_dir, traces, lineage, spec=params.kd.train)
    from datasets import Dataset
    from trl.experimental.gkd import GKDConfig, GKDTrainer

    device = setup(params)
    model, tokenizer, _ = load_model(model_dir, device)
    teacher, teacher_tok, _ = load_model(teacher_dir, device)
    if teacher_tok.get_vocab() != tokenizer.get_vocab():
        raise ValueError(f"kd.mode: logit needs one tokenizer: {teacher_dir} and {model_dir} differ")
    use_chat_eos(tokenizer, model)
    system = params.eval.system_prompt
    messages = [{"messages": ([{"role": "system", "content": system}] if system else []) + [
        {"role": "user", "content": t["question"]}, {"role": "assistant", "content": t["cot"]}]}
        for t in traces]
    spec = params.kd.train
    config = GKDConfig(**trl_args(spec, params, run_dir, device), max_length=spec.max_length,
                       temperature=params.kd.temperature, beta=params.kd.beta,
                       lmbda=params.kd.lmbda, max_new_tokens=params.kd.max_new_tokens,
                       eos_token=IM_END)
    trainer = GKDTrainer(model=model, teacher_model=teacher, args=config,
                         train_dataset=Dataset.from_list(messages), processing_class=tokenizer)
    return train_and_save(trainer, run_dir, out_dir, "chat", lineage, kd_mode="logit")
