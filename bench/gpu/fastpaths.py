"""The old and the new training and evaluation paths side by side, in one run, on srlm's own code.

    python bench/gpu/fastpaths.py --out DIR                 # one H200: a random Qwen2.5-0.5B shape
    python bench/gpu/fastpaths.py --device cpu --tiny       # the same steps on a tiny model, < 60 s

Parts (each measured old and new, the same model and data): SFT tokens/s (padded batches of 8;
padding-free at batch 8; BFD-packed rows of 8,192), evaluation new tokens/s (dynamic cache at batch
256; one static shape a job, cold and warm, with its compile time), GRPO seconds a step (16 prompts
x 8 completions x 512 tokens: HF rollouts as before; static cache, compiled, bf16 autocast; and with
generation batches of 512). Random weights never stop early, so every generation runs to its limit.
Writes DIR/summary.json (bench/gpu/summary.py prints the verdict); a part that fails or does not fit
the time budget is recorded as such and the others still run.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import sys
import tempfile
import time
import traceback
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent))
import summary  # noqa: E402  (bench/gpu/summary.py, beside this file)

WORDS = ("the of and a to in is you that it he was for on are as with his they at be this have from "
         "or one had by word but not what all were we when your can said there use an each which she do "
         "how their if will up other about out many then them these so some her would make like him into "
         "time has look two more write go see number no way could people my than first water been call "
         "who oil its now find long down day did get come made may part apple seven eggs price total left "
         "sum each cost dollars miles hours week").split()
FULL = dict(arch=dict(hidden_size=896, layers=24, heads=14, kv_heads=2, intermediate_size=4864), scale=1,
            sft_batch=8, packed_length=8192, sft_steps=8, eval_old=256, eval_rows=1024, eval_batch=128,
            new_tokens=512, grpo_batch=16, grpo_accum=8, group=8, completion=512, gen_batch=512,
            budget_s=420)
TINY = dict(arch=dict(hidden_size=32, layers=1, heads=2, kv_heads=1, intermediate_size=64), scale=8,
            sft_batch=4, packed_length=256, sft_steps=3, eval_old=8, eval_rows=16, eval_batch=4,
            new_tokens=8, grpo_batch=2, grpo_accum=2, group=2, completion=8, gen_batch=8, budget_s=120)


def words(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(max(n, 1)))


def sync(device: str) -> None:
    import torch

    if device == "cuda":
        torch.cuda.synchronize()


def tokenizer_and_builder(tiny: bool, device: str, cfg: dict):
    """The tokenizer (Qwen2.5's; the tiny mode's own small BPE) and a builder of random models."""
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    if tiny:
        from srlm.tinyworld import build_tokenizer

        rng = random.Random(0)
        tok = build_tokenizer([words(rng, 40) for _ in range(200)], 300, tempfile.mkdtemp())
        rows = len(tok)
    else:
        from srlm.standin import EMBEDDING_ROWS, build_qwen_tokenizer

        tok, rows = build_qwen_tokenizer("base"), EMBEDDING_ROWS
    a = cfg["arch"]
    config = Qwen2Config(vocab_size=rows, hidden_size=a["hidden_size"], num_hidden_layers=a["layers"],
                         num_attention_heads=a["heads"], num_key_value_heads=a["kv_heads"],
                         intermediate_size=a["intermediate_size"], max_position_embeddings=32768,
                         tie_word_embeddings=True, rope_theta=1000000.0, rms_norm_eps=1e-6,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)

    def build(dtype=torch.float32):
        torch.manual_seed(0)
        with torch.device(device):
            return Qwen2ForCausalLM(config).to(dtype)

    return tok, build


class Clock:
    """Wall time and TRL's cumulative ``num_tokens`` at every logged step (``logging_steps=1``)."""

    def __init__(self, device: str):
        from transformers import TrainerCallback

        clock = self

        class Callback(TrainerCallback):
            def on_train_begin(self, args, state, control, **kw):
                sync(device)
                clock.begin = time.perf_counter()

            def on_step_end(self, args, state, control, **kw):
                sync(device)
                clock.steps.append(time.perf_counter())

            def on_log(self, args, state, control, logs=None, **kw):
                if logs and "num_tokens" in logs:
                    clock.tokens[state.global_step] = float(logs["num_tokens"])

        self.begin, self.steps, self.tokens, self.callback = 0.0, [], {}, Callback()

    def steady(self, warm: int) -> float:
        """Seconds a step after the first ``warm`` steps."""
        return (self.steps[-1] - self.steps[warm - 1]) / (len(self.steps) - warm)


def train_args(device: str, steps: int, batch: int, accum: int = 1) -> dict:
    cuda = device == "cuda"
    return dict(output_dir=tempfile.mkdtemp(), learning_rate=1e-6, max_steps=steps,
                per_device_train_batch_size=batch, gradient_accumulation_steps=accum, logging_steps=1,
                report_to=[], use_cpu=not cuda, bf16=cuda, seed=0, data_seed=0, save_strategy="no",
                dataloader_num_workers=0, disable_tqdm=True, lr_scheduler_type="constant",
                optim="adamw_torch_fused" if cuda else "adamw_torch")


