"""The GPU fast paths (docs/gpu.md), checked on CPU: padding-free and packed SFT train on the same
loss as padded batches; the GRPO rollout options reach TRL and a step runs with a static cache; the
evaluation's static shapes (buckets, one shape a job, batch growth); the switches are off by default
and on in the paper profile. ``flex_attention``, compiling and bf16 autocast run on CUDA only: here
the same inputs go through SDPA and eager attention (transformers builds the block-diagonal mask
from the position ids), and the CUDA-only calls are recorded, not run."""

from __future__ import annotations

import random
import re
import subprocess
import sys
import tempfile

import pytest

from srlm.config import RlSpec, TinyArch, TrainSpec, load_params
from srlm.tinyworld import build_model, build_tokenizer, make_problem

from .conftest import REPO

ARCH = TinyArch(hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64)
REL = 1e-4
"""Packed and padded losses agree to this relative tolerance: fp32 on CPU, only the order of the
reductions differs (observed <= 1e-5 after three Adam steps)."""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    rng = random.Random(0)
    problems = [make_problem(rng, rng.randint(1, 3), 20) for _ in range(16)]
    rows = [{"prompt": f"Question: {p['question']}\nAnswer:", "completion": f" {p['cot']}<|im_end|>",
             "answer": p["answer"]} for p in problems]
    tok = build_tokenizer([r["prompt"] + r["completion"] for r in rows], 300, tmp_path_factory.mktemp("tok"))
    return tok, rows


def train_args(steps: int, batch: int, accum: int = 1) -> dict:
    return dict(output_dir=tempfile.mkdtemp(), learning_rate=1e-3, max_steps=steps,
                per_device_train_batch_size=batch, gradient_accumulation_steps=accum, logging_steps=1,
                report_to=[], use_cpu=True, seed=0, data_seed=0, save_strategy="no",
                dataloader_num_workers=0, disable_tqdm=True, optim="adamw_torch",
                lr_scheduler_type="constant")


def sft_losses(world, steps: int, **fields) -> tuple[list[float], dict]:
    from srlm.train.sft import build_trainer

    tok, rows = world
    spec = TrainSpec(lr=1e-3, **{"max_length": 256, **fields})
    examples = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    trainer = build_trainer(spec, train_args(steps, spec.batch_size), build_model(tok, ARCH, seed=0), tok,
                            examples, "cpu", eos_token="<|im_end|>")
    batch = next(iter(trainer.get_train_dataloader()))
    trainer.train()
    return [h["loss"] for h in trainer.state.log_history if "loss" in h], batch


@pytest.mark.parametrize(("attn", "chunked"), [("sdpa", True), ("eager", True), ("sdpa", False)])
def test_padding_free_trains_on_the_padded_loss(world, attn, chunked):
    """The same 4 examples a step as one row without padding: the same losses, step after step."""
    padded, pbatch = sft_losses(world, 3, batch_size=4, attn_implementation=attn, chunked_lm_head=chunked)
    free, fbatch = sft_losses(world, 3, batch_size=4, attn_implementation=attn, chunked_lm_head=chunked,
                              packing="padding_free")
    assert "attention_mask" in pbatch and pbatch["input_ids"].shape[0] == 4
    assert "attention_mask" not in fbatch and fbatch["input_ids"].shape[0] == 1  # flattened, position ids
    assert int((fbatch["position_ids"][0] == 0).sum()) == 4
    assert free == pytest.approx(padded, rel=REL)


def test_bfd_packed_row_trains_on_the_padded_loss(world):
    """All 16 examples packed best-fit-decreasing into one row of up to 2,048 tokens, against one padded
    batch of the 16: the same loss at each of two steps."""
    padded, _ = sft_losses(world, 2, batch_size=16, max_length=2048)
    packed, batch = sft_losses(world, 2, batch_size=1, max_length=2048, packing="bfd")
    assert batch["input_ids"].shape[0] == 1 and int((batch["position_ids"][0] == 0).sum()) == 16
    assert packed == pytest.approx(padded, rel=REL)


