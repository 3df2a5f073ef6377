"""What every trainer shares: device checks, TRL config fields, resume, atomic final save."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

from ..config import LoraSpec, Params, TrainSpec, digest
from ..io import atomic_path, sha256_tree
from ..models import save_model
from ..paths import deepspeed_config

log = logging.getLogger("srlm")


class DeviceError(RuntimeError):
    """The params ask for a GPU and none is visible."""


def resolve_device(params: Params) -> str:
    import torch

    if params.device == "cuda" and not torch.cuda.is_available():
        raise DeviceError(f"profile {params.profile!r} sets device: cuda but no CUDA GPU is visible; "
                          "run it on a GPU host or use a CPU profile (params/tiny.yaml)")
    if params.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return params.device


def setup(params: Params, threads: int | None = None) -> str:
    """Seed, thread count and device for a stage; returns the device."""
    import torch
    from transformers import set_seed

    device = resolve_device(params)
    torch.set_num_threads(threads or params.threads)
    set_seed(params.seed)
    return device


def _distributed_env() -> None:
    """DeepSpeed needs a process group: without a launcher (single process) make a one-rank one."""
    import os
    import socket

    if "RANK" in os.environ:
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", LOCAL_RANK="0",
                      WORLD_SIZE="1")


def trl_args(spec: TrainSpec, params: Params, run_dir: Path, device: str) -> dict:
    """Keyword arguments common to ``SFTConfig``, ``GRPOConfig`` and ``GKDConfig``.

    TensorBoard event files go to ``run_dir/runs/``; DeepSpeed (ZeRO) when the rule has the GPUs
    for it (``distributed``).
    """
    deepspeed = deepspeed_config(params)
    if deepspeed:
        _distributed_env()
    return dict(
        output_dir=str(run_dir),
        learning_rate=spec.lr,
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps,
        per_device_train_batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.grad_accum,
        warmup_steps=spec.warmup_ratio,  # a float < 1 is a fraction of the steps
        weight_decay=spec.weight_decay,
        lr_scheduler_type=spec.scheduler,
        optim=spec.optim,
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=spec.save_total_limit,
        logging_steps=spec.logging_steps,
        report_to=["tensorboard"],
        bf16=spec.bf16 and device == "cuda",
        activation_checkpointing=spec.activation_checkpointing,
        use_cpu=device == "cpu",
        seed=params.seed,
        data_seed=params.seed,
        dataloader_num_workers=0,
        save_only_model=False,
        deepspeed=deepspeed,
    )


RUN_INPUTS = "srlm_inputs.json"


def claim_run_dir(run_dir: Path, params: Params, sections: list[str], inputs: list[Path]) -> None:
    """Make ``run_dir`` hold only checkpoints of these inputs before a training resumes from it.

    The fingerprint is the digest of the params ``sections`` the stage reads and the sha256 of each
    input (starting model, data, teacher). Checkpoints made from other inputs (a changed
    hyperparameter, a retrained starting model) are moved to ``RUN.stale`` (replacing an older
    one) and training starts afresh: resuming them would carry the old run into the new table.
    """
    import os
    import time

    fingerprint = {"params": digest(params, *sections),
                   "inputs": {str(p): sha256_tree(p) for p in inputs}}
    marker = run_dir / RUN_INPUTS
    if int(os.environ.get("RANK", "0")):  # torchrun: rank 0 claims, the others wait for it
        deadline = time.time() + 600
        while not (marker.is_file() and json.loads(marker.read_text()) == fingerprint):
            if time.time() > deadline:
                raise RuntimeError(f"{run_dir}: rank 0 did not claim the run directory in 600 s")
            time.sleep(1)
        return
    if run_dir.is_dir() and any(run_dir.iterdir()):
        old = json.loads(marker.read_text()) if marker.is_file() else None
        if old != fingerprint:
            stale = run_dir.with_name(run_dir.name + ".stale")
            shutil.rmtree(stale, ignore_errors=True)
            run_dir.rename(stale)
            print(f"srlm: {run_dir} holds checkpoints made from other inputs or params; moved to "
                  f"{stale}; training from the start", flush=True)
    run_dir.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")


WALL_CLOCK = {"train_runtime", "train_samples_per_second", "train_steps_per_second", "step_time"}
"""Timing fields kept out of a model's ``train_log.json``, so the same seeds give the same bytes
(and the same DVC hash); wall time per job is in ``{workdir}/benchmarks/`` (Snakemake)."""


def peft_config(lora: LoraSpec | None):
    """PEFT's ``LoraConfig`` for a trainer, or None for full fine-tuning."""
    if lora is None:
        return None
    from peft import LoraConfig

    return LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                      target_modules=lora.target_modules, task_type="CAUSAL_LM")


def last_checkpoint(run_dir: Path) -> str | None:
    """The newest complete checkpoint in ``run_dir``, or None.

    The Trainer writes ``trainer_state.json`` last, so a checkpoint without a readable one was cut
    off while saving (a kill, a preemption); it is removed and the one before it is resumed.
    """
    if not run_dir.is_dir():
        return None
    steps = [p for p in run_dir.glob("checkpoint-*") if p.name.rsplit("-", 1)[1].isdigit()]
    for ckpt in sorted(steps, key=lambda p: int(p.name.rsplit("-", 1)[1]), reverse=True):
        try:
            json.loads((ckpt / "trainer_state.json").read_text())
            return str(ckpt)
        except (OSError, ValueError):
            print(f"srlm: {ckpt} was cut off while saving; removed", flush=True)
            shutil.rmtree(ckpt, ignore_errors=True)  # every rank may try: the first one wins
    return None


def train_and_save(trainer, run_dir: Path, out_dir: Path, template: str, lineage: list[str],
                   merge_lora: bool = False, **meta) -> dict:
    """Train (resuming from the last checkpoint in ``run_dir``), then save ``out_dir`` atomically."""
    last = last_checkpoint(run_dir)
    if last:
        log.warning("resuming from %s", last)
        print(f"srlm: resuming from {last}", flush=True)
    result = trainer.train(resume_from_checkpoint=last)
    model = trainer.model
    if merge_lora:
        model = model.merge_and_unload()
    tokenizer = trainer.processing_class
    summary = {
        "resumed_from": last,
        "global_step": trainer.state.global_step,
        "log_history": [{k: v for k, v in entry.items() if k not in WALL_CLOCK}
                        for entry in trainer.state.log_history],
    }
    with atomic_path(out_dir) as tmp:
        tmp.mkdir(parents=True)
        save_model(model, tokenizer, tmp, template, lineage, **meta)
        (tmp / "train_log.json").write_text(json.dumps(summary, indent=1) + "\n")
    return {**summary, "train_runtime_s": result.metrics.get("train_runtime")}