def quiet(trainer, clock: Clock):
    """The trainer with the clock and without transformers' printing of every log line."""
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)
    trainer.add_callback(clock.callback)
    return trainer


def free(device: str) -> None:
    import torch

    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()


def sft_part(model, tok, device: str, cfg: dict) -> dict:
    from srlm.config import TrainSpec
    from srlm.train.sft import build_trainer

    rng, s = random.Random(1), cfg["scale"]
    rows = [{"prompt": f"Question: {words(rng, rng.randint(30, 100) // s)}\nAnswer:",
             "completion": f" {words(rng, rng.randint(40, 150) // s)}{tok.eos_token}"}
            for _ in range(600 // s)]
    batch, steps, length = cfg["sft_batch"], cfg["sft_steps"], cfg["packed_length"]
    variants = {  # name: (TrainSpec fields, rows a step, steps, warm-up steps)
        "padded": (dict(batch_size=batch, attn_implementation="sdpa"), batch, steps, 2),
        "padding_free": (dict(batch_size=batch, packing="padding_free", attn_implementation="auto",
                              pad_to_multiple_of=128 // s, use_liger_kernel="auto"), batch, steps, 3),
        "packed": (dict(batch_size=1, packing="bfd", attn_implementation="auto", pad_to_multiple_of=128 // s,
                        use_liger_kernel="auto"), 1, max(steps * 2 // 3, 3), 2),
    }
    out = {}
    for name, (fields, rows_a_step, n, warm) in variants.items():
        warm = min(warm, n - 1)
        try:
            spec = TrainSpec(lr=1e-6, max_length=length, bf16=True, **fields)
            clock = Clock(device)
            args = train_args(device, n, rows_a_step)
            trainer = quiet(build_trainer(spec, args, model, tok, rows, device), clock)
            trainer.train()
            seconds = clock.steps[-1] - clock.steps[warm - 1]
            out[name] = {"tokens_s": (clock.tokens[n] - clock.tokens[warm]) / seconds,
                         "s_per_step": clock.steady(warm), "first_step_s": clock.steps[0] - clock.begin,
                         "attn": model.config._attn_implementation, "liger": trainer.args.use_liger_kernel}
            print(f"sft {name:13s} {out[name]['tokens_s']:10.0f} tokens/s ({out[name]['attn']}, first step "
                  f"{out[name]['first_step_s']:.1f} s)", flush=True)
        except Exception as err:  # the other variants still run
            traceback.print_exc()
            out[name] = {"error": f"{err.__class__.__name__}: {err}"[:500]}
        trainer = None
        free(device)
    model.set_attn_implementation("sdpa")
    return out


def eval_part(build, tok, device: str, cfg: dict) -> dict:
    import torch

    from srlm.generation import generate_hf, job_shape, static_shape

    model = build(torch.bfloat16 if device == "cuda" else torch.float32)
    rng, new = random.Random(2), cfg["new_tokens"]
    prompts = [f"Question: {words(rng, rng.randint(40, 140) // cfg['scale'])}\nAnswer:"
               for _ in range(cfg["eval_rows"])]
    policy = SimpleNamespace(static_cache="always", prompt_multiple=128 // cfg["scale"], batch_memory=0.5)

    def timed(fn) -> tuple[float, float]:
        sync(device)
        t0 = time.perf_counter()
        tokens = sum(c[0].n_tokens for c in fn())
        sync(device)
        return tokens, time.perf_counter() - t0

    generate_hf(model, tok, prompts[:4], 4, 4)  # CUDA context, cuBLAS handles
    old_prompts = prompts[:cfg["eval_old"]]
    tokens, old_s = timed(lambda: generate_hf(model, tok, old_prompts, new, cfg["eval_old"]))
    out = {"old": {"warm_tokens_s": tokens / old_s, "rows": len(old_prompts), "cache": "dynamic"}}
    shape = static_shape(model, tok, prompts, 1, cfg["eval_batch"], new, device, policy, key="check")
    if shape is None:  # CPU: the static path is CUDA's; the same shape logic, uncompiled
        longest = max(len(t) for t in tok(prompts, add_special_tokens=False)["input_ids"])
        shape = job_shape(longest, cfg["eval_rows"], policy.prompt_multiple)
    prompts = prompts[:shape.rows]  # no filler rows: every row counts
    run = lambda: generate_hf(model, tok, prompts, new, shape.rows, shape=shape)  # noqa: E731
    tokens, cold_s = timed(run)
    _, warm_s = timed(run)
    out["new"] = {"cold_tokens_s": tokens / cold_s, "warm_tokens_s": tokens / warm_s,
                  "compile_s": cold_s - warm_s, "rows": shape.rows, "prompt_tokens": shape.prompt,
                  "cache": "static"}
    for name, r in out.items():
        print(f"eval {name}: {r['warm_tokens_s']:10.0f} new tokens/s warm, {r['rows']} rows, {r['cache']}",
              flush=True)
    print(f"eval new: cold {out['new']['cold_tokens_s']:.0f} new tokens/s, "
          f"compile {out['new']['compile_s']:.1f} s", flush=True)
    model = run = None  # the bf16 copy goes before the training parts
    free(device)
    return out


def grpo_part(model, tok, device: str, cfg: dict, deadline: float) -> dict:
    from srlm.config import RlSpec
    from srlm.train.rl import grpo_trainer

    rng, s = random.Random(3), cfg["scale"]
    data = [{"prompt": f"Question: {words(rng, rng.randint(40, 140) // s)}\nAnswer:", "answer": "0"}
            for _ in range(256)]
    batch, accum, step_rows = cfg["grpo_batch"], cfg["grpo_accum"], cfg["grpo_batch"] * cfg["grpo_accum"]
    base = dict(num_generations=cfg["group"], max_completion_length=cfg["completion"], use_vllm=False,
                reward={"correctness": 0.0, "format": 1.0})
    fast = dict(cache_implementation="static", compile_rollouts=True, bf16_rollouts=True)
    variants = {  # name: (RlSpec fields, pad_to_multiple_of, steps, steps of the first cycle)
        "old": (base, None, 2, 1),
        "new": ({**base, **fast}, 256 // s, 3, 1),
        "genbatch": ({**base, **fast, "generation_batch_size": cfg["gen_batch"]}, 256 // s,
                     2 * cfg["gen_batch"] // step_rows, cfg["gen_batch"] // step_rows),
    }
    out = {}
    for name, (fields, pad, steps, cycle) in variants.items():
        if time.perf_counter() > deadline:
            out[name] = {"skipped": "time budget"}
            continue
        try:
            spec = RlSpec(train=dict(lr=1e-6, batch_size=batch, grad_accum=accum, max_length=1536, bf16=True,
                                     pad_to_multiple_of=pad), **fields)
            clock = Clock(device)
            args = train_args(device, steps, batch, accum)
            trainer = quiet(grpo_trainer(spec, args, model, tok, data, "plain", device)[0], clock)
            trainer.train()
            step = clock.steady(cycle)
            out[name] = {"s_per_step": step,
                         "first_cycle_extra_s": clock.steps[cycle - 1] - clock.begin - cycle * step,
                         "completion_tokens_per_step": step_rows * cfg["completion"],
                         "generation_batch": fields.get("generation_batch_size", step_rows)}
            print(f"grpo {name:9s} {step:8.2f} s a step (first cycle "
                  f"+{out[name]['first_cycle_extra_s']:.1f} s)", flush=True)
        except Exception as err:  # the other variants still run
            traceback.print_exc()
            out[name] = {"error": f"{err.__class__.__name__}: {err}"[:500]}
        trainer = None
        free(device)
    return out


def write(out: Path, run: dict) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(run, indent=1, default=str) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--tiny", action="store_true", help="a tiny model and workload (the CPU dry run)")
    ap.add_argument("--out", type=Path, default=Path("/tmp/out"))
    ap.add_argument("--budget-s", type=float, help="stop starting parts after this many seconds")
    ap.add_argument("--parts", default="eval,sft,grpo")
    args = ap.parse_args()
    start = time.perf_counter()
    cfg = TINY if args.tiny else FULL
    budget = args.budget_s or cfg["budget_s"]
    import torch
    import transformers
    import trl

    run = {"mode": "tiny" if args.tiny else "full", "device": args.device,
           "gpu": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
           "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                        "trl": trl.__version__}}
    print(json.dumps(run), flush=True)
    tok, build = tokenizer_and_builder(args.tiny, args.device, cfg)
    model = build()
    needs = {"eval": 100, "sft": 120, "grpo": 90}  # seconds a part needs at least (H200)
    for part in args.parts.split(","):
        left = budget - (time.perf_counter() - start)
        if not args.tiny and left < needs[part]:
            run[part] = {"skipped": f"time budget ({left:.0f} s left)"}
            continue
        t0 = time.perf_counter()
        try:
            if part == "sft":
                run[part] = sft_part(model, tok, args.device, cfg)
            elif part == "eval":
                run[part] = eval_part(build, tok, args.device, cfg)
            else:
                run[part] = grpo_part(model, tok, args.device, cfg, start + budget - 70)
        except Exception as err:  # the other parts still run
            traceback.print_exc()
            run[part] = {"error": f"{err.__class__.__name__}: {err}"[:500]}
        run.setdefault("part_s", {})[part] = round(time.perf_counter() - t0, 1)
        if args.device == "cuda":
            run.setdefault("peak_gib", {})[part] = round(torch.cuda.max_memory_allocated() / 2**30, 1)
            torch.cuda.reset_peak_memory_stats()
        write(args.out, run)  # what a run cut short by its timeout leaves
    run["wall_s"] = round(time.perf_counter() - start, 1)
    run = summary.finish(run)
    write(args.out, run)
    print(f"wall {run['wall_s']} s; {args.out / 'summary.json'}")
    print("SUMMARY " + json.dumps(run, default=str))


if __name__ == "__main__":
    main()