def test_a_row_without_position_ids_would_differ(world):
    """The check above can fail: the flattened row read as one sequence (no position ids, examples
    attending to each other) gives another loss."""
    import torch

    from srlm.train.sft import build_trainer

    tok, rows = world
    spec = TrainSpec(lr=1e-3, batch_size=4, max_length=256, packing="padding_free",
                     attn_implementation="sdpa")
    model = build_model(tok, ARCH, seed=0)
    examples = [{"prompt": r["prompt"], "completion": r["completion"]} for r in rows]
    trainer = build_trainer(spec, train_args(1, 4), model, tok, examples, "cpu")
    batch = next(iter(trainer.get_train_dataloader()))
    with torch.no_grad():
        right = model(input_ids=batch["input_ids"], position_ids=batch["position_ids"],
                      labels=batch["labels"], use_cache=False).loss
        wrong = model(input_ids=batch["input_ids"], labels=batch["labels"], use_cache=False).loss
    assert abs(float(right) - float(wrong)) > 1e-3


def test_attention_liger_and_defaults():
    from srlm.train.sft import attention, fast_args, liger

    assert attention("auto", "padding_free", "cuda") == "flex_attention"
    assert attention("auto", "bfd", "cpu") == attention("auto", False, "cuda") == "sdpa"
    assert attention(None, "padding_free", "cuda") is None and attention("eager", False, "cpu") == "eager"
    assert liger("auto", "cpu") is False and liger(False, "cuda") is False
    defaults = fast_args(TrainSpec(lr=1e-3), "cuda")  # what SFTConfig got before the fast paths
    assert defaults == {"max_length": 1024, "packing": False, "packing_strategy": "bfd",
                        "pad_to_multiple_of": None, "torch_compile": False, "use_liger_kernel": False}
    from trl import GRPOConfig, SFTConfig

    from srlm.train.rl import rollout_args

    out = tempfile.mkdtemp()
    rl = rollout_args(RlSpec(train=dict(lr=1e-6, batch_size=16, grad_accum=8)))
    for new, old in ((SFTConfig(out, use_cpu=True, **defaults), SFTConfig(out, use_cpu=True, max_length=1024,
                                                                         packing=False)),
                     (GRPOConfig(out, use_cpu=True, **rl), GRPOConfig(out, use_cpu=True))):
        assert new.to_dict() == old.to_dict()  # the same trainer settings, field for field
    import importlib.util

    if importlib.util.find_spec("liger_kernel") is None:
        with pytest.raises(RuntimeError, match="liger_kernel is not importable"):
            liger(True, "cuda")


def test_fast_paths_off_by_default_on_in_the_paper_profile():
    sft_only = {"packing": False, "attn_implementation": None, "use_liger_kernel": False,
                "torch_compile": False, "pad_to_multiple_of": None}
    rl_off = {"generation_batch_size": None, "cache_implementation": None, "compile_rollouts": False,
              "bf16_rollouts": False, "vllm_enable_sleep_mode": False}
    eval_off = {"static_cache": "long_jobs", "prompt_multiple": 0, "batch_memory": 0.0}
    for name in ("params/tiny.yaml", "tests/micro.yaml", "tests/nano.yaml", "tests/resume.yaml"):
        p = load_params(REPO / name)
        for spec in (p.sft.full, p.sft.lora, p.kd.train, p.rl.train):
            assert {k: getattr(spec, k) for k in sft_only} == sft_only, name
        assert {k: getattr(p.rl, k) for k in rl_off} == rl_off, name
        assert {k: getattr(p.eval, k) for k in eval_off} == eval_off, name
    paper = load_params(REPO / "params/paper.yaml")
    for spec in (paper.sft.full, paper.sft.lora, paper.kd.train):
        assert (spec.packing, spec.attn_implementation, spec.use_liger_kernel) == (
            "padding_free", "auto", "auto")
    rl = paper.rl
    assert (rl.cache_implementation, rl.compile_rollouts, rl.bf16_rollouts, rl.vllm_enable_sleep_mode,
            rl.train.pad_to_multiple_of) == (None, False, True, True, 256)  # static cache: see xfail below
    assert (paper.eval.static_cache, paper.eval.prompt_multiple) == ("always", 1536)


