"""What every trainer shares: device checks, TRL config fields, guards, the atomic final save."""

from __future__ import annotations

import contextlib
import json
import logging
import math
import os
from pathlib import Path

from ..config import LoraSpec, Params, TrainSpec
from ..io import FILES_RECORD, atomic_path, record_files
from ..models import save_model
from ..progress import enabled as progress_enabled
from .resume import last_checkpoint, seal

log = logging.getLogger("srlm")


def _distributed_env() -> None:
    """DeepSpeed needs a process group: without a launcher (single process) make a one-rank one."""
    import socket

    if "RANK" in os.environ:
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK="0", LOCAL_RANK="0",
                      WORLD_SIZE="1")


def deepspeed_config(params: Params) -> str | None:
    """The DeepSpeed config the trainers use, chosen by the training rule's GPU count."""
    dist, gpu = params.distributed, params.resources.get("gpu")
    if dist.deepspeed and (gpu.gpus if gpu else 0) >= dist.min_gpus:
        if not Path(dist.deepspeed).is_file():
            raise FileNotFoundError(f"distributed.deepspeed: {dist.deepspeed} not found")
        return dist.deepspeed
    return None


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
        gradient_checkpointing=spec.activation_checkpointing,  # activation_checkpointing=: 5.23+
        use_cpu=device == "cpu",
        seed=params.seed,
        data_seed=params.seed,
        dataloader_num_workers=0,
        save_only_model=False,
        logging_nan_inf_filter=False,  # a NaN loss is logged as NaN (and stops the stage)
        disable_tqdm=not progress_enabled(),  # a bar with an ETA on a terminal, none in job logs
        deepspeed=deepspeed,
    )


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


class NonFiniteError(RuntimeError):
    """A training's loss, gradient norm or weights became NaN or infinite."""


def guard_callbacks(stage: str):
    """Trainer callbacks every stage runs with: stop on a non-finite loss or gradient norm (naming the
    stage and step), seal each checkpoint, and stop before training past a finished schedule."""
    from transformers import TrainerCallback

    class Guard(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            if state.max_steps > 0 and state.global_step >= state.max_steps:
                raise ScheduleDone(state.global_step)

        def on_log(self, args, state, control, logs=None, **kwargs):
            for key in ("loss", "grad_norm"):
                value = (logs or {}).get(key)
                if isinstance(value, (int, float)) and not math.isfinite(value):
                    raise NonFiniteError(f"{stage}: {key} is {value} at step {state.global_step}; "
                                         "stopped, no model saved (lower the learning rate?)")

        def on_save(self, args, state, control, **kwargs):
            barrier()  # every rank's files (its RNG state, its ZeRO shards) are written by now
            if state.is_world_process_zero:
                ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
                if ckpt.is_dir():
                    seal(ckpt)

    return [Guard()]


class ScheduleDone(Exception):
    """Raised at the start of a resumed training whose checkpoint is already at ``max_steps``."""


def barrier() -> None:
    """Wait for every rank of a multi-process run (nothing to wait for in a single process)."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.barrier()


def full_weights(model) -> contextlib.AbstractContextManager:
    """A block in which every parameter of ``model`` is whole on every rank.

    ZeRO-3 partitions the parameters across the ranks (each holds a slice; ``param`` itself is
    empty), so they are gathered first: a collective, entered by every rank. Without ZeRO-3 there
    is nothing to gather.
    """
    partitioned = [p for p in model.parameters() if hasattr(p, "ds_id")]
    if not partitioned:
        return contextlib.nullcontext()
    import deepspeed

    return deepspeed.zero.GatheredParameters(partitioned, modifier_rank=None)


def _check_finite(model, stage: str, step: int) -> None:
    import torch

    for name, param in model.named_parameters():
        if not torch.isfinite(param).all():
            raise NonFiniteError(f"{stage}: weight {name} is not finite after step {step}; "
                                 "stopped, no model saved")


def train_and_save(trainer, run_dir: Path, out_dir: Path, template: str, lineage: list[str],
                   merge_lora: bool = False, **meta) -> dict:
    """Train (resuming from the last good checkpoint in ``run_dir``), then save ``out_dir`` atomically.

    A checkpoint already at the end of the schedule is loaded and saved, not trained further, so a
    rerun gives the same model. ``train_log.json`` holds the per-step logs, the same whether or not
    the run was resumed. Under ``torchrun`` every rank trains and gathers the weights (ZeRO-3);
    rank 0 alone writes ``out_dir``, and every rank returns once it is written.
    """
    stage = lineage[-1]
    for callback in guard_callbacks(stage):
        trainer.add_callback(callback)
    last = last_checkpoint(run_dir)
    if last:
        log.warning("resuming from %s", last)
        print(f"srlm: resuming from {last}", flush=True)
    runtime = None
    try:
        runtime = trainer.train(resume_from_checkpoint=last).metrics.get("train_runtime")
    except ScheduleDone:
        print(f"srlm: {last} is at the end of the schedule; saving it as the model", flush=True)
    tokenizer = trainer.processing_class
    history = [{k: v for k, v in entry.items() if k not in WALL_CLOCK}
               for entry in trainer.state.log_history if "train_runtime" not in entry]
    summary = {"global_step": trainer.state.global_step, "log_history": history}
    with full_weights(trainer.model):
        model = trainer.model
        _check_finite(model, stage, trainer.state.global_step)
        if trainer.is_world_process_zero():
            if merge_lora:
                model = model.merge_and_unload()
            with atomic_path(out_dir) as tmp:
                tmp.mkdir(parents=True)
                save_model(model, tokenizer, tmp, template, lineage, **meta)
                (tmp / "train_log.json").write_text(json.dumps(summary, indent=1, sort_keys=True)
                                                    + "\n")
                (tmp / FILES_RECORD).write_text(json.dumps(record_files(tmp), indent=1) + "\n")
    barrier()
    return {**summary, "resumed_from": last, "train_runtime_s": runtime}