def test_fast_path_settings_checked_where_they_apply():
    train = dict(lr=1e-6, batch_size=16, grad_accum=8)
    with pytest.raises(ValueError, match="rl.train.packing: padding_free applies to SFT-type training only"):
        RlSpec(train={**train, "packing": "padding_free"})
    with pytest.raises(ValueError, match="compile_rollouts: true needs rl.cache_implementation: static"):
        RlSpec(train=train, compile_rollouts=True)
    with pytest.raises(ValueError, match="generation_batch_size .200. must be a multiple"):
        RlSpec(train=train, generation_batch_size=200)
    assert RlSpec(train={**train, "pad_to_multiple_of": 64}, generation_batch_size=512).generation_batch_size


@pytest.mark.xfail(reason="transformers 5.17 (the pinned stack): StaticCache.update gets bf16 values "
                   "beside fp32 keys in TRL's CPU rollout; paper.yaml keeps rollouts on the dynamic cache "
                   "until this passes", strict=False)
def test_grpo_rollout_options_reach_trl_and_a_static_cache_step_runs(world, monkeypatch):
    """generation_batch_size 8 serves two optimiser steps of 4 completions; every rollout uses the static
    cache with prompts padded to a multiple of 8; the CUDA-only switches stay off on CPU."""
    from srlm.train.rl import grpo_trainer

    tok, rows = world
    cfg = RlSpec(train=dict(lr=1e-4, batch_size=4, grad_accum=1, pad_to_multiple_of=8), num_generations=2,
                 max_completion_length=6, generation_batch_size=8, cache_implementation="static",
                 compile_rollouts=True, bf16_rollouts=True, use_vllm=False, vllm_enable_sleep_mode=True)
    model = build_model(tok, ARCH, seed=0)
    seen = []
    inner = model.generate

    def spy(*args, **kw):
        seen.append((tuple(kw["input_ids"].shape), kw["generation_config"].cache_implementation))
        return inner(*args, **kw)

    monkeypatch.setattr(model, "generate", spy)
    data = [{"prompt": r["prompt"], "answer": r["answer"]} for r in rows]
    trainer, vllm = grpo_trainer(cfg, train_args(4, 4), model, tok, data, "plain", "cpu")
    args = trainer.args
    assert (args.generation_batch_size, args.steps_per_generation, args.cache_implementation,
            args.pad_to_multiple_of, args.vllm_enable_sleep_mode, vllm) == (8, 2, "static", 8, True, False)
    assert type(trainer).__name__ == "GRPOTrainer"  # compile and bf16 rollouts are CUDA's
    trainer.train()
    assert trainer.state.global_step == 4
    assert len(seen) == 2 and all(rows_ == 8 and length % 8 == 0 and cache == "static"
                                  for (rows_, length), cache in seen)


def test_fast_rollouts_autocast_without_casting_the_policy(world, monkeypatch):
    """The CUDA rollout trainer: compile re-enabled in TRL's generation config, generation under bf16
    autocast (recorded here: no CUDA), and the policy's weights still fp32 after its steps."""
    import torch

    from srlm.train.rl import trainer_class

    real, entered = torch.autocast, []
    monkeypatch.setattr(torch, "autocast",
                        lambda *a, **k: entered.append((a, k)) or real("cpu", enabled=False))
    tok, rows = world
    from trl import GRPOConfig

    config = GRPOConfig(**train_args(2, 4), num_generations=2, max_completion_length=4,
                        cache_implementation="static", use_vllm=False)
    model = build_model(tok, ARCH, seed=0)
    from datasets import Dataset

    def zero(completions, **_):
        return [0.0] * len(completions)

    data = Dataset.from_list([{"prompt": r["prompt"]} for r in rows])
    trainer = trainer_class(True, True)(model=model, reward_funcs=[zero], args=config, processing_class=tok,
                                        train_dataset=data)
    assert trainer.generation_config.disable_compile is False
    trainer.train()
    assert (("cuda",), {"dtype": torch.bfloat16}) in entered
    assert {p.dtype for p in model.parameters()} == {torch.float32}


def test_eval_shapes_buckets_one_shape_a_job_and_batch_growth(world, monkeypatch):
    from types import SimpleNamespace

    import srlm.generation as g

    assert (g.bucket(1, 512), g.bucket(512, 512), g.bucket(513, 512), g.bucket(77, 0)) == (512, 512, 1024, 77)
    assert g.job_shape(300, 256, 512) == g.Shape(256, 512)
    assert g.job_shape(100, 256, 512, g.Shape(256, 1024)) == g.Shape(256, 1024)  # reused, no new compile
    assert g.job_shape(1100, 256, 512, g.Shape(256, 1024)) == g.Shape(256, 1536)
    from transformers import Qwen2Config

    qwen = Qwen2Config(hidden_size=896, num_hidden_layers=24, num_attention_heads=14, num_key_value_heads=2)
    row = (1536 + 8192) * g.kv_bytes_per_token(qwen)
    assert g.kv_bytes_per_token(qwen) == 12_288  # 2 x 24 layers x 2 heads x 64 x 2 bytes
    assert g.fit_rows(256, row, 130 * 2**30, 0.5) == 512  # an H200: 512 rows of 9,728 tokens
    assert g.fit_rows(64, 1, 10**12, 0.5) == 512 and g.fit_rows(256, row, 2**30, 0.5) == 256

    tok, rows = world
    model = build_model(tok, ARCH, seed=0)
    model.generation_config.eos_token_id = None
    prompts = [r["prompt"] for r in rows][:11]
    policy = SimpleNamespace(static_cache="always", prompt_multiple=32, batch_memory=0.0)
    monkeypatch.setattr(g, "_JOB_SHAPES", {})
    longest = max(len(t) for t in tok(prompts, add_special_tokens=False)["input_ids"])
    first = g.static_shape(model, tok, prompts, 1, 4, 6, "cuda", policy, key="m")
    short = g.static_shape(model, tok, prompts[:2], 1, 4, 6, "cuda", policy, key="m")  # a later benchmark
    assert first == short == g.Shape(4, g.bucket(longest, 32))
    assert g.static_shape(model, tok, prompts, 1, 4, 6, "cpu", policy, key="m") is None  # CPU: unchanged
    never = SimpleNamespace(static_cache="never", prompt_multiple=0, batch_memory=0.0)
    assert g.static_shape(model, tok, prompts, 1, 4, 6, "cuda", never) is None
    assert g.static_shape(model, tok, prompts, 1, 4, 6, "cuda", None) is None  # < 4 batches: dynamic
    seen = []
    inner = model.generate
    monkeypatch.setattr(model, "generate",
                        lambda **kw: seen.append(tuple(kw["input_ids"].shape)) or inner(**kw))
    static = (g.generate_hf(model, tok, prompts, 6, 4, shape=first)
              + g.generate_hf(model, tok, prompts[:2], 6, 4, shape=short))
    assert set(seen) == {(4, first.prompt)} and len(seen) == 4  # 3 batches, then 1: one shape
    dynamic = g.generate_hf(model, tok, prompts, 6, 4) + g.generate_hf(model, tok, prompts[:2], 6, 4)
    same = sum(a[0].text == b[0].text for a, b in zip(static, dynamic))
    assert same >= len(dynamic) - 1, f"padded static shapes change {len(dynamic) - same} greedy completions"


def test_plan_from_rates_and_targets(tmp_path):
    import json

    sys.path.insert(0, str(REPO / "bench" / "gpu"))
    import summary

    run = {"sft": {"padding_free": {"tokens_s": 50_000, "first_step_s": 40}},
           "eval": {"new": {"warm_tokens_s": 60_000, "compile_s": 45}},
           "grpo": {"new": {"s_per_step": 7.0, "completion_tokens_per_step": 65_536,
                            "first_cycle_extra_s": 30}}}
    rates = summary.plan_rates(run)
    assert rates["train"]["per_unit"] == pytest.approx(161 / 50_000) and rates["eval"]["startup_s"] == 22 + 45
    assert rates["grpo"]["per_unit"] == pytest.approx(7 / 65_536)
    checked = summary.finish(run)
    verdicts = checked["verdicts"]
    assert verdicts["grpo.new.s_per_step"]["pass"] and not verdicts["sft.packed.tokens_s"]["pass"]
    (tmp_path / "summary.json").write_text(json.dumps(checked))
    for extra, label in ((["--rates", str(tmp_path / "summary.json")], "MEASURED"), ([], "ESTIMATES")):
        out = subprocess.run([sys.executable, "bench/plan.py", "--brief", *extra], cwd=REPO,
                             capture_output=True, text=True, check=True).stdout
        assert label in out and re.search(r"table 2: \d+ GPU jobs, [\d.]+ GPU-hours", out)
